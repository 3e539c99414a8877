//! KeyConditionExpression: the rules that narrow a general condition to
//! "partition key = v [AND one test on the sort key]", and the later check against
//! the table's or index's key schema.
//!
//! Messages: dynalite validations/index.js `checkExpr` and its test/query.js
//! (recorded from AWS); current AWS prefixes them with "Invalid
//! KeyConditionExpression: " (nubo-db's conformance suite, October 2026, for
//! "KeyConditionExpressions must only contain one condition per key"). The schema
//! messages of [`KeyConditionExpr::resolve`] carry no prefix.

use crate::model::AttributeValue;
use crate::model::Error;

use super::ast::{Comparator, Condition, Operand};
use super::paths::Path;

/// The operator a key condition applies to one key attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyOp {
    /// `k = v`
    Eq(AttributeValue),
    /// `k < v`
    Lt(AttributeValue),
    /// `k <= v`
    Le(AttributeValue),
    /// `k > v`
    Gt(AttributeValue),
    /// `k >= v`
    Ge(AttributeValue),
    /// `k BETWEEN lo AND hi`
    Between(AttributeValue, AttributeValue),
    /// `begins_with(k, prefix)`
    BeginsWith(AttributeValue),
}

impl KeyOp {
    /// The values the operator carries, in order.
    pub fn values(&self) -> Vec<&AttributeValue> {
        match self {
            KeyOp::Eq(v)
            | KeyOp::Lt(v)
            | KeyOp::Le(v)
            | KeyOp::Gt(v)
            | KeyOp::Ge(v)
            | KeyOp::BeginsWith(v) => vec![v],
            KeyOp::Between(a, b) => vec![a, b],
        }
    }

    /// True when the key value `k` satisfies the operator.
    pub fn matches(&self, k: &AttributeValue) -> bool {
        let as_cond = |c: Condition| c.eval(&Default::default()).unwrap_or(false);
        let v = |x: &AttributeValue| Operand::Value(x.clone());
        let key = Operand::Value(k.clone());
        as_cond(match self {
            KeyOp::Eq(x) => Condition::Compare(key, Comparator::Eq, v(x)),
            KeyOp::Lt(x) => Condition::Compare(key, Comparator::Lt, v(x)),
            KeyOp::Le(x) => Condition::Compare(key, Comparator::Le, v(x)),
            KeyOp::Gt(x) => Condition::Compare(key, Comparator::Gt, v(x)),
            KeyOp::Ge(x) => Condition::Compare(key, Comparator::Ge, v(x)),
            KeyOp::Between(lo, hi) => Condition::Between(key, v(lo), v(hi)),
            KeyOp::BeginsWith(x) => Condition::BeginsWith(key, v(x)),
        })
    }
}

/// One condition of a key condition: a top-level attribute and its test.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyPart {
    /// The attribute name (resolved from `#name`).
    pub name: String,
    /// The test.
    pub op: KeyOp,
}

/// The sort-key part of a resolved key condition.
pub type RangeCondition = KeyPart;

/// A parsed KeyConditionExpression (or converted legacy KeyConditions): one
/// condition per attribute, in the order written, not yet checked against a schema.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyConditionExpr {
    /// The conditions (one or more, each on a distinct attribute).
    pub parts: Vec<KeyPart>,
}

/// A key condition checked against a key schema.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyCondition {
    /// The partition key's name and value (always an equality).
    pub hash: (String, AttributeValue),
    /// The sort key's condition, if any: on a multi-attribute sort key, the condition
    /// on the last sort key attribute the query names.
    pub range: Option<RangeCondition>,
    /// A multi-attribute key's other partition key attributes and their values, in
    /// key-schema order (empty for a single-attribute key).
    pub more_hash: Vec<(String, AttributeValue)>,
    /// A multi-attribute sort key's attributes before `range`'s, each tested for
    /// equality, in key-schema order (empty for a single-attribute key).
    pub equal: Vec<(String, AttributeValue)>,
}

impl KeyCondition {
    /// A condition on a single-attribute key.
    pub fn single(hash: (String, AttributeValue), range: Option<RangeCondition>) -> Self {
        KeyCondition { hash, range, more_hash: vec![], equal: vec![] }
    }

    /// The partition key values, in key-schema order.
    pub fn hash_values(&self) -> Vec<&AttributeValue> {
        std::iter::once(&self.hash.1).chain(self.more_hash.iter().map(|(_, v)| v)).collect()
    }

    /// The values the leading sort key attributes must equal, in key-schema order.
    pub fn equal_values(&self) -> Vec<&AttributeValue> {
        self.equal.iter().map(|(_, v)| v).collect()
    }
}

