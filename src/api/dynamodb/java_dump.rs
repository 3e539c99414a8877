//! The Java `toString()` renderings AWS echoes into some constraint messages ("Value
//! '{t=[WriteRequest(putRequest=PutRequest(item={pk=AttributeValue(s=a, ...)}), ...)]}'
//! at 'requestItems' failed to satisfy constraint: ..."). The shape follows a 2026
//! capture of AWS's reply to a 26-request BatchWriteItem (nubo-db/dynamodb-conformance
//! captures/2026-06-09-validation-rewording.json); clients match these messages by their
//! constraint phrase, so the dump only needs to look the same, not be byte-exact.

use base64::Engine as _;

use crate::model::{AttributeValue, Item};

/// `AttributeValue(s=..., n=null, ...)` with every member, as AWS's model class prints.
pub fn attribute_value(value: &AttributeValue) -> String {
    let mut fields: [(&str, Option<String>); 16] = [
        ("s", None),
        ("n", None),
        ("b", None),
        ("iNT", None),
        ("dECIMAL", None),
        ("dOUBLE", None),
        ("sS", None),
        ("nS", None),
        ("bS", None),
        ("iNTSET", None),
        ("dECIMALSET", None),
        ("dOUBLESET", None),
        ("m", None),
        ("l", None),
        ("nULL", None),
        ("bOOL", None),
    ];
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let list = |items: Vec<String>| format!("[{}]", items.join(", "));
    let (slot, text) = match value {
        AttributeValue::S(s) => (0, s.clone()),
        AttributeValue::N(n) => (1, n.to_string()),
        AttributeValue::B(b) => (2, b64(b)),
        AttributeValue::Ss(v) => (6, list(v.clone())),
        AttributeValue::Ns(v) => (7, list(v.iter().map(ToString::to_string).collect())),
        AttributeValue::Bs(v) => (8, list(v.iter().map(|b| b64(b)).collect())),
        AttributeValue::M(m) => (12, item(m)),
        AttributeValue::L(l) => (13, list(l.iter().map(attribute_value).collect())),
        AttributeValue::Null => (14, "true".into()),
        AttributeValue::Bool(b) => (15, b.to_string()),
    };
    fields[slot].1 = Some(text);
    let shown: Vec<String> = fields
        .iter()
        .map(|(name, v)| format!("{name}={}", v.as_deref().unwrap_or("null")))
        .collect();
    format!("AttributeValue({})", shown.join(", "))
}

/// `{name=AttributeValue(...), ...}`.
pub fn item(item: &Item) -> String {
    let shown: Vec<String> =
        item.iter().map(|(k, v)| format!("{k}={}", attribute_value(v))).collect();
    format!("{{{}}}", shown.join(", "))
}

/// `null` for a missing member, as Java prints it.
pub fn opt<T>(value: Option<&T>, show: impl Fn(&T) -> String) -> String {
    value.map_or_else(|| "null".to_string(), show)
}

/// A map from table names to rendered values: `{t1=..., t2=...}`.
pub fn table_map<'a>(entries: impl Iterator<Item = (&'a String, String)>) -> String {
    let shown: Vec<String> = entries.map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", shown.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_the_java_model() {
        let i = Item::from([("pk".to_string(), AttributeValue::S("bw-0".into()))]);
        assert_eq!(
            item(&i),
            "{pk=AttributeValue(s=bw-0, n=null, b=null, iNT=null, dECIMAL=null, dOUBLE=null, sS=null, nS=null, bS=null, iNTSET=null, dECIMALSET=null, dOUBLESET=null, m=null, l=null, nULL=null, bOOL=null)}"
        );
        assert!(attribute_value(&AttributeValue::Bool(true)).ends_with("nULL=null, bOOL=true)"));
    }
}
