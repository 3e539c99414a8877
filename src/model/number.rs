//! Exact DynamoDB numbers: up to 38 significant decimal digits, never f64.
//!
//! A [`Number`] is kept normalized (sign, significant digits with no leading or
//! trailing zeros, exponent of the first digit), so the derived `PartialEq`, `Eq` and
//! `Hash` are numeric equality: "1.0", "1", "1e0", "01" and "+1" are one value, and
//! "-0" is "0". AWS normalizes the same way: what GetItem returns is [`Number`]'s
//! `Display` form, never the literal that was sent.

mod arith;
mod parse;
mod sortkey;
#[cfg(test)]
mod tests;

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::model::Error;

/// Most significant digits a number may carry (AWS dev guide, "Number" data type).
pub const MAX_DIGITS: usize = 38;
/// Largest allowed exponent of the first significant digit: 9.99…E+125.
pub const MAX_EXPONENT: i64 = 125;
/// Smallest allowed exponent of the first significant digit: 1E-130.
pub const MIN_EXPONENT: i64 = -130;

/// AWS's message for a string that is not a number. For a non-empty string AWS
/// appends ": " and the string; for an empty one it sends this text alone.
pub const MSG_NOT_NUMERIC: &str = "The parameter cannot be converted to a numeric value";
/// AWS's message for a magnitude of 1E+126 or more (also used by AWS when the
/// result of `+`/`-`/ADD would need more than 38 digits, see [`Number::checked_add`]).
pub const MSG_OVERFLOW: &str =
    "Number overflow. Attempting to store a number with magnitude larger than supported range";
/// AWS's message for a non-zero magnitude below 1E-130.
pub const MSG_UNDERFLOW: &str =
    "Number underflow. Attempting to store a number with magnitude smaller than supported range";
/// AWS's message for a literal with more than 38 significant digits.
pub const MSG_PRECISION: &str = "Attempting to store more than 38 significant digits in a Number";

/// A DynamoDB number. Invariant: normalized, so derived equality is numeric equality.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Number {
    /// True only for values below zero (zero is never negative).
    neg: bool,
    /// Power of ten of the first significant digit; 0 for zero.
    exp: i16,
    /// Significant digits, each 0..=9, first and last non-zero; empty for zero.
    digits: Box<[u8]>,
}

/// Which rule a freshly computed value is checked against. Parsing and arithmetic
/// report an over-long digit string differently (see [`MSG_OVERFLOW`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    Literal,
    Arithmetic,
}

impl Number {
    /// The number zero.
    pub fn zero() -> Number {
        Number { neg: false, exp: 0, digits: Box::new([]) }
    }

    /// Parses a number the way DynamoDB accepts it on the wire: optional sign (`+`
    /// is accepted), digits with an optional point (`.5` and `5.` included), an
    /// optional exponent `e`/`E` with optional sign. No whitespace, `NaN`,
    /// `Infinity` or hex. Errors are AWS's ValidationException messages.
    pub fn parse(s: &str) -> Result<Number, Error> {
        parse::parse(s)
    }

    /// Parses a number as AWS's older validation layer does (PartiQL parameters):
    /// Java `BigDecimal` first, so an exponent or scale past 32 bits "cannot be
    /// converted", then the range on a 32-bit magnitude; zero passes at any exponent.
    pub fn parse_older(s: &str) -> Result<Number, Error> {
        parse::parse_older(s)
    }

    /// True when Java `BigDecimal` can hold the literal (exponent and scale within 32
    /// bits), whatever DynamoDB's range says of it.
    pub fn fits_bigdecimal(s: &str) -> bool {
        parse::fits_bigdecimal(s)
    }

    /// True for zero.
    pub fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// True for values below zero.
    pub fn is_negative(&self) -> bool {
        self.neg
    }

    /// The negated value (zero stays zero).
    pub fn negated(&self) -> Number {
        let mut n = self.clone();
        n.neg = !n.neg && !n.is_zero();
        n
    }

    /// Exact `self + other`, or AWS's error when the result leaves DynamoDB's range
    /// or needs more than 38 significant digits. This is what `ADD` and
    /// `SET a = a + :v` compute.
    pub fn checked_add(&self, other: &Number) -> Result<Number, Error> {
        arith::add(self, other)
    }

    /// Exact `self - other`, with the same error rules as [`Number::checked_add`].
    pub fn checked_sub(&self, other: &Number) -> Result<Number, Error> {
        arith::add(self, &other.negated())
    }

    /// Bytes this number counts towards DynamoDB's 400 KB item size: 1 byte, plus
    /// one per pair of significant digits (pairs aligned on the decimal point, so
    /// "1.5" costs a byte more than "15"), plus 1 if negative; zero costs 1. This is
    /// dynalite's `valSize` formula, which also matches byte-exact measurements
    /// against AWS (nubo-db/dynamodb-conformance `src/item-size.ts`).
    pub fn size_bytes(&self) -> usize {
        if self.is_zero() {
            return 1;
        }
        let first = i64::from(self.exp);
        let last = first - self.digits.len() as i64 + 1;
        // Number of base-100 digits spanned: pairs are aligned on even powers of ten.
        let pairs = first.div_euclid(2) - last.div_euclid(2) + 1;
        1 + pairs as usize + usize::from(self.neg)
    }