impl KeyConditionExpr {
    /// Checks the conditions against a key schema, given as (name, type) with the
    /// type "S", "N" or "B": the hash key, then the range key if any.
    pub fn resolve(
        &self,
        hash: (&str, &str),
        range: Option<(&str, &str)>,
    ) -> Result<KeyCondition, Error> {
        let keys = 1 + usize::from(range.is_some());
        if self.parts.len() > keys {
            // Recorded from AWS (nubo-db's conformance suite, October 2026).
            return Err(Error::validation(format!(
                "The number of query conditions ({}) exceeds the number of key attributes defined in the schema ({keys})",
                self.parts.len()
            )));
        }
        let missed = |name: &str| {
            Error::validation(format!("Query condition missed key schema element: {name}"))
        };
        let Some(h) = self.parts.iter().find(|p| p.name == hash.0) else {
            return Err(missed(hash.0));
        };
        let KeyOp::Eq(hv) = &h.op else {
            return Err(Error::validation("Query key condition not supported"));
        };
        let range_part = self.parts.iter().find(|p| p.name != hash.0);
        if let Some(rp) = range_part {
            match range {
                Some((name, _)) if rp.name == name => {}
                Some((name, _)) => return Err(missed(name)),
                None => return Err(Error::validation("Query key condition not supported")),
            }
        }
        let schema_type =
            |part: &KeyPart, t: &str| part.op.values().iter().all(|v| v.type_name() == t);
        let type_ok = schema_type(h, hash.1)
            && range_part.is_none_or(|rp| range.is_some_and(|(_, t)| schema_type(rp, t)));
        if !type_ok {
            return Err(Error::validation(
                "One or more parameter values were invalid: Condition parameter type does not match schema type",
            ));
        }
        Ok(KeyCondition::single((h.name.clone(), hv.clone()), range_part.cloned()))
    }
}

impl KeyConditionExpr {
    /// Checks the conditions against a multi-attribute key schema (a GSI's, up to four
    /// partition and four sort key attributes), given as (name, type) per attribute.
    pub fn resolve_multi(
        &self,
        hash: &[(&str, &str)],
        range: &[(&str, &str)],
    ) -> Result<KeyCondition, Error> {
        resolve_multi(&self.parts, hash, range)
    }
}

/// The rules of a query on a multi-attribute key, as AWS documents them
/// (GSI.DesignPattern.MultiAttributeKeys): every partition key attribute with an
/// equality; sort key attributes named left to right without a gap, every one but the
/// last named with an equality. The conditions may come in any order.
///
/// Messages: a gap or an earlier inequality reads "RANGE key attributes b must have
/// equality conditions specified in the query because a condition is present on key
/// attribute c" (recorded from AWS by a public conformance suite, October 2026),
/// naming the first sort key attribute with a condition after one without an equality,
/// and the first such earlier one. A partition key attribute missing or without an
/// equality, and a non-key attribute, read as for a single-attribute key (AWS's text
/// for these is not recorded anywhere public).
pub(crate) fn resolve_multi(
    parts: &[KeyPart],
    hash: &[(&str, &str)],
    range: &[(&str, &str)],
) -> Result<KeyCondition, Error> {
    let keys = hash.len() + range.len();
    if parts.len() > keys {
        return Err(Error::validation(format!(
            "The number of query conditions ({}) exceeds the number of key attributes defined in the schema ({keys})",
            parts.len()
        )));
    }
    let not_supported = || Error::validation("Query key condition not supported");
    let find = |name: &str| parts.iter().find(|p| p.name == name);
    let mut hash_values = Vec::with_capacity(hash.len());
    for (name, _) in hash {
        let part = find(name).ok_or_else(|| {
            Error::validation(format!("Query condition missed key schema element: {name}"))
        })?;
        let KeyOp::Eq(v) = &part.op else { return Err(not_supported()) };
        hash_values.push((name.to_string(), v.clone()));
    }
    let is_key = |n: &str| hash.iter().chain(range).any(|(k, _)| *k == n);
    if parts.iter().any(|p| !is_key(&p.name)) {
        return Err(not_supported());
    }
    let sort: Vec<Option<&KeyPart>> = range.iter().map(|(name, _)| find(name)).collect();
    let is_equality = |p: &Option<&KeyPart>| matches!(p, Some(KeyPart { op: KeyOp::Eq(_), .. }));
    for (later, part) in sort.iter().enumerate() {
        if part.is_none() {
            continue;
        }
        if let Some(earlier) = sort[..later].iter().position(|p| !is_equality(p)) {
            return Err(Error::validation(format!(
                "RANGE key attributes {} must have equality conditions specified in the query because a condition is present on key attribute {}",
                range[earlier].0, range[later].0
            )));
        }
    }
    let named = sort.iter().take_while(|p| p.is_some()).count();
    let typed = |part: &KeyPart, t: &str| part.op.values().iter().all(|v| v.type_name() == t);
    if !hash.iter().chain(&range[..named]).all(|(name, t)| find(name).is_some_and(|p| typed(p, t)))
    {
        return Err(Error::validation(
            "One or more parameter values were invalid: Condition parameter type does not match schema type",
        ));
    }
    let mut equal: Vec<(String, AttributeValue)> = Vec::new();
    for part in sort[..named.saturating_sub(1)].iter().flatten() {
        if let KeyOp::Eq(v) = &part.op {
            equal.push((part.name.clone(), v.clone()));
        }
    }
    let mut more_hash = hash_values;
    let first = more_hash.remove(0);
    Ok(KeyCondition {
        hash: first,
        range: named.checked_sub(1).and_then(|last| sort[last].cloned()),
        more_hash,
        equal,
    })
}

