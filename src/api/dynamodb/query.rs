//! Query: the items of one partition whose sort key satisfies the key condition, in
//! sort-key order (or reversed), a page at a time, filtered and projected.
//!
//! Checks run in AWS's order as dynalite's tests (recorded from AWS) show it: member
//! constraints, expression/legacy mixing, the legacy maps, ExclusiveStartKey values,
//! the presence of a key condition, the expressions; then, with the table known, the
//! index, Select, ExclusiveStartKey against the key schema, the key condition against
//! the key schema, the start key against the key condition, and the key attributes
//! used in the projection and the filter.

use std::collections::HashMap;
use std::ops::Bound;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::DynamoError;
use super::items::{expression_context, no_mixing, usable_table};
use super::keys::check_value;
use super::read::{self, ReadOutput, Shape, Target};
use crate::api::validate::Validator;
use crate::api::wire::WireValues;
use crate::engine::read::{PAGE_BYTES, PageRequest};
use crate::engine::{Engine, KeyAttribute};
use crate::model::expr::{self, Condition, ExprKind, KeyCondition, KeyOp};
use crate::model::legacy::shape::{self, Structure};
use crate::model::{AttributeValue, Item, legacy, value};
use crate::protocol::RequestContext;

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub struct QueryInput {
    pub table_name: Option<String>,
    pub index_name: Option<String>,
    pub select: Option<String>,
    pub attributes_to_get: Option<Vec<String>>,
    pub limit: Option<i64>,
    pub consistent_read: Option<bool>,
    #[serde(default, deserialize_with = "crate::model::legacy::raw::deserialize")]
    pub key_conditions: Option<Value>,
    #[serde(default, deserialize_with = "crate::model::legacy::raw::deserialize")]
    pub query_filter: Option<Value>,
    pub conditional_operator: Option<String>,
    pub scan_index_forward: Option<bool>,
    /// Its text: decoded by the streaming item decoder, never as a tree.
    pub exclusive_start_key: Option<Box<serde_json::value::RawValue>>,
    pub return_consumed_capacity: Option<String>,
    pub projection_expression: Option<String>,
    pub filter_expression: Option<String>,
    pub key_condition_expression: Option<String>,
    pub expression_attribute_names: Option<HashMap<String, String>>,
    pub expression_attribute_values: Option<WireValues>,
}

/// The enum order of AWS's message for Select (nubo-db's AWS capture).
pub(super) const SELECT_VALUES: [&str; 4] =
    ["SPECIFIC_ATTRIBUTES", "COUNT", "ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES"];

/// The member constraints, in the order AWS lists them.
fn validate(input: &QueryInput) -> Result<(), DynamoError> {
    let null = Value::Null;
    let mut v = Validator::new();
    v.at_least(input.limit, "limit", 1);
    v.one_of(
        input.return_consumed_capacity.as_deref(),
        "returnConsumedCapacity",
        &["INDEXES", "TOTAL", "NONE"],
    );
    if let Some(names) = &input.attributes_to_get {
        v.extend(legacy::attributes_to_get_violations(names, "attributesToGet"));
    }
    v.extend(legacy::filter_violations(
        input.query_filter.as_ref().unwrap_or(&null),
        "QueryFilter",
    ));
    v.one_of(input.select.as_deref(), "select", &SELECT_VALUES);
    v.extend(legacy::conditional_operator_violations(input.conditional_operator.as_deref()));
    v.extend(legacy::filter_violations(
        input.key_conditions.as_ref().unwrap_or(&null),
        "KeyConditions",
    ));
    v.name(input.index_name.as_deref(), "indexName", 3);
    v.finish().map_err(DynamoError::Validation)
}

/// Where the filter came from: it names itself in AWS's key-attribute message.
fn filter_source(input: &QueryInput) -> &'static str {
    if input.query_filter.is_some() { "QueryFilter" } else { "Filter Expression" }
}

