//! Evaluating a [`Condition`] against an item, with DynamoDB's semantics (Scylla's
//! test_condition_expression.py, run against AWS): a missing attribute makes every
//! test false except `<>` (true) and `attribute_not_exists`; values of different
//! types are unequal and unordered (false, never an error); ordering applies to N
//! (numerically), S (by UTF-8 bytes) and B (by bytes) only.

use std::borrow::Cow;
use std::cmp::Ordering;

use crate::model::{AttributeValue, Error, Item, Number};

use super::ast::{Comparator, Condition, Operand};

impl Condition {
    /// True when `item` satisfies the condition. A missing item is an empty one.
    ///
    /// Never fails for trees produced by the parsers (their operand types are
    /// checked up front); the `Result` leaves room for hand-built trees.
    pub fn eval(&self, item: &Item) -> Result<bool, Error> {
        Ok(match self {
            Condition::Compare(a, cmp, b) => compare_op(value(a, item), *cmp, value(b, item)),
            Condition::Between(x, lo, hi) => {
                match (value(x, item), value(lo, item), value(hi, item)) {
                    (Some(x), Some(lo), Some(hi)) => {
                        matches!(compare(&x, &lo), Some(Ordering::Greater | Ordering::Equal))
                            && matches!(compare(&x, &hi), Some(Ordering::Less | Ordering::Equal))
                    }
                    _ => false,
                }
            }
            Condition::In(x, list) => match value(x, item) {
                Some(x) => list.iter().any(|o| value(o, item).is_some_and(|v| *v == *x)),
                None => false,
            },
            Condition::AttributeExists(p) => p.get(item).is_some(),
            Condition::AttributeNotExists(p) => p.get(item).is_none(),
            Condition::AttributeType(x, t) => value(x, item).is_some_and(|v| t.matches(&v)),
            Condition::BeginsWith(a, b) => {
                match (value(a, item).as_deref(), value(b, item).as_deref()) {
                    (Some(AttributeValue::S(s)), Some(AttributeValue::S(prefix))) => {
                        s.starts_with(prefix.as_str())
                    }
                    (Some(AttributeValue::B(s)), Some(AttributeValue::B(prefix))) => {
                        s.starts_with(prefix)
                    }
                    _ => false,
                }
            }
            Condition::Contains(a, b) => match (value(a, item), value(b, item)) {
                (Some(a), Some(b)) => contains(&a, &b),
                _ => false,
            },
            Condition::And(a, b) => a.eval(item)? && b.eval(item)?,
            Condition::Or(a, b) => a.eval(item)? || b.eval(item)?,
            Condition::Not(a) => !a.eval(item)?,
        })
    }
}

/// The value of an operand for `item`, if it has one.
pub(crate) fn value<'a>(op: &'a Operand, item: &'a Item) -> Option<Cow<'a, AttributeValue>> {
    match op {
        Operand::Path(p) => p.get(item).map(Cow::Borrowed),
        Operand::Value(v) => Some(Cow::Borrowed(v)),
        Operand::Size(inner) => {
            size(&*value(inner, item)?).map(|n| Cow::Owned(AttributeValue::N(Number::from(n))))
        }
    }
}

/// `size()`: string length in UTF-16 code units (verified against AWS by
/// ExtendDB: size("é𝄞") = 3), bytes of a binary, members of a set, elements of a
/// list or map; numbers, booleans and nulls have none (the test is then false).
pub(crate) fn size(v: &AttributeValue) -> Option<usize> {
    Some(match v {
        AttributeValue::S(s) => s.encode_utf16().count(),
        AttributeValue::B(b) => b.len(),
        AttributeValue::Ss(x) => x.len(),
        AttributeValue::Ns(x) => x.len(),
        AttributeValue::Bs(x) => x.len(),
        AttributeValue::L(x) => x.len(),
        AttributeValue::M(x) => x.len(),
        AttributeValue::N(_) | AttributeValue::Bool(_) | AttributeValue::Null => return None,
    })
}

