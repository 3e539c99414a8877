//! Parsing DynamoDB's number literals into normalized [`Number`]s.
//!
//! The grammar is Java `BigDecimal`'s, which is what AWS accepts: AWS takes "+5",
//! ".123", "0001.23" and "1e+5", and refuses "NaN", "Infinity", " 1" and "1 "
//! (ScyllaDB `test/alternator/test_number.py::test_invalid_numbers`, run against AWS;
//! nubo-db/dynoxide#109 for the leading "+").
//!
//! AWS checks exponents in two ways, depending on the surface (nubo-db/dynamodb-
//! conformance `limits/numberExponent` and `error-messages/valueLayers`, recorded in
//! eu-west-2, October 2026):
//! - the item calls (PutItem, UpdateItem, GetItem, Query ...) read the exponent as a
//!   64-bit integer and apply DynamoDB's range to it, zero included ("0e126"
//!   overflows); only an exponent past 64 bits "cannot be converted";
//! - PartiQL parameters (the older layer) convert with `BigDecimal` first, whose
//!   exponent and scale are 32-bit: past that the value "cannot be converted", and the
//!   range check is done on a 32-bit `precision - scale`, which wraps ("1e2147483647"
//!   is reported as an underflow). Zero passes whatever its exponent.

use super::{MAX_EXPONENT, MIN_EXPONENT, MSG_NOT_NUMERIC, MSG_OVERFLOW, MSG_UNDERFLOW};
use super::{Number, Origin};
use crate::model::Error;

/// A literal split into its parts, before any range check.
struct Literal {
    neg: bool,
    /// Every digit written, leading and trailing zeros included.
    digits: Vec<u8>,
    /// How many of `digits` come before the point.
    int_len: usize,
    /// The exponent as written; `None` when it does not fit 64 bits.
    exp: Option<i64>,
}

impl Literal {
    /// Digits written after the point.
    fn frac_len(&self) -> i64 {
        (self.digits.len() - self.int_len) as i64
    }
}

/// The syntax shared by both layers; an error is AWS's "cannot be converted".
fn split(s: &str) -> Result<Literal, Error> {
    if s.is_empty() {
        // An empty string gets the bare message (dynalite test/putItem.js,
        // "empty/invalid numbers in Item": {N: ''}).
        return Err(Error::validation(MSG_NOT_NUMERIC));
    }
    let bad = || Error::validation(format!("{MSG_NOT_NUMERIC}: {s}"));
    let b = s.as_bytes();
    let mut i = 0;
    let neg = match b[0] {
        b'-' => {
            i = 1;
            true
        }
        b'+' => {
            i = 1;
            false
        }
        _ => false,
    };
    let mut digits: Vec<u8> = Vec::with_capacity(b.len());
    let mut int_len: Option<usize> = None;
    while i < b.len() {
        match b[i] {
            c @ b'0'..=b'9' => digits.push(c - b'0'),
            b'.' if int_len.is_none() => int_len = Some(digits.len()),
            b'e' | b'E' => break,
            _ => return Err(bad()),
        }
        i += 1;
    }
    if digits.is_empty() {
        return Err(bad());
    }
    let int_len = int_len.unwrap_or(digits.len());
    let mut exp: Option<i64> = Some(0);
    if i < b.len() {
        i += 1; // the 'e'
        let exp_neg = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        if i == b.len() {
            return Err(bad());
        }
        // Accumulated negatively so that i64::MIN itself fits.
        let mut acc: Option<i64> = Some(0);
        for &c in &b[i..] {
            if !c.is_ascii_digit() {
                return Err(bad());
            }
            acc = acc.and_then(|a| a.checked_mul(10)?.checked_sub(i64::from(c - b'0')));
        }
        exp = match exp_neg {
            true => acc,
            false => acc.and_then(i64::checked_neg),
        };
    }
    Ok(Literal { neg, digits, int_len, exp })
}

/// See [`Number::parse`]: the item calls' layer.
pub(super) fn parse(s: &str) -> Result<Number, Error> {
    let literal = split(s)?;
    let Some(exp) = literal.exp else {
        return Err(Error::validation(format!("{MSG_NOT_NUMERIC}: {s}")));
    };
    if literal.digits.iter().all(|&d| d == 0) {
        // Zero is range-checked by the exponent it is written with (BigDecimal's
        // adjusted exponent of a zero: the exponent less the digits after the point).
        let adjusted = i128::from(exp) - i128::from(literal.frac_len());
        if adjusted > i128::from(MAX_EXPONENT) {
            return Err(Error::validation(MSG_OVERFLOW));
        }
        if adjusted < i128::from(MIN_EXPONENT) {
            return Err(Error::validation(MSG_UNDERFLOW));
        }
        return Ok(Number::zero());
    }
    // digits[0] sits at 10^(int_len - 1), shifted by the exponent; saturating keeps
    // an exponent near i64's ends out of range instead of wrapping into it.
    let first = (literal.int_len as i64 - 1).saturating_add(exp);
    Number::from_parts(literal.neg, first, &literal.digits, Origin::Literal)
}

/// See [`Number::parse_older`]: the older layer, Java `BigDecimal` first.
pub(super) fn parse_older(s: &str) -> Result<Number, Error> {
    let literal = split(s)?;
    let bad = || Error::validation(format!("{MSG_NOT_NUMERIC}: {s}"));
    // BigDecimal: the exponent is an int, and so is the scale it leaves.
    let exp = literal.exp.filter(|e| i32::try_from(*e).is_ok()).ok_or_else(bad)?;
    let scale = literal.frac_len() - exp;
    let scale = i32::try_from(scale).map_err(|_| bad())?;
    let Some(start) = literal.digits.iter().position(|&d| d != 0) else {
        return Ok(Number::zero());
    };
    // precision - scale is the adjusted exponent plus one, computed in 32 bits.
    let precision = (literal.digits.len() - start) as i32;
    let magnitude = precision.wrapping_sub(scale);
    if i64::from(magnitude) > MAX_EXPONENT + 1 {
        return Err(Error::validation(MSG_OVERFLOW));
    }
    if i64::from(magnitude) < MIN_EXPONENT + 1 {
        return Err(Error::validation(MSG_UNDERFLOW));
    }
    let first = literal.int_len as i64 - 1 + exp;
    Number::from_parts(literal.neg, first, &literal.digits, Origin::Literal)
}

/// True when Java `BigDecimal` can hold `s` at all (its exponent and scale fit 32
/// bits): what PartiQL's lexer needs of a number literal.
pub(super) fn fits_bigdecimal(s: &str) -> bool {
    let Ok(literal) = split(s) else { return false };
    let Some(exp) = literal.exp.filter(|e| i32::try_from(*e).is_ok()) else { return false };
    i32::try_from(literal.frac_len() - exp).is_ok()
}