/// Query.
pub async fn query(
    engine: &Arc<Engine>,
    _ctx: &RequestContext,
    input: QueryInput,
) -> Result<ReadOutput, DynamoError> {
    super::items::check_item_table_name(input.table_name.as_deref())?;
    // JSON types first: AWS's deserializer fails before any validation.
    let null = Value::Null;
    shape::check(input.key_conditions.as_ref().unwrap_or(&null), Structure::Condition)?;
    shape::check(input.query_filter.as_ref().unwrap_or(&null), Structure::Condition)?;
    if let Some(esk) = &input.exclusive_start_key {
        value::check_item_str(esk.get())?;
    }
    validate(&input)?;
    // KeyConditions goes with ProjectionExpression and FilterExpression; it only
    // conflicts with KeyConditionExpression (dynalite `validateExpressionParams`, recorded
    // from AWS: "Special case for KeyConditions and KeyConditionExpression").
    let key_conditions_conflict =
        input.key_conditions.is_some() && input.key_condition_expression.is_some();
    no_mixing(
        &[
            ("AttributesToGet", input.attributes_to_get.is_some()),
            ("QueryFilter", input.query_filter.is_some()),
            ("ConditionalOperator", input.conditional_operator.is_some()),
            ("KeyConditions", key_conditions_conflict),
        ],
        &[
            ("ProjectionExpression", input.projection_expression.is_some()),
            ("FilterExpression", input.filter_expression.is_some()),
            ("KeyConditionExpression", input.key_condition_expression.is_some()),
        ],
    )?;
    let legacy_filter = legacy::query_filter(
        input.query_filter.as_ref().unwrap_or(&null),
        input.conditional_operator.as_deref(),
    )?;
    let legacy_projection =
        input.attributes_to_get.as_deref().map(legacy::attributes_to_get).transpose()?;
    let start = read::start_key(input.exclusive_start_key.as_deref())?;
    if input.key_conditions.is_none() && input.key_condition_expression.is_none() {
        return Err(DynamoError::validation(
            "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
        ));
    }
    let mut ctx = expression_context(
        input.expression_attribute_names.as_ref(),
        input.expression_attribute_values.as_ref(),
        input.key_condition_expression.is_some()
            || input.filter_expression.is_some()
            || input.projection_expression.is_some(),
    )?;
    let key_expr =
        input.key_condition_expression.as_deref().map(|e| expr::parse_key_condition(e, &mut ctx));
    let key_expr = key_expr.transpose()?;
    let filter_expr = input
        .filter_expression
        .as_deref()
        .map(|e| expr::parse_condition(e, ExprKind::Filter, &mut ctx))
        .transpose()?;
    let projection_expr =
        input.projection_expression.as_deref().map(|e| expr::parse_projection(e, &mut ctx));
    let projection_expr = projection_expr.transpose()?;
    ctx.finish()?;
    let legacy_keys = match &input.key_conditions {
        Some(kc) if key_expr.is_none() => legacy::key_conditions(kc)?,
        _ => None,
    };

    let table = usable_table(engine, input.table_name.as_deref())?;
    let meta = table.meta();
    let target =
        read::target(&meta, input.index_name.as_deref(), input.consistent_read == Some(true))?;
    let select = read::select(
        input.select.as_deref(),
        input.attributes_to_get.is_some(),
        input.projection_expression.is_some(),
        input.index_name.is_some(),
    )?;
    let fetch = read::check_index_select(&target, select)?;
    let start_hash = start.as_ref().map(|s| start_key_hash(s, &target)).transpose()?;
    let cond = if target.key.multi_attribute() {
        let hash: Vec<(&str, &str)> =
            target.key.hash_attrs().map(|k| (k.name.as_str(), k.ty.as_str())).collect();
        let range: Vec<(&str, &str)> =
            target.key.range_attrs().map(|k| (k.name.as_str(), k.ty.as_str())).collect();
        match (&key_expr, &legacy_keys) {
            (Some(k), _) => k.resolve_multi(&hash, &range)?,
            (None, Some(k)) => k.resolve_multi(&hash, &range)?,
            (None, None) => {
                return Err(DynamoError::validation("Query key condition not supported"));
            }
        }
    } else {
        let hash = (target.key.hash.name.as_str(), target.key.hash.ty.as_str());
        let range = target.key.range.as_ref().map(|r| (r.name.as_str(), r.ty.as_str()));
        match (&key_expr, &legacy_keys) {
            (Some(k), _) => k.resolve(hash, range)?,
            (None, Some(k)) => k.resolve(hash, range)?,
            // Unreachable: one of the two was required above.
            (None, None) => {
                return Err(DynamoError::validation("Query key condition not supported"));
            }
        }
    };
    for (attr, value) in target.key.hash_attrs().zip(cond.hash_values()) {
        check_value(attr, value, true)?;
    }
    let start_range = match &start {
        Some(s) => target
            .key
            .range_attrs()
            .map(|r| start_key_part(s, r, false))
            .collect::<Result<_, _>>()?,
        None => vec![],
    };
    if let Some(h) = start_hash {
        check_start_in_bounds(&cond, &h, &start_range, target.index.is_none())?;
    }

    let projection = projection_expr.or(legacy_projection);
    read::check_key_paths(projection.iter().flat_map(|p| &p.paths), &target.key_names)?;
    let filter: Option<Condition> = filter_expr.or(legacy_filter);
    if let Some(f) = &filter {
        let paths = read::condition_paths(f);
        // "Filter Expression can only contain non-primary key attributes: Primary key
        // attribute: a" (dynalite test/query.js, recorded from AWS; nested paths into a
        // key attribute get this message too).
        if let Some(p) = paths.iter().find(|p| target.key.is_key(p.top())) {
            return Err(DynamoError::validation(format!(
                "{} can only contain non-primary key attributes: Primary key attribute: {}",
                filter_source(&input),
                p.top()
            )));
        }
        read::check_key_paths(paths, &target.key_names)?;
    }

    let forward = input.scan_index_forward != Some(false);
    let mut bounds = target.space.query(
        &cond.hash_values(),
        &cond.equal_values(),
        cond.range.as_ref().map(|r| &r.op),
    );
    if let Some(start) = &start {
        let at = Bound::Excluded(target.start_position(meta.id, start)?);
        if forward { bounds.0 = at } else { bounds.1 = at }
    }
    let mut page = engine
        .read_page(PageRequest {
            space: target.space,
            bounds,
            forward,
            limit: input.limit.map(|l| l as usize),
            max_bytes: PAGE_BYTES,
            segment: None,
        })
        .await?;
    // A condition on the whole primary key selects one item at most: there is nothing
    // to continue, and AWS refuses a start key for it ("...cannot be restarted").
    let one_item = target.index.is_none()
        && (target.key.range.is_none()
            || matches!(&cond.range, Some(p) if matches!(p.op, KeyOp::Eq(_))));
    page.truncated &= !one_item;
    if fetch {
        read::fetch_from_table(engine, &target, meta.id, &mut page)?;
    }
    read::respond(
        page,
        &Shape {
            filter: filter.as_ref(),
            projection: projection.as_ref(),
            select,
            key_names: &target.key_names,
            table_name: &meta.name,
            consistent: input.consistent_read == Some(true),
            return_consumed_capacity: input.return_consumed_capacity.as_deref(),
        },
    )
}

