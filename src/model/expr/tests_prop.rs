//! Property tests: printing a generated condition and parsing it back gives the
//! same tree; evaluator laws (NOT flips, AND/OR, De Morgan, BETWEEN as two
//! comparisons, IN of one as =, <> as NOT =); SET then read gives the value.

use std::collections::HashMap;

use proptest::prelude::*;

use crate::model::{AttributeValue, Item, Number};

use super::lexer::{Kind, lex};
use super::parse_cond::KEYWORDS;
use super::reserved::is_reserved;
use super::{AttrType, Comparator, Condition, ExprContext, ExprKind, Operand, Path, PathElement};
use super::{parse_condition, parse_update};

/// Prints conditions as expression text, with every value (and every name that
/// is not a plain, unreserved identifier) as a placeholder.
#[derive(Default)]
struct Printer {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Printer {
    fn name(&mut self, n: &str) -> String {
        let toks = lex(n);
        let plain = toks.len() == 2 && toks[0].kind == Kind::Ident && toks[0].end == n.len();
        if plain && !is_reserved(n) && !KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(n)) {
            return n.to_owned();
        }
        let key = format!("#n{}", self.names.len());
        self.names.insert(key.clone(), n.to_owned());
        key
    }

    fn path(&mut self, p: &Path) -> String {
        let mut out = String::new();
        for (i, el) in p.0.iter().enumerate() {
            match el {
                PathElement::Name(n) => {
                    if i > 0 {
                        out.push('.');
                    }
                    out += &self.name(n);
                }
                PathElement::Index(ix) => out += &format!("[{ix}]"),
            }
        }
        out
    }

    fn operand(&mut self, o: &Operand) -> String {
        match o {
            Operand::Path(p) => self.path(p),
            Operand::Value(v) => {
                let key = format!(":v{}", self.values.len());
                self.values.insert(key.clone(), v.clone());
                key
            }
            Operand::Size(inner) => format!("size({})", self.operand(inner)),
        }
    }

    /// Parenthesizes only where precedence needs it, so no `((x))` appears.
    fn cond(&mut self, c: &Condition, min_prec: u8) -> String {
        let prec = match c {
            Condition::Or(..) => 1,
            Condition::And(..) => 2,
            Condition::Not(..) => 3,
            _ => 4,
        };
        let text = match c {
            Condition::Or(a, b) => format!("{} OR {}", self.cond(a, 1), self.cond(b, 2)),
            Condition::And(a, b) => format!("{} AND {}", self.cond(a, 2), self.cond(b, 3)),
            Condition::Not(a) => format!("NOT {}", self.cond(a, 3)),
            Condition::Compare(a, op, b) => {
                format!("{} {} {}", self.operand(a), op.symbol(), self.operand(b))
            }
            Condition::Between(x, lo, hi) => {
                format!("{} BETWEEN {} AND {}", self.operand(x), self.operand(lo), self.operand(hi))
            }
            Condition::In(x, list) => {
                let items: Vec<String> = list.iter().map(|o| self.operand(o)).collect();
                format!("{} IN ({})", self.operand(x), items.join(", "))
            }
            Condition::AttributeExists(p) => format!("attribute_exists({})", self.path(p)),
            Condition::AttributeNotExists(p) => format!("attribute_not_exists({})", self.path(p)),
            Condition::AttributeType(x, t) => {
                let t = self.operand(&Operand::Value(AttributeValue::S(t.name().into())));
                format!("attribute_type({}, {t})", self.operand(x))
            }
            Condition::BeginsWith(a, b) => {
                format!("begins_with({}, {})", self.operand(a), self.operand(b))
            }
            Condition::Contains(a, b) => {
                format!("contains({}, {})", self.operand(a), self.operand(b))
            }
        };
        if prec < min_prec { format!("({text})") } else { text }
    }
}

// ---- generators ----------------------------------------------------------------

fn name() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "c1", "name", "x y", "and", "Size", "#odd"])
        .prop_map(str::to_owned)
}

