//! Secondary indexes on the wire: the LocalSecondaryIndexes / GlobalSecondaryIndexes of
//! CreateTable with AWS's checks, their DescribeTable form, and UpdateTable's
//! GlobalSecondaryIndexUpdates (create with backfill, delete, throughput update).

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::{Value, json};

use super::DynamoError;
use super::tables::{KeySchemaElement, ProvisionedThroughput};
use crate::api::validate::Validator;
use crate::engine::catalog::{IndexMeta, ProjectionKind, Throughput};
use crate::engine::{KeyAttribute, KeySchema, TableCounters, TableMeta};

/// Most LSIs and GSIs a table may have, and most projected non-key attributes in all.
const MAX_LSIS: usize = 5;
const MAX_GSIS: usize = 20;
const MAX_PROJECTED: usize = 100;
/// Most partition key attributes, and most sort key attributes, of a GSI key.
const MAX_KEY_ATTRIBUTES: usize = 4;

#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectionInput {
    pub projection_type: Option<String>,
    pub non_key_attributes: Option<Vec<String>>,
}

/// A LocalSecondaryIndex or GlobalSecondaryIndex of a request (LSIs have no throughput).
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "PascalCase")]
pub struct IndexInput {
    pub index_name: Option<String>,
    pub key_schema: Option<Vec<KeySchemaElement>>,
    pub projection: Option<ProjectionInput>,
    pub provisioned_throughput: Option<ProvisionedThroughput>,
}

#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "PascalCase")]
pub struct IndexNameInput {
    pub index_name: Option<String>,
    pub provisioned_throughput: Option<ProvisionedThroughput>,
}

/// One entry of UpdateTable's GlobalSecondaryIndexUpdates.
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "PascalCase")]
pub struct GsiUpdate {
    pub create: Option<IndexInput>,
    pub delete: Option<IndexNameInput>,
    pub update: Option<IndexNameInput>,
}

fn invalid(message: impl std::fmt::Display) -> DynamoError {
    DynamoError::validation(format!("One or more parameter values were invalid: {message}"))
}

/// The member constraints of a list of index definitions (`path` is e.g.
/// "globalSecondaryIndexes").
pub fn check_members(v: &mut Validator, indexes: Option<&Vec<IndexInput>>, path: &str) {
    for (i, index) in indexes.into_iter().flatten().enumerate() {
        let at = format!("{path}.{}.member", i + 1);
        v.not_null(index.index_name.as_ref(), format_args!("{at}.indexName"));
        v.name(index.index_name.as_deref(), &format!("{at}.indexName"), 3);
        if v.not_null(index.key_schema.as_ref(), format_args!("{at}.keySchema"))
            && let Some(ks) = &index.key_schema
        {
            if ks.is_empty() {
                v.fail(
                    Some("[]"),
                    format_args!("{at}.keySchema"),
                    "have length greater than or equal to 1",
                );
            }
            // A GSI key may have up to four partition and four sort key attributes; the
            // service checks those counts, not the member constraint (AWS's model sets
            // no maximum for a GSI's KeySchema).
            if ks.len() > 2 && !path.starts_with("global") {
                v.fail(None, format_args!("{at}.keySchema"), "have length less than or equal to 2");
            }
            for (j, k) in ks.iter().enumerate() {
                let kat = format!("{at}.keySchema.{}.member", j + 1);
                v.not_null(k.attribute_name.as_ref(), format_args!("{kat}.attributeName"));
                v.length(k.attribute_name.as_deref(), format_args!("{kat}.attributeName"), 1, 255);
                v.not_null(k.key_type.as_ref(), format_args!("{kat}.keyType"));
                v.one_of(k.key_type.as_deref(), &format!("{kat}.keyType"), &["HASH", "RANGE"]);
            }
        }
        if v.not_null(index.projection.as_ref(), format_args!("{at}.projection"))
            && let Some(p) = &index.projection
        {
            v.one_of(
                p.projection_type.as_deref(),
                &format!("{at}.projection.projectionType"),
                &["ALL", "KEYS_ONLY", "INCLUDE"],
            );
            if p.non_key_attributes.as_ref().is_some_and(Vec::is_empty) {
                v.fail(
                    Some("[]"),
                    format_args!("{at}.projection.nonKeyAttributes"),
                    "have length greater than or equal to 1",
                );
            }
        }
        if let Some(t) = &index.provisioned_throughput {
            for (value, unit) in [
                (t.write_capacity_units, "writeCapacityUnits"),
                (t.read_capacity_units, "readCapacityUnits"),
            ] {
                let p = format!("{at}.provisionedThroughput.{unit}");
                v.not_null(value.as_ref(), &p);
                v.at_least(value, &p, 1);
            }
        }
    }
}