/// The order of two values of one orderable type (N, S or B); `None` otherwise.
pub(crate) fn compare(a: &AttributeValue, b: &AttributeValue) -> Option<Ordering> {
    match (a, b) {
        (AttributeValue::N(x), AttributeValue::N(y)) => Some(x.cmp(y)),
        (AttributeValue::S(x), AttributeValue::S(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (AttributeValue::B(x), AttributeValue::B(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn compare_op(
    a: Option<Cow<'_, AttributeValue>>,
    cmp: Comparator,
    b: Option<Cow<'_, AttributeValue>>,
) -> bool {
    let (Some(a), Some(b)) = (a, b) else {
        // An absent operand is never equal to anything, so only <> holds.
        return cmp == Comparator::Ne;
    };
    match cmp {
        Comparator::Eq => *a == *b,
        Comparator::Ne => *a != *b,
        _ => compare(&a, &b).is_some_and(|o| match cmp {
            Comparator::Lt => o == Ordering::Less,
            Comparator::Le => o != Ordering::Greater,
            Comparator::Gt => o == Ordering::Greater,
            _ => o != Ordering::Less,
        }),
    }
}

/// `contains(a, b)`: substring for S and B, membership for sets, element
/// equality for lists (any element type, Scylla's test_update_condition_contains).
fn contains(a: &AttributeValue, b: &AttributeValue) -> bool {
    use AttributeValue as V;
    match (a, b) {
        (V::S(s), V::S(sub)) => s.contains(sub.as_str()),
        (V::B(s), V::B(sub)) => sub.is_empty() || s.windows(sub.len()).any(|w| w == sub.as_slice()),
        (V::Ss(set), V::S(x)) => set.contains(x),
        (V::Ns(set), V::N(x)) => set.contains(x),
        (V::Bs(set), V::B(x)) => set.contains(x),
        (V::L(list), x) => list.contains(x),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::expr::ast::AttrType;
    use crate::model::expr::paths::Path;

    fn n(s: &str) -> AttributeValue {
        AttributeValue::N(Number::parse(s).unwrap())
    }
    fn s(x: &str) -> AttributeValue {
        AttributeValue::S(x.into())
    }
    fn path(name: &str) -> Operand {
        Operand::Path(Path::attr(name))
    }
    fn val(v: AttributeValue) -> Operand {
        Operand::Value(v)
    }
    fn item() -> Item {
        let mut m = Item::new();
        m.insert("x".into(), n("2"));
        m.insert("y".into(), n("10"));
        m.insert("s".into(), s("hello"));
        m.insert("u".into(), s("é𝄞"));
        m.insert("b".into(), AttributeValue::B(b"hi there".to_vec()));
        m.insert("ss".into(), AttributeValue::Ss(vec!["a".into(), "b".into()]));
        m.insert("l".into(), AttributeValue::L(vec![n("1"), AttributeValue::Ss(vec!["q".into()])]));
        m.insert("m".into(), AttributeValue::M(Item::new()));
        m
    }
    fn ev(c: Condition) -> bool {
        c.eval(&item()).unwrap()
    }

    #[test]
    fn comparisons() {
        use Comparator::*;
        assert!(ev(Condition::Compare(path("x"), Lt, path("y"))), "numeric, not lexical");
        assert!(ev(Condition::Compare(path("x"), Eq, val(n("2.0")))));
        assert!(!ev(Condition::Compare(path("x"), Lt, val(s("3")))), "different types");
        assert!(ev(Condition::Compare(path("x"), Ne, val(s("2")))));
        assert!(!ev(Condition::Compare(path("q"), Eq, path("z"))), "missing is never equal");
        assert!(ev(Condition::Compare(path("q"), Ne, path("z"))), "missing is always unequal");
        assert!(!ev(Condition::Compare(path("q"), Ge, path("z"))));
        assert!(!ev(Condition::Compare(path("l"), Lt, val(n("1")))), "lists are unordered");
        assert!(ev(Condition::Compare(
            path("ss"),
            Eq,
            val(AttributeValue::Ss(vec!["b".into(), "a".into()]))
        )));
    }

    #[test]
    fn functions() {
        let c = |f: fn(Operand, Operand) -> Condition, a, b| ev(f(a, b));
        assert!(c(Condition::BeginsWith, path("s"), val(s("hell"))));
        assert!(c(Condition::BeginsWith, path("b"), val(AttributeValue::B(b"hi".to_vec()))));
        assert!(!c(Condition::BeginsWith, path("x"), val(s("2"))));
        assert!(c(Condition::Contains, path("s"), val(s("ell"))));
        assert!(c(Condition::Contains, path("b"), val(AttributeValue::B(b"here".to_vec()))));
        assert!(c(Condition::Contains, path("ss"), val(s("b"))));
        assert!(!c(Condition::Contains, path("ss"), val(n("1"))));
        assert!(c(Condition::Contains, path("l"), val(AttributeValue::Ss(vec!["q".into()]))));
        assert!(c(Condition::Contains, path("l"), val(n("1.00"))));
        assert!(ev(Condition::AttributeType(path("m"), AttrType::M)));
        assert!(!ev(Condition::AttributeType(path("nope"), AttrType::M)));
        assert!(ev(Condition::AttributeExists(Path::attr("s"))));
        assert!(ev(Condition::AttributeNotExists(Path::attr("nope"))));
    }

    #[test]
    fn size_counts_utf16_units_and_members() {
        let sz = |name: &str| {
            value(&Operand::Size(Box::new(path(name))), &item()).map(|v| v.into_owned())
        };
        assert_eq!(sz("s"), Some(n("5")));
        assert_eq!(sz("u"), Some(n("3")));
        assert_eq!(sz("b"), Some(n("8")));
        assert_eq!(sz("ss"), Some(n("2")));
        assert_eq!(sz("m"), Some(n("0")));
        assert_eq!(sz("x"), None);
        assert_eq!(sz("missing"), None);
    }

    #[test]
    fn between_and_in() {
        assert!(ev(Condition::Between(path("x"), val(n("2")), val(n("10")))));
        assert!(!ev(Condition::Between(path("y"), val(n("2")), val(n("9")))));
        assert!(!ev(Condition::Between(path("x"), val(s("1")), val(s("3")))));
        assert!(ev(Condition::In(path("x"), vec![val(s("2")), val(n("2"))])));
        assert!(!ev(Condition::In(path("nope"), vec![path("nope")])));
    }
}
