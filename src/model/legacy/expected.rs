//! `Expected` (PutItem, UpdateItem, DeleteItem) with `ConditionalOperator`.
//!
//! Each entry is one of: `{"Value": v}` or `{"Exists": true, "Value": v}`
//! (equality), `{"Exists": false}` (absence), or `{"ComparisonOperator": op}` with
//! its values in `AttributeValueList` or, for one value, in `Value`.
//!
//! The structural checks and their order are DynamoDB Local's
//! `InputConverter.validateExpectedAttribute`; every message is also recorded from
//! AWS by dynalite (test/putItem.js, test/deleteItem.js) and, in its newest form, by
//! nubo-db's conformance suite (error-messages/deleteItem, 2026-10-09), except where
//! a comment says otherwise.

use serde_json::{Map, Value};

use crate::model::expr::Condition;
use crate::model::value::{MAX_ITEM_SIZE, MSG_ITEM_TOO_LARGE};
use crate::model::{AttributeValue, Error};

use super::operator::ComparisonOperator;
use super::shape::{self, Structure, bool_member, present, str_member};
use super::violations::{self, conditional_operator_violations, expected_violations};
use super::{invalid, join, join_for};

/// Converts `Expected` (the raw JSON member; null when absent) and
/// `ConditionalOperator` into one condition on the existing item (an absent item is
/// an empty one), `None` when there is nothing to check.
///
/// Order of checks: JSON types ([`shape::check`]); member constraints (the
/// operators' enums, see [`super::expected_violations`]); `ConditionalOperator`
/// against the number of entries; then each entry in name order: its structure,
/// its values (AWS's AttributeValue messages), the running size, its operator's
/// values ([`ComparisonOperator::check_values`]).
pub fn expected(
    expected: &Value,
    conditional_operator: Option<&str>,
) -> Result<Option<Condition>, Error> {
    shape::check(expected, Structure::Expected)?;
    let mut found = conditional_operator_violations(conditional_operator);
    found.extend(expected_violations(expected));
    violations::check(found)?;
    let entries = expected.as_object();
    let how = join_for(conditional_operator, entries.map(Map::len))?;
    let Some(entries) = entries else { return Ok(None) };
    let mut size = 0;
    let mut conds = Vec::with_capacity(entries.len());
    for (name, entry) in entries {
        conds.push(entry_condition(name, entry, &mut size)?);
    }
    Ok(join(conds, how))
}

/// One entry's condition; `size` accumulates the bytes of names and values.
fn entry_condition(name: &str, entry: &Value, size: &mut usize) -> Result<Condition, Error> {
    let Some(e) = entry.as_object() else {
        // DynamoDB Local `validateExpectedAttribute`; not recorded from AWS.
        return Err(invalid(format!(
            "ExpectedAttributeValue must not be null for Attribute: {name}"
        )));
    };
    let exists = bool_member(present(e, "Exists"));
    let op = str_member(present(e, "ComparisonOperator")).and_then(ComparisonOperator::from_name);
    let value = present(e, "Value");
    let list = present(e, "AttributeValueList");
    check_structure(name, exists, op, value.is_some(), list.is_some())?;

    let value = value.map(super::raw::attribute_value).transpose()?;
    let list = match list.and_then(Value::as_array) {
        Some(items) => {
            Some(items.iter().map(super::raw::attribute_value).collect::<Result<Vec<_>, _>>()?)
        }
        None => None,
    };
    // DynamoDB Local `externalToInternalExpectedAttributes` counts names and values
    // against the item size limit; not recorded from AWS.
    *size += name.len();
    *size += value.iter().chain(list.iter().flatten()).map(AttributeValue::size).sum::<usize>();
    if *size > MAX_ITEM_SIZE {
        return Err(Error::validation(MSG_ITEM_TOO_LARGE));
    }

    Ok(match (op, exists, value) {
        (Some(op), _, value) => {
            let values: Vec<AttributeValue> =
                value.into_iter().chain(list.into_iter().flatten()).collect();
            op.check_values(&values)?;
            op.condition(name, values)
        }
        (None, Some(false), _) => ComparisonOperator::Null.condition(name, Vec::new()),
        (None, _, value) => ComparisonOperator::Eq.condition(name, value.into_iter().collect()),
    })
}

/// DynamoDB Local `InputConverter.validateExpectedAttribute`, in its order.
fn check_structure(
    name: &str,
    exists: Option<bool>,
    op: Option<ComparisonOperator>,
    has_value: bool,
    has_list: bool,
) -> Result<(), Error> {
    let fail = |what: String| Err(invalid(format!("{what} for Attribute: {name}")));
    if exists.is_some() && op.is_some() {
        return fail("Exists and ComparisonOperator cannot be used together".into());
    }
    if has_value && has_list {
        return fail("Value and AttributeValueList cannot be used together".into());
    }
    if op.is_none() && has_list {
        return fail("AttributeValueList can only be used with a ComparisonOperator".into());
    }
    if exists == Some(false) && has_value {
        return fail("Value cannot be used when Exists is false".into());
    }
    if !has_value && !has_list {
        match (op, exists) {
            (Some(op), _) if !op.takes_no_value() => {
                return fail(format!(
                    "Value or AttributeValueList must be used with ComparisonOperator: {}",
                    op.name()
                ));
            }
            (None, None) => return fail("Value must be provided when Exists is null".into()),
            (None, Some(true)) => return fail("Value must be provided when Exists is true".into()),
            _ => {}
        }
    }
    Ok(())
}
