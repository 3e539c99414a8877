//! Decoding one CBOR data item, strictly: every RFC 8949 well-formedness rule is checked,
//! and a body must hold exactly one item.
//!
//! Hostile input is the design case. Recursion is bounded by `Limits::max_depth`, which
//! counts tags as well as containers (`c1 c1 c1 …` nests as deep as `81 81 81 …`). No
//! length read from the input is trusted for an allocation: strings are sliced out of
//! the input only once all their bytes are known to be there, and containers start
//! small and grow as items actually decode, each of which consumes at least one byte.

use super::{Error, Value};

/// Resource bounds of one decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Containers and tags nested deeper than this are rejected.
    pub max_depth: usize,
    /// Data items (map keys, values and array elements all count) beyond this are
    /// rejected; `usize::MAX` leaves the input length as the only bound.
    pub max_items: usize,
}

impl Default for Limits {
    /// serde_json's recursion limit; no item cap.
    fn default() -> Self {
        Limits { max_depth: 128, max_items: usize::MAX }
    }
}

/// The capacity a container starts with, whatever count it declares.
const INITIAL_CAPACITY: usize = 16;

/// Decodes `input`, which must be exactly one data item, with the default limits.
pub fn decode(input: &[u8]) -> Result<Value, Error> {
    decode_with(input, Limits::default())
}

/// Decodes `input`, which must be exactly one data item, within `limits`.
pub fn decode_with(input: &[u8], limits: Limits) -> Result<Value, Error> {
    let mut decoder = Decoder { input, pos: 0, limits, items: 0 };
    let value = decoder.item(0)?;
    match input.len() - decoder.pos {
        0 => Ok(value),
        rest => Err(Error::Trailing(rest)),
    }
}

struct Decoder<'a> {
    input: &'a [u8],
    pos: usize,
    limits: Limits,
    items: usize,
}

/// The break code that ends an indefinite-length item.
const BREAK: u8 = 0xff;

impl<'a> Decoder<'a> {
    fn byte(&mut self) -> Result<u8, Error> {
        let b = *self.input.get(self.pos).ok_or(Error::Eof)?;
        self.pos += 1;
        Ok(b)
    }

    /// Consumes the break code if it is next.
    fn at_break(&mut self) -> Result<bool, Error> {
        let next = *self.input.get(self.pos).ok_or(Error::Eof)?;
        if next == BREAK {
            self.pos += 1;
        }
        Ok(next == BREAK)
    }

