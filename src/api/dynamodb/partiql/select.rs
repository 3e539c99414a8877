//! ExecuteStatement's SELECT: a Query when the WHERE clause pins the partition key with
//! `=`, a Query per partition when it names several (`pk IN [...]`, `pk = a OR pk = b`:
//! AWS's "decomposed reads", which are no full table scan), a Scan otherwise; ORDER BY
//! with AWS's rules (DynamoDB Local's `ValidationExceptionMessages`, the PartiQL engine
//! AWS ships in it).

use std::cmp::Ordering;
use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Map, Value as Json, json};

use super::parser::{self, Expr, Operand, Segment, Statement, Value};
use super::translate::{Context, literal};
use super::{
    ExecuteStatementInput, decode, meta_of, refuse_multi_attribute, schema_of, start_of, to_json,
};
use crate::api::dynamodb::{DynamoError, query, scan};
use crate::engine::Engine;
use crate::engine::catalog::{IndexMeta, KeySchema, ProjectionKind, TableMeta};
use crate::model::number::Number;
use crate::protocol::RequestContext;

/// Most partition key values a SELECT may read ("at max 50 hash attribute values",
/// developer guide, PartiQL operators).
const MAX_PARTITIONS: usize = 50;
/// A page of decomposed reads ends once its items pass this size, as one Query's does.
const PAGE_BYTES: usize = 1 << 20;

/// Whether `expr` reads attribute `name` at its top level.
fn mentions(expr: &Expr, name: &str) -> bool {
    let on = |o: &Operand| match o {
        Operand::Path(p) | Operand::Size(p) => {
            matches!(p.first(), Some(Segment::Name(n)) if n == name)
        }
        Operand::Value(_) => false,
    };
    let path_on = |p: &parser::Path| matches!(p.first(), Some(Segment::Name(n)) if n == name);
    match expr {
        Expr::Compare(a, _, b) => on(a) || on(b),
        Expr::Between(a, b, c) => on(a) || on(b) || on(c),
        Expr::In(a, list) => on(a) || list.iter().any(on),
        Expr::Function(_, args) => args.iter().any(on),
        Expr::Missing(p, _) | Expr::Null(p, _) => path_on(p),
        Expr::And(a, b) | Expr::Or(a, b) => mentions(a, name) || mentions(b, name),
        Expr::Not(a) => mentions(a, name),
    }
}

fn split_and(expr: &Expr, out: &mut Vec<Expr>) {
    match expr {
        Expr::And(a, b) => {
            split_and(a, out);
            split_and(b, out);
        }
        other => out.push(other.clone()),
    }
}

fn is_key_value(o: &Operand, name: &str) -> bool {
    matches!(o, Operand::Path(p) if p.as_slice() == [Segment::Name(name.to_string())])
}

/// Whether `expr` is a condition a Query takes on sort key `name`.
fn sort_key_condition(expr: &Expr, name: &str) -> bool {
    let value = |o: &Operand| matches!(o, Operand::Value(_));
    match expr {
        Expr::Compare(a, op, b) if *op != "<>" => is_key_value(a, name) && value(b),
        Expr::Between(a, low, high) => is_key_value(a, name) && value(low) && value(high),
        Expr::Function("begins_with", args) => is_key_value(&args[0], name) && value(&args[1]),
        _ => false,
    }
}

/// The partition key values `expr` allows when it is `k IN [v, ...]` or `k = v OR k = w
/// ...` (either way round) on partition key `hash`.
fn partition_values(expr: &Expr, hash: &str) -> Option<Vec<Value>> {
    let value = |o: &Operand| match o {
        Operand::Value(v) => Some(v.clone()),
        _ => None,
    };
    match expr {
        Expr::In(a, list) if is_key_value(a, hash) => list.iter().map(value).collect(),
        Expr::Compare(a, "=", b) if is_key_value(a, hash) => value(b).map(|v| vec![v]),
        Expr::Compare(a, "=", b) if is_key_value(b, hash) => value(a).map(|v| vec![v]),
        Expr::Or(a, b) => {
            let mut values = partition_values(a, hash)?;
            values.extend(partition_values(b, hash)?);
            Some(values)
        }
        _ => None,
    }
}