/// Builds one index from its definition, with AWS's checks (dynalite's recorded ones).
pub(super) fn build(
    input: &IndexInput,
    defs: &[KeyAttribute],
    table: &KeySchema,
    global: bool,
    pay_per_request: bool,
) -> Result<IndexMeta, DynamoError> {
    let name = input.index_name.clone().unwrap_or_default();
    let ks = input.key_schema.clone().unwrap_or_default();
    let names: Vec<&str> = ks.iter().map(|k| k.attribute_name.as_deref().unwrap_or("")).collect();
    let def_names: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
    if names.iter().any(|n| !def_names.contains(n)) {
        return Err(invalid(format!(
            "Some index key attributes are not defined in AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
            names.join(", "),
            def_names.join(", ")
        )));
    }
    let is_hash: Vec<bool> = ks.iter().map(|k| k.key_type.as_deref() == Some("HASH")).collect();
    let multi = global && (ks.len() > 2 || is_hash.get(1) == Some(&true));
    if names.iter().enumerate().any(|(i, n)| names[..i].contains(n)) {
        return Err(DynamoError::validation(if multi {
            // Recorded from AWS for multi-attribute keys (ack-api-quirks, October 2026).
            "The KeySchema contains multiple key attributes with the same name"
        } else {
            "Both the Hash Key and the Range Key element in the KeySchema have the same name"
        }));
    }
    if is_hash.first() != Some(&true) {
        return Err(DynamoError::validation(
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
        ));
    }
    if multi {
        check_multi_attribute_key(&is_hash)?;
    } else if ks.len() == 2 && is_hash[1] {
        return Err(DynamoError::validation(
            "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type",
        ));
    }
    if !global {
        if ks.len() != 2 {
            return Err(invalid(format!(
                "Index KeySchema does not have a range key for index: {name}"
            )));
        }
        if names[0] != table.hash.name {
            return Err(invalid(format!(
                "Index KeySchema does not have the same leading hash key as table KeySchema for index: {name}. index hash key: {}, table hash key: {}",
                names[0], table.hash.name
            )));
        }
    }
    let hash_count = is_hash.iter().take_while(|h| **h).count();
    let projection = input.projection.clone().unwrap_or_default();
    let kind = match projection.projection_type.as_deref() {
        None => return Err(invalid("Unknown ProjectionType: null")),
        Some("ALL") => ProjectionKind::All,
        Some("KEYS_ONLY") => ProjectionKind::KeysOnly,
        Some(_) => {
            ProjectionKind::Include(projection.non_key_attributes.clone().unwrap_or_default())
        }
    };
    if projection.non_key_attributes.is_some() && !matches!(kind, ProjectionKind::Include(_)) {
        return Err(invalid(format!(
            "ProjectionType is {}, but NonKeyAttributes is specified",
            kind.as_str()
        )));
    }
    let throughput = if global {
        match (&input.provisioned_throughput, pay_per_request) {
            (Some(_), true) => {
                return Err(invalid(format!(
                    "ProvisionedThroughput should not be specified for index: {name} when BillingMode is PAY_PER_REQUEST"
                )));
            }
            (None, false) => {
                return Err(invalid(format!(
                    "ProvisionedThroughput must be specified for index: {name}"
                )));
            }
            (Some(t), false) => Some(Throughput {
                read: t.read_capacity_units.unwrap_or(1),
                write: t.write_capacity_units.unwrap_or(1),
                ..Default::default()
            }),
            (None, true) => None,
        }
    } else {
        None
    };
    Ok(IndexMeta {
        id: 0,
        name,
        global,
        key_schema: key_schema(&names[..hash_count], &names[hash_count..], defs),
        projection: kind,
        throughput,
        backfilling: false,
    })
}

/// A multi-attribute GSI key's element order and counts, with AWS's messages (recorded
/// by ack-api-quirks' live probes, October 2026): partition key attributes first, at
/// most four of them and four sort key attributes.
fn check_multi_attribute_key(is_hash: &[bool]) -> Result<(), DynamoError> {
    let hash_count = is_hash.iter().take_while(|h| **h).count();
    if is_hash[hash_count..].iter().any(|h| *h) {
        return Err(invalid(
            "All HASH key attributes must precede RANGE key attributes in the KeySchema",
        ));
    }
    for (count, kind) in [(hash_count, "HASH"), (is_hash.len() - hash_count, "RANGE")] {
        if count > MAX_KEY_ATTRIBUTES {
            return Err(invalid(format!(
                "The KeySchema exceeds the maximum allowed number of {kind} key attributes"
            )));
        }
    }
    Ok(())
}

