//! The DynamoDB expression language: condition, filter, key-condition, update and
//! projection expressions, with ExpressionAttributeNames/Values substitution and
//! AWS's exact error messages.
//!
//! # Using it from a request handler
//!
//! ```text
//! let ctx = &mut ExprContext::new(req.names.as_ref(), req.values.as_ref());
//! ctx.check_maps()?;                        // empty maps, bad placeholder keys
//! // (validate each ExpressionAttributeValues entry here, with value.rs)
//! // Parse every expression the request carries, in AWS's order:
//! //   UpdateExpression, ConditionExpression, KeyConditionExpression,
//! //   FilterExpression, ProjectionExpression
//! let update = parse_update(&req.update_expression, ctx)?;           // UpdateItem
//! let cond = parse_condition(&req.condition_expression, ExprKind::Condition, ctx)?;
//! ctx.finish()?;                            // unused names, then unused values
//! ```
//!
//! * PutItem / DeleteItem: `parse_condition(.., ExprKind::Condition, ..)`, then
//!   `cond.eval(&existing_or_empty_item)?`; false means ConditionalCheckFailed.
//! * UpdateItem: also [`parse_update`]; refuse key changes with
//!   [`UpdateExpr::check_keys`]; evaluate the condition on the old item; then
//!   [`UpdateExpr::apply`] (or [`UpdateExpr::apply_to_new`] when the item did not
//!   exist and the caller made one holding just the key); UPDATED_OLD / UPDATED_NEW
//!   are [`UpdateExpr::returned_attributes`] of the old / new item.
//! * GetItem / BatchGetItem: [`parse_projection`], then [`Projection::apply`].
//! * Query: [`parse_key_condition`] then, once the table or index is known,
//!   [`KeyConditionExpr::resolve`] for the key schema; FilterExpression with
//!   `ExprKind::Filter`; ProjectionExpression as for GetItem.
//! * Scan: FilterExpression and ProjectionExpression as for Query.
//!
//! Every error is an [`Error::Validation`] carrying AWS's message. Parse errors
//! are prefixed as AWS does ("Invalid UpdateExpression: ..."); the errors that
//! depend on the item or the schema are not: [`UpdateExpr::apply`] ("The document
//! path provided in the update expression is invalid for update", ...),
//! [`KeyConditionExpr::resolve`] and [`UpdateExpr::check_keys`]. The ASTs are plain public types so the legacy parameters
//! (Expected, AttributeUpdates, AttributesToGet, KeyConditions, QueryFilter,
//! ScanFilter) can be converted into them.

pub mod ast;
mod check_cond;
mod check_update;
pub mod eval;
pub mod keycond;
pub(crate) mod lexer;
mod messages;
pub mod names;
mod parse_cond;
mod parse_update;
pub(crate) mod parser;
pub mod paths;
pub mod projection;
pub(crate) mod reserved;
pub mod update;

#[cfg(test)]
mod tests_apply;
#[cfg(test)]
mod tests_cond;
#[cfg(test)]
mod tests_keycond;
#[cfg(test)]
mod tests_prop;
#[cfg(test)]
mod tests_update;
#[cfg(test)]
pub(crate) mod tests_util;

pub use ast::{AttrType, Comparator, Condition, Operand};
pub use keycond::{KeyCondition, KeyConditionExpr, KeyOp, KeyPart, RangeCondition};
pub use names::ExprContext;
pub use paths::{Path, PathElement};
pub use projection::Projection;
pub use update::{SetOperand, SetValue, UpdateAction, UpdateExpr};

use crate::model::Error;
use parser::Parser;

/// Longest expression string AWS accepts, in bytes (4096 accepted, 4097 refused:
/// nubo-db's conformance suite, all five expression parameters).
pub const MAX_EXPRESSION_BYTES: usize = 4096;
/// Most operators and functions in one expression (AWS: "The expression contains
/// too many operators; operator count: 301", aws-sdk-js issue 3721).
pub const MAX_OPERATORS: usize = 300;
/// Longest document path, in elements (AWS's item nesting limit; the message is
/// not recorded from AWS).
pub const MAX_PATH_ELEMENTS: usize = 32;

/// Which expression parameter a string came from: it decides the message prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExprKind {
    /// ConditionExpression (PutItem, UpdateItem, DeleteItem, transactions).
    Condition,
    /// FilterExpression (Query, Scan).
    Filter,
    /// KeyConditionExpression (Query).
    KeyCondition,
    /// ProjectionExpression (GetItem, Query, Scan, ...).
    Projection,
    /// UpdateExpression (UpdateItem).
    Update,
}

