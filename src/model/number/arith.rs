//! Exact addition and subtraction of [`Number`]s.
//!
//! Operands are at most 38 digits with exponents in [-130, 125], so aligning both on
//! one digit grid needs under 300 positions: schoolbook arithmetic on a small digit
//! vector is exact and cheap, and no rounding ever happens. AWS does not round
//! either; it refuses results it cannot hold (see [`Number::checked_add`]).

use std::cmp::Ordering;

use super::{Number, Origin};
use crate::model::Error;

/// Exact `a + b`, validated like any value DynamoDB is asked to store.
pub(super) fn add(a: &Number, b: &Number) -> Result<Number, Error> {
    if a.is_zero() {
        return Ok(b.clone());
    }
    if b.is_zero() {
        return Ok(a.clone());
    }
    // Digit grid: position p holds the digit of 10^p, from `low` up to `high`,
    // with one spare position on top for a carry.
    let low = lowest_power(a).min(lowest_power(b));
    let high = i64::from(a.exp.max(b.exp)) + 1;
    let width = (high - low + 1) as usize;
    let (x, y) = (spread(a, low, width), spread(b, low, width));

    let (neg, sum) = if a.neg == b.neg {
        (a.neg, add_digits(&x, &y))
    } else {
        match compare_magnitudes(&x, &y) {
            Ordering::Equal => return Ok(Number::zero()),
            Ordering::Greater => (a.neg, sub_digits(&x, &y)),
            Ordering::Less => (b.neg, sub_digits(&y, &x)),
        }
    };
    // `sum` is little-endian; from_parts wants most significant first.
    let big_endian: Vec<u8> = sum.into_iter().rev().collect();
    Number::from_parts(neg, high, &big_endian, Origin::Arithmetic)
}

/// Power of ten of the last significant digit of a non-zero number.
fn lowest_power(n: &Number) -> i64 {
    i64::from(n.exp) - n.digits.len() as i64 + 1
}

/// The magnitude of `n` as little-endian digits on the grid starting at `low`.
fn spread(n: &Number, low: i64, width: usize) -> Vec<u8> {
    let mut out = vec![0u8; width];
    for (i, &d) in n.digits.iter().enumerate() {
        let power = i64::from(n.exp) - i as i64;
        out[(power - low) as usize] = d;
    }
    out
}

fn add_digits(x: &[u8], y: &[u8]) -> Vec<u8> {
    let mut carry = 0;
    x.iter()
        .zip(y)
        .map(|(a, b)| {
            let s = a + b + carry;
            carry = s / 10;
            s % 10
        })
        .collect()
}

/// `x - y` for little-endian digit strings with `x >= y`.
fn sub_digits(x: &[u8], y: &[u8]) -> Vec<u8> {
    let mut borrow = 0;
    x.iter()
        .zip(y)
        .map(|(&a, &b)| {
            let sub = b + borrow;
            if a >= sub {
                borrow = 0;
                a - sub
            } else {
                borrow = 1;
                a + 10 - sub
            }
        })
        .collect()
}

fn compare_magnitudes(x: &[u8], y: &[u8]) -> Ordering {
    x.iter().rev().cmp(y.iter().rev())
}