    /// An order-preserving encoding: comparing two encodings with memcmp gives the
    /// numeric order. It is self-delimiting, so it can be followed by other bytes in
    /// a composite storage key.
    pub fn sort_key_bytes(&self) -> Vec<u8> {
        sortkey::encode(self)
    }

    /// Inverts [`Number::sort_key_bytes`]; the whole slice must be one encoding.
    /// Corrupt input gives an error, never a panic.
    pub fn from_sort_key_bytes(bytes: &[u8]) -> Result<Number, Error> {
        match sortkey::decode_prefix(bytes)? {
            (n, used) if used == bytes.len() => Ok(n),
            _ => Err(sortkey::corrupt("trailing bytes")),
        }
    }

    /// Decodes one sort-key encoding at the start of `bytes` and returns it with the
    /// number of bytes it used (for readers of composite keys and stored items).
    pub fn from_sort_key_prefix(bytes: &[u8]) -> Result<(Number, usize), Error> {
        sortkey::decode_prefix(bytes)
    }

    /// Builds a normalized number from a sign, the power of ten of `digits[0]` and
    /// decimal digits (leading and trailing zeros allowed), then applies DynamoDB's
    /// range and precision rules for values of the given origin.
    fn from_parts(neg: bool, exp: i64, digits: &[u8], origin: Origin) -> Result<Number, Error> {
        let Some(start) = digits.iter().position(|&d| d != 0) else {
            return Ok(Number::zero());
        };
        let end = digits.iter().rposition(|&d| d != 0).map_or(start, |i| i + 1);
        let exp = exp - start as i64;
        if exp > MAX_EXPONENT {
            return Err(Error::validation(MSG_OVERFLOW));
        }
        if exp < MIN_EXPONENT {
            return Err(Error::validation(MSG_UNDERFLOW));
        }
        if end - start > MAX_DIGITS {
            // AWS reports an arithmetic result that cannot be held exactly as an
            // overflow, not as a precision error: ScyllaDB's AWS-checked test
            // `test_update_expression_plus_imprecise` (1e50 + 1) records this.
            let msg = if origin == Origin::Literal { MSG_PRECISION } else { MSG_OVERFLOW };
            return Err(Error::validation(msg));
        }
        Ok(Number { neg, exp: exp as i16, digits: digits[start..end].into() })
    }
}

impl Default for Number {
    fn default() -> Number {
        Number::zero()
    }
}

impl fmt::Display for Number {
    /// DynamoDB's output form (big.js `toFixed`, as dynalite and AWS both return):
    /// plain decimal, no exponent, no leading or trailing zeros beyond "0.".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0");
        }
        let mut s = String::with_capacity(self.digits.len() + 4);
        if self.neg {
            s.push('-');
        }
        let digit = |d: &u8| char::from(b'0' + d);
        if self.exp >= 0 {
            let int_len = self.exp as usize + 1;
            for i in 0..int_len {
                s.push(self.digits.get(i).map_or('0', digit));
            }
            if self.digits.len() > int_len {
                s.push('.');
                s.extend(self.digits[int_len..].iter().map(digit));
            }
        } else {
            s.push_str("0.");
            s.extend(std::iter::repeat_n('0', (-self.exp - 1) as usize));
            s.extend(self.digits.iter().map(digit));
        }
        f.write_str(&s)
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Number) -> Ordering {
        let sign = |n: &Number| if n.neg { -1 } else { i8::from(!n.is_zero()) };
        let (a, b) = (sign(self), sign(other));
        if a != b || a == 0 {
            return a.cmp(&b);
        }
        // Same non-zero sign: normalized digits make (exponent, digits) a magnitude
        // order, with a shorter digit string that is a prefix being the smaller.
        let magnitude = self.exp.cmp(&other.exp).then_with(|| self.digits.cmp(&other.digits));
        if a > 0 { magnitude } else { magnitude.reverse() }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Number) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl FromStr for Number {
    type Err = Error;

    fn from_str(s: &str) -> Result<Number, Error> {
        Number::parse(s)
    }
}

impl From<u64> for Number {
    fn from(v: u64) -> Number {
        let digits: Vec<u8> = v.to_string().bytes().map(|b| b - b'0').collect();
        let exp = digits.len() as i64 - 1;
        // At most 20 digits and exponent 19: always within DynamoDB's limits.
        Number::from_parts(false, exp, &digits, Origin::Literal).unwrap_or_default()
    }
}

impl From<i64> for Number {
    fn from(v: i64) -> Number {
        let n = Number::from(v.unsigned_abs());
        if v < 0 { n.negated() } else { n }
    }
}

impl From<usize> for Number {
    fn from(v: usize) -> Number {
        Number::from(v as u64)
    }
}
