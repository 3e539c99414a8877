//! What Query and Scan share: the key space a request reads (the table, or later an
//! index), Select, ExclusiveStartKey decoding, the key-attribute rules for filters and
//! projections, and turning one page of read items into the response.
//!
//! Messages are AWS's as recorded by dynalite's tests (test/query.js, test/scan.js),
//! DynamoDB Local's decompiled `PaginatingFunction.validateSelect` and nubo-db's
//! dynamodb-conformance suite; each check cites where its wording comes from.

use serde::Serialize;
use serde_json::Value;

use super::DynamoError;
use super::items::consumed;
use crate::engine::catalog::{IndexMeta, ProjectionKind};
use crate::engine::read::{KeySpace, Page};
use crate::engine::{Engine, KeyAttribute, KeySchema, TableMeta};
use crate::model::expr::{Condition, Operand, Path, Projection};
use crate::model::key_limits::check_key_size;
use crate::model::{AttributeValue, Item, value};
use crate::storage::keys;

/// The output of Query and Scan.
#[derive(Serialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ReadOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<Value>>,
    pub count: usize,
    pub scanned_count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_evaluated_key: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumed_capacity: Option<Value>,
}

/// What a request reads: a key space and its key schema.
pub struct Target {
    pub space: KeySpace,
    /// The key schema of the key space: the table's, or the index's (which may have
    /// multi-attribute keys).
    pub key: KeySchema,
    /// The attributes a LastEvaluatedKey holds: the table's key, plus an index's.
    pub key_names: Vec<String>,
    /// The index read, if any.
    pub index: Option<IndexMeta>,
    /// The table's own primary key (an index's entries also carry it).
    pub table_key: KeySchema,
}

impl Target {
    /// Where a read resumes after `start` (an ExclusiveStartKey already checked to hold
    /// this target's key attributes): an item key, or an index key followed by the
    /// item's own key.
    pub fn start_position(&self, table_id: u64, start: &Item) -> Result<Vec<u8>, DynamoError> {
        let invalid = || DynamoError::validation("The provided starting key is invalid");
        // Every key value, the table's and the index's, within the key limits: a value
        // past them is no key anything was stored under (nor one the store can take).
        for (attr, is_hash) in self.table_key.attrs().chain(self.key.attrs()) {
            if let Some(v) = start.get(&attr.name) {
                check_key_size(v, is_hash).map_err(|m| {
                    DynamoError::validation(format!("The provided starting key is invalid: {m}"))
                })?;
            }
        }
        let get = |a: &KeyAttribute| start.get(&a.name).ok_or_else(invalid);
        let table_range = self.table_key.range.as_ref().map(get).transpose()?;
        let item_key = keys::item_key(table_id, get(&self.table_key.hash)?, table_range);
        let hash: Vec<&AttributeValue> =
            self.key.hash_attrs().map(get).collect::<Result<_, _>>()?;
        let range: Vec<&AttributeValue> =
            self.key.range_attrs().map(get).collect::<Result<_, _>>()?;
        Ok(self.space.position(&hash, &range, &item_key))
    }

    /// Whether the target is a global secondary index.
    pub fn global(&self) -> bool {
        self.index.as_ref().is_some_and(|i| i.global)
    }
}

/// The key space `index_name` names on `meta`'s table (the table itself when `None`),
/// with AWS's errors for a missing index, a GSI still being backfilled and a
/// consistent read of a GSI.
pub fn target(
    meta: &TableMeta,
    index_name: Option<&str>,
    consistent: bool,
) -> Result<Target, DynamoError> {
    let Some(name) = index_name else {
        return Ok(Target {
            space: KeySpace::Table { table_id: meta.id },
            key: meta.key_schema.clone(),
            key_names: meta.key_schema.names().map(str::to_string).collect(),
            index: None,
            table_key: meta.key_schema.clone(),
        });
    };
    // The wording is dynalite's, recorded from AWS: a ValidationException.
    let index = meta.index(name).ok_or_else(|| {
        DynamoError::validation(format!("The table does not have the specified index: {name}"))
    })?;
    if index.global && consistent {
        return Err(DynamoError::validation(
            "Consistent reads are not supported on global secondary indexes",
        ));
    }
    if index.backfilling {
        return Err(DynamoError::validation(format!(
            "Cannot read from backfilling global secondary index: {name}"
        )));
    }
    let mut key_names: Vec<String> = meta.key_schema.names().map(str::to_string).collect();
    for n in index.key_schema.names() {
        if !key_names.iter().any(|k| k == n) {
            key_names.push(n.to_string());
        }
    }
    Ok(Target {
        space: KeySpace::Index { table_id: meta.id, index_id: index.id },
        key: index.key_schema.clone(),
        key_names,
        index: Some(index.clone()),
        table_key: meta.key_schema.clone(),
    })
}

