//! UpdateItem's `AttributeUpdates`: attribute name to `{"Action": "PUT" | "ADD" |
//! "DELETE", "Value": v}`, the action defaulting to PUT.
//!
//! PUT sets the attribute; DELETE without a value removes it; DELETE with a set
//! removes those members (an emptied set disappears); ADD adds a number (a missing
//! attribute counts as 0), adds set members, or appends a list (AWS API reference,
//! `AttributeValueUpdate`: "If the existing data type is a list, and if Value is also
//! a list, then Value is appended to the existing list"). These are exactly
//! [`UpdateAction::Set`], `Remove`, `Delete` and `Add` (whose list case exists for
//! this converter), applied to the item as it was.

use serde_json::Value;

use crate::model::expr::{Path, SetOperand, SetValue, UpdateAction, UpdateExpr};
use crate::model::value::{MAX_ITEM_SIZE, MSG_UPDATED_ITEM_TOO_LARGE};
use crate::model::{AttributeValue, Error};

use super::invalid;
use super::shape::{self, Structure, present, str_member};
use super::violations::{self, attribute_updates_violations};

/// The evaluator's message for an ADD or DELETE of the wrong type.
const MSG_EXPR_BAD_TYPE: &str = "An operand in the update expression has an incorrect data type";
/// AWS's message for the same mistake made through `AttributeUpdates` (dynalite
/// test/updateItem.js "trying to delete NS from SS", "delete NS from N", "add NS to
/// SS", recorded from AWS; also in the API reference's list of
/// TransactionCanceledException reasons).
pub const MSG_TYPE_MISMATCH: &str = "Type mismatch for attribute to update";

/// Converts `AttributeUpdates` (the raw JSON member; null when absent) into an
/// update of top-level attributes, one action per entry in name order.
///
/// Checks, in order: JSON types ([`shape::check`]); the `Action` enum (see
/// [`super::attribute_updates_violations`]); then per entry its value (AWS's
/// AttributeValue messages) and these, in DynamoDB Local's
/// `InputConverter.validateAttributeUpdates` order, all recorded from AWS by
/// dynalite (test/updateItem.js):
///
/// * "One or more parameter values were invalid: Only DELETE action is allowed when
///   no attribute value is specified";
/// * "One or more parameter values were invalid: DELETE action with value is not
///   supported for the type S" (any type but SS, NS, BS);
/// * "One or more parameter values were invalid: ADD action is not supported for
///   the type M" (any type but N, SS, NS, BS, L);
///
/// and last the running size of the names and values written: "Item size to update
/// has exceeded the maximum allowed size" (DynamoDB Local
/// `externalToInternalAttributeUpdates`; not recorded from AWS for this case).
///
/// A null entry is skipped: Amazon's DAX client does so, noting it as "DynamoDB's
/// behavior" (`_convert_update_attr_to_update_expr`).
///
/// When applying the result, pass its errors through [`legacy_update_error`].
pub fn attribute_updates(updates: &Value) -> Result<UpdateExpr, Error> {
    shape::check(updates, Structure::Update)?;
    violations::check(attribute_updates_violations(updates))?;
    let Some(entries) = updates.as_object() else { return Ok(UpdateExpr::default()) };
    let mut size = 0;
    let mut actions = Vec::with_capacity(entries.len());
    for (name, entry) in entries {
        let Some(e) = entry.as_object() else { continue };
        let action = str_member(present(e, "Action")).unwrap_or("PUT");
        let value = present(e, "Value").map(super::raw::attribute_value).transpose()?;
        let path = Path::attr(name);
        actions.push(match (action, value) {
            ("DELETE", None) => UpdateAction::Remove(path),
            (_, None) => {
                return Err(invalid(
                    "Only DELETE action is allowed when no attribute value is specified",
                ));
            }
            ("DELETE", Some(v)) => {
                if !matches!(
                    v,
                    AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_)
                ) {
                    return Err(invalid(format!(
                        "DELETE action with value is not supported for the type {}",
                        v.type_name()
                    )));
                }
                UpdateAction::Delete(path, v)
            }
            (action, Some(v)) => {
                size += name.len() + v.size();
                if action == "ADD" {
                    use AttributeValue as V;
                    if !matches!(v, V::N(_) | V::Ss(_) | V::Ns(_) | V::Bs(_) | V::L(_)) {
                        return Err(invalid(format!(
                            "ADD action is not supported for the type {}",
                            v.type_name()
                        )));
                    }
                    UpdateAction::Add(path, v)
                } else {
                    UpdateAction::Set(path, SetValue::Operand(SetOperand::Value(v)))
                }
            }
        });
        if size > MAX_ITEM_SIZE {
            return Err(Error::validation(MSG_UPDATED_ITEM_TOO_LARGE));
        }
    }
    Ok(UpdateExpr { actions })
}

/// Rewrites an error from applying an [`UpdateExpr`] built by [`attribute_updates`]
/// into AWS's legacy wording: an ADD or DELETE whose value does not fit the existing
/// attribute is "Type mismatch for attribute to update" ([`MSG_TYPE_MISMATCH`])
/// through `AttributeUpdates`, where an UpdateExpression gets "An operand in the
/// update expression has an incorrect data type". Every other error (number
/// overflow, item size) is worded alike and passes through. A legacy update has
/// only top-level SETs of constants, REMOVEs, ADDs and DELETEs, so the incorrect
/// data type message can only come from such a mismatch.
pub fn legacy_update_error(err: Error) -> Error {
    match err {
        Error::Validation(m) if m == MSG_EXPR_BAD_TYPE => Error::validation(MSG_TYPE_MISMATCH),
        other => other,
    }
}
