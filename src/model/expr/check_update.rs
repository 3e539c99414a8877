//! Semantic checks of a parsed UpdateExpression, and its resolution into an
//! [`UpdateExpr`].
//!
//! AWS reports one error, by class, in this order (dynalite db/updateParser.pegjs
//! `checkErrors`, AWS-recorded in its test/updateItem.js): reserved word, unknown
//! function, a clause used twice, undefined `#name`, undefined `:value`, overlapping
//! paths, conflicting paths, an ADD/DELETE operand of the wrong type, then a
//! function error (operand count, document path, operand type). Each class keeps
//! the first error met, in the order the parser completes the tree.

use crate::model::{AttributeValue, Error};

use super::messages;
use super::names::ExprContext;
use super::parse_update::{RawAction, RawSection, RawSetValue};
use super::parser::{Parser, RawOperand, RawPath};
use super::paths::{Path, first_clashes};
use super::update::{SetOperand, SetValue, UpdateAction, UpdateExpr};

#[derive(Default)]
struct Errors {
    reserved: Option<String>,
    unknown_fn: Option<String>,
    misused_fn: Option<String>,
    section: Option<String>,
    name: Option<String>,
    value: Option<String>,
    operand: Option<String>,
    function: Option<String>,
}

/// Walks a parsed update, collecting AWS's error classes and building the AST.
struct Checker<'p, 's, 'c> {
    p: &'p Parser<'s>,
    ctx: &'p mut ExprContext<'c>,
    e: Errors,
}

/// What the checks need to know about a SET operand.
struct Checked<'s> {
    op: SetOperand,
    /// A `:value`'s type (dynalite `getImmediateType`).
    immediate: Option<&'static str>,
    call: Option<&'s str>,
}

/// Checks and resolves `raw`; the error is AWS's message without the
/// "Invalid UpdateExpression: " prefix.
pub(crate) fn check(
    p: &Parser<'_>,
    ctx: &mut ExprContext<'_>,
    raw: &[RawSection],
) -> Result<UpdateExpr, Error> {
    let mut c = Checker { p, ctx, e: Errors::default() };
    let mut seen: Vec<&str> = Vec::new();
    let mut actions = Vec::new();
    for section in raw {
        for action in &section.actions {
            actions.push(c.action(action));
        }
        if seen.contains(&section.keyword) {
            c.e.section.get_or_insert_with(|| {
                format!(
                    "The \"{}\" section can only be used once in an update expression;",
                    section.keyword
                )
            });
        }
        seen.push(section.keyword);
    }
    let update = UpdateExpr { actions };
    let paths: Vec<Path> = update.paths().cloned().collect();
    let (overlap, conflict) = first_clashes(&paths);
    let e = c.e;
    let first = [
        e.reserved,
        e.unknown_fn,
        e.misused_fn,
        e.section,
        e.name,
        e.value,
        overlap,
        conflict,
        e.operand,
        e.function,
    ]
    .into_iter()
    .flatten()
    .next();
    match first {
        Some(msg) => Err(Error::validation(msg)),
        None => Ok(update),
    }
}

impl<'s> Checker<'_, 's, '_> {
    fn path(&mut self, raw: &RawPath) -> Path {
        self.ctx.resolve_path(self.p, raw, &mut self.e.reserved, &mut self.e.name)
    }

    fn value(&mut self, tok: usize) -> Option<AttributeValue> {
        self.ctx.resolve_value(self.p, tok, &mut self.e.value)
    }

    fn action(&mut self, raw: &RawAction) -> UpdateAction {
        match raw {
            RawAction::Set(path, v) => {
                let path = self.path(path);
                UpdateAction::Set(path, self.set_value(v))
            }
            RawAction::Remove(path) => UpdateAction::Remove(self.path(path)),
            RawAction::Add(path, tok) | RawAction::Delete(path, tok) => {
                let is_add = matches!(raw, RawAction::Add(..));
                let path = self.path(path);
                let v = self.value(*tok);
                if let Some(v) = &v {
                    self.add_delete_operand(if is_add { "ADD" } else { "DELETE" }, v);
                }
                let v = v.unwrap_or(AttributeValue::Null);
                if is_add { UpdateAction::Add(path, v) } else { UpdateAction::Delete(path, v) }
            }
        }
    }