/// Narrows a checked condition to key conditions; the error is the message
/// without the "Invalid KeyConditionExpression: " prefix.
pub(crate) fn from_condition(cond: &Condition) -> Result<KeyConditionExpr, String> {
    let mut parts = Vec::new();
    walk(cond, &mut parts)?;
    Ok(KeyConditionExpr { parts })
}

fn invalid_operator(what: &str) -> String {
    format!("Invalid operator used in KeyConditionExpression: {what}")
}

/// Builds a [`KeyOp`] from a leaf's values (and its comparator, already flipped).
type MakeOp = fn(Vec<AttributeValue>, Option<Comparator>) -> KeyOp;

/// dynalite's `checkExpr`, in its pre-order.
fn walk(cond: &Condition, parts: &mut Vec<KeyPart>) -> Result<(), String> {
    let (args, make): (Vec<&Operand>, MakeOp) = match cond {
        Condition::And(a, b) => {
            walk(a, parts)?;
            return walk(b, parts);
        }
        Condition::Or(..) => return Err(invalid_operator("OR")),
        Condition::Not(..) => return Err(invalid_operator("NOT")),
        Condition::In(..) => return Err(invalid_operator("IN")),
        Condition::Compare(_, Comparator::Ne, _) => return Err(invalid_operator("<>")),
        Condition::AttributeExists(_) => return Err(invalid_operator("attribute_exists")),
        Condition::AttributeNotExists(_) => return Err(invalid_operator("attribute_not_exists")),
        Condition::AttributeType(..) => return Err(invalid_operator("attribute_type")),
        Condition::Contains(..) => return Err(invalid_operator("contains")),
        Condition::Between(x, lo, hi) => {
            first_is_path(x, "BETWEEN")?;
            (vec![x, lo, hi], |mut v, _| {
                let hi = v.pop().unwrap_or(AttributeValue::Null);
                KeyOp::Between(v.pop().unwrap_or(AttributeValue::Null), hi)
            })
        }
        Condition::BeginsWith(x, prefix) => {
            first_is_path(x, "begins_with")?;
            (vec![x, prefix], |mut v, _| KeyOp::BeginsWith(v.pop().unwrap_or(AttributeValue::Null)))
        }
        Condition::Compare(a, _, b) => (vec![a, b], |mut v, cmp| {
            let x = v.pop().unwrap_or(AttributeValue::Null);
            match cmp {
                Some(Comparator::Lt) => KeyOp::Lt(x),
                Some(Comparator::Le) => KeyOp::Le(x),
                Some(Comparator::Gt) => KeyOp::Gt(x),
                Some(Comparator::Ge) => KeyOp::Ge(x),
                _ => KeyOp::Eq(x),
            }
        }),
    };
    let mut attr: Option<(usize, &Path)> = None;
    let mut vals = Vec::new();
    for (i, op) in args.iter().enumerate() {
        match op {
            Operand::Path(p) => {
                if attr.is_some() {
                    return Err("Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition".into());
                }
                if p.0.len() > 1 {
                    return Err(
                        "KeyConditionExpressions cannot have conditions on nested attributes"
                            .into(),
                    );
                }
                attr = Some((i, p));
            }
            Operand::Size(_) => {
                return Err("KeyConditionExpressions cannot contain nested operations".into());
            }
            Operand::Value(v) => vals.push(v.clone()),
        }
    }
    let Some((at, path)) = attr else {
        return Err(
            "Invalid condition in KeyConditionExpression: No key attribute specified".into()
        );
    };
    if parts.iter().any(|p: &KeyPart| p.name == path.top()) {
        return Err("KeyConditionExpressions must only contain one condition per key".into());
    }
    // `:v < k` is `k > :v`.
    let cmp = match cond {
        Condition::Compare(_, c, _) if at > 0 => Some(flip(*c)),
        Condition::Compare(_, c, _) => Some(*c),
        _ => None,
    };
    parts.push(KeyPart { name: path.top().to_owned(), op: make(vals, cmp) });
    Ok(())
}

fn first_is_path(x: &Operand, op: &str) -> Result<(), String> {
    match x {
        Operand::Path(_) => Ok(()),
        _ => Err(format!(
            "Invalid condition in KeyConditionExpression: {op} operator must have the key attribute as its first operand"
        )),
    }
}

fn flip(c: Comparator) -> Comparator {
    match c {
        Comparator::Lt => Comparator::Gt,
        Comparator::Le => Comparator::Ge,
        Comparator::Gt => Comparator::Lt,
        Comparator::Ge => Comparator::Le,
        other => other,
    }
}
