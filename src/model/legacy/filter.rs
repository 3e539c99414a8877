//! `QueryFilter` / `ScanFilter` (with `ConditionalOperator`) and Query's
//! `KeyConditions`: maps of attribute name to `{"ComparisonOperator": op,
//! "AttributeValueList": [...]}`.
//!
//! Checks per entry, in dynalite's `validateConditions` order (its tests are
//! recorded from AWS; DynamoDB Local's `externalToInternalConditions` agrees): the
//! values (AWS's AttributeValue messages), then the operator's rules
//! ([`ComparisonOperator::check_values`]).

use serde_json::{Map, Value};

use crate::model::expr::{Condition, KeyCondition, KeyOp, KeyPart};
use crate::model::{AttributeValue, Error};

use super::operator::ComparisonOperator;
use super::shape::{self, Structure, present, str_member};
use super::violations::{self, conditional_operator_violations, filter_violations};
use super::{invalid, join, join_for};

/// Converts a `QueryFilter` or `ScanFilter` (the raw JSON member; null when absent)
/// and `ConditionalOperator` into one condition, `None` when there is none.
/// `param_name` is the parameter as AWS spells it ("QueryFilter", "ScanFilter"); it
/// names the member in constraint messages.
pub fn filter(
    filter: &Value,
    conditional_operator: Option<&str>,
    param_name: &str,
) -> Result<Option<Condition>, Error> {
    shape::check(filter, Structure::Condition)?;
    let mut found = conditional_operator_violations(conditional_operator);
    found.extend(filter_violations(filter, param_name));
    violations::check(found)?;
    let entries = filter.as_object();
    let how = join_for(conditional_operator, entries.map(Map::len))?;
    let Some(entries) = entries else { return Ok(None) };
    let mut conds = Vec::with_capacity(entries.len());
    for (name, entry) in entries {
        let (op, values) = entry_values(name, entry)?;
        conds.push(op.condition(name, values));
    }
    Ok(join(conds, how))
}

/// [`filter`] for Query's `QueryFilter`.
pub fn query_filter(
    query_filter: &Value,
    conditional_operator: Option<&str>,
) -> Result<Option<Condition>, Error> {
    filter(query_filter, conditional_operator, "QueryFilter")
}

/// [`filter`] for Scan's `ScanFilter`.
pub fn scan_filter(
    scan_filter: &Value,
    conditional_operator: Option<&str>,
) -> Result<Option<Condition>, Error> {
    filter(scan_filter, conditional_operator, "ScanFilter")
}

/// One entry's operator and checked values. The entry has passed pass 1 and the
/// member constraints, so its operator is present and known.
fn entry_values(
    name: &str,
    entry: &Value,
) -> Result<(ComparisonOperator, Vec<AttributeValue>), Error> {
    let Some(e) = entry.as_object() else {
        // DynamoDB Local `ErrorFactory.FILTER_CONDITION_CANNOT_BE_NULL`, thrown with
        // the attribute name; not recorded from AWS.
        return Err(Error::validation(format!(
            "The filter condition for an attribute cannot be null: {name}"
        )));
    };
    let op = str_member(present(e, "ComparisonOperator"))
        .and_then(ComparisonOperator::from_name)
        .unwrap_or(ComparisonOperator::Eq);
    let values = match present(e, "AttributeValueList").and_then(Value::as_array) {
        Some(items) => {
            items.iter().map(super::raw::attribute_value).collect::<Result<Vec<_>, _>>()?
        }
        None => Vec::new(),
    };
    op.check_values(&values)?;
    Ok((op, values))
}

/// One converted `KeyConditions` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct LegacyKeyPart {
    /// The attribute name.
    pub name: String,
    /// The operator.
    pub op: ComparisonOperator,
    /// Its values, checked by [`ComparisonOperator::check_values`].
    pub values: Vec<AttributeValue>,
}

/// Query's `KeyConditions`, checked on their own but not yet against a key schema
/// (that needs the table or index: [`LegacyKeyConditions::resolve`]).
///
/// Kept apart from `KeyConditionExpr` because AWS checks legacy key conditions
/// against the schema in its own order and accepts, until then, operators no key
/// condition expression can hold (NE, IN, ...), refusing them only for key
/// attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct LegacyKeyConditions {
    /// The entries, in name order.
    pub parts: Vec<LegacyKeyPart>,
}

/// The most key conditions a query can need: a GSI key of four partition and four sort
/// key attributes.
const MAX_KEY_CONDITIONS: usize = 8;

const CONDITIONS_LENGTH: &str = "Conditions can be of length 1 or 2 only";

