//! The order-preserving, self-delimiting byte encoding of [`Number`]s.
//!
//! Layout (memcmp order is numeric order):
//! - zero: `[0x02]`
//! - positive: `[0x03, exp + 130, pair bytes…, 0x00]`, pair byte = 1 + two digits (1..=100)
//! - negative: `[0x01, 125 - exp, pair bytes…, 0xFF]`, pair byte = 101 - two digits (2..=101)
//!
//! Digits are paired from the first significant digit (the last pair padded with 0),
//! two digits per byte as in DynamoDB's own base-100 format. Exponent bytes cover
//! exactly the 256 allowed exponents. For positives a shorter digit string that is a
//! prefix of a longer one is the smaller number, so the terminator sorts below every
//! pair byte; for negatives everything is mirrored, so it sorts above.

use super::{MAX_DIGITS, MAX_EXPONENT, MIN_EXPONENT, Number};
use crate::model::Error;

const NEGATIVE: u8 = 0x01;
const ZERO: u8 = 0x02;
const POSITIVE: u8 = 0x03;
const POSITIVE_END: u8 = 0x00;
const NEGATIVE_END: u8 = 0xFF;

/// The error for bytes that are not an encoding produced by [`encode`].
pub(super) fn corrupt(what: &str) -> Error {
    Error::validation(format!("Internal error: corrupt stored number ({what})"))
}

/// See [`Number::sort_key_bytes`].
pub(super) fn encode(n: &Number) -> Vec<u8> {
    if n.is_zero() {
        return vec![ZERO];
    }
    let offset = (i64::from(n.exp) - MIN_EXPONENT) as u8;
    let mut out = Vec::with_capacity(n.digits.len() / 2 + 4);
    if n.neg {
        out.extend([NEGATIVE, u8::MAX - offset]);
    } else {
        out.extend([POSITIVE, offset]);
    }
    for pair in n.digits.chunks(2) {
        let value = pair[0] * 10 + pair.get(1).copied().unwrap_or(0);
        out.push(if n.neg { 101 - value } else { 1 + value });
    }
    out.push(if n.neg { NEGATIVE_END } else { POSITIVE_END });
    out
}

/// Decodes one encoding at the start of `bytes`; returns it and its length.
pub(super) fn decode_prefix(bytes: &[u8]) -> Result<(Number, usize), Error> {
    let (&sign, rest) = bytes.split_first().ok_or_else(|| corrupt("empty"))?;
    let neg = match sign {
        ZERO => return Ok((Number::zero(), 1)),
        NEGATIVE => true,
        POSITIVE => false,
        _ => return Err(corrupt("bad sign byte")),
    };
    let (&exp_byte, rest) = rest.split_first().ok_or_else(|| corrupt("truncated"))?;
    let offset = if neg { u8::MAX - exp_byte } else { exp_byte };
    let exp = MIN_EXPONENT + i64::from(offset);
    debug_assert!(exp <= MAX_EXPONENT);

    let end_byte = if neg { NEGATIVE_END } else { POSITIVE_END };
    let len = rest.iter().position(|&b| b == end_byte).ok_or_else(|| corrupt("unterminated"))?;
    let mut digits = Vec::with_capacity(len * 2);
    for &b in &rest[..len] {
        let value = if neg { 101u8.checked_sub(b) } else { b.checked_sub(1) };
        match value {
            Some(v) if v <= 99 => digits.extend([v / 10, v % 10]),
            _ => return Err(corrupt("bad digit byte")),
        }
    }
    // Drop the padding digit of an odd-length digit string; anything else that is
    // not canonical (leading zero, trailing zero pair, too long) is corruption.
    if digits.last() == Some(&0) {
        digits.pop();
    }
    if digits.first().is_none_or(|&d| d == 0)
        || digits.last() == Some(&0)
        || digits.len() > MAX_DIGITS
    {
        return Err(corrupt("non-canonical digits"));
    }
    let n = Number { neg, exp: exp as i16, digits: digits.into() };
    Ok((n, 2 + len + 1))
}
