//! ExpressionAttributeNames / ExpressionAttributeValues of one request: lookup for
//! `#name` / `:value` placeholders, and AWS's checks on the maps themselves
//! (before parsing) and on unused entries (after every expression is parsed).

use std::collections::{BTreeSet, HashMap};

use crate::model::{AttributeValue, Error};

use super::parser::{Parser, RawElem, RawPath};
use super::paths::{Path, PathElement};
use super::reserved::is_reserved;

/// The placeholders of one request, shared by all of its expressions (UpdateItem's
/// UpdateExpression and ConditionExpression, Query's KeyConditionExpression,
/// FilterExpression and ProjectionExpression), remembering which were used.
#[derive(Debug)]
pub struct ExprContext<'a> {
    names: Option<&'a HashMap<String, String>>,
    values: Option<&'a HashMap<String, AttributeValue>>,
    used_names: BTreeSet<String>,
    used_values: BTreeSet<String>,
}

impl<'a> ExprContext<'a> {
    /// A context over the request's ExpressionAttributeNames and
    /// ExpressionAttributeValues, as sent (`None` when the request had none).
    pub fn new(
        names: Option<&'a HashMap<String, String>>,
        values: Option<&'a HashMap<String, AttributeValue>>,
    ) -> ExprContext<'a> {
        ExprContext { names, values, used_names: BTreeSet::new(), used_values: BTreeSet::new() }
    }

    /// AWS's checks on the maps themselves, which it makes before parsing any
    /// expression (dynalite validations/index.js `validateExpressions`): an empty map,
    /// then a key that is not `#` / `:` followed by `[0-9A-Za-z_]+`. Names are checked
    /// before values. The caller validates the values' contents (with AWS's
    /// "ExpressionAttributeValues contains invalid value: ... for key :x") after this
    /// and before parsing.
    pub fn check_maps(&self) -> Result<(), Error> {
        if let Some(names) = self.names {
            if names.is_empty() {
                return Err(Error::validation("ExpressionAttributeNames must not be empty"));
            }
            if let Some(bad) = first_bad_key(names.keys(), '#') {
                return Err(Error::validation(format!(
                    "ExpressionAttributeNames contains invalid key: Syntax error; key: \"{bad}\""
                )));
            }
            // AWS's answer, quoted by applications that met it ("... Empty attribute name
            // for key #DE"); the first such key in name order.
            if let Some(key) = names.iter().filter(|(_, v)| v.is_empty()).map(|(k, _)| k).min() {
                return Err(Error::validation(format!(
                    "ExpressionAttributeNames contains invalid value: Empty attribute name for key {key}"
                )));
            }
        }
        if let Some(values) = self.values {
            if values.is_empty() {
                return Err(Error::validation("ExpressionAttributeValues must not be empty"));
            }
            if let Some(bad) = first_bad_key(values.keys(), ':') {
                return Err(Error::validation(format!(
                    "ExpressionAttributeValues contains invalid key: Syntax error; key: \"{bad}\""
                )));
            }
        }
        Ok(())
    }

    /// The attribute name a `#placeholder` stands for, marking it used.
    pub(crate) fn name(&mut self, placeholder: &str) -> Option<String> {
        let found = self.names?.get(placeholder)?.clone();
        self.used_names.insert(placeholder.to_owned());
        Some(found)
    }

    /// The value a `:placeholder` stands for, marking it used.
    pub(crate) fn value(&mut self, placeholder: &str) -> Option<AttributeValue> {
        let found = self.values?.get(placeholder)?.clone();
        self.used_values.insert(placeholder.to_owned());
        Some(found)
    }

    /// Resolves a path as written: a bare name that is a reserved word goes to
    /// `reserved`, an undefined `#name` to `missing` (each keeps the first one
    /// only, as AWS reports the first it meets).
    pub(crate) fn resolve_path(
        &mut self,
        p: &Parser<'_>,
        raw: &RawPath,
        reserved: &mut Option<String>,
        missing: &mut Option<String>,
    ) -> Path {
        let elems = raw.0.iter().map(|el| match *el {
            RawElem::Ident(t) => {
                let word = p.text(t);
                if reserved.is_none() && is_reserved(word) {
                    *reserved = Some(format!("Attribute name is a reserved keyword; reserved keyword: {word}"));
                }
                PathElement::Name(word.to_owned())
            }
            RawElem::Name(t) => {
                let placeholder = p.text(t);
                PathElement::Name(self.name(placeholder).unwrap_or_else(|| {
                    missing.get_or_insert_with(|| {
                        format!(
                            "An expression attribute name used in the document path is not defined; \
                             attribute name: {placeholder}"
                        )
                    });
                    placeholder.to_owned()
                }))
            }
            RawElem::Index(i) => PathElement::Index(i),
        });
        Path(elems.collect())
    }

    /// Resolves a `:value` token; an undefined one goes to `missing` (first only)
    /// and stands in as NULL.
    pub(crate) fn resolve_value(
        &mut self,
        p: &Parser<'_>,
        tok: usize,
        missing: &mut Option<String>,
    ) -> Option<AttributeValue> {
        let placeholder = p.text(tok);
        let found = self.value(placeholder);
        if found.is_none() {
            missing.get_or_insert_with(|| {
                format!("An expression attribute value used in expression is not defined; attribute value: {placeholder}")
            });
        }
        found
    }

    /// The final check once every expression of the request is parsed: entries no
    /// expression used are refused, names first, keys listed sorted
    /// ("Value provided in ExpressionAttributeNames unused in expressions: keys: {#a, #b}").
    pub fn finish(&self) -> Result<(), Error> {
        if let Some(msg) = unused("Names", self.names.map(|m| m.keys()), &self.used_names) {
            return Err(Error::validation(msg));
        }
        if let Some(msg) = unused("Values", self.values.map(|m| m.keys()), &self.used_values) {
            return Err(Error::validation(msg));
        }
        Ok(())
    }
}

