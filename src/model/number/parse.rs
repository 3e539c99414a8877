//! Parsing DynamoDB's number literals into normalized [`Number`]s.
//!
//! The grammar is Java `BigDecimal`'s, which is what AWS accepts: AWS takes "+5",
//! ".123", "0001.23", "1e+5" and "0e1000", and refuses "NaN", "Infinity", " 1" and
//! "1 " (ScyllaDB `test/alternator/test_number.py::test_invalid_numbers`, run against
//! AWS; nubo-db/dynoxide#109 for the leading "+").

use super::{MSG_NOT_NUMERIC, Number, Origin};
use crate::model::Error;

/// See [`Number::parse`].
pub(super) fn parse(s: &str) -> Result<Number, Error> {
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

    let mut exp: i64 = 0;
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
        for &c in &b[i..] {
            if !c.is_ascii_digit() {
                return Err(bad());
            }
            exp = exp * 10 + i64::from(c - b'0');
            // BigDecimal refuses an exponent that does not fit a Java int, even on
            // zero; stop before i64 could overflow on absurdly long exponents.
            if exp > i64::from(i32::MAX) + 1 {
                return Err(bad());
            }
        }
        if exp_neg {
            exp = -exp;
        }
        if exp > i64::from(i32::MAX) {
            return Err(bad());
        }
    }
    // digits[0] sits at 10^(int_len - 1), shifted by the exponent.
    Number::from_parts(neg, int_len as i64 - 1 + exp, &digits, Origin::Literal)
}
