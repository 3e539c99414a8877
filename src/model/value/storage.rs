//! The compact binary form of items for the store.
//!
//! Layout: a version byte (1), then the attribute count and, per attribute in name
//! order, the name and the value. Lengths and counts are LEB128 varints; strings are
//! UTF-8; numbers use [`Number::sort_key_bytes`] (self-delimiting and canonical).
//! Each value is a tag byte and its body:
//!
//! | tag | type  | body                           |
//! |-----|-------|--------------------------------|
//! | 0   | NULL  | —                              |
//! | 1/2 | BOOL  | — (false/true)                 |
//! | 3   | S     | len, bytes                     |
//! | 4   | N     | number                         |
//! | 5   | B     | len, bytes                     |
//! | 6   | SS    | count, (len, bytes)…           |
//! | 7   | NS    | count, number…                 |
//! | 8   | BS    | count, (len, bytes)…           |
//! | 9   | M     | count, (name len, name, value)…|
//! | 10  | L     | count, value…                  |
//!
//! Decoding validates everything (canonical map order included) and returns an
//! error, never panics, on corrupt bytes.

use super::{AttributeValue, Item};
use crate::model::{Error, Number};

const VERSION: u8 = 1;
/// Far deeper than DynamoDB allows (32), but bounded so corrupt input cannot
/// exhaust the stack.
const MAX_DECODE_DEPTH: usize = 256;

/// Encodes an item (see the module documentation for the layout).
pub fn encode_item(item: &Item) -> Vec<u8> {
    let mut out = vec![VERSION];
    put_map(&mut out, item);
    out
}

/// Decodes what [`encode_item`] produced. Corrupt or unknown-version input is an
/// error (a `Validation` error whose message starts with "Internal error:"; the
/// daemon should answer it as an InternalServerError, it is not AWS behaviour).
pub fn decode_item(bytes: &[u8]) -> Result<Item, Error> {
    let mut r = Reader { bytes, pos: 0 };
    if r.byte()? != VERSION {
        return Err(corrupt("unknown version"));
    }
    let item = r.map(0)?;
    if r.pos != bytes.len() {
        return Err(corrupt("trailing bytes"));
    }
    Ok(item)
}

fn corrupt(what: &str) -> Error {
    Error::validation(format!("Internal error: corrupt stored item ({what})"))
}

fn put_varint(out: &mut Vec<u8>, mut v: usize) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len());
    out.extend_from_slice(b);
}

fn put_map(out: &mut Vec<u8>, m: &Item) {
    put_varint(out, m.len());
    for (name, v) in m {
        put_bytes(out, name.as_bytes());
        put_value(out, v);
    }
}

fn put_value(out: &mut Vec<u8>, v: &AttributeValue) {
    use AttributeValue::*;
    match v {
        Null => out.push(0),
        Bool(b) => out.push(1 + u8::from(*b)),
        S(s) => {
            out.push(3);
            put_bytes(out, s.as_bytes());
        }
        N(n) => {
            out.push(4);
            out.extend(n.sort_key_bytes());
        }
        B(b) => {
            out.push(5);
            put_bytes(out, b);
        }
        Ss(v) => {
            out.push(6);
            put_varint(out, v.len());
            v.iter().for_each(|s| put_bytes(out, s.as_bytes()));
        }
        Ns(v) => {
            out.push(7);
            put_varint(out, v.len());
            v.iter().for_each(|n| out.extend(n.sort_key_bytes()));
        }
        Bs(v) => {
            out.push(8);
            put_varint(out, v.len());
            v.iter().for_each(|b| put_bytes(out, b));
        }
        M(m) => {
            out.push(9);
            put_map(out, m);
        }
        L(l) => {
            out.push(10);
            put_varint(out, l.len());
            l.iter().for_each(|v| put_value(out, v));
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, Error> {
        let b = *self.bytes.get(self.pos).ok_or_else(|| corrupt("truncated"))?;
        self.pos += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<usize, Error> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return usize::try_from(v).map_err(|_| corrupt("varint too large"));
            }
        }
        Err(corrupt("varint too long"))
    }

    /// A count of elements that each take at least one byte: never more than the
    /// bytes left, so a corrupt count cannot trigger a huge allocation.
    fn count(&mut self) -> Result<usize, Error> {
        let n = self.varint()?;
        match n <= self.bytes.len() - self.pos {
            true => Ok(n),
            false => Err(corrupt("count beyond input")),
        }
    }

    fn raw(&mut self) -> Result<&[u8], Error> {
        let len = self.varint()?;
        let end = self.pos.checked_add(len).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| corrupt("length beyond input"))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn string(&mut self) -> Result<String, Error> {
        let raw = self.raw()?;
        String::from_utf8(raw.to_vec()).map_err(|_| corrupt("invalid UTF-8"))
    }

    fn number(&mut self) -> Result<Number, Error> {
        let (n, used) = Number::from_sort_key_prefix(&self.bytes[self.pos..])?;
        self.pos += used;
        Ok(n)
    }

    fn list<T>(
        &mut self,
        mut one: impl FnMut(&mut Self) -> Result<T, Error>,
    ) -> Result<Vec<T>, Error> {
        let n = self.count()?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(one(self)?);
        }
        Ok(out)
    }

    fn map(&mut self, depth: usize) -> Result<Item, Error> {
        let n = self.count()?;
        let mut out = Item::new();
        for _ in 0..n {
            let name = self.string()?;
            // Names were written in BTreeMap order: anything else is corruption.
            if out.last_key_value().is_some_and(|(last, _)| *last >= name) {
                return Err(corrupt("map keys out of order"));
            }
            let value = self.value(depth)?;
            out.insert(name, value);
        }
        Ok(out)
    }

    fn value(&mut self, depth: usize) -> Result<AttributeValue, Error> {
        if depth > MAX_DECODE_DEPTH {
            return Err(corrupt("nested too deeply"));
        }
        use AttributeValue::*;
        Ok(match self.byte()? {
            0 => Null,
            1 => Bool(false),
            2 => Bool(true),
            3 => S(self.string()?),
            4 => N(self.number()?),
            5 => B(self.raw()?.to_vec()),
            6 => Ss(self.list(Self::string)?),
            7 => Ns(self.list(Self::number)?),
            8 => Bs(self.list(|r| r.raw().map(<[u8]>::to_vec))?),
            9 => M(self.map(depth + 1)?),
            10 => L(self.list(|r| r.value(depth + 1))?),
            _ => return Err(corrupt("unknown type tag")),
        })
    }
}
