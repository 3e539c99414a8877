//! Document paths (`a.b[2].c`): lookup in an item, AWS's printed form, and the
//! overlap/conflict rule shared by UpdateExpression and ProjectionExpression.

use std::fmt;

use crate::model::{AttributeValue, Item};

/// One step of a document path: a map key (or the top-level attribute name) or a
/// list index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathElement {
    /// A top-level attribute name or a map key, already resolved from `#name`.
    Name(String),
    /// A list index, `[n]`.
    Index(usize),
}

/// A document path. Invariant (the parsers guarantee it; hand-built paths must keep
/// it): non-empty, and the first element is a [`PathElement::Name`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Path(pub Vec<PathElement>);

impl Path {
    /// The path of a top-level attribute.
    pub fn attr(name: impl Into<String>) -> Path {
        Path(vec![PathElement::Name(name.into())])
    }

    /// The top-level attribute the path starts at.
    pub fn top(&self) -> &str {
        match self.0.first() {
            Some(PathElement::Name(n)) => n,
            // Only a hand-built path can break the invariant; it names nothing.
            _ => "",
        }
    }

    /// The value the path designates in `item`, if every step exists and has the
    /// right type (a name steps into an `M`, an index into an `L`).
    pub fn get<'a>(&self, item: &'a Item) -> Option<&'a AttributeValue> {
        let mut cur = item.get(self.top())?;
        for el in &self.0[1..] {
            cur = step(cur, el)?;
        }
        Some(cur)
    }

    /// The container holding the path's last element, for writing; `None` when a
    /// step is missing or has the wrong type. The path must have two elements or more.
    pub(crate) fn parent_mut<'a>(&self, item: &'a mut Item) -> Option<&'a mut AttributeValue> {
        let (_, middle) = self.0.split_last()?;
        let mut cur = item.get_mut(self.top())?;
        for el in &middle[1..] {
            cur = match (cur, el) {
                (AttributeValue::M(m), PathElement::Name(n)) => m.get_mut(n)?,
                (AttributeValue::L(l), PathElement::Index(i)) => l.get_mut(*i)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    /// AWS's rendering inside messages: `[a, b, [2], c]`. Names print verbatim, so a
    /// name that is literally `[3]` prints like an index, as AWS does.
    pub fn aws_string(&self) -> String {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|el| match el {
                PathElement::Name(n) => n.clone(),
                PathElement::Index(i) => format!("[{i}]"),
            })
            .collect();
        format!("[{}]", parts.join(", "))
    }
}

/// One step down a document, `None` when it does not exist.
fn step<'a>(v: &'a AttributeValue, el: &PathElement) -> Option<&'a AttributeValue> {
    match (v, el) {
        (AttributeValue::M(m), PathElement::Name(n)) => m.get(n),
        (AttributeValue::L(l), PathElement::Index(i)) => l.get(*i),
        _ => None,
    }
}

impl fmt::Display for Path {
    /// Expression syntax for paths whose names are plain identifiers (used by
    /// tests and debugging; names needing `#placeholders` are printed raw).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, el) in self.0.iter().enumerate() {
            match el {
                PathElement::Name(n) if i == 0 => f.write_str(n)?,
                PathElement::Name(n) => write!(f, ".{n}")?,
                PathElement::Index(ix) => write!(f, "[{ix}]")?,
            }
        }
        Ok(())
    }
}

/// How two document paths clash, in AWS's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Clash {
    /// One path is a prefix of (or equal to) the other.
    Overlap,
    /// At some step one path uses a name and the other an index.
    Conflict,
}

/// Compares two paths as AWS does for UpdateExpression and ProjectionExpression:
/// walk the common prefix; a name/index mismatch is a conflict, a differing
/// element frees them, and running out of either path is an overlap.
pub(crate) fn clash(a: &Path, b: &Path) -> Option<Clash> {
    for (x, y) in a.0.iter().zip(&b.0) {
        match (x, y) {
            (PathElement::Name(_), PathElement::Index(_))
            | (PathElement::Index(_), PathElement::Name(_)) => return Some(Clash::Conflict),
            _ if x != y => return None,
            _ => {}
        }
    }
    Some(Clash::Overlap)
}

/// The first overlap and the first conflict among `paths`, each pair reported as
/// (earlier path, later path). AWS reports an overlap ahead of any conflict, even
/// one found earlier (dynalite test/updateItem.js, "overlapping paths").
pub(crate) fn first_clashes(paths: &[Path]) -> (Option<String>, Option<String>) {
    let (mut overlap, mut conflict) = (None, None);
    for (j, later) in paths.iter().enumerate() {
        for earlier in &paths[..j] {
            let msg = |what: &str| {
                format!(
                    "Two document paths {what} with each other; must remove or rewrite one of \
                     these paths; path one: {}, path two: {}",
                    earlier.aws_string(),
                    later.aws_string()
                )
            };
            match clash(earlier, later) {
                Some(Clash::Overlap) if overlap.is_none() => overlap = Some(msg("overlap")),
                Some(Clash::Conflict) if conflict.is_none() => conflict = Some(msg("conflict")),
                _ => {}
            }
        }
        if overlap.is_some() {
            break;
        }
    }
    (overlap, conflict)
}

#[cfg(test)]
mod tests {
    use super::*;
    use PathElement::{Index, Name};

    fn p(els: &[PathElement]) -> Path {
        Path(els.to_vec())
    }

    #[test]
    fn aws_string_prints_indexes_in_brackets() {
        let path = p(&[Name("a".into()), Name("b".into()), Index(2), Name("[3]".into())]);
        assert_eq!(path.aws_string(), "[a, b, [2], [3]]");
        assert_eq!(path.to_string(), "a.b[2].[3]");
    }

    #[test]
    fn get_walks_maps_and_lists() {
        let mut inner = Item::new();
        inner.insert("b".into(), AttributeValue::L(vec![AttributeValue::Bool(true)]));
        let mut item = Item::new();
        item.insert("a".into(), AttributeValue::M(inner));
        let ok = p(&[Name("a".into()), Name("b".into()), Index(0)]);
        assert_eq!(ok.get(&item), Some(&AttributeValue::Bool(true)));
        assert_eq!(p(&[Name("a".into()), Index(0)]).get(&item), None);
        assert_eq!(p(&[Name("a".into()), Name("b".into()), Index(1)]).get(&item), None);
    }

    #[test]
    fn clash_rules() {
        let a = p(&[Name("a".into())]);
        let ab = p(&[Name("a".into()), Name("b".into())]);
        let a1 = p(&[Name("a".into()), Index(1)]);
        let c = p(&[Name("c".into())]);
        assert_eq!(clash(&a, &ab), Some(Clash::Overlap));
        assert_eq!(clash(&ab, &a), Some(Clash::Overlap));
        assert_eq!(clash(&ab, &a1), Some(Clash::Conflict));
        assert_eq!(clash(&a, &c), None);
        let (o, cf) = first_clashes(&[ab.clone(), a1.clone(), a.clone()]);
        assert!(o.unwrap().ends_with("path one: [a, b], path two: [a]"));
        assert!(cf.unwrap().ends_with("path one: [a, b], path two: [a, [1]]"));
    }
}
