//! ProjectionExpression: a comma-separated list of document paths, and how a
//! projection cuts an item down (keeping the nesting: `a.b[1]` yields
//! `{a: {b: [<that element>]}}`, several indexes of one list keep their order).
//!
//! Errors (dynalite db/projectionParser.pegjs, AWS-recorded in its
//! test/getItem.js): reserved word, then undefined `#name`, then overlapping paths,
//! then conflicting paths.

use std::collections::BTreeMap;

use crate::model::{AttributeValue, Error, Item};

use super::names::ExprContext;
use super::parser::{PResult, Parser, RawPath};
use super::paths::{Path, PathElement, first_clashes};

/// A parsed ProjectionExpression (or, converted, a legacy AttributesToGet).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Projection {
    /// The paths, in the order written.
    pub paths: Vec<Path>,
}

/// `path (',' path)*`
pub(crate) fn parse(p: &mut Parser<'_>) -> PResult<Vec<RawPath>> {
    let mut paths = vec![p.path(&[])?];
    while p.punct(",") {
        paths.push(p.path(&[])?);
    }
    p.expect_eof()?;
    Ok(paths)
}

/// Resolves the parsed paths; the error is AWS's message without the prefix.
pub(crate) fn check(
    p: &Parser<'_>,
    ctx: &mut ExprContext<'_>,
    raw: &[RawPath],
) -> Result<Projection, Error> {
    let (mut reserved, mut missing) = (None, None);
    let paths: Vec<Path> =
        raw.iter().map(|r| ctx.resolve_path(p, r, &mut reserved, &mut missing)).collect();
    let (overlap, conflict) = first_clashes(&paths);
    match [reserved, missing, overlap, conflict].into_iter().flatten().next() {
        Some(msg) => Err(Error::validation(msg)),
        None => Ok(Projection { paths }),
    }
}

/// The projected part of a document, built up path by path.
enum Node {
    Leaf(AttributeValue),
    Map(BTreeMap<String, Node>),
    List(BTreeMap<usize, Node>),
}

impl Projection {
    /// The part of `item` the paths select. Missing paths select nothing (no
    /// empty maps are left behind); list elements keep their relative order.
    pub fn apply(&self, item: &Item) -> Item {
        let mut root: BTreeMap<String, Node> = BTreeMap::new();
        for path in &self.paths {
            let Some(v) = path.get(item) else { continue };
            let mut node =
                root.entry(path.top().to_owned()).or_insert_with(|| fresh(&path.0, 1, v));
            for (i, el) in path.0.iter().enumerate().skip(1) {
                node = match (node, el) {
                    (Node::Map(m), PathElement::Name(n)) => {
                        m.entry(n.clone()).or_insert_with(|| fresh(&path.0, i + 1, v))
                    }
                    (Node::List(l), PathElement::Index(ix)) => {
                        l.entry(*ix).or_insert_with(|| fresh(&path.0, i + 1, v))
                    }
                    // Overlapping or conflicting paths (only hand-built projections
                    // can have them): the first one wins.
                    _ => break,
                };
            }
        }
        root.into_iter().map(|(k, n)| (k, n.into_value())).collect()
    }
}

/// The node for `path[at..]`: a container shaped like the next step, or the value.
fn fresh(path: &[PathElement], at: usize, v: &AttributeValue) -> Node {
    match path.get(at) {
        None => Node::Leaf(v.clone()),
        Some(PathElement::Name(_)) => Node::Map(BTreeMap::new()),
        Some(PathElement::Index(_)) => Node::List(BTreeMap::new()),
    }
}

impl Node {
    fn into_value(self) -> AttributeValue {
        match self {
            Node::Leaf(v) => v,
            Node::Map(m) => {
                AttributeValue::M(m.into_iter().map(|(k, n)| (k, n.into_value())).collect())
            }
            Node::List(l) => AttributeValue::L(l.into_values().map(Node::into_value).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ExprContext, parse_projection};
    use crate::model::expr::tests_util::{err, item_json, item_to_json, names};

    fn proj(expr: &str, item: &str) -> serde_json::Value {
        let names = names(&[("#a", "a"), ("#n", "x.y")]);
        let mut ctx = ExprContext::new(Some(&names), None);
        let p = parse_projection(expr, &mut ctx).unwrap();
        let out = p.apply(&item_json(item));
        item_to_json(&out)
    }

    #[test]
    fn keeps_nesting_and_list_order() {
        let item = r#"{"a":{"M":{"b":{"L":[{"S":"0"},{"S":"1"},{"S":"2"}]},"c":{"N":"1"}}},"d":{"S":"x"},"x.y":{"N":"7"}}"#;
        assert_eq!(
            proj("a.b[2], #a.b[0], d", item).to_string(),
            r#"{"a":{"M":{"b":{"L":[{"S":"0"},{"S":"2"}]}}},"d":{"S":"x"}}"#
        );
        assert_eq!(
            proj("#n, nope, a.nope, a.b[9], d[0]", item).to_string(),
            r#"{"x.y":{"N":"7"}}"#
        );
        assert_eq!(proj("a.c", item).to_string(), r#"{"a":{"M":{"c":{"N":"1"}}}}"#);
    }

    #[test]
    fn errors() {
        let n = names(&[("#a", "a"), ("#b", "[3]")]);
        let e = |expr: &str| err(parse_projection(expr, &mut ExprContext::new(Some(&n), None)));
        let pre = "Invalid ProjectionExpression: ";
        let ov = "Two document paths overlap with each other; must remove or rewrite one of these paths; ";
        let cf = "Two document paths conflict with each other; must remove or rewrite one of these paths; ";
        assert_eq!(e(""), format!("{pre}The expression can not be empty;"));
        assert_eq!(e("a,"), format!("{pre}Syntax error; token: \"<EOF>\", near: \",\""));
        assert_eq!(e("a b"), format!("{pre}Syntax error; token: \"b\", near: \"a b\""));
        assert_eq!(e("!!! INVALID !!!"), format!("{pre}Syntax error; token: \"!\", near: \"!!\""));
        assert_eq!(
            e("#a, name"),
            format!("{pre}Attribute name is a reserved keyword; reserved keyword: name")
        );
        assert_eq!(
            e("#zz, #b"),
            format!(
                "{pre}An expression attribute name used in the document path is not defined; attribute name: #zz"
            )
        );
        assert_eq!(
            e("b[1], b.a, #a.b, a, #b"),
            format!("{pre}{ov}path one: [a, b], path two: [a]")
        );
        assert_eq!(e("a, #a[1], #b"), format!("{pre}{ov}path one: [a], path two: [a, [1]]"));
        assert_eq!(e("a.b, #a[1], #b"), format!("{pre}{cf}path one: [a, b], path two: [a, [1]]"));
        assert_eq!(
            e("a[3].b, #a.#b.b"),
            format!("{pre}{cf}path one: [a, [3], b], path two: [a, [3], b]")
        );
    }
}