/// Checks Select against the index's projection: a GSI holds only what it projects
/// (AWS refuses ALL_ATTRIBUTES on one that does not project ALL); an LSI that does not
/// project everything answers ALL_ATTRIBUTES and specific attributes from the table.
/// Returns whether items must be fetched from the table.
pub fn check_index_select(target: &Target, select: Select) -> Result<bool, DynamoError> {
    let Some(index) = &target.index else { return Ok(false) };
    let all = matches!(index.projection, ProjectionKind::All);
    match select {
        Select::All if index.global && !all => Err(DynamoError::validation(format!(
            "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index {} because its projection type is not ALL",
            index.name
        ))),
        Select::All | Select::Specific => Ok(!index.global && !all),
        Select::AllProjected | Select::Count => Ok(false),
    }
}

/// Checks an index read's ExclusiveStartKey: exactly the table's and the index's key
/// attributes, of their types. Returns the index partition key value.
pub fn index_start_key<'a>(
    target: &Target,
    start: &'a Item,
) -> Result<&'a AttributeValue, DynamoError> {
    let invalid = || DynamoError::validation("The provided starting key is invalid");
    if start.len() != target.key_names.len() {
        return Err(invalid());
    }
    for (attr, _) in target.table_key.attrs().chain(target.key.attrs()) {
        let v = start.get(&attr.name).ok_or_else(invalid)?;
        if !attr.ty.matches(v) {
            return Err(invalid());
        }
    }
    start.get(&target.key.hash.name).ok_or_else(invalid)
}

/// Replaces each entry of an LSI page by its table item, for reads that want more
/// than the index projects (the entry holds the table key). Entries whose item is gone
/// meanwhile keep their projection.
pub fn fetch_from_table(
    engine: &Engine,
    target: &Target,
    table_id: u64,
    page: &mut Page,
) -> Result<(), DynamoError> {
    for entry in &mut page.items {
        let Some(hash) = entry.get(&target.table_key.hash.name) else { continue };
        let range = target.table_key.range.as_ref().and_then(|r| entry.get(&r.name));
        if let Some(item) = engine.get_item(&keys::item_key(table_id, hash, range))? {
            *entry = item;
        }
    }
    Ok(())
}

/// What a read returns per item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Select {
    /// Every attribute of the item.
    All,
    /// The attributes projected into the index read.
    AllProjected,
    /// The attributes of the ProjectionExpression or AttributesToGet.
    Specific,
    /// No items: only Count and ScannedCount.
    Count,
}

/// Resolves `Select` against the projection parameters, in DynamoDB Local's
/// `validateSelect` order (its messages agree with nubo-db's AWS captures: "Cannot
/// specify the ProjectionExpression when choosing to get ALL_ATTRIBUTES", "...only the
/// Count", "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName",
/// the last one also on a Scan).
pub fn select(
    select: Option<&str>,
    attributes_to_get: bool,
    projection_expression: bool,
    index: bool,
) -> Result<Select, DynamoError> {
    let given = if attributes_to_get {
        Some("AttributesToGet")
    } else if projection_expression {
        Some("ProjectionExpression")
    } else {
        None
    };
    let cannot = |what: &str, choice: &str| {
        DynamoError::validation(format!("Cannot specify the {what} when choosing to get {choice}"))
    };
    match select {
        None if given.is_some() => Ok(Select::Specific),
        None if index => Ok(Select::AllProjected),
        None => Ok(Select::All),
        Some("ALL_ATTRIBUTES") => match given {
            Some(what) => Err(cannot(what, "ALL_ATTRIBUTES")),
            None => Ok(Select::All),
        },
        Some("ALL_PROJECTED_ATTRIBUTES") => match given {
            Some(what) => Err(cannot(what, "ALL_PROJECTED_ATTRIBUTES")),
            None if !index => Err(DynamoError::validation(
                "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName",
            )),
            None => Ok(Select::AllProjected),
        },
        Some("COUNT") => match given {
            Some(what) => Err(cannot(what, "only the Count")),
            None => Ok(Select::Count),
        },
        // SPECIFIC_ATTRIBUTES (anything else was refused by the enum check).
        Some(_) => match given {
            Some(_) => Ok(Select::Specific),
            None => Err(DynamoError::validation(
                "Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES",
            )),
        },
    }
}

/// Decodes an ExclusiveStartKey (its JSON types were checked with the rest of the
/// request). AWS prefixes the attribute-value errors found in it with "The provided
/// starting key is invalid: " (dynalite validations/query.js and scan.js).
pub fn start_key(raw: Option<&serde_json::value::RawValue>) -> Result<Option<Item>, DynamoError> {
    let Some(raw) = raw.filter(|v| v.get() != "null") else { return Ok(None) };
    value::item_from_str(raw.get()).map(Some).map_err(|e| match DynamoError::from(e) {
        DynamoError::Validation(m) => {
            DynamoError::Validation(format!("The provided starting key is invalid: {m}"))
        }
        other => other,
    })
}