/// True for a WHERE clause of OR branches on one partition where one branch narrows the
/// sort key and another filters on an attribute that is no key: AWS refuses those
/// ("Overlapping conditions with range keys ...", nubo-db/dynamodb-conformance
/// error-messages/partiqlGrammar), and runs branches that differ on key attributes
/// only (partiql/whereOverlap).
fn overlapping(filter: &Expr, schema: &KeySchema) -> bool {
    let Some(range) = &schema.range else { return false };
    let mut branches = Vec::new();
    or_branches(filter, &mut branches);
    if branches.len() < 2 {
        return false;
    }
    let hash = &schema.hash.name;
    // Per branch: its partition value, whether it narrows the sort key, whether it
    // filters on another attribute.
    let mut shapes = Vec::with_capacity(branches.len());
    for branch in branches {
        let mut conjuncts = Vec::new();
        split_and(branch, &mut conjuncts);
        let value = conjuncts.iter().find_map(|c| match c {
            Expr::Compare(a, "=", Operand::Value(v)) if is_key_value(a, hash) => Some(v.clone()),
            _ => None,
        });
        let Some(value) = value else { return false };
        let sort = conjuncts.iter().any(|c| sort_key_condition(c, &range.name));
        let other = conjuncts.iter().any(|c| !mentions(c, hash) && !mentions(c, &range.name));
        shapes.push((value, sort, other));
    }
    shapes.iter().enumerate().any(|(i, (v, sort, other))| {
        shapes[i + 1..].iter().any(|(w, s, o)| v == w && ((*sort && *o) || (*other && *s)))
    })
}

fn or_branches<'e>(expr: &'e Expr, out: &mut Vec<&'e Expr>) {
    match expr {
        Expr::Or(a, b) => {
            or_branches(a, out);
            or_branches(b, out);
        }
        other => out.push(other),
    }
}

/// How a SELECT reads.
enum Plan {
    /// Queries of these partitions (their key values, as AttributeValue JSON), in this
    /// order, with the sort key's condition and the rest of the WHERE clause.
    Partitions { values: Vec<Json>, range: Option<Expr>, rest: Vec<Expr> },
    /// A Scan filtered by the whole WHERE clause.
    Scan,
}

/// Finds the partitions the WHERE clause's top-level conjuncts pin (`parts`).
fn plan(parts: &[Expr], schema: &KeySchema, params: &[Json]) -> Result<Plan, DynamoError> {
    let hash = &schema.hash.name;
    let Some((at, values)) =
        parts.iter().enumerate().find_map(|(i, c)| partition_values(c, hash).map(|v| (i, v)))
    else {
        return Ok(Plan::Scan);
    };
    let mut rest = parts.to_vec();
    rest.remove(at);
    let range = match &schema.range {
        Some(r) => rest.iter().position(|c| sort_key_condition(c, &r.name)).map(|i| rest.remove(i)),
        None => None,
    };
    let keys_in_rest = rest
        .iter()
        .any(|c| mentions(c, hash) || schema.range.as_ref().is_some_and(|r| mentions(c, &r.name)));
    if keys_in_rest {
        return Ok(Plan::Scan);
    }
    let mut distinct: Vec<Json> = Vec::with_capacity(values.len());
    for v in &values {
        let v = literal(v, params)?;
        if !distinct.contains(&v) {
            distinct.push(v);
        }
    }
    if distinct.len() > MAX_PARTITIONS {
        return Err(DynamoError::validation(
            "Too many decomposed read operations for a given query.",
        ));
    }
    Ok(Plan::Partitions { values: distinct, range, rest })
}

/// Key order of two partition key values of one type (AttributeValue JSON): numbers
/// numerically, strings and binaries by their bytes.
fn key_order(a: &Json, b: &Json) -> Ordering {
    let text = |v: &Json, t: &str| v.get(t).and_then(Json::as_str).map(str::to_string);
    if let (Some(x), Some(y)) = (text(a, "N"), text(b, "N"))
        && let (Ok(x), Ok(y)) = (Number::parse(&x), Number::parse(&y))
    {
        return x.cmp(&y);
    }
    let bytes = |v: &Json| -> Vec<u8> {
        match (text(v, "S"), text(v, "B")) {
            (Some(s), _) => s.into_bytes(),
            (None, Some(b)) => {
                base64::engine::general_purpose::STANDARD.decode(b).unwrap_or_default()
            }
            _ => v.to_string().into_bytes(),
        }
    };
    bytes(a).cmp(&bytes(b))
}

