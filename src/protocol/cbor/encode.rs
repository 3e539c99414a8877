//! Encoding CBOR in RFC 8949's preferred serialization: the shortest argument for every
//! head, definite lengths, and the shortest float that holds a value exactly (NaN as
//! `f9 7e00`). Deterministic output keeps golden-byte tests meaningful.
//!
//! The head and float writers are shared with the JSON bridge, which streams a handler's
//! JSON straight into CBOR without building a `Value` tree first.

use super::Value;

/// The CBOR bytes of `value`.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write(&mut out, value);
    out
}

fn write(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Unsigned(n) => head(out, 0, *n),
        Value::Negative(n) => head(out, 1, *n),
        Value::Bytes(bytes) => {
            head(out, 2, bytes.len() as u64);
            out.extend_from_slice(bytes);
        }
        Value::Text(text) => write_text(out, text),
        Value::Array(items) => {
            head(out, 4, items.len() as u64);
            items.iter().for_each(|item| write(out, item));
        }
        Value::Map(pairs) => {
            head(out, 5, pairs.len() as u64);
            for (key, value) in pairs {
                write(out, key);
                write(out, value);
            }
        }
        Value::Tag(tag, item) => {
            head(out, 6, *tag);
            write(out, item);
        }
        // 24–31 have no valid encoding; the decoder never yields them.
        Value::Simple(n) => head(out, 7, u64::from(*n)),
        Value::Bool(false) => out.push(0xf4),
        Value::Bool(true) => out.push(0xf5),
        Value::Null => out.push(0xf6),
        Value::Undefined => out.push(0xf7),
        Value::Float(f) => write_float(out, *f),
    }
}

/// An initial byte of `major` type with argument `n` in its shortest form.
pub(super) fn head(out: &mut Vec<u8>, major: u8, n: u64) {
    let major = major << 5;
    match n {
        0..=23 => out.push(major | n as u8),
        24..=0xff => out.extend_from_slice(&[major | 24, n as u8]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(major | 26);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        _ => {
            out.push(major | 27);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

pub(super) fn write_text(out: &mut Vec<u8>, text: &str) {
    head(out, 3, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

/// A signed integer: major type 0 or 1.
pub(super) fn write_i64(out: &mut Vec<u8>, n: i64) {
    match u64::try_from(n) {
        Ok(n) => head(out, 0, n),
        // -1 - n, computed without overflow for i64::MIN.
        Err(_) => head(out, 1, !(n as u64)),
    }
}

/// A float in the shortest of half, single and double that holds it exactly.
pub(super) fn write_float(out: &mut Vec<u8>, f: f64) {
    if let Some(half) = f64_to_f16_exact(f) {
        out.push(0xf9);
        out.extend_from_slice(&half.to_be_bytes());
    } else if f64::from(f as f32) == f {
        out.push(0xfa);
        out.extend_from_slice(&(f as f32).to_bits().to_be_bytes());
    } else {
        out.push(0xfb);
        out.extend_from_slice(&f.to_bits().to_be_bytes());
    }
}

/// The half-precision bits of `f` when a half holds it exactly (any NaN becomes the
/// canonical quiet NaN, as preferred serialization asks).
pub(super) fn f64_to_f16_exact(f: f64) -> Option<u16> {
    if f.is_nan() {
        return Some(0x7e00);
    }
    let bits = f.to_bits();
    let sign = ((bits >> 48) & 0x8000) as u16;
    if f.is_infinite() {
        return Some(sign | 0x7c00);
    }
    if f == 0.0 {
        return Some(sign);
    }
    let exponent = ((bits >> 52) & 0x7ff) as i32 - 1023;
    let mantissa = bits & ((1u64 << 52) - 1);
    match exponent {
        // Normal halves: the 42 mantissa bits a half lacks must be zero.
        -14..=15 => (mantissa & ((1u64 << 42) - 1) == 0)
            .then(|| sign | (((exponent + 15) as u16) << 10) | (mantissa >> 42) as u16),
        // Subnormal halves: m * 2^-24 with m < 1024, so every bit below 2^-24 must be zero.
        -24..=-15 => {
            let significand = mantissa | (1u64 << 52);
            let shift = 52 - (exponent + 24) as u32;
            (significand & ((1u64 << shift) - 1) == 0).then(|| sign | (significand >> shift) as u16)
        }
        _ => None,
    }
}
