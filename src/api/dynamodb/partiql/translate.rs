//! A parsed statement as the DynamoDB request it stands for: names and values become
//! `#n`/`:v` placeholders of one expression context, `?` the request's parameters. The
//! requests then run through the same handlers as PutItem, UpdateItem, DeleteItem, Query
//! and Scan, so a PartiQL write makes exactly the stream record, index entries and
//! Kinesis-destination record its equivalent would, with the same checks.

use serde_json::{Map, Value as Json, json};

use super::parser::{Expr, Operand, Path, Segment, SetValue, Statement, Value};
use crate::api::dynamodb::DynamoError;
use crate::engine::catalog::TableMeta;

/// AWS's message when the `?`s and Parameters disagree.
pub const PARAMETER_COUNT: &str = "Number of parameters in request and statement don't match.";
/// AWS's message for an UPDATE or DELETE that does not name its item's whole key.
pub const NO_KEY: &str = "Where clause does not contain a mandatory equality on all key attributes";

/// AWS's message for an EXISTS that checks nothing but the item's presence
/// (nubo-db/dynamodb-conformance error-messages/partiqlFunctions).
pub const EXISTS_CONDITION: &str =
    "EXISTS() must contain a single item read with additional condition";

/// The placeholders of one request.
#[derive(Clone)]
pub struct Context<'a> {
    names: Vec<String>,
    values: Vec<Json>,
    params: &'a [Json],
}

impl<'a> Context<'a> {
    pub fn new(params: &'a [Json]) -> Self {
        Context { names: Vec::new(), values: Vec::new(), params }
    }

    pub(super) fn name(&mut self, name: &str) -> String {
        let i = match self.names.iter().position(|n| n == name) {
            Some(i) => i,
            None => {
                self.names.push(name.to_string());
                self.names.len() - 1
            }
        };
        format!("#n{i}")
    }

    fn value(&mut self, value: &Value) -> Result<String, DynamoError> {
        self.values.push(literal(value, self.params)?);
        Ok(format!(":v{}", self.values.len() - 1))
    }

    pub fn path(&mut self, path: &Path) -> String {
        let mut out = String::new();
        for segment in path {
            match segment {
                Segment::Name(n) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(&self.name(n));
                }
                Segment::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }

    fn operand(&mut self, operand: &Operand) -> Result<String, DynamoError> {
        match operand {
            Operand::Path(p) => Ok(self.path(p)),
            Operand::Value(v) => self.value(v),
            Operand::Size(p) => Ok(format!("size({})", self.path(p))),
        }
    }

    /// The condition as a DynamoDB condition expression.
    pub fn expr(&mut self, expr: &Expr) -> Result<String, DynamoError> {
        Ok(match expr {
            Expr::Compare(a, op, b) => format!("{} {op} {}", self.operand(a)?, self.operand(b)?),
            Expr::Between(a, low, high) => {
                let a = self.operand(a)?;
                format!("{a} BETWEEN {} AND {}", self.operand(low)?, self.operand(high)?)
            }
            Expr::In(a, list) => {
                let a = self.operand(a)?;
                let list: Result<Vec<String>, _> = list.iter().map(|o| self.operand(o)).collect();
                format!("{a} IN ({})", list?.join(", "))
            }
            Expr::Function(f, args) => {
                let args: Result<Vec<String>, _> = args.iter().map(|o| self.operand(o)).collect();
                format!("{f}({})", args?.join(", "))
            }
            Expr::Missing(p, true) => format!("attribute_not_exists({})", self.path(p)),
            Expr::Missing(p, false) => format!("attribute_exists({})", self.path(p)),
            Expr::Null(p, is_null) => {
                let test = format!(
                    "attribute_type({}, {})",
                    self.path(p),
                    self.value_of(json!({"S": "NULL"}))
                );
                if *is_null { test } else { format!("NOT {test}") }
            }
            // A chain of one operator is written flat: a long one must not nest.
            Expr::And(..) | Expr::Or(..) => {
                let and = matches!(expr, Expr::And(..));
                let mut parts = Vec::new();
                chain(expr, and, &mut parts);
                let mut out = Vec::with_capacity(parts.len());
                for part in parts {
                    out.push(format!("({})", self.expr(part)?));
                }
                out.join(if and { " AND " } else { " OR " })
            }
            Expr::Not(a) => format!("NOT ({})", self.expr(a)?),
        })
    }

    pub(super) fn value_of(&mut self, value: Json) -> String {
        self.values.push(value);
        format!(":v{}", self.values.len() - 1)
    }

    /// Adds ExpressionAttributeNames and ExpressionAttributeValues, if any were made.
    pub fn attach(self, request: &mut Map<String, Json>) {
        if !self.names.is_empty() {
            let names = self
                .names
                .into_iter()
                .enumerate()
                .map(|(i, n)| (format!("#n{i}"), Json::String(n)));
            request.insert("ExpressionAttributeNames".into(), Json::Object(names.collect()));
        }
        if !self.values.is_empty() {
            let values = self.values.into_iter().enumerate().map(|(i, v)| (format!(":v{i}"), v));
            request.insert("ExpressionAttributeValues".into(), Json::Object(values.collect()));
        }
    }
}

/// The operands of a chain of ANDs (`and`) or ORs, in order.
fn chain<'e>(expr: &'e Expr, and: bool, out: &mut Vec<&'e Expr>) {
    match (expr, and) {
        (Expr::And(a, b), true) | (Expr::Or(a, b), false) => {
            chain(a, and, out);
            chain(b, and, out);
        }
        _ => out.push(expr),
    }
}