/// A SELECT of attributes a GSI does not hold is refused, naming them in the order the
/// statement does (AWS, nubo-db/dynamodb-conformance partiql/executeStatementIndex);
/// Query would answer without them.
fn refuse_unprojected(
    meta: &TableMeta,
    gsi: &IndexMeta,
    projection: &[parser::Path],
) -> Result<(), DynamoError> {
    let extra: &[String] = match &gsi.projection {
        ProjectionKind::All => return Ok(()),
        ProjectionKind::KeysOnly => &[],
        ProjectionKind::Include(extra) => extra,
    };
    let held = |name: &str| {
        meta.key_schema.is_key(name)
            || gsi.key_schema.is_key(name)
            || extra.iter().any(|n| n == name)
    };
    let mut missing: Vec<&str> = Vec::new();
    for path in projection {
        if let Some(Segment::Name(name)) = path.first()
            && !held(name)
            && !missing.contains(&name.as_str())
        {
            missing.push(name);
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(DynamoError::validation(format!(
        "One or more parameter values were invalid: Global secondary index {} does not project [{}]",
        gsi.name,
        missing.join(", ")
    )))
}

/// A SELECT as Queries or a Scan; returns the answer as a Query's (Items, and
/// LastEvaluatedKey or a NextToken when more follows).
pub async fn select(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    statement: &Statement,
    params: &[Json],
    input: &ExecuteStatementInput,
) -> Result<Json, DynamoError> {
    let Statement::Select { table, index, projection, filter, order } = statement else {
        unreachable!()
    };
    let meta = meta_of(engine, table)?;
    let schema = schema_of(&meta, index.as_deref())?;
    refuse_multi_attribute(schema)?;
    // ExecuteStatement's own wording (AWS, nubo-db/dynamodb-conformance
    // error-messages/indexReads); Query says it differently.
    let global = index.as_deref().and_then(|i| meta.index(i)).filter(|i| i.global);
    if global.is_some() && input.consistent_read == Some(true) {
        return Err(DynamoError::validation(
            "Strongly consistent read is not supported on Global Secondary Indexes",
        ));
    }
    if let Some(gsi) = global {
        refuse_unprojected(&meta, gsi, projection)?;
    }
    if !order.is_empty() && filter.is_none() {
        return Err(DynamoError::validation(
            "Must have WHERE clause in the statement when using ORDER BY clause.",
        ));
    }
    if let Some((name, _)) = order.iter().find(|(name, _)| !schema.is_key(name)) {
        return Err(DynamoError::validation(format!(
            "Variable reference {name} in ORDER BY clause must be part of the primary key"
        )));
    }
    let mut request = Map::new();
    request.insert("TableName".into(), Json::String(table.clone()));
    if let Some(index) = index {
        request.insert("IndexName".into(), Json::String(index.clone()));
    }
    if let Some(consistent) = input.consistent_read {
        request.insert("ConsistentRead".into(), json!(consistent));
    }
    if let Some(c) = &input.return_consumed_capacity {
        request.insert("ReturnConsumedCapacity".into(), Json::String(c.clone()));
    }
    let mut names = Context::new(params);
    if !projection.is_empty() {
        let paths: Vec<String> = projection.iter().map(|p| names.path(p)).collect();
        request.insert("ProjectionExpression".into(), Json::String(paths.join(", ")));
    }
    let mut parts = Vec::new();
    if let Some(filter) = filter {
        if overlapping(filter, schema) {
            return Err(DynamoError::validation(
                "Overlapping conditions with range keys are not supported in where clause",
            ));
        }
        split_and(filter, &mut parts);
    }
    let hash = &schema.hash.name;
    let ordered_by = |name: &str| order.iter().find(|(n, _)| n == name).map(|(_, desc)| *desc);
    match plan(&parts, schema, params)? {
        Plan::Scan => {
            if !order.is_empty() {
                return Err(DynamoError::validation(
                    "Must have at least one non-optional hash key condition in WHERE clause when using ORDER BY clause.",
                ));
            }
            if let Some(limit) = input.limit {
                request.insert("Limit".into(), json!(limit));
            }
            if let Some(token) = &input.next_token {
                request.insert("ExclusiveStartKey".into(), start_of(table, token)?);
            }
            if let Some(filter) = filter {
                request.insert("FilterExpression".into(), Json::String(names.expr(filter)?));
            }
            names.attach(&mut request);
            to_json(scan::scan(engine, ctx, decode(request)?).await?)
        }
        Plan::Partitions { mut values, range, rest } => {
            if values.len() > 1 && !order.is_empty() && ordered_by(hash).is_none() {
                return Err(DynamoError::validation(
                    "Must have hash key in ORDER BY clause when more than one hash key condition specified in WHERE clause.",
                ));
            }
            // Partitions in key order when ORDER BY names the partition key (the
            // order of the WHERE clause otherwise), each in sort key order.
            if let Some(descending) = ordered_by(hash) {
                values.sort_by(key_order);
                if descending {
                    values.reverse();
                }
            }
            if schema.range.as_ref().and_then(|r| ordered_by(&r.name)) == Some(true) {
                request.insert("ScanIndexForward".into(), json!(false));
            }
            let reads = Reads { engine, ctx, base: request, names, hash, range, rest };
            reads.run(table, &values, input).await
        }
    }
}

/// The Queries of a decomposed SELECT.
struct Reads<'a> {
    engine: &'a Arc<Engine>,
    ctx: &'a RequestContext,
    /// The request every Query shares (table, index, projection, ...).
    base: Map<String, Json>,
    /// The placeholders the shared parts made.
    names: Context<'a>,
    hash: &'a str,
    range: Option<Expr>,
    rest: Vec<Expr>,
}

impl Reads<'_> {
    /// The Query of partition `value`.
    fn request(&self, value: &Json) -> Result<Map<String, Json>, DynamoError> {
        let mut request = self.base.clone();
        let mut names = self.names.clone();
        let hash = names.name(self.hash);
        let mut key = format!("{hash} = {}", names.value_of(value.clone()));
        if let Some(range) = &self.range {
            key = format!("{key} AND {}", names.expr(range)?);
        }
        request.insert("KeyConditionExpression".into(), Json::String(key));
        if let Some(rest) =
            self.rest.iter().cloned().reduce(|a, b| Expr::And(Box::new(a), Box::new(b)))
        {
            request.insert("FilterExpression".into(), Json::String(names.expr(&rest)?));
        }
        names.attach(&mut request);
        Ok(request)
    }

    /// One page: the partitions' items in order, from where NextToken says, until
    /// Limit items were read, a Query stops short (its LastEvaluatedKey continues) or
    /// the page passes 1 MB (the next partition continues).
    async fn run(
        self,
        table: &str,
        values: &[Json],
        input: &ExecuteStatementInput,
    ) -> Result<Json, DynamoError> {
        let (first, mut start) = match &input.next_token {
            None => (0, None),
            Some(token) => resume(table, token, self.hash, values)?,
        };
        let mut items = Vec::new();
        let (mut bytes, mut remaining) = (0, input.limit);
        let mut capacity = None;
        for (i, value) in values.iter().enumerate().skip(first) {
            if bytes >= PAGE_BYTES {
                let token = json!({ "t": table, "p": value });
                let token = base64::engine::general_purpose::STANDARD.encode(token.to_string());
                return Ok(page(items, None, Some(token), capacity));
            }
            let mut request = self.request(value)?;
            if let Some(key) = start.take().filter(|_| i == first) {
                request.insert("ExclusiveStartKey".into(), key);
            }
            if let Some(limit) = remaining {
                request.insert("Limit".into(), json!(limit));
            }
            let answer = to_json(query::query(self.engine, self.ctx, decode(request)?).await?)?;
            let scanned = answer["ScannedCount"].as_i64().unwrap_or(0);
            remaining = remaining.map(|l| l - scanned);
            for item in answer["Items"].as_array().into_iter().flatten() {
                bytes += item.to_string().len();
                items.push(item.clone());
            }
            capacity = answer.get("ConsumedCapacity").cloned().or(capacity);
            if let Some(last) = answer.get("LastEvaluatedKey") {
                return Ok(page(items, Some(last.clone()), None, capacity));
            }
        }
        Ok(page(items, None, None, capacity))
    }
}