fn path() -> impl Strategy<Value = Path> {
    let step =
        prop_oneof![name().prop_map(PathElement::Name), (0usize..3).prop_map(PathElement::Index)];
    (name(), prop::collection::vec(step, 0..3)).prop_map(|(head, rest)| {
        let mut els = vec![PathElement::Name(head)];
        els.extend(rest);
        Path(els)
    })
}

/// A scalar that ordering accepts: N, S or B.
fn orderable() -> impl Strategy<Value = AttributeValue> {
    prop_oneof![
        (-20i64..20).prop_map(|n| AttributeValue::N(Number::from(n))),
        "[a-c]{0,3}".prop_map(AttributeValue::S),
        prop::collection::vec(0u8..3, 0..3).prop_map(AttributeValue::B),
    ]
}

fn any_value() -> impl Strategy<Value = AttributeValue> {
    let leaf = prop_oneof![
        orderable(),
        any::<bool>().prop_map(AttributeValue::Bool),
        Just(AttributeValue::Null),
        prop::collection::btree_set("[a-c]{1,2}", 1..3)
            .prop_map(|s| AttributeValue::Ss(s.into_iter().collect())),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(AttributeValue::L),
            prop::collection::btree_map(name(), inner, 0..3).prop_map(AttributeValue::M),
        ]
    })
}

fn operand() -> impl Strategy<Value = Operand> {
    prop_oneof![
        3 => path().prop_map(Operand::Path),
        2 => any_value().prop_map(Operand::Value),
        1 => path().prop_map(|p| Operand::Size(Box::new(Operand::Path(p)))),
    ]
}

/// An operand the ordering operators accept.
fn ordered_operand() -> impl Strategy<Value = Operand> {
    prop_oneof![path().prop_map(Operand::Path), orderable().prop_map(Operand::Value)]
}

fn comparator() -> impl Strategy<Value = Comparator> {
    prop::sample::select(vec![
        Comparator::Eq,
        Comparator::Ne,
        Comparator::Lt,
        Comparator::Le,
        Comparator::Gt,
        Comparator::Ge,
    ])
}

fn distinct_paths(a: &Operand, b: &Operand) -> bool {
    !matches!((a, b), (Operand::Path(x), Operand::Path(y)) if x == y)
}

fn leaf() -> impl Strategy<Value = Condition> {
    let text = || {
        prop_oneof![
            path().prop_map(Operand::Path),
            "[a-c]{0,2}".prop_map(|s| Operand::Value(AttributeValue::S(s)))
        ]
    };
    prop_oneof![
        (operand(), operand())
            .prop_filter("distinct", |(a, b)| distinct_paths(a, b))
            .prop_map(|(a, b)| Condition::Compare(a, Comparator::Eq, b)),
        (ordered_operand(), comparator(), ordered_operand())
            .prop_filter("distinct", |(a, _, b)| distinct_paths(a, b))
            .prop_map(|(a, c, b)| Condition::Compare(a, c, b)),
        (ordered_operand(), orderable(), orderable()).prop_map(|(x, a, b)| {
            let (lo, hi) = if super::eval::compare(&a, &b) == Some(std::cmp::Ordering::Greater) {
                (b, a)
            } else {
                (a, b)
            };
            let hi = if lo.type_name() == hi.type_name() { hi } else { lo.clone() };
            Condition::Between(x, Operand::Value(lo), Operand::Value(hi))
        }),
        (operand(), prop::collection::vec(operand(), 1..4)).prop_map(|(x, l)| Condition::In(x, l)),
        path().prop_map(Condition::AttributeExists),
        path().prop_map(Condition::AttributeNotExists),
        (operand(), prop::sample::select(AttrType::ALL.to_vec()))
            .prop_map(|(x, t)| Condition::AttributeType(x, t)),
        (text(), text())
            .prop_filter("distinct", |(a, b)| distinct_paths(a, b))
            .prop_map(|(a, b)| Condition::BeginsWith(a, b)),
        (operand(), operand())
            .prop_filter("distinct", |(a, b)| distinct_paths(a, b))
            .prop_map(|(a, b)| Condition::Contains(a, b)),
    ]
}

