//! Member constraints of the legacy parameters: the violations AWS reports inside
//! its "N validation errors detected: ..." envelope, together with those of every
//! other member of the request (TableName, ReturnValues, ...).
//!
//! The api layer should collect these alongside its own constraint checks; the
//! converters also check them, and on their own report them in the same envelope.
//! Wording: dynalite's validations/index.js `validate`, recorded from AWS, e.g.
//! "Value 'AN' at 'conditionalOperator' failed to satisfy constraint: Member must
//! satisfy enum value set: [OR, AND]" and "Value null at
//! 'scanFilter.a.member.comparisonOperator' failed to satisfy constraint: Member must
//! not be null" (dynalite test/scan.js).

use serde_json::Value;

use crate::model::Error;

use super::operator::{ComparisonOperator, ENUM_ORDER};
use super::shape::{present, str_member};

/// AWS stops listing violations after ten (dynalite validations/index.js
/// `checkValidations`, recorded from AWS).
const MAX_LISTED: usize = 10;

fn violation(value: Option<&str>, path: &str, constraint: &str) -> String {
    let shown = value.map_or_else(|| "null".to_owned(), |v| format!("'{v}'"));
    format!("Value {shown} at '{path}' failed to satisfy constraint: Member must {constraint}")
}

fn one_of(allowed: &[&str]) -> String {
    format!("satisfy enum value set: [{}]", allowed.join(", "))
}

/// The Validation error AWS sends for these violations: "1 validation error
/// detected: ..." or "N validation errors detected: a; b".
pub(crate) fn envelope(mut violations: Vec<String>) -> Error {
    violations.truncate(MAX_LISTED);
    let n = violations.len();
    let s = if n == 1 { "" } else { "s" };
    Error::validation(format!("{n} validation error{s} detected: {}", violations.join("; ")))
}

/// Fails with [`envelope`] when there is any violation.
pub(crate) fn check(violations: Vec<String>) -> Result<(), Error> {
    match violations.is_empty() {
        true => Ok(()),
        false => Err(envelope(violations)),
    }
}

/// `ConditionalOperator` must be AND or OR (the enum order is AWS's: "[OR, AND]",
/// recorded by dynalite test/scan.js and nubo-db conformance).
pub fn conditional_operator_violations(op: Option<&str>) -> Vec<String> {
    match op {
        Some(v) if v != "AND" && v != "OR" => {
            vec![violation(Some(v), "conditionalOperator", &one_of(&["OR", "AND"]))]
        }
        _ => Vec::new(),
    }
}

/// `Expected`: each `ComparisonOperator` given must be a known operator (it is
/// optional there). Path: `expected.<name>.member.comparisonOperator`.
pub fn expected_violations(expected: &Value) -> Vec<String> {
    comparison_violations(expected, "expected", false)
}

/// `QueryFilter`, `ScanFilter` or `KeyConditions` (`param_name` as AWS spells the
/// parameter): each entry needs a known `ComparisonOperator` (required there:
/// "Member must not be null"). Path: `scanFilter.<name>.member.comparisonOperator`.
pub fn filter_violations(filter: &Value, param_name: &str) -> Vec<String> {
    comparison_violations(filter, &lower_first(param_name), true)
}

fn comparison_violations(param: &Value, path: &str, required: bool) -> Vec<String> {
    let Some(entries) = param.as_object() else { return Vec::new() };
    let mut out = Vec::new();
    for (name, entry) in entries {
        let Some(e) = entry.as_object() else { continue };
        let at = format!("{path}.{name}.member.comparisonOperator");
        match str_member(present(e, "ComparisonOperator")) {
            None if required => out.push(violation(None, &at, "not be null")),
            Some(op) if ComparisonOperator::from_name(op).is_none() => {
                out.push(violation(Some(op), &at, &one_of(&ENUM_ORDER)));
            }
            _ => {}
        }
    }
    out
}

/// `AttributeUpdates`: each `Action` given must be ADD, PUT or DELETE. Path:
/// `attributeUpdates.<name>.member.action`. The enum order "[ADD, PUT, DELETE]" is
/// the SDK model's and other emulators'; no AWS recording of it was found.
pub fn attribute_updates_violations(updates: &Value) -> Vec<String> {
    let Some(entries) = updates.as_object() else { return Vec::new() };
    let mut out = Vec::new();
    for (name, entry) in entries {
        let Some(action) = entry.as_object().and_then(|e| str_member(present(e, "Action"))) else {
            continue;
        };
        if !["ADD", "PUT", "DELETE"].contains(&action) {
            let at = format!("attributeUpdates.{name}.member.action");
            out.push(violation(Some(action), &at, &one_of(&["ADD", "PUT", "DELETE"])));
        }
    }
    out
}

/// `AttributesToGet` must hold 1 to 255 names. `path` is where the list sits:
/// `attributesToGet` for GetItem, Query and Scan,
/// `requestItems.<table>.member.attributesToGet` for BatchGetItem. AWS prints the
/// list as "[a, b]" ("Value '[]' at 'attributesToGet' failed to satisfy constraint:
/// Member must have length greater than or equal to 1": dynalite test/scan.js,
/// recorded; the 255 bound is dynalite's validations/getItem.js).
pub fn attributes_to_get_violations(names: &[String], path: &str) -> Vec<String> {
    let shown = format!("[{}]", names.join(", "));
    if names.is_empty() {
        vec![violation(Some(&shown), path, "have length greater than or equal to 1")]
    } else if names.len() > 255 {
        vec![violation(Some(&shown), path, "have length less than or equal to 255")]
    } else {
        Vec::new()
    }
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}
