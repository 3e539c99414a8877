//! The messages of a SerializationException for a body that is not well-formed awsJson,
//! worded as the Jackson parser behind AWS's front end words them ("Unexpected character
//! ('}' (code 125))", "Unexpected end-of-input", "Invalid UTF-8 start byte 0xff").
//! dynalite recorded bare SerializationExceptions for these from AWS in 2013-2019; sluice
//! always names the problem (docs/dynamodb-compatibility.md, "SerializationException").

use serde::de::IgnoredAny;
use serde_json::error::Category;

/// The answer to an empty body.
pub const MSG_EMPTY: &str = "No content to map due to end-of-input";

/// The answer to a body that ends before its document does.
pub const MSG_EOF: &str = "Unexpected end-of-input";

/// Why `json` is not one well-formed JSON document, or `None` when it is one.
pub fn malformed(json: &[u8]) -> Option<String> {
    if let Err(e) = std::str::from_utf8(json) {
        return Some(invalid_utf8(json, e));
    }
    let e = serde_json::from_slice::<IgnoredAny>(json).err()?;
    if e.classify() == Category::Eof {
        return Some(if json.iter().all(u8::is_ascii_whitespace) {
            MSG_EMPTY.to_string()
        } else {
            MSG_EOF.to_string()
        });
    }
    let at = offset(json, e.line(), e.column()).min(json.len());
    if e.to_string().starts_with("control character") {
        // serde_json points into the string holding it.
        let code = json[at..].iter().find(|b| **b < 0x20).copied().unwrap_or(0);
        return Some(format!(
            "Illegal unquoted character ((CTRL-CHAR, code {code})): has to be escaped using backslash to be included in string value"
        ));
    }
    if let Some(word) = token_at(json, at) {
        return Some(format!(
            "Unrecognized token '{word}': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
        ));
    }
    let c = std::str::from_utf8(&json[at..]).ok().and_then(|rest| rest.chars().next());
    Some(match c {
        Some(c) => unexpected(c),
        None => MSG_EOF.to_string(),
    })
}

/// The bare word (`habababa`, `nul`, `Infinity`) the error at `at` sits in, if any.
fn token_at(json: &[u8], at: usize) -> Option<&str> {
    let word = |b: &u8| b.is_ascii_alphanumeric();
    let start = json[..at].iter().rposition(|b| !word(b)).map_or(0, |i| i + 1);
    let end = at + json[at..].iter().position(|b| !word(b)).unwrap_or(json.len() - at);
    let token = std::str::from_utf8(&json[start..end]).ok()?;
    // A number is not a word: `12x` is an unexpected `x` after a number.
    token.starts_with(|c: char| c.is_ascii_alphabetic()).then_some(token)
}

/// Jackson's message for a character where the grammar wants another.
fn unexpected(c: char) -> String {
    let code = c as u32;
    if code < 0x20 {
        format!(
            "Illegal character ((CTRL-CHAR, code {code})): only regular white space (\\r, \\n, \\t) is allowed between tokens"
        )
    } else if code < 0x80 {
        format!("Unexpected character ('{c}' (code {code}))")
    } else {
        format!("Unexpected character ('{c}' (code {code} / 0x{code:x}))")
    }
}

/// Jackson's message for bytes that are not UTF-8.
pub fn invalid_utf8(bytes: &[u8], e: std::str::Utf8Error) -> String {
    let at = e.valid_up_to();
    let first = bytes[at];
    // A byte that cannot start a character, or a start byte followed by a wrong one.
    let starts = matches!(first, 0xC2..=0xF4);
    match (starts, bytes.get(at + 1)) {
        (true, Some(next)) if e.error_len().is_some() => {
            format!("Invalid UTF-8 middle byte 0x{next:x}")
        }
        (true, _) => format!("{MSG_EOF} in a UTF-8 character"),
        (false, _) => format!("Invalid UTF-8 start byte 0x{first:x}"),
    }
}

/// The byte offset of serde_json's 1-based (line, column) position in `json`, where
/// the column counts bytes.
fn offset(json: &[u8], line: usize, column: usize) -> usize {
    let line_start: usize =
        json.split_inclusive(|&b| b == b'\n').take(line.saturating_sub(1)).map(<[u8]>::len).sum();
    line_start + column.saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_documents_have_no_message() {
        for ok in [&b"{}"[..], b" {\"a\": [1, \"x\", null]} ", b"[]", b"\"x\"", b"7"] {
            assert_eq!(malformed(ok), None, "{ok:?}");
        }
    }

    #[test]
    fn every_malformed_document_is_named() {
        let cases: &[(&[u8], &str)] = &[
            (b"", MSG_EMPTY),
            (b"  \n", MSG_EMPTY),
            (b"{", MSG_EOF),
            (b"{\"TableName\":", MSG_EOF),
            (b"{\"a\": \"x", MSG_EOF),
            (b"{\"a\": }", "Unexpected character ('}' (code 125))"),
            (b"{\n  \"a\": 1,\n  }", "Unexpected character ('}' (code 125))"),
            (
                b"not json",
                "Unrecognized token 'not': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')",
            ),
            (
                b"{\"a\": nul}",
                "Unrecognized token 'nul': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')",
            ),
            (b"{\"a\": 12x}", "Unexpected character ('x' (code 120))"),
            (b"{} {}", "Unexpected character ('{' (code 123))"),
            (
                b"{\"a\": 1} x",
                "Unrecognized token 'x': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')",
            ),
            (b"{\"a\": \xc3\xa9}", "Unexpected character ('\u{e9}' (code 233 / 0xe9))"),
            (
                b"{\"a\": \"\x01\"}",
                "Illegal unquoted character ((CTRL-CHAR, code 1)): has to be escaped using backslash to be included in string value",
            ),
            (b"{\"a\": \"\xff\"}", "Invalid UTF-8 start byte 0xff"),
            (b"\x1f\x8b\x08\x00", "Invalid UTF-8 start byte 0x8b"),
            (b"{\"a\": \"\xc3(\"}", "Invalid UTF-8 middle byte 0x28"),
            (b"{\"a\": \"\xe2\x82", "Unexpected end-of-input in a UTF-8 character"),
        ];
        for (body, want) in cases {
            assert_eq!(
                malformed(body).as_deref(),
                Some(*want),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