/// The first (in sorted order, for a stable message) key that is not a valid
/// placeholder for the given sigil.
fn first_bad_key<'k>(keys: impl Iterator<Item = &'k String>, sigil: char) -> Option<&'k str> {
    let valid = |k: &str| {
        k.strip_prefix(sigil).is_some_and(|rest| {
            !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
    };
    keys.map(String::as_str).filter(|k| !valid(k)).min()
}

fn unused<'k>(
    what: &str,
    keys: Option<impl Iterator<Item = &'k String>>,
    used: &BTreeSet<String>,
) -> Option<String> {
    let mut left: Vec<&str> = keys?.map(String::as_str).filter(|k| !used.contains(*k)).collect();
    if left.is_empty() {
        return None;
    }
    left.sort_unstable();
    Some(format!(
        "Value provided in ExpressionAttribute{what} unused in expressions: keys: {{{}}}",
        left.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn values(keys: &[&str]) -> HashMap<String, AttributeValue> {
        keys.iter().map(|k| (k.to_string(), AttributeValue::Null)).collect()
    }

    fn msg(r: Result<(), Error>) -> String {
        r.unwrap_err().message().to_owned()
    }

    #[test]
    fn map_checks() {
        let (n0, v0) = (names(&[]), values(&[]));
        assert_eq!(
            msg(ExprContext::new(Some(&n0), None).check_maps()),
            "ExpressionAttributeNames must not be empty"
        );
        assert_eq!(
            msg(ExprContext::new(None, Some(&v0)).check_maps()),
            "ExpressionAttributeValues must not be empty"
        );
        let bad_n = names(&[("#ok", "a"), ("a", "b")]);
        assert_eq!(
            msg(ExprContext::new(Some(&bad_n), None).check_maps()),
            "ExpressionAttributeNames contains invalid key: Syntax error; key: \"a\""
        );
        let bad_v = values(&[":ok", "b", ":"]);
        assert_eq!(
            msg(ExprContext::new(None, Some(&bad_v)).check_maps()),
            "ExpressionAttributeValues contains invalid key: Syntax error; key: \":\""
        );
        let (n, v) = (names(&[("#_1", "a")]), values(&[":_", ":4g"]));
        assert!(ExprContext::new(Some(&n), Some(&v)).check_maps().is_ok());
    }

    #[test]
    fn unused_entries_are_reported_names_first() {
        let n = names(&[("#a", "a"), ("#b", "b"), ("#c", "c")]);
        let v = values(&[":x", ":y"]);
        let mut ctx = ExprContext::new(Some(&n), Some(&v));
        assert_eq!(ctx.name("#b").as_deref(), Some("b"));
        assert_eq!(ctx.name("#zz"), None);
        assert_eq!(
            msg(ctx.finish()),
            "Value provided in ExpressionAttributeNames unused in expressions: keys: {#a, #c}"
        );
        ctx.name("#a");
        ctx.name("#c");
        ctx.value(":y");
        assert_eq!(
            msg(ctx.finish()),
            "Value provided in ExpressionAttributeValues unused in expressions: keys: {:x}"
        );
        ctx.value(":x");
        assert!(ctx.finish().is_ok());
        assert!(ExprContext::new(None, None).finish().is_ok());
    }
}