/// Every document path a condition reads, in the order written.
pub fn condition_paths(cond: &Condition) -> Vec<&Path> {
    fn operand<'a>(o: &'a Operand, out: &mut Vec<&'a Path>) {
        match o {
            Operand::Path(p) => out.push(p),
            Operand::Size(inner) => operand(inner, out),
            Operand::Value(_) => {}
        }
    }
    fn walk<'a>(c: &'a Condition, out: &mut Vec<&'a Path>) {
        match c {
            Condition::Compare(a, _, b)
            | Condition::BeginsWith(a, b)
            | Condition::Contains(a, b) => {
                operand(a, out);
                operand(b, out);
            }
            Condition::Between(a, b, c) => [a, b, c].into_iter().for_each(|o| operand(o, out)),
            Condition::In(a, list) => std::iter::once(a).chain(list).for_each(|o| operand(o, out)),
            Condition::AttributeExists(p) | Condition::AttributeNotExists(p) => out.push(p),
            Condition::AttributeType(a, _) => operand(a, out),
            Condition::And(a, b) | Condition::Or(a, b) => {
                walk(a, out);
                walk(b, out);
            }
            Condition::Not(a) => walk(a, out),
        }
    }
    let mut out = Vec::new();
    walk(cond, &mut out);
    out
}

/// Key attributes are scalars, so AWS refuses any path into one ("Key attributes must
/// be scalars; list random access '[]' and map lookup '.' are not allowed: Key: a",
/// dynalite test/scan.js and test/getItem.js, recorded from AWS).
pub fn check_key_paths<'a>(
    paths: impl IntoIterator<Item = &'a Path>,
    key_names: &[String],
) -> Result<(), DynamoError> {
    for path in paths {
        if path.0.len() > 1 && key_names.iter().any(|k| k == path.top()) {
            return Err(DynamoError::validation(format!(
                "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: Key: {}",
                path.top()
            )));
        }
    }
    Ok(())
}

/// How the items of a page become the response.
pub struct Shape<'a> {
    pub filter: Option<&'a Condition>,
    pub projection: Option<&'a Projection>,
    pub select: Select,
    pub key_names: &'a [String],
    pub table_name: &'a str,
    pub consistent: bool,
    pub return_consumed_capacity: Option<&'a str>,
}

/// Filters and projects a page. Count and ScannedCount count the items after and
/// before the filter; a page cut short by Limit or the 1 MB cap carries the key of the
/// last item read (filtered out or not) as LastEvaluatedKey.
pub fn respond(page: Page, shape: &Shape<'_>) -> Result<ReadOutput, DynamoError> {
    let scanned_count = page.items.len();
    let last_evaluated_key = match page.items.last() {
        Some(last) if page.truncated => {
            let key: Item = shape
                .key_names
                .iter()
                .filter_map(|k| last.get(k).map(|v| (k.clone(), v.clone())))
                .collect();
            Some(value::item_to_json(&key))
        }
        _ => None,
    };
    let mut items = Vec::new();
    let mut count = 0;
    for item in &page.items {
        if let Some(filter) = shape.filter
            && !filter.eval(item).map_err(|e| DynamoError::validation(e.message()))?
        {
            continue;
        }
        count += 1;
        match (shape.select, shape.projection) {
            (Select::Count, _) => {}
            (_, Some(p)) => items.push(value::item_to_json(&p.apply(item))),
            (_, None) => items.push(value::item_to_json(item)),
        }
    }
    // One read of the summed size, rounded up to 4 KB, at least one unit; eventually
    // consistent reads cost half (as GetItem's).
    let units = page.bytes.div_ceil(4096).max(1) as f64 * if shape.consistent { 1.0 } else { 0.5 };
    Ok(ReadOutput {
        items: (shape.select != Select::Count).then_some(items),
        count,
        scanned_count,
        last_evaluated_key,
        consumed_capacity: consumed(shape.table_name, shape.return_consumed_capacity, units),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(r: Result<Select, DynamoError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn select_rules() {
        assert_eq!(select(None, false, false, false).unwrap(), Select::All);
        assert_eq!(select(None, false, true, false).unwrap(), Select::Specific);
        assert_eq!(select(None, false, false, true).unwrap(), Select::AllProjected);
        assert_eq!(
            err(select(Some("ALL_ATTRIBUTES"), false, true, false)),
            "Cannot specify the ProjectionExpression when choosing to get ALL_ATTRIBUTES"
        );
        assert_eq!(
            err(select(Some("COUNT"), true, false, false)),
            "Cannot specify the AttributesToGet when choosing to get only the Count"
        );
        assert_eq!(
            err(select(Some("ALL_PROJECTED_ATTRIBUTES"), false, true, false)),
            "Cannot specify the ProjectionExpression when choosing to get ALL_PROJECTED_ATTRIBUTES"
        );
        assert_eq!(
            err(select(Some("ALL_PROJECTED_ATTRIBUTES"), false, false, false)),
            "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName"
        );
        assert_eq!(
            err(select(Some("SPECIFIC_ATTRIBUTES"), false, false, false)),
            "Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES"
        );
        assert_eq!(select(Some("COUNT"), false, false, false).unwrap(), Select::Count);
    }

    #[test]
    fn start_key_errors_are_prefixed() {
        let bad = serde_json::value::RawValue::from_string(r#"{"a": {"S": "x", "N": "1"}}"#.into());
        let e = start_key(Some(&bad.unwrap())).unwrap_err().to_string();
        assert!(e.starts_with("The provided starting key is invalid: "), "{e}");
        assert_eq!(start_key(None).unwrap(), None);
    }
}