/// The key schema a request's key names make, typed from the attribute definitions:
/// partition key attributes, then sort key attributes. Callers have checked that there
/// is at least one partition key attribute and every name is defined.
pub(super) fn key_schema(hash: &[&str], range: &[&str], defs: &[KeyAttribute]) -> KeySchema {
    let attr =
        |n: &&str| defs.iter().find(|d| d.name == *n).cloned().expect("checked defined above");
    KeySchema {
        hash: attr(&hash[0]),
        more_hash: hash[1..].iter().map(attr).collect(),
        range: range.first().map(attr),
        more_range: range.iter().skip(1).map(attr).collect(),
    }
}

/// The indexes of a CreateTable request, checked as AWS does, ids assigned from 1.
pub fn create(
    lsis: Option<&Vec<IndexInput>>,
    gsis: Option<&Vec<IndexInput>>,
    defs: &[KeyAttribute],
    table: &KeySchema,
    pay_per_request: bool,
) -> Result<Vec<IndexMeta>, DynamoError> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for (list, global) in [(lsis, false), (gsis, true)] {
        let Some(list) = list else { continue };
        let kind = if global { "GlobalSecondaryIndexes" } else { "LocalSecondaryIndexes" };
        if list.is_empty() {
            return Err(invalid(format!("List of {kind} is empty")));
        }
        if !global && table.range.is_none() {
            return Err(invalid(
                "Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex",
            ));
        }
        for input in list {
            let index = build(input, defs, table, global, pay_per_request)?;
            if !seen.insert(index.name.clone()) {
                return Err(invalid(format!("Duplicate index name: {}", index.name)));
            }
            out.push(index);
        }
        if !global && list.len() > MAX_LSIS {
            return Err(invalid("Number of LocalSecondaryIndexes exceeds per-table limit of 5"));
        }
        if global && list.len() > MAX_GSIS {
            return Err(invalid("GlobalSecondaryIndex count exceeds the per-table limit of 20"));
        }
    }
    check_projected_count(&out)?;
    for (i, index) in out.iter_mut().enumerate() {
        index.id = i as u32 + 1;
    }
    Ok(out)
}

fn check_projected_count(indexes: &[IndexMeta]) -> Result<(), DynamoError> {
    let projected: usize = indexes
        .iter()
        .map(|i| match &i.projection {
            ProjectionKind::Include(names) => names.len(),
            _ => 0,
        })
        .sum();
    if projected > MAX_PROJECTED {
        return Err(invalid(
            "The sum of all projected attributes in all local and global secondary indexes must not exceed 100",
        ));
    }
    Ok(())
}

/// With indexes, every attribute definition must be used by some key ("Some
/// AttributeDefinitions are not used"); `used` lists the key names in use.
pub fn check_definitions_used(defs: &[KeyAttribute], used: &[&str]) -> Result<(), DynamoError> {
    if defs.iter().any(|d| !used.contains(&d.name.as_str())) {
        let mut used: Vec<&str> = used.to_vec();
        used.dedup();
        return Err(invalid(format!(
            "Some AttributeDefinitions are not used. AttributeDefinitions: [{}], keys used: [{}]",
            defs.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(", "),
            used.join(", ")
        )));
    }
    Ok(())
}

/// Every key attribute name the table and its indexes use, in order, without repeats.
pub fn keys_used<'a>(table: &'a KeySchema, indexes: &'a [IndexMeta]) -> Vec<&'a str> {
    let mut used: Vec<&str> = Vec::new();
    for name in table.names().chain(indexes.iter().flat_map(|i| i.key_schema.names())) {
        if !used.contains(&name) {
            used.push(name);
        }
    }
    used
}