fn condition() -> impl Strategy<Value = Condition> {
    leaf().prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Condition::and(a, b)),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Condition::or(a, b)),
            inner.prop_map(Condition::negate),
        ]
    })
}

fn item() -> impl Strategy<Value = Item> {
    prop::collection::btree_map(name(), any_value(), 0..5)
}

// ---- properties ----------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn print_then_parse_gives_the_same_tree(c in condition()) {
        let mut pr = Printer::default();
        let text = pr.cond(&c, 0);
        let mut ctx = ExprContext::new(Some(&pr.names), Some(&pr.values));
        let parsed = parse_condition(&text, ExprKind::Condition, &mut ctx);
        prop_assert_eq!(parsed.as_ref().ok(), Some(&c), "{} -> {:?}", text, parsed.as_ref().err());
        prop_assert!(ctx.finish().is_ok());
    }

    #[test]
    fn evaluator_laws(a in condition(), b in condition(), it in item(), x in ordered_operand(),
                      lo in orderable(), hi in orderable(), y in operand()) {
        let ev = |c: &Condition| c.eval(&it).unwrap();
        prop_assert_eq!(ev(&Condition::negate(a.clone())), !ev(&a));
        prop_assert_eq!(ev(&Condition::and(a.clone(), b.clone())), ev(&a) && ev(&b));
        prop_assert_eq!(ev(&Condition::or(a.clone(), b.clone())), ev(&a) || ev(&b));
        prop_assert_eq!(
            ev(&Condition::negate(Condition::and(a.clone(), b.clone()))),
            ev(&Condition::or(Condition::negate(a.clone()), Condition::negate(b.clone())))
        );
        let (lo, hi) = (Operand::Value(lo), Operand::Value(hi));
        prop_assert_eq!(
            ev(&Condition::Between(x.clone(), lo.clone(), hi.clone())),
            ev(&Condition::and(Condition::Compare(x.clone(), Comparator::Ge, lo), Condition::Compare(x.clone(), Comparator::Le, hi)))
        );
        prop_assert_eq!(ev(&Condition::In(x.clone(), vec![y.clone()])), ev(&Condition::Compare(x.clone(), Comparator::Eq, y.clone())));
        prop_assert_eq!(
            ev(&Condition::Compare(x.clone(), Comparator::Ne, y.clone())),
            !ev(&Condition::Compare(x, Comparator::Eq, y))
        );
    }

    #[test]
    fn set_then_get_returns_the_value(it in item(), pick in any::<prop::sample::Index>(), fresh in name(), v in any_value()) {
        // Targets: every existing path, and a new key under every map (top level included).
        let mut targets = vec![Path::attr(fresh.clone())];
        for (k, val) in &it {
            collect(&Path::attr(k.clone()), val, &fresh, &mut targets);
        }
        let target = pick.get(&targets).clone();
        let mut pr = Printer::default();
        let text = format!("SET {} = :v", pr.path(&target));
        let vals = HashMap::from([(":v".to_owned(), v.clone())]);
        let mut ctx = ExprContext::new(Some(&pr.names), Some(&vals));
        let update = parse_update(&text, &mut ctx).unwrap();
        let mut new = it.clone();
        update.apply(&mut new).unwrap();
        prop_assert_eq!(target.get(&new), Some(&v));
        prop_assert_eq!(update.returned_attributes(&new).len(), 1);
    }
}

/// Every path under `at` (which holds `v`), plus `fresh` under each map.
fn collect(at: &Path, v: &AttributeValue, fresh: &str, out: &mut Vec<Path>) {
    out.push(at.clone());
    let child = |el: PathElement| {
        let mut p = at.clone();
        p.0.push(el);
        p
    };
    match v {
        AttributeValue::M(m) => {
            out.push(child(PathElement::Name(fresh.to_owned())));
            for (k, x) in m {
                collect(&child(PathElement::Name(k.clone())), x, fresh, out);
            }
        }
        AttributeValue::L(l) => {
            for (i, x) in l.iter().enumerate() {
                collect(&child(PathElement::Index(i)), x, fresh, out);
            }
        }
        _ => {}
    }
}