/// A literal (or parameter) as an AttributeValue.
pub fn literal(value: &Value, params: &[Json]) -> Result<Json, DynamoError> {
    Ok(match value {
        Value::Str(s) => json!({ "S": s }),
        Value::Num(n) => json!({ "N": n }),
        Value::Bool(b) => json!({ "BOOL": b }),
        Value::Null => json!({ "NULL": true }),
        Value::Param(i) => {
            params.get(*i).cloned().ok_or_else(|| DynamoError::validation(PARAMETER_COUNT))?
        }
        Value::List(items) => {
            let items: Result<Vec<Json>, _> = items.iter().map(|v| literal(v, params)).collect();
            json!({ "L": items? })
        }
        Value::Map(entries) => {
            let mut m = Map::new();
            for (k, v) in entries {
                m.insert(k.clone(), literal(v, params)?);
            }
            json!({ "M": m })
        }
        Value::Bag(items) => {
            if items.is_empty() {
                // AWS's words (nubo-db/dynamodb-conformance error-messages/partiqlFunctions).
                return Err(DynamoError::validation("Empty bags are not supported"));
            }
            let items: Result<Vec<Json>, _> = items.iter().map(|v| literal(v, params)).collect();
            let items = items?;
            // A set of one type: strings, numbers or binaries.
            for ty in ["S", "N", "B"] {
                let members: Option<Vec<Json>> = items.iter().map(|v| v.get(ty).cloned()).collect();
                if let Some(members) = members.filter(|m| !m.is_empty()) {
                    let set = json!({ format!("{ty}S"): members });
                    // A literal's own faults (a repeated member) are the statement's,
                    // reported bare rather than as an ExpressionAttributeValues error.
                    crate::model::value::value_from_str(&set.to_string())
                        .map_err(|e| DynamoError::validation(e.to_string()))?;
                    return Ok(set);
                }
            }
            return Err(DynamoError::validation(
                "Unsupported type passed to a set: a set holds strings, numbers or binaries, all of one type, and at least one",
            ));
        }
    })
}

/// The conjuncts of a condition's top-level ANDs.
fn conjuncts(expr: &Expr, out: &mut Vec<Expr>) {
    match expr {
        Expr::And(a, b) => {
            conjuncts(a, out);
            conjuncts(b, out);
        }
        other => out.push(other.clone()),
    }
}

/// The item key an UPDATE, DELETE or EXISTS names with equalities on every key attribute,
/// and the rest of its WHERE clause (a condition on the item), if any.
pub fn key_of(
    meta: &TableMeta,
    filter: &Expr,
    params: &[Json],
) -> Result<(Json, Option<Expr>), DynamoError> {
    let mut rest = Vec::new();
    conjuncts(filter, &mut rest);
    let mut key = Map::new();
    let names = std::iter::once(&meta.key_schema.hash).chain(meta.key_schema.range.as_ref());
    for attr in names {
        let at = rest.iter().position(|c| equality_on(c, &attr.name).is_some());
        let Some(at) = at else { return Err(DynamoError::validation(NO_KEY)) };
        let conjunct = rest.remove(at);
        let value = equality_on(&conjunct, &attr.name).expect("found above");
        key.insert(attr.name.clone(), literal(value, params)?);
    }
    let rest = rest.into_iter().reduce(|a, b| Expr::And(Box::new(a), Box::new(b)));
    Ok((Json::Object(key), rest))
}

/// The value `expr` sets `name` equal to, when it is `name = value` (either way round).
fn equality_on<'e>(expr: &'e Expr, name: &str) -> Option<&'e Value> {
    let Expr::Compare(a, "=", b) = expr else { return None };
    let is_name = |o: &Operand| matches!(o, Operand::Path(p) if p.as_slice() == [Segment::Name(name.to_string())]);
    match (a, b) {
        (a, Operand::Value(v)) if is_name(a) => Some(v),
        (Operand::Value(v), b) if is_name(b) => Some(v),
        _ => None,
    }
}