    /// ADD takes a number or a set, DELETE a set (dynalite `checkOperator`; AWS
    /// prints long type names here: "operator: ADD, operand type: STRING").
    fn add_delete_operand(&mut self, operator: &str, v: &AttributeValue) {
        let long = match v {
            AttributeValue::S(_) => "STRING",
            AttributeValue::N(_) if operator == "ADD" => return,
            AttributeValue::N(_) => "NUMBER",
            AttributeValue::B(_) => "BINARY",
            AttributeValue::Null => "NULL",
            AttributeValue::Bool(_) => "BOOLEAN",
            AttributeValue::L(_) => "LIST",
            AttributeValue::M(_) => "MAP",
            AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_) => return,
        };
        self.e.operand.get_or_insert_with(|| {
            format!("Incorrect operand type for operator or function; operator: {operator}, operand type: {long}")
        });
    }

    fn set_value(&mut self, raw: &RawSetValue) -> SetValue {
        match raw {
            RawSetValue::Single(o) => SetValue::Operand(self.operand(o).op),
            RawSetValue::Arith(a, tok, b) => {
                let (a, b) = (self.operand(a), self.operand(b));
                let sym = self.p.text(*tok);
                self.function(sym, &[&a, &b]);
                if sym == "+" { SetValue::Plus(a.op, b.op) } else { SetValue::Minus(a.op, b.op) }
            }
        }
    }

    fn operand(&mut self, raw: &RawOperand) -> Checked<'s> {
        match raw {
            RawOperand::Paren(inner) => self.operand(inner),
            RawOperand::Path(path) => {
                Checked { op: SetOperand::Path(self.path(path)), immediate: None, call: None }
            }
            RawOperand::Value(tok) => {
                let v = self.value(*tok);
                let immediate = v.as_ref().map(AttributeValue::type_name);
                Checked {
                    op: SetOperand::Value(v.unwrap_or(AttributeValue::Null)),
                    immediate,
                    call: None,
                }
            }
            RawOperand::Call(name_tok, raw_args) => {
                let name = self.p.text(*name_tok);
                let args: Vec<Checked<'s>> = raw_args.iter().map(|a| self.operand(a)).collect();
                let refs: Vec<&Checked<'s>> = args.iter().collect();
                self.function(name, &refs);
                let mut args = args.into_iter();
                let op = match (name, args.next(), args.next(), args.next()) {
                    (
                        "if_not_exists",
                        Some(Checked { op: SetOperand::Path(p), .. }),
                        Some(b),
                        None,
                    ) => SetOperand::IfNotExists(p, Box::new(b.op)),
                    ("list_append", Some(a), Some(b), None) => {
                        SetOperand::ListAppend(Box::new(a.op), Box::new(b.op))
                    }
                    _ => SetOperand::Value(AttributeValue::Null),
                };
                Checked { op, immediate: None, call: Some(name) }
            }
        }
    }

    /// dynalite's `checkFunction` for updates, with `+` and `-` as functions.
    fn function(&mut self, name: &str, args: &[&Checked<'s>]) {
        match name {
            "if_not_exists" | "list_append" | "+" | "-" => {}
            // Condition functions are known to AWS but have no place in an update
            // (by analogy with Scylla's AWS-run test_update_condition_other_funcs).
            "attribute_exists"
            | "attribute_not_exists"
            | "attribute_type"
            | "begins_with"
            | "contains"
            | "size" => {
                self.e.misused_fn.get_or_insert_with(|| messages::misused_function(name));
                return;
            }
            _ => {
                self.e.unknown_fn.get_or_insert_with(|| messages::unknown_function(name));
                return;
            }
        }
        if name == "list_append" && args.iter().any(|a| a.call == Some("list_append")) {
            // Scylla's test_update_expression_function_nesting, run against AWS.
            self.e.misused_fn.get_or_insert_with(|| messages::misused_function("list_append"));
        }
        if self.e.function.is_some() {
            return;
        }
        if args.len() != 2 {
            self.e.function = Some(messages::operand_count(name, args.len()));
            return;
        }
        let wanted = match name {
            "if_not_exists" => {
                if !matches!(args[0].op, SetOperand::Path(_)) || args[0].call.is_some() {
                    self.e.function = Some(messages::requires_path(name));
                }
                return;
            }
            "list_append" => "L",
            _ => "N",
        };
        if let Some(t) = args.iter().filter_map(|a| a.immediate).find(|t| *t != wanted) {
            self.e.function = Some(messages::operand_type(name, t));
        }
    }
}