/// The DescribeTable form of the table's indexes: (LocalSecondaryIndexes, GlobalSecondaryIndexes).
pub fn describe(
    meta: &TableMeta,
    counters: &TableCounters,
    table_arn: &str,
) -> (Option<Value>, Option<Value>) {
    let (mut lsis, mut gsis) = (Vec::new(), Vec::new());
    for index in &meta.indexes {
        let key_schema: Vec<Value> = index
            .key_schema
            .attrs()
            .map(|(a, hash)| {
                json!({"AttributeName": a.name, "KeyType": if hash { "HASH" } else { "RANGE" }})
            })
            .collect();
        let mut projection = json!({"ProjectionType": index.projection.as_str()});
        if let ProjectionKind::Include(names) = &index.projection {
            projection["NonKeyAttributes"] = json!(names);
        }
        let (items, bytes) = counters.index(index.id);
        let mut d = json!({
            "IndexName": index.name,
            "KeySchema": key_schema,
            "Projection": projection,
            "IndexSizeBytes": bytes,
            "ItemCount": items,
            "IndexArn": index.arn(table_arn),
        });
        if index.global {
            d["IndexStatus"] = json!(if index.backfilling { "CREATING" } else { "ACTIVE" });
            if index.backfilling {
                d["Backfilling"] = json!(true);
            }
            let t = index.throughput.clone().unwrap_or_default();
            d["ProvisionedThroughput"] = json!({
                "NumberOfDecreasesToday": t.decreases_today,
                "ReadCapacityUnits": t.read,
                "WriteCapacityUnits": t.write,
            });
            gsis.push(d);
        } else {
            lsis.push(d);
        }
    }
    let some = |v: Vec<Value>| (!v.is_empty()).then_some(Value::Array(v));
    (some(lsis), some(gsis))
}

/// The one index change an UpdateTable may make, checked against the table.
pub enum IndexChange {
    Create(IndexMeta),
    Delete(String),
    Throughput(String, Throughput),
}

/// Parses GlobalSecondaryIndexUpdates against `meta` (with `defs` the request's
/// AttributeDefinitions merged over the table's).
pub fn plan_update(
    updates: &[GsiUpdate],
    meta: &TableMeta,
    defs: &[KeyAttribute],
) -> Result<Vec<IndexChange>, DynamoError> {
    let mut changes = Vec::new();
    for update in updates {
        match (&update.create, &update.delete, &update.update) {
            (Some(create), None, None) => {
                let name = create.index_name.clone().unwrap_or_default();
                if meta.index(&name).is_some() {
                    return Err(DynamoError::validation(format!(
                        "One or more parameter values were invalid: Index already exists: {name}"
                    )));
                }
                let index = build(
                    create,
                    defs,
                    &meta.key_schema,
                    true,
                    meta.billing_mode == "PAY_PER_REQUEST",
                )?;
                changes.push(IndexChange::Create(index));
            }
            (None, Some(delete), None) => {
                let name = delete.index_name.clone().unwrap_or_default();
                if meta.index(&name).is_none_or(|i| !i.global) {
                    return Err(DynamoError::ResourceNotFound(format!(
                        "Requested resource not found: Index: {name} not found"
                    )));
                }
                changes.push(IndexChange::Delete(name));
            }
            (None, None, Some(u)) => {
                let name = u.index_name.clone().unwrap_or_default();
                let Some(index) = meta.index(&name).filter(|i| i.global) else {
                    return Err(DynamoError::ResourceNotFound(format!(
                        "Requested resource not found: Index: {name} not found"
                    )));
                };
                let Some(t) = &u.provisioned_throughput else {
                    return Err(invalid(
                        "ProvisionedThroughput must be specified for index update",
                    ));
                };
                let mut throughput = index.throughput.clone().unwrap_or_default();
                throughput.read = t.read_capacity_units.unwrap_or(throughput.read);
                throughput.write = t.write_capacity_units.unwrap_or(throughput.write);
                changes.push(IndexChange::Throughput(name, throughput));
            }
            _ => {
                return Err(invalid(
                    "One of GlobalSecondaryIndexUpdate.Create, GlobalSecondaryIndexUpdate.Update or GlobalSecondaryIndexUpdate.Delete must be specified",
                ));
            }
        }
    }
    let online = changes.iter().filter(|c| !matches!(c, IndexChange::Throughput(..))).count();
    let creating = meta.indexes.iter().any(|i| i.backfilling);
    if online > 1 || (online == 1 && creating) {
        return Err(DynamoError::LimitExceeded(
            "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table".into(),
        ));
    }
    if let Some(IndexChange::Create(_)) = changes.first() {
        let gsis = meta.indexes.iter().filter(|i| i.global).count();
        if gsis >= MAX_GSIS {
            return Err(invalid("GlobalSecondaryIndex count exceeds the per-table limit of 20"));
        }
    }
    Ok(changes)
}