/// The request of a write statement: (operation, request). INSERT is a PutItem that
/// fails on an existing item; UPDATE an UpdateItem that fails on a missing one (PartiQL's
/// UPDATE is no upsert); DELETE a DeleteItem, conditional on the rest of its WHERE.
pub fn write_request(
    statement: &Statement,
    meta: &TableMeta,
    params: &[Json],
) -> Result<(&'static str, Map<String, Json>), DynamoError> {
    let mut request = Map::new();
    request.insert("TableName".into(), Json::String(statement.table().to_string()));
    let mut ctx = Context::new(params);
    let operation = match statement {
        Statement::Insert { item, .. } => {
            let item = literal(item, params)?;
            let Some(item) = item.get("M").cloned() else {
                return Err(DynamoError::validation("INSERT takes a tuple of attributes"));
            };
            request.insert("Item".into(), item);
            let hash = ctx.name(&meta.key_schema.hash.name);
            request.insert(
                "ConditionExpression".into(),
                Json::String(format!("attribute_not_exists({hash})")),
            );
            "PutItem"
        }
        Statement::Update { sets, removes, filter, returning, .. } => {
            let (key, rest) = key_of(meta, filter, params)?;
            request.insert("Key".into(), key);
            let (mut set, mut add, mut delete) = (Vec::new(), Vec::new(), Vec::new());
            for (path, value) in sets {
                let target = ctx.path(path);
                match value {
                    SetValue::Operand(o) => set.push(format!("{target} = {}", ctx.operand(o)?)),
                    SetValue::Arithmetic(a, op, b) => {
                        let (a, b) = (ctx.operand(a)?, ctx.operand(b)?);
                        set.push(format!("{target} = {a} {op} {b}"));
                    }
                    SetValue::Function(f @ ("list_append" | "if_not_exists"), a, b) => {
                        let (a, b) = (ctx.operand(a)?, ctx.operand(b)?);
                        set.push(format!("{target} = {f}({a}, {b})"));
                    }
                    // set_add(p, v) and set_delete(p, v) on the path they assign: ADD and
                    // DELETE of an update expression.
                    SetValue::Function(f, Operand::Path(p), v) if p == path => {
                        let clause = if *f == "set_add" { &mut add } else { &mut delete };
                        clause.push(format!("{target} {}", ctx.operand(v)?));
                    }
                    SetValue::Function(f, ..) => {
                        return Err(DynamoError::validation(format!(
                            "{f} takes the path it assigns as its first argument"
                        )));
                    }
                }
            }
            let mut update = Vec::new();
            for (clause, parts) in [("SET", set), ("ADD", add), ("DELETE", delete)] {
                if !parts.is_empty() {
                    update.push(format!("{clause} {}", parts.join(", ")));
                }
            }
            if !removes.is_empty() {
                let paths: Vec<String> = removes.iter().map(|p| ctx.path(p)).collect();
                update.push(format!("REMOVE {}", paths.join(", ")));
            }
            request.insert("UpdateExpression".into(), Json::String(update.join(" ")));
            let hash = ctx.name(&meta.key_schema.hash.name);
            let mut condition = format!("attribute_exists({hash})");
            if let Some(rest) = rest {
                condition = format!("{condition} AND ({})", ctx.expr(&rest)?);
            }
            request.insert("ConditionExpression".into(), Json::String(condition));
            if let Some(r) = returning {
                request.insert("ReturnValues".into(), Json::String(r.to_string()));
            }
            "UpdateItem"
        }
        Statement::Delete { filter, returning, .. } => {
            let (key, rest) = key_of(meta, filter, params)?;
            request.insert("Key".into(), key);
            if let Some(r) = returning {
                request.insert("ReturnValues".into(), Json::String(r.to_string()));
            }
            if let Some(rest) = rest {
                request.insert("ConditionExpression".into(), Json::String(ctx.expr(&rest)?));
            }
            "DeleteItem"
        }
        Statement::Exists { filter, .. } => {
            let (key, rest) = key_of(meta, filter, params)?;
            if rest.is_none() {
                return Err(DynamoError::validation(EXISTS_CONDITION));
            }
            request.insert("Key".into(), key);
            let hash = ctx.name(&meta.key_schema.hash.name);
            let mut condition = format!("attribute_exists({hash})");
            if let Some(rest) = rest {
                condition = format!("{condition} AND ({})", ctx.expr(&rest)?);
            }
            request.insert("ConditionExpression".into(), Json::String(condition));
            "ConditionCheck"
        }
        Statement::Select { .. } => unreachable!("reads are not write requests"),
    };
    ctx.attach(&mut request);
    Ok((operation, request))
}
