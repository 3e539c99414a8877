//! A request body once the front end has accepted it: awsJson kept as its bytes (checked
//! to be one well-formed document, never built into a tree), or the awsJson tree a CBOR
//! body was translated into. Handlers decode it straight into their typed input
//! (`crate::api::wire::decode`), so an awsJson body is parsed into typed values once.

use bytes::Bytes;
use serde_json::Value;

use super::{ProtocolError, malformed};

/// An accepted request body.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestBody {
    /// awsJson: valid UTF-8 of at most `values` JSON values (counted by separators),
    /// its syntax checked as it is decoded.
    Json { text: Bytes, values: usize },
    /// A CBOR body as awsJson, or a body built in process (bootstrap, tests).
    Tree(Value),
}

impl RequestBody {
    /// Accepts `bytes` as awsJson: valid UTF-8 nested less deeply than serde_json's
    /// recursion limit. Its syntax is checked by the typed decode, which stops at the
    /// first error; [`RequestBody::check_syntax`] walks the whole document when an
    /// earlier error needs to know whether the body was malformed first.
    pub fn json(bytes: Bytes) -> Result<RequestBody, ProtocolError> {
        // Skipped members are not UTF-8-checked by serde_json, so check the whole body.
        std::str::from_utf8(&bytes)
            .map_err(|e| ProtocolError::Serialization(malformed::invalid_utf8(&bytes, e)))?;
        // Skipped members do not count depth either. So deep a document can only be an
        // attribute value nested past DynamoDB's limit, which has its own answer.
        let shape = shape(&bytes);
        if shape.depth >= MAX_DEPTH {
            return Err(ProtocolError::TooDeep);
        }
        Ok(RequestBody::Json { text: bytes, values: shape.values })
    }

    /// Whether the body is one well-formed document: bad syntax or trailing bytes are a
    /// SerializationException naming the problem ([`malformed::malformed`]), which AWS's
    /// front end answers before anything else. Walks the document without allocating (an
    /// array of millions of zeros costs nothing).
    pub fn check_syntax(&self) -> Result<(), ProtocolError> {
        match self {
            RequestBody::Json { text, .. } => match malformed::malformed(text) {
                Some(message) => Err(ProtocolError::Serialization(message)),
                None => Ok(()),
            },
            RequestBody::Tree(_) => Ok(()),
        }
    }

    /// What decoding this body and holding its input through the handler may cost in
    /// memory, as an upper estimate: its bytes, plus [`VALUE_COST`] for each JSON value
    /// (a `serde_json::Value` map node, or a typed element and its heap block). A CBOR
    /// body is already decoded, within `cbor::REQUEST_LIMITS`: only its JSON counts.
    pub fn decode_cost(&self) -> usize {
        match self {
            RequestBody::Json { text, values } => {
                text.len().saturating_add(values.saturating_mul(VALUE_COST))
            }
            RequestBody::Tree(_) => 0,
        }
    }

    /// The body as a JSON tree, for the rare reader that wants a member or two without a
    /// typed input (fault rules matching a resource name). Parses awsJson again.
    pub fn to_value(&self) -> Value {
        match self {
            RequestBody::Json { text, .. } => serde_json::from_slice(text).unwrap_or(Value::Null),
            RequestBody::Tree(value) => value.clone(),
        }
    }
}

/// serde_json refuses a document whose arrays and objects nest this deep.
const MAX_DEPTH: usize = 128;

/// Memory one JSON value may take once decoded, at most. Items, attribute values and
/// legacy parameters are decoded from their text without a JSON tree (an attribute value
/// is 32 to 48 bytes, a map entry its name besides), so a `{"NULL":true}` element, counted
/// here as three values (`{`, `:` and the `,` after it), costs well under this; the
/// worst measured request shapes (BENCHMARKS.md) took 40 to 46 bytes per counted value,
/// the copies of the text included.
pub const VALUE_COST: usize = 64;

/// How deeply a well-formed JSON document nests, and how many values it holds at most.
struct Shape {
    depth: usize,
    values: usize,
}