/// Where a NextToken of a decomposed SELECT resumes: the partition's position in
/// `values` and, within it, the start key (none to read it from its start).
fn resume(
    table: &str,
    token: &str,
    hash: &str,
    values: &[Json],
) -> Result<(usize, Option<Json>), DynamoError> {
    let invalid = || DynamoError::validation("Given NextToken is not valid");
    let bytes = base64::engine::general_purpose::STANDARD.decode(token).map_err(|_| invalid())?;
    let decoded: Json = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if let Some(partition) = decoded.get("p") {
        if decoded.get("t").and_then(Json::as_str) != Some(table) {
            return Err(invalid());
        }
        let at = values.iter().position(|v| v == partition).ok_or_else(invalid)?;
        return Ok((at, None));
    }
    let key = start_of(table, token)?;
    let at = values.iter().position(|v| Some(v) == key.get(hash)).ok_or_else(invalid)?;
    Ok((at, Some(key)))
}

/// A page in the shape ExecuteStatement reads.
fn page(
    items: Vec<Json>,
    last: Option<Json>,
    token: Option<String>,
    capacity: Option<Json>,
) -> Json {
    let mut page = json!({ "Items": items });
    if let Some(last) = last {
        page["LastEvaluatedKey"] = last;
    }
    if let Some(token) = token {
        page["NextToken"] = Json::String(token);
    }
    if let Some(c) = capacity {
        page["ConsumedCapacity"] = c;
    }
    page
}
