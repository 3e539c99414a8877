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
use crate::engine::read::{KeySpace, Page};
use crate::engine::{KeyAttribute, TableMeta};
use crate::model::expr::{Condition, Operand, Path, Projection};
use crate::model::{Item, value};

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
    /// The partition key of the key space.
    pub hash: KeyAttribute,
    /// Its sort key, if any.
    pub range: Option<KeyAttribute>,
    /// The attributes a LastEvaluatedKey holds: the table's key, plus an index's.
    pub key_names: Vec<String>,
}

/// The key space `index_name` names on `meta`'s table (the table itself when `None`).
/// Secondary indexes are not built yet, so every index name is unknown (the wording is
/// dynalite's, recorded from AWS: a ValidationException).
pub fn target(meta: &TableMeta, index_name: Option<&str>) -> Result<Target, DynamoError> {
    if let Some(name) = index_name {
        return Err(DynamoError::validation(format!(
            "The table does not have the specified index: {name}"
        )));
    }
    Ok(Target {
        space: KeySpace::Table { table_id: meta.id },
        hash: meta.key_schema.hash.clone(),
        range: meta.key_schema.range.clone(),
        key_names: meta.key_schema.names().map(str::to_string).collect(),
    })
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
pub fn start_key(raw: Option<&Value>) -> Result<Option<Item>, DynamoError> {
    let Some(raw) = raw.filter(|v| !v.is_null()) else { return Ok(None) };
    value::item_from_json(raw).map(Some).map_err(|e| match DynamoError::from(e) {
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
        let bad = serde_json::json!({"a": {"S": "x", "N": "1"}});
        let e = start_key(Some(&bad)).unwrap_err().to_string();
        assert!(e.starts_with("The provided starting key is invalid: "), "{e}");
        assert_eq!(start_key(None).unwrap(), None);
    }
}