fn shape(json: &[u8]) -> Shape {
    let (mut depth, mut deepest) = (0usize, 0);
    // Every value but the first follows a `:`, `,`, `[` or `{`, so this bounds them.
    let mut values = 1;
    let mut at = 0;
    while let Some(&b) = json.get(at) {
        at += 1;
        match b {
            // A string is skipped to its closing quote with memchr: most of a large body
            // is string contents (PutRecords' base64 data), and a byte-at-a-time walk
            // over them was 18 % of a PutRecords request's instructions.
            b'"' => at = string_end(json, at),
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
                values += 1;
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' | b':' => values += 1,
            _ => {}
        }
    }
    Shape { depth: deepest, values }
}

/// Where the string whose contents start at `from` ends: just past its closing quote
/// (an escaped quote does not close it), or the end of `json` if nothing closes it.
fn string_end(json: &[u8], mut from: usize) -> usize {
    while let Some(rest) = json.get(from..) {
        match memchr::memchr2(b'"', b'\\', rest) {
            // The escaped byte, whatever it is, is part of the string.
            Some(i) if rest[i] == b'\\' => from += i + 2,
            Some(i) => return from + i + 1,
            None => break,
        }
    }
    json.len()
}

impl From<Value> for RequestBody {
    fn from(value: Value) -> RequestBody {
        RequestBody::Tree(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &[u8]) -> Result<RequestBody, ProtocolError> {
        let body = RequestBody::json(Bytes::copy_from_slice(text))?;
        body.check_syntax().map(|()| body)
    }

    #[test]
    fn well_formed_documents_are_kept_as_bytes() {
        let body = check(br#" {"TableName": "t", "Item": {"a": {"S": "x"}}} "#).unwrap();
        assert!(matches!(&body, RequestBody::Json { values: 9, .. }), "{body:?}");
        assert_eq!(body.to_value()["TableName"], "t");
        assert_eq!(body.decode_cost(), 47 + 9 * VALUE_COST);
        // Separators inside strings are not values.
        let body = check(br#"{"a": "{[,:]}"}"#).unwrap();
        assert!(matches!(&body, RequestBody::Json { values: 3, .. }), "{body:?}");
        // Not an object is the decoder's business (a SerializationException there).
        assert!(check(b"[0, 0, 0]").is_ok());
    }

    #[test]
    fn malformed_documents_are_refused_as_the_tree_parse_refused_them() {
        for bad in [
            &b"{"[..],
            b"{\"a\": }",
            b"{} {}",
            b"{\"a\": 1,}",
            b"{\"a\": \"\xff\"}",
            b"{\"a\": \"\x01\"}",
            b"nul",
        ] {
            let message = malformed::malformed(bad).expect("malformed");
            assert_eq!(check(bad), Err(ProtocolError::Serialization(message)), "{bad:?}");
        }
        // The limit is exactly where serde_json's tree parse stops; brackets in strings
        // and escaped quotes do not count.
        for levels in [126, 127, 128, 129, 400] {
            let nested =
                format!(r#"{}{{"a\"[": "]{{"}}{}"#, "[".repeat(levels - 1), "]".repeat(levels - 1));
            let tree = serde_json::from_str::<Value>(&nested);
            assert_eq!(check(nested.as_bytes()).is_ok(), tree.is_ok(), "{levels}");
            if tree.is_err() {
                assert_eq!(check(nested.as_bytes()), Err(ProtocolError::TooDeep));
            }
        }
    }

    /// The byte-at-a-time walk `shape` replaced, as the reference it must agree with.
    fn shape_by_bytes(json: &[u8]) -> (usize, usize) {
        let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0, false, false);
        let mut values = 1;
        for &b in json {
            if in_string {
                match b {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'[' | b'{' => {
                    depth += 1;
                    deepest = deepest.max(depth);
                    values += 1;
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                b',' | b':' => values += 1,
                _ => {}
            }
        }
        (deepest, values)
    }

    proptest::proptest! {
        #[test]
        fn shape_agrees_with_the_byte_walk(
            text in proptest::collection::vec(proptest::sample::select(b"{}[],:\"\\ a".to_vec()), 0..64)
        ) {
            let shape = shape(&text);
            proptest::prop_assert_eq!((shape.depth, shape.values), shape_by_bytes(&text));
        }
    }
}
