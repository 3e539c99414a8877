//! CBOR (RFC 8949), the wire the Java SDK and the KCL speak to Kinesis by default
//! (`application/x-amz-cbor-1.1`), and its bridge to the awsJson form the handlers use.
//!
//! A small hand-written codec instead of a crate: CBOR is eight major types, and what
//! matters here is control, not features. Decoding never panics, bounds nesting (arrays,
//! maps and tags alike, so no input can exhaust the stack) and never allocates ahead of
//! the bytes that back an item; request bodies are also capped in item count
//! ([`REQUEST_LIMITS`]), so a hostile 16 MiB body costs little beyond its own bytes.
//! Encoding writes definite lengths and the preferred (shortest) forms.
//!
//! The bridge makes CBOR a transparent codec around handlers that take and return
//! awsJson `serde_json::Value`s (blobs as base64, timestamps as epoch seconds):
//! - [`decode_to_json`]: a CBOR body → awsJson (byte strings → base64, tag 1 epoch
//!   milliseconds → epoch seconds); no model needed, CBOR says what its items are.
//! - [`encode_output`] / [`encode_input`]: an operation's awsJson output / input →
//!   CBOR, typed by the Kinesis model (`kinesis_shapes`, generated from botocore):
//!   modelled blobs → byte strings, modelled timestamps → tag 1 + integer milliseconds.
//! - [`encode_shaped`]: the same for one shape (an event-stream payload such as
//!   `kinesis_shapes::SUBSCRIBE_TO_SHARD_EVENT`); [`encode_plain`]: no model (errors).
//! - [`decode`] / [`encode`] / [`to_json`]: the codec itself, on [`Value`]s.
//!
//! The server picks the codec per request (`protocol::Codec`); handlers never see CBOR.

mod bridge;
mod decode;
mod encode;
pub mod kinesis_shapes;

#[cfg(test)]
mod tests_bridge;
#[cfg(test)]
mod tests_codec;

pub use bridge::{
    REQUEST_LIMITS, decode_to_json, encode_input, encode_output, encode_plain, encode_shaped,
    to_json,
};
pub use decode::{Limits, decode, decode_with};
pub use encode::encode;

/// One CBOR data item.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Major type 0.
    Unsigned(u64),
    /// Major type 1: the integer `-1 - n`, which reaches -2^64 (beyond `i64`).
    Negative(u64),
    /// Major type 2 (indefinite-length chunks joined).
    Bytes(Vec<u8>),
    /// Major type 3 (indefinite-length chunks joined).
    Text(String),
    /// Major type 4.
    Array(Vec<Value>),
    /// Major type 5, in wire order; keys may be any item, as CBOR allows.
    Map(Vec<(Value, Value)>),
    /// Major type 6: a tag number and the item it qualifies.
    Tag(u64, Box<Value>),
    /// Major type 7, simple values without a meaning of their own (0–19, 32–255).
    Simple(u8),
    Bool(bool),
    Null,
    Undefined,
    /// Major type 7, half, single or double precision.
    Float(f64),
}

/// Why a body is not the CBOR (or the awsJson-compatible CBOR) expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("unexpected end of input")]
    Eof,
    #[error("reserved additional information {0}")]
    Reserved(u8),
    #[error("indefinite length for major type {0}")]
    BadIndefinite(u8),
    #[error("indefinite-length string chunk of the wrong type")]
    BadChunk,
    #[error("break outside an indefinite-length item")]
    UnexpectedBreak,
    #[error("invalid UTF-8 in a text string")]
    InvalidUtf8,
    #[error("two-byte simple value below 32")]
    BadSimple,
    #[error("nested deeper than {0}")]
    TooDeep(usize),
    #[error("more than {0} data items")]
    TooManyItems(usize),
    #[error("{0} bytes after the data item")]
    Trailing(usize),
    /// A CBOR item with no awsJson equivalent (a non-text map key, NaN, -2^64, ...).
    #[error("no JSON form: {0}")]
    NoJson(&'static str),
    /// A handler's JSON that does not fit the model where the model types the value.
    #[error("member {member}: {problem}")]
    Shape { member: String, problem: &'static str },
}

/// The type of a modelled value that the bridge converts; anything else is written as
/// its natural CBOR type. Tables of these are generated into `kinesis_shapes`.
#[derive(Debug)]
pub enum Shape {
    /// A byte string on the wire, base64 text in awsJson.
    Blob,
    /// Tag 1 + integer epoch milliseconds on the wire, epoch seconds in awsJson.
    Timestamp,
    /// A list whose members all have this shape.
    List(&'static Shape),
    /// A structure's members that lead to a blob or timestamp; other members are plain.
    Structure(&'static [(&'static str, Shape)]),
}

/// The input and output shapes of a Kinesis operation, when they hold blobs or
/// timestamps (`None` otherwise: then the natural encoding is the whole story).
pub fn operation_shapes(operation: &str) -> (Option<&'static Shape>, Option<&'static Shape>) {
    kinesis_shapes::OPERATIONS
        .iter()
        .find(|(name, _, _)| *name == operation)
        .map_or((None, None), |(_, input, output)| (input.as_ref(), output.as_ref()))
}