/// The start key's partition key values, after the checks AWS makes before looking at
/// the key condition: exactly the key attributes ("The provided starting key is
/// invalid"), the partition key attributes of the right type and size.
fn start_key_hash<'a>(
    start: &'a Item,
    target: &Target,
) -> Result<Vec<&'a AttributeValue>, DynamoError> {
    if start.len() != target.key_names.len() {
        return Err(DynamoError::validation("The provided starting key is invalid"));
    }
    target.key.hash_attrs().map(|h| start_key_part(start, h, true)).collect()
}

/// One key attribute of a start key (dynalite's `validateKeyPiece`: a missing attribute
/// makes the key invalid, a wrong type does not match the schema).
fn start_key_part<'a>(
    start: &'a Item,
    attr: &KeyAttribute,
    is_hash: bool,
) -> Result<&'a AttributeValue, DynamoError> {
    let value = start
        .get(&attr.name)
        .ok_or_else(|| DynamoError::validation("The provided starting key is invalid"))?;
    if !attr.ty.matches(value) {
        return Err(DynamoError::validation("The provided key element does not match the schema"));
    }
    check_value(attr, value, is_hash)?;
    Ok(value)
}

/// The start key must lie inside what the key condition selects. Messages and their
/// order: dynalite test/query.js (recorded from AWS). With a sort-key condition, a
/// partition mismatch reads "The query can return at most one row and cannot be
/// restarted", as AWS words it. `hash` and `range` are the start key's values, in
/// key-schema order (a multi-attribute key's sort key equalities are part of its
/// sort key predicate).
fn check_start_in_bounds(
    cond: &KeyCondition,
    hash: &[&AttributeValue],
    range: &[&AttributeValue],
    unique_keys: bool,
) -> Result<(), DynamoError> {
    let one_row =
        || DynamoError::validation("The query can return at most one row and cannot be restarted");
    let same_partition = hash == cond.hash_values().as_slice();
    let Some(part) = &cond.range else {
        if !same_partition {
            return Err(DynamoError::validation(
                "The provided starting key is outside query boundaries based on provided conditions",
            ));
        }
        return Ok(());
    };
    // On a table, a condition on the whole primary key names one item; an index's keys
    // are not unique, so there the query pages like any other.
    if unique_keys && matches!(part.op, KeyOp::Eq(_)) {
        return Err(one_row());
    }
    let equal = cond.equal_values();
    let predicate_holds = range.len() > equal.len()
        && range[..equal.len()] == equal[..]
        && part.op.matches(range[equal.len()]);
    if !range.is_empty() && !predicate_holds {
        return Err(DynamoError::validation(
            "The provided starting key does not match the range key predicate",
        ));
    }
    if !same_partition {
        return Err(one_row());
    }
    Ok(())
}