/// Converts Query's `KeyConditions` (the raw JSON member; `None` when absent: the
/// api layer then requires `KeyConditionExpression`, "Either the KeyConditions or
/// KeyConditionExpression parameter must be specified in the request.").
///
/// After each entry's checks (as for [`filter`]), the number of entries must be 1 or
/// 2: "Conditions can be of length 1 or 2 only" (dynalite validations/query.js,
/// recorded from AWS; DynamoDB Local `INVALID_KEY_CONDITIONS_SIZE`), up to 8 on a
/// multi-attribute GSI key.
pub fn key_conditions(key_conditions: &Value) -> Result<Option<LegacyKeyConditions>, Error> {
    shape::check(key_conditions, Structure::Condition)?;
    violations::check(filter_violations(key_conditions, "KeyConditions"))?;
    let Some(entries) = key_conditions.as_object() else { return Ok(None) };
    let mut parts = Vec::with_capacity(entries.len());
    for (name, entry) in entries {
        let (op, values) = entry_values(name, entry)?;
        parts.push(LegacyKeyPart { name: name.clone(), op, values });
    }
    // A multi-attribute GSI key takes up to eight conditions, which only its key
    // schema can tell: more than two is refused in `resolve`, against a table's or a
    // single-attribute index's key.
    if !(1..=MAX_KEY_CONDITIONS).contains(&parts.len()) {
        return Err(Error::validation(CONDITIONS_LENGTH));
    }
    Ok(Some(LegacyKeyConditions { parts }))
}

impl LegacyKeyConditions {
    /// Checks the conditions against the key schema of the table or index queried,
    /// given as (name, type) with the type "S", "N" or "B": the hash key, then the
    /// range key if any. Order and messages are dynalite's actions/query.js, whose
    /// tests were recorded from AWS; for each key attribute in schema order:
    ///
    /// * a hash-only schema with two conditions: "Query key condition not supported";
    /// * no condition on the attribute (the hash key, or the range key when there
    ///   are two conditions): "Query condition missed key schema element: b";
    /// * NULL, NOT_NULL, NE, CONTAINS, NOT_CONTAINS or IN: "Attempted conditional
    ///   constraint is not an indexable operation";
    /// * a value of another type than the key's: "One or more parameter values
    ///   were invalid: Condition parameter type does not match schema type";
    /// * anything but EQ on the hash key: "Query key condition not supported".
    pub fn resolve(
        &self,
        hash: (&str, &str),
        range: Option<(&str, &str)>,
    ) -> Result<KeyCondition, Error> {
        let n = self.parts.len();
        if n > 2 {
            return Err(Error::validation(CONDITIONS_LENGTH));
        }
        let mut hash_value = None;
        let mut range_part = None;
        for (is_hash, (key, key_type)) in
            [(true, hash)].into_iter().chain(range.map(|r| (false, r)))
        {
            if is_hash && range.is_none() && n > 1 {
                return Err(Error::validation("Query key condition not supported"));
            }
            let Some(part) = self.parts.iter().find(|p| p.name == key) else {
                if is_hash || n > 1 {
                    return Err(Error::validation(format!(
                        "Query condition missed key schema element: {key}"
                    )));
                }
                continue;
            };
            let Some(op) = key_op(part) else {
                return Err(Error::validation(
                    "Attempted conditional constraint is not an indexable operation",
                ));
            };
            if part.values.iter().any(|v| v.type_name() != key_type) {
                return Err(invalid("Condition parameter type does not match schema type"));
            }
            match (is_hash, op) {
                (true, KeyOp::Eq(v)) => hash_value = Some(v),
                (true, _) => return Err(Error::validation("Query key condition not supported")),
                (false, op) => range_part = Some(KeyPart { name: key.to_owned(), op }),
            }
        }
        match hash_value {
            Some(v) => Ok(KeyCondition::single((hash.0.to_owned(), v), range_part)),
            // Unreachable: the hash key's part was found or an error returned.
            None => Err(Error::validation(format!(
                "Query condition missed key schema element: {}",
                hash.0
            ))),
        }
    }
}

impl LegacyKeyConditions {
    /// Checks the conditions against a multi-attribute key schema, as
    /// [`crate::model::expr::KeyConditionExpr::resolve_multi`] does, after refusing
    /// an operator no key condition can use on any key attribute.
    pub fn resolve_multi(
        &self,
        hash: &[(&str, &str)],
        range: &[(&str, &str)],
    ) -> Result<KeyCondition, Error> {
        let mut parts = Vec::with_capacity(self.parts.len());
        for part in &self.parts {
            let Some(op) = key_op(part) else {
                return Err(Error::validation(
                    "Attempted conditional constraint is not an indexable operation",
                ));
            };
            parts.push(KeyPart { name: part.name.clone(), op });
        }
        crate::model::expr::keycond::resolve_multi(&parts, hash, range)
    }
}

/// The key-condition form of an entry; `None` for the operators no key condition
/// can use.
fn key_op(part: &LegacyKeyPart) -> Option<KeyOp> {
    use ComparisonOperator as C;
    let v = |i: usize| part.values.get(i).cloned().unwrap_or(AttributeValue::Null);
    Some(match part.op {
        C::Eq => KeyOp::Eq(v(0)),
        C::Lt => KeyOp::Lt(v(0)),
        C::Le => KeyOp::Le(v(0)),
        C::Gt => KeyOp::Gt(v(0)),
        C::Ge => KeyOp::Ge(v(0)),
        C::BeginsWith => KeyOp::BeginsWith(v(0)),
        C::Between => KeyOp::Between(v(0), v(1)),
        C::Ne | C::In | C::Null | C::NotNull | C::Contains | C::NotContains => return None,
    })
}