impl ExprKind {
    /// The parameter name, as AWS uses it in messages.
    pub fn param(self) -> &'static str {
        match self {
            ExprKind::Condition => "ConditionExpression",
            ExprKind::Filter => "FilterExpression",
            ExprKind::KeyCondition => "KeyConditionExpression",
            ExprKind::Projection => "ProjectionExpression",
            ExprKind::Update => "UpdateExpression",
        }
    }

    /// Prefixes a message the way AWS does: "Invalid ConditionExpression: ...".
    pub(crate) fn wrap(self, msg: impl std::fmt::Display) -> Error {
        Error::validation(format!("Invalid {}: {msg}", self.param()))
    }
}

/// Parses a ConditionExpression or FilterExpression (`kind` picks the message
/// prefix), resolving placeholders through `ctx`.
pub fn parse_condition(
    expr: &str,
    kind: ExprKind,
    ctx: &mut ExprContext<'_>,
) -> Result<Condition, Error> {
    let mut p = start(expr, kind)?;
    let raw = parse_cond::parse(&mut p).map_err(|_| kind.wrap(p.error()))?;
    limits(&p, kind)?;
    check_cond::check(&p, ctx, &raw).map_err(|e| kind.wrap(e.message()))
}

/// Parses a KeyConditionExpression: the generic condition checks, then AWS's rules
/// for key conditions. The key schema is applied later by [`KeyConditionExpr::resolve`].
pub fn parse_key_condition(
    expr: &str,
    ctx: &mut ExprContext<'_>,
) -> Result<KeyConditionExpr, Error> {
    let cond = parse_condition(expr, ExprKind::KeyCondition, ctx)?;
    keycond::from_condition(&cond).map_err(|msg| ExprKind::KeyCondition.wrap(msg))
}

/// Parses an UpdateExpression, resolving placeholders through `ctx`.
pub fn parse_update(expr: &str, ctx: &mut ExprContext<'_>) -> Result<UpdateExpr, Error> {
    let kind = ExprKind::Update;
    let mut p = start(expr, kind)?;
    let raw = parse_update::parse(&mut p).map_err(|_| kind.wrap(p.error()))?;
    limits(&p, kind)?;
    check_update::check(&p, ctx, &raw).map_err(|e| kind.wrap(e.message()))
}

/// Parses a ProjectionExpression, resolving `#names` through `ctx`.
pub fn parse_projection(expr: &str, ctx: &mut ExprContext<'_>) -> Result<Projection, Error> {
    let kind = ExprKind::Projection;
    let mut p = start(expr, kind)?;
    let raw = projection::parse(&mut p).map_err(|_| kind.wrap(p.error()))?;
    limits(&p, kind)?;
    projection::check(&p, ctx, &raw).map_err(|e| kind.wrap(e.message()))
}

/// The checks made before parsing: empty string, then size.
fn start(expr: &str, kind: ExprKind) -> Result<Parser<'_>, Error> {
    if expr.is_empty() {
        return Err(kind.wrap("The expression can not be empty;"));
    }
    if expr.len() > MAX_EXPRESSION_BYTES {
        // Recorded from AWS (PynamoDB issue 979): "...allowed size; expression size: 4109".
        return Err(kind.wrap(format!(
            "Expression size has exceeded the maximum allowed size; expression size: {}",
            expr.len()
        )));
    }
    if expr.trim_matches([' ', '\t', '\r', '\n']).is_empty() {
        // Whitespace only: treated as empty (not recorded from AWS).
        return Err(kind.wrap("The expression can not be empty;"));
    }
    Ok(Parser::new(expr))
}

/// The checks made once the syntax is known good: operator count, path depth.
fn limits(p: &Parser<'_>, kind: ExprKind) -> Result<(), Error> {
    if p.ops > MAX_OPERATORS {
        return Err(kind.wrap(format!(
            "The expression contains too many operators; operator count: {}",
            MAX_OPERATORS + 1
        )));
    }
    if p.longest_path > MAX_PATH_ELEMENTS {
        return Err(kind.wrap(format!(
            "The document path has too many nesting levels; nesting levels: {}",
            p.longest_path
        )));
    }
    Ok(())
}