    /// The next `n` bytes, if the input holds them; nothing is allocated here.
    fn take(&mut self, n: u64) -> Result<&'a [u8], Error> {
        let end = usize::try_from(n)
            .ok()
            .and_then(|n| self.pos.checked_add(n))
            .filter(|&end| end <= self.input.len())
            .ok_or(Error::Eof)?;
        let bytes = &self.input[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn uint(&mut self, width: u64) -> Result<u64, Error> {
        Ok(self.take(width)?.iter().fold(0u64, |n, &b| (n << 8) | u64::from(b)))
    }

    /// The argument of an initial byte's additional information; `None` is indefinite.
    fn argument(&mut self, info: u8) -> Result<Option<u64>, Error> {
        match info {
            0..=23 => Ok(Some(u64::from(info))),
            24 => self.uint(1).map(Some),
            25 => self.uint(2).map(Some),
            26 => self.uint(4).map(Some),
            27 => self.uint(8).map(Some),
            31 => Ok(None),
            _ => Err(Error::Reserved(info)),
        }
    }

    fn item(&mut self, depth: usize) -> Result<Value, Error> {
        if depth > self.limits.max_depth {
            return Err(Error::TooDeep(self.limits.max_depth));
        }
        self.items += 1;
        if self.items > self.limits.max_items {
            return Err(Error::TooManyItems(self.limits.max_items));
        }
        let initial = self.byte()?;
        let (major, info) = (initial >> 5, initial & 0x1f);
        if major == 7 {
            return self.simple(info);
        }
        let argument = self.argument(info)?;
        Ok(match (major, argument) {
            (0, Some(n)) => Value::Unsigned(n),
            (1, Some(n)) => Value::Negative(n),
            (2, Some(n)) => Value::Bytes(self.take(n)?.to_vec()),
            (3, Some(n)) => Value::Text(text(self.take(n)?)?.to_owned()),
            (2, None) => Value::Bytes(self.chunks(2)?),
            // Each chunk is checked on its own: RFC 8949 §3.2.3 forbids splitting a
            // character across chunks, so the joined bytes are valid UTF-8 too.
            (3, None) => {
                Value::Text(String::from_utf8(self.chunks(3)?).map_err(|_| Error::InvalidUtf8)?)
            }
            (4, count) => {
                let mut items = Vec::with_capacity(capacity(count));
                match count {
                    Some(n) => {
                        for _ in 0..n {
                            items.push(self.item(depth + 1)?);
                        }
                    }
                    None => {
                        while !self.at_break()? {
                            items.push(self.item(depth + 1)?);
                        }
                    }
                }
                Value::Array(items)
            }
            (5, count) => {
                let mut pairs = Vec::with_capacity(capacity(count));
                match count {
                    Some(n) => {
                        for _ in 0..n {
                            pairs.push((self.item(depth + 1)?, self.item(depth + 1)?));
                        }
                    }
                    None => {
                        while !self.at_break()? {
                            pairs.push((self.item(depth + 1)?, self.item(depth + 1)?));
                        }
                    }
                }
                Value::Map(pairs)
            }
            (6, Some(tag)) => Value::Tag(tag, Box::new(self.item(depth + 1)?)),
            (major, _) => return Err(Error::BadIndefinite(major)),
        })
    }

    /// The joined chunks of an indefinite-length string of `major` type: each chunk is
    /// a definite-length string of the same type.
    fn chunks(&mut self, major: u8) -> Result<Vec<u8>, Error> {
        let mut joined = Vec::new();
        while !self.at_break()? {
            let initial = self.byte()?;
            if initial >> 5 != major {
                return Err(Error::BadChunk);
            }
            let Some(len) = self.argument(initial & 0x1f)? else { return Err(Error::BadChunk) };
            let chunk = self.take(len)?;
            if major == 3 {
                text(chunk)?;
            }
            joined.extend_from_slice(chunk);
        }
        Ok(joined)
    }

    /// Major type 7: simple values and floats.
    fn simple(&mut self, info: u8) -> Result<Value, Error> {
        Ok(match info {
            20 => Value::Bool(false),
            21 => Value::Bool(true),
            22 => Value::Null,
            23 => Value::Undefined,
            0..=19 => Value::Simple(info),
            24 => match self.byte()? {
                // RFC 8949 §3.3: these have a one-byte form; the two-byte one is malformed.
                0..=31 => return Err(Error::BadSimple),
                n => Value::Simple(n),
            },
            25 => Value::Float(f16_to_f64(self.uint(2)? as u16)),
            26 => Value::Float(f64::from(f32::from_bits(self.uint(4)? as u32))),
            27 => Value::Float(f64::from_bits(self.uint(8)?)),
            31 => return Err(Error::UnexpectedBreak),
            _ => return Err(Error::Reserved(info)),
        })
    }
}

fn text(bytes: &[u8]) -> Result<&str, Error> {
    std::str::from_utf8(bytes).map_err(|_| Error::InvalidUtf8)
}

fn capacity(declared: Option<u64>) -> usize {
    declared.map_or(INITIAL_CAPACITY, |n| n.min(INITIAL_CAPACITY as u64) as usize)
}

/// An IEEE 754 half-precision value, widened exactly (RFC 8949 Appendix D).
pub(super) fn f16_to_f64(half: u16) -> f64 {
    let exponent = i32::from((half >> 10) & 0x1f);
    let mantissa = f64::from(half & 0x3ff);
    let magnitude = match exponent {
        0 => mantissa * 2f64.powi(-24),
        31 if mantissa == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        _ => (1024.0 + mantissa) * 2f64.powi(exponent - 25),
    };
    if half & 0x8000 == 0 { magnitude } else { -magnitude }
}
