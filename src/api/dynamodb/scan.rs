//! Scan: every item of the table (or one segment of it, for parallel scans), a page
//! at a time, filtered and projected.
//!
//! Items come in storage-key order: partitions by their key bytes, and within one
//! partition by sort key. AWS promises no order, only that a LastEvaluatedKey resumes
//! where the page stopped, which the storage order gives for free. Segments split a
//! stable hash of the partition key (`engine::read::segment_of`), so each partition
//! belongs to exactly one segment and resuming inside a segment never leaves it.

use std::collections::HashMap;
use std::ops::Bound;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::DynamoError;
use super::items::{expression_context, no_mixing, usable_table};
use super::keys;
use super::query::SELECT_VALUES;
use super::read::{self, ReadOutput, Shape};
use crate::api::validate::Validator;
use crate::api::wire::WireValues;
use crate::engine::Engine;
use crate::engine::read::{PAGE_BYTES, PageRequest, Segment, segment_of};
use crate::model::expr::{self, ExprKind};
use crate::model::legacy::shape::{self, Structure};
use crate::model::{legacy, value};
use crate::protocol::RequestContext;
use crate::storage::keys::hash_component;

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ScanInput {
    pub table_name: Option<String>,
    pub index_name: Option<String>,
    pub attributes_to_get: Option<Vec<String>>,
    pub limit: Option<i64>,
    pub select: Option<String>,
    #[serde(default, deserialize_with = "crate::model::legacy::raw::deserialize")]
    pub scan_filter: Option<Value>,
    pub conditional_operator: Option<String>,
    /// Its text: decoded by the streaming item decoder, never as a tree.
    pub exclusive_start_key: Option<Box<serde_json::value::RawValue>>,
    pub return_consumed_capacity: Option<String>,
    pub total_segments: Option<i64>,
    pub segment: Option<i64>,
    pub projection_expression: Option<String>,
    pub filter_expression: Option<String>,
    pub expression_attribute_names: Option<HashMap<String, String>>,
    pub expression_attribute_values: Option<WireValues>,
    pub consistent_read: Option<bool>,
}

/// Most segments of a parallel scan (the SDK model's `ScanTotalSegments`).
const MAX_TOTAL_SEGMENTS: i64 = 1_000_000;

/// The member constraints, in the order AWS lists them.
fn validate(input: &ScanInput) -> Result<(), DynamoError> {
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
    v.at_least(input.segment, "segment", 0);
    v.at_most(input.segment, "segment", MAX_TOTAL_SEGMENTS - 1);
    v.one_of(input.select.as_deref(), "select", &SELECT_VALUES);
    v.extend(legacy::filter_violations(input.scan_filter.as_ref().unwrap_or(&null), "ScanFilter"));
    v.extend(legacy::conditional_operator_violations(input.conditional_operator.as_deref()));
    v.at_least(input.total_segments, "totalSegments", 1);
    v.at_most(input.total_segments, "totalSegments", MAX_TOTAL_SEGMENTS);
    v.name(input.index_name.as_deref(), "indexName", 3);
    v.finish().map_err(DynamoError::Validation)
}

/// Segment and TotalSegments come together, Segment below TotalSegments (messages
/// recorded from AWS by nubo-db's conformance suite).
fn segment(input: &ScanInput) -> Result<Option<Segment>, DynamoError> {
    match (input.segment, input.total_segments) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(DynamoError::validation(
            "The TotalSegments parameter is required but was not present in the request when Segment parameter is present",
        )),
        (None, Some(_)) => Err(DynamoError::validation(
            "The Segment parameter is required but was not present in the request when parameter TotalSegments is present",
        )),
        (Some(index), Some(total)) if index >= total => Err(DynamoError::validation(format!(
            "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: {index} is not less than TotalSegments: {total}"
        ))),
        // Both were range-checked by `validate`.
        (Some(index), Some(total)) => {
            Ok(Some(Segment { index: index as u32, total: total as u32 }))
        }
    }
}

/// Scan.
pub async fn scan(
    engine: &Arc<Engine>,
    _ctx: &RequestContext,
    input: ScanInput,
) -> Result<ReadOutput, DynamoError> {
    super::items::check_item_table_name(input.table_name.as_deref())?;
    let null = Value::Null;
    shape::check(input.scan_filter.as_ref().unwrap_or(&null), Structure::Condition)?;
    if let Some(esk) = &input.exclusive_start_key {
        value::check_item_str(esk.get())?;
    }
    validate(&input)?;
    no_mixing(
        &[
            ("AttributesToGet", input.attributes_to_get.is_some()),
            ("ScanFilter", input.scan_filter.is_some()),
            ("ConditionalOperator", input.conditional_operator.is_some()),
        ],
        &[
            ("ProjectionExpression", input.projection_expression.is_some()),
            ("FilterExpression", input.filter_expression.is_some()),
        ],
    )?;
    let legacy_projection =
        input.attributes_to_get.as_deref().map(legacy::attributes_to_get).transpose()?;
    let legacy_filter = legacy::scan_filter(
        input.scan_filter.as_ref().unwrap_or(&null),
        input.conditional_operator.as_deref(),
    )?;
    let start = read::start_key(input.exclusive_start_key.as_deref())?;
    let segment = segment(&input)?;
    let mut ctx = expression_context(
        input.expression_attribute_names.as_ref(),
        input.expression_attribute_values.as_ref(),
        input.filter_expression.is_some() || input.projection_expression.is_some(),
    )?;
    let filter_expr = input
        .filter_expression
        .as_deref()
        .map(|e| expr::parse_condition(e, ExprKind::Filter, &mut ctx))
        .transpose()?;
    let projection_expr =
        input.projection_expression.as_deref().map(|e| expr::parse_projection(e, &mut ctx));
    let projection_expr = projection_expr.transpose()?;
    ctx.finish()?;

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
    // On a table, every fault of the start key reads the same (dynalite test/scan.js,
    // recorded from AWS; nubo-db's suite agrees).
    let start_hash = match &start {
        Some(s) if target.index.is_none() => Some(
            keys::from_key(&meta, s)
                .map_err(|e| {
                    DynamoError::validation(format!("The provided starting key is invalid: {e}"))
                })?
                .hash,
        ),
        Some(s) => Some(read::index_start_key(&target, s)?.clone()),
        None => None,
    };
    if let (Some(hash), Some(seg)) = (&start_hash, segment)
        && segment_of(&hash_component(hash), seg.total) != seg.index
    {
        // Recorded from AWS (Scylla's alternator tests, PR 9270 review).
        return Err(DynamoError::validation(format!(
            "The provided starting key is invalid: Invalid ExclusiveStartKey. Please use ExclusiveStartKey with correct Segment. TotalSegments: {} Segment: {}",
            seg.total, seg.index
        )));
    }
    let projection = projection_expr.or(legacy_projection);
    read::check_key_paths(projection.iter().flat_map(|p| &p.paths), &target.key_names)?;
    let filter = filter_expr.or(legacy_filter);
    if let Some(f) = &filter {
        read::check_key_paths(read::condition_paths(f), &target.key_names)?;
    }

    let mut bounds = target.space.whole();
    if let Some(start) = &start {
        bounds.0 = Bound::Excluded(target.start_position(meta.id, start)?);
    }
    let mut page = engine
        .read_page(PageRequest {
            space: target.space,
            bounds,
            forward: true,
            limit: input.limit.map(|l| l as usize),
            max_bytes: PAGE_BYTES,
            segment,
        })
        .await?;
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
