//! DynamoDB's legacy (pre-expression) request parameters, converted into the
//! expression ASTs of [`crate::model::expr`] so one evaluator serves both:
//!
//! | parameter | function | result |
//! |---|---|---|
//! | `Expected` + `ConditionalOperator` | [`expected`] | [`Condition`] |
//! | `QueryFilter` / `ScanFilter` + `ConditionalOperator` | [`filter`] | [`Condition`] |
//! | `KeyConditions` | [`key_conditions`] | [`LegacyKeyConditions`] → [`KeyCondition`] |
//! | `AttributeUpdates` | [`attribute_updates`] | [`UpdateExpr`] |
//! | `AttributesToGet` | [`attributes_to_get`] | [`Projection`] |
//!
//! All names are top-level attribute names taken literally: no placeholders, no
//! reserved words, no path syntax ("a.b" is one attribute named "a.b").
//!
//! Each converter takes the raw JSON of the request member and checks it in AWS's
//! order: JSON types first (SerializationException, [`shape`]), then the member
//! constraints the api layer normally reports in its "N validation errors detected"
//! envelope (also exposed as lists by the `*_violations` functions, so the api layer
//! can merge them with its own), then the parameter's own rules. Map entries are
//! visited in sorted name order (AWS's order is a hash order we cannot reproduce).
//!
//! Sources for messages: dynalite's tests (recorded against AWS), nubo-db's
//! dynamodb-conformance captures (AWS, 2026), DynamoDB Local's decompiled
//! `InputConverter` / `LocalDBComparisonOperator` / `ErrorFactory`, and Amazon's own
//! DAX clients (which re-implement DynamoDB's checks). Each message cites its source.
//!
//! [`KeyCondition`]: crate::model::expr::KeyCondition
//! [`UpdateExpr`]: crate::model::expr::UpdateExpr

mod expected;
mod filter;
mod operator;
pub mod raw;
pub mod shape;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_expected;
#[cfg(test)]
mod tests_filter;
#[cfg(test)]
mod tests_prop;
#[cfg(test)]
mod tests_updates;
mod updates;
mod violations;

use crate::model::Error;
use crate::model::expr::{Condition, Path, Projection};

pub use expected::expected;
pub use filter::{
    LegacyKeyConditions, LegacyKeyPart, filter, key_conditions, query_filter, scan_filter,
};
pub use operator::ComparisonOperator;
pub use updates::{MSG_TYPE_MISMATCH, attribute_updates, legacy_update_error};
pub use violations::{
    attribute_updates_violations, attributes_to_get_violations, conditional_operator_violations,
    expected_violations, filter_violations,
};

/// The common prefix of AWS's parameter errors (dynalite, recorded from AWS).
pub(crate) const INVALID: &str = "One or more parameter values were invalid: ";

/// A ValidationException "One or more parameter values were invalid: {detail}".
pub(crate) fn invalid(detail: impl std::fmt::Display) -> Error {
    Error::validation(format!("{INVALID}{detail}"))
}

/// Converts `AttributesToGet` (GetItem, BatchGetItem, Query, Scan) into a
/// projection of top-level attributes, in the order given.
///
/// A repeated name is refused with "One or more parameter values were invalid:
/// Duplicate value in attribute name: a", naming the first name seen twice
/// (dynalite validations/getItem.js, query.js, scan.js and test/scan.js, recorded
/// from AWS; DynamoDB Local's `InputConverter.getAttributeNames` agrees). The list's
/// length limits (1 to 255) are member constraints: see
/// [`attributes_to_get_violations`].
pub fn attributes_to_get(names: &[String]) -> Result<Projection, Error> {
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            return Err(invalid(format!("Duplicate value in attribute name: {name}")));
        }
    }
    Ok(Projection { paths: names.iter().map(Path::attr).collect() })
}

/// How the conditions of `Expected`, `QueryFilter` or `ScanFilter` combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Join {
    And,
    Or,
}

/// Joins per-attribute conditions, in order; `None` when there are none.
pub(crate) fn join(conds: Vec<Condition>, how: Join) -> Option<Condition> {
    conds.into_iter().reduce(|a, b| match how {
        Join::And => Condition::and(a, b),
        Join::Or => Condition::or(a, b),
    })
}

/// The checks on `ConditionalOperator` against the number of conditions it would
/// join (`None` when the parameter it goes with is absent), made before the
/// conditions themselves are looked at (DynamoDB Local `DataPlaneFunction.
/// validateConditions`; Amazon's DAX client `RequestValidator.validateExpression`
/// does the same). `op` must already have passed
/// [`conditional_operator_violations`].
///
/// * "ConditionalOperator cannot be used without Filter or Expected": DynamoDB
///   Local `ErrorFactory.COND_OP_WITHOUT_FILTER_OR_EXPECTED` and the DAX client;
///   not recorded from AWS.
/// * "ConditionalOperator can only be used when Filter or Expected has two or more
///   elements": recorded from AWS (nubo-db conformance, "Deep requests - legacy
///   conditions", Scan with one ScanFilter entry and `AND`, 2026-10-09; DynamoDB
///   Local `COND_OP_WITH_ONE_ELEMENT` and the DAX client agree).
pub(crate) fn join_for(op: Option<&str>, entries: Option<usize>) -> Result<Join, Error> {
    let Some(op) = op else { return Ok(Join::And) };
    match entries {
        None | Some(0) => {
            Err(Error::validation("ConditionalOperator cannot be used without Filter or Expected"))
        }
        Some(1) => Err(Error::validation(
            "ConditionalOperator can only be used when Filter or Expected has two or more elements",
        )),
        Some(_) if op == "OR" => Ok(Join::Or),
        Some(_) => Ok(Join::And),
    }
}
