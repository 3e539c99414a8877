//! CreateTable: its input, AWS's checks in AWS's order (member constraints, billing,
//! key schema, indexes, stream, tags) and the new table's record.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::json;

use super::DynamoError;
use super::indexes::{self, IndexInput};
use super::tables::{
    AttributeDefinition, KeySchemaElement, MAX_CAPACITY, ProvisionedThroughput,
    StreamSpecification, TableDescriptionOutput, Tag, describe, invalid,
};
use crate::api::validate::Validator;
use crate::engine::catalog::Throughput;
use crate::engine::streams::ViewType;
use crate::engine::{
    Engine, EngineError, KeyAttribute, KeySchema, ScalarType, TableCounters, TableMeta,
};
use crate::protocol::RequestContext;

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct CreateTableInput {
    pub table_name: Option<String>,
    pub attribute_definitions: Option<Vec<AttributeDefinition>>,
    pub key_schema: Option<Vec<KeySchemaElement>>,
    pub billing_mode: Option<String>,
    pub provisioned_throughput: Option<ProvisionedThroughput>,
    pub stream_specification: Option<StreamSpecification>,
    #[serde(rename = "SSESpecification")]
    pub sse_specification: Option<super::tables::SseSpecification>,
    pub tags: Option<Vec<Tag>>,
    pub deletion_protection_enabled: Option<bool>,
    pub table_class: Option<String>,
    pub local_secondary_indexes: Option<Vec<IndexInput>>,
    pub global_secondary_indexes: Option<Vec<IndexInput>>,
}

fn java_list(elements: &[KeySchemaElement]) -> String {
    let shown: Vec<String> = elements
        .iter()
        .map(|e| {
            format!(
                "KeySchemaElement(attributeName={}, keyType={})",
                e.attribute_name.as_deref().unwrap_or("null"),
                e.key_type.as_deref().unwrap_or("null")
            )
        })
        .collect();
    format!("[{}]", shown.join(", "))
}

fn validate_create(input: &CreateTableInput) -> Result<(), DynamoError> {
    // TableName is a member constraint like the others, as AWS reports it today
    // (nubo-db/dynamodb-conformance validation-ordering/createTable, AWS).
    let name = input.table_name.as_deref();
    let mut v = Validator::new();
    v.not_null(name, "tableName");
    if v.not_null(input.attribute_definitions.as_ref(), "attributeDefinitions")
        && let Some(defs) = &input.attribute_definitions
    {
        for (i, d) in defs.iter().enumerate() {
            let at = format!("attributeDefinitions.{}.member", i + 1);
            v.not_null(d.attribute_name.as_ref(), format_args!("{at}.attributeName"));
            // KeySchemaAttributeName in the model: key attribute names are 1 to 255.
            v.length(d.attribute_name.as_deref(), format_args!("{at}.attributeName"), 1, 255);
            v.not_null(d.attribute_type.as_ref(), format_args!("{at}.attributeType"));
            v.one_of(d.attribute_type.as_deref(), &format!("{at}.attributeType"), &["B", "N", "S"]);
        }
    }
    v.name(name, "tableName", 3);
    if let Some(t) = &input.provisioned_throughput {
        for (value, path) in [
            (t.write_capacity_units, "provisionedThroughput.writeCapacityUnits"),
            (t.read_capacity_units, "provisionedThroughput.readCapacityUnits"),
        ] {
            v.not_null(value.as_ref(), path);
            v.at_least(value, path, 1);
        }
    }
    if v.not_null(input.key_schema.as_ref(), "keySchema")
        && let Some(ks) = &input.key_schema
    {
        if ks.is_empty() {
            v.fail(Some("[]"), "keySchema", "have length greater than or equal to 1");
        }
        if ks.len() > 2 {
            v.fail(Some(&java_list(ks)), "keySchema", "have length less than or equal to 2");
        }
        for (i, k) in ks.iter().enumerate() {
            let at = format!("keySchema.{}.member", i + 1);
            v.not_null(k.attribute_name.as_ref(), format_args!("{at}.attributeName"));
            v.length(k.attribute_name.as_deref(), format_args!("{at}.attributeName"), 1, 255);
            v.not_null(k.key_type.as_ref(), format_args!("{at}.keyType"));
            v.one_of(k.key_type.as_deref(), &format!("{at}.keyType"), &["HASH", "RANGE"]);
        }
    }
    // GSIs before LSIs, whatever order the request names them in (AWS,
    // nubo-db/dynamodb-conformance validation-ordering/createTable).
    indexes::check_members(
        &mut v,
        input.global_secondary_indexes.as_ref(),
        "globalSecondaryIndexes",
    );
    indexes::check_members(&mut v, input.local_secondary_indexes.as_ref(), "localSecondaryIndexes");
    v.one_of(input.billing_mode.as_deref(), "billingMode", &["PROVISIONED", "PAY_PER_REQUEST"]);
    if let Some(s) = &input.stream_specification {
        v.not_null(s.stream_enabled.as_ref(), "streamSpecification.streamEnabled");
        v.one_of(
            s.stream_view_type.as_deref(),
            "streamSpecification.streamViewType",
            &["NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"],
        );
    }
    v.one_of(
        input.table_class.as_deref(),
        "tableClass",
        &["STANDARD", "STANDARD_INFREQUENT_ACCESS"],
    );
    if let Some(s) = &input.sse_specification {
        v.one_of(s.sse_type.as_deref(), "sSESpecification.sSEType", &["AES256", "KMS"]);
    }
    v.finish().map_err(DynamoError::Validation)
}

/// Checks billing mode against throughput; returns (mode, read, write).
fn billing(
    mode: Option<&str>,
    t: Option<&ProvisionedThroughput>,
) -> Result<(String, i64, i64), DynamoError> {
    match mode.unwrap_or("PROVISIONED") {
        "PAY_PER_REQUEST" => {
            if t.is_some() {
                return Err(invalid(
                    "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
                ));
            }
            Ok(("PAY_PER_REQUEST".into(), 0, 0))
        }
        _ => {
            let Some(t) = t else {
                return Err(invalid(
                    "ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
                ));
            };
            let (r, w) = (t.read_capacity_units.unwrap_or(1), t.write_capacity_units.unwrap_or(1));
            if r > MAX_CAPACITY {
                return Err(DynamoError::validation(format!(
                    "Given value {r} for ReadCapacityUnits is out of bounds"
                )));
            }
            if w > MAX_CAPACITY {
                return Err(DynamoError::validation(format!(
                    "Given value {w} for WriteCapacityUnits is out of bounds"
                )));
            }
            Ok(("PROVISIONED".into(), r, w))
        }
    }
}

fn key_schema(input: &CreateTableInput) -> Result<(KeySchema, Vec<KeyAttribute>), DynamoError> {
    let defs: Vec<KeyAttribute> = input
        .attribute_definitions
        .iter()
        .flatten()
        .map(|d| KeyAttribute {
            name: d.attribute_name.clone().unwrap_or_default(),
            ty: d.attribute_type.as_deref().and_then(ScalarType::parse).unwrap_or(ScalarType::S),
        })
        .collect();
    let ks = input.key_schema.clone().unwrap_or_default();
    let names: Vec<&str> = ks.iter().map(|k| k.attribute_name.as_deref().unwrap_or("")).collect();
    let def_names: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
    let defined = |n: &str| def_names.contains(&n);
    if ks.len() == 2
        && (names.iter().any(|n| !defined(n)) || (names[0] == names[1] && defs.len() == 1))
    {
        return Err(DynamoError::validation(
            "Invalid KeySchema: Some index key attribute have no definition",
        ));
    }
    if ks.len() == 1 && !defined(names[0]) {
        return Err(invalid(&format!(
            "Some index key attributes are not defined in AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
            names.join(", "),
            def_names.join(", ")
        )));
    }
    if ks.len() == 2 && names[0] == names[1] {
        return Err(DynamoError::validation(
            "Both the Hash Key and the Range Key element in the KeySchema have the same name",
        ));
    }
    if ks[0].key_type.as_deref() != Some("HASH") {
        return Err(DynamoError::validation(
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
        ));
    }
    if ks.len() == 2 && ks[1].key_type.as_deref() != Some("RANGE") {
        return Err(DynamoError::validation(
            "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type",
        ));
    }
    let has_indexes =
        input.local_secondary_indexes.is_some() || input.global_secondary_indexes.is_some();
    if !has_indexes && ks.len() != defs.len() {
        return Err(invalid(
            "Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
        ));
    }
    // An attribute defined twice (say an index key given as S and as N): DynamoDB
    // Local's answer (not recorded from AWS, which refuses it too).
    if def_names.iter().enumerate().any(|(i, n)| def_names[..i].contains(n)) {
        return Err(DynamoError::validation("Cannot have two attributes with the same name"));
    }
    let schema = indexes::key_schema(&names[..1], &names[1..], &defs);
    Ok((schema, defs))
}

/// The view type a StreamSpecification enables (`None` for a disabled one), with AWS's
/// checks of the combination.
pub(super) fn stream_view(
    spec: Option<&StreamSpecification>,
) -> Result<Option<ViewType>, DynamoError> {
    let Some(spec) = spec else { return Ok(None) };
    let enabled = spec.stream_enabled.unwrap_or(false);
    if enabled && spec.stream_view_type.is_none() {
        return Err(invalid("You must specify a StreamViewType when enabling a stream"));
    }
    if !enabled && spec.stream_view_type.is_some() {
        return Err(invalid("You cannot modify stream view type if stream is not enabled"));
    }
    Ok(spec.stream_view_type.as_deref().and_then(ViewType::parse).filter(|_| enabled))
}

/// The characters a tag key or value may hold: "letters, white space, and numbers, plus
/// the following special characters: + - = . _ : /" (DynamoDB developer guide, "Tagging
/// restrictions"; ScyllaDB's test_tag_forbidden_chars, run against AWS).
fn tag_chars(s: &str) -> bool {
    s.chars().all(|c| c.is_alphanumeric() || c.is_whitespace() || "+-=._:/".contains(c))
}

pub(super) fn tags(list: Option<&Vec<Tag>>) -> Result<Vec<(String, String)>, DynamoError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for tag in list.into_iter().flatten() {
        let (Some(k), Some(v)) = (&tag.key, &tag.value) else {
            return Err(invalid("Tag key and value must both be specified"));
        };
        if k.is_empty() || k.chars().count() > 128 || !tag_chars(k) {
            return Err(invalid("Invalid TagKey"));
        }
        if v.chars().count() > 256 || !tag_chars(v) {
            return Err(invalid("Invalid TagValue"));
        }
        out.retain(|(existing, _)| existing != k);
        out.push((k.clone(), v.clone()));
    }
    if out.len() > 50 {
        return Err(DynamoError::validation("The number of tags exceeds the limit of 50"));
    }
    Ok(out)
}

/// CreateTable.
pub async fn create_table(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: CreateTableInput,
) -> Result<TableDescriptionOutput, DynamoError> {
    validate_create(&input)?;
    let name = input.table_name.clone().unwrap_or_default();
    let (mode, read, write) =
        billing(input.billing_mode.as_deref(), input.provisioned_throughput.as_ref())?;
    let (schema, defs) = key_schema(&input)?;
    let secondary = indexes::create(
        input.local_secondary_indexes.as_ref(),
        input.global_secondary_indexes.as_ref(),
        &defs,
        &schema,
        mode == "PAY_PER_REQUEST",
    )?;
    if !secondary.is_empty() {
        indexes::check_definitions_used(&defs, &indexes::keys_used(&schema, &secondary))?;
    }
    let next_index_id = secondary.len() as u32 + 1;
    let stream = stream_view(input.stream_specification.as_ref())?;
    let sse_kms_key = sse_key(engine, input.sse_specification.as_ref())?;
    let now = engine.clock.now_millis();
    let meta = TableMeta {
        version: crate::engine::catalog::TABLE_RECORD_VERSION,
        id: 0,
        name: name.clone(),
        uuid: uuid::Uuid::new_v4().to_string(),
        created_ms: now,
        key_schema: schema,
        attribute_definitions: defs,
        billing_mode_updated_ms: (mode == "PAY_PER_REQUEST").then_some(now),
        billing_mode: mode,
        throughput: Throughput { read, write, ..Default::default() },
        // The stream is enabled once the table exists, through the writers.
        stream: None,
        latest_stream_label: None,
        tags: tags(input.tags.as_ref())?,
        deletion_protection: input.deletion_protection_enabled.unwrap_or(false),
        table_class: input.table_class.clone(),
        partitions: engine.config.dynamodb.partitions_per_table,
        indexes: secondary,
        next_index_id,
        ttl: Default::default(),
        destinations: vec![],
        sse_kms_key,
        pitr: None,
    };
    let meta = engine.create_table(meta).await.map_err(|e| match e {
        EngineError::TableExists => {
            DynamoError::ResourceInUse(format!("Table already exists: {name}"))
        }
        other => other.into(),
    })?;
    let meta = match stream {
        Some(view) => {
            engine.enable_stream(&name, view).await?;
            engine.table(&name).map(|t| t.meta()).unwrap_or(meta)
        }
        None => meta,
    };
    let mut description = describe(engine, ctx, &meta, &TableCounters::default());
    description["TableStatus"] = json!("CREATING");
    Ok(TableDescriptionOutput { table_description: description })
}

/// The KMS key an SSESpecification asks for: `None` for AWS's owned key (Enabled absent
/// or false), which DescribeTable does not report. Asking for KMS encryption is accepted
/// only where sluice seals values at rest, so a table never reports an encryption that
/// does not happen.
pub(super) fn sse_key(
    engine: &Engine,
    sse: Option<&super::tables::SseSpecification>,
) -> Result<Option<String>, DynamoError> {
    let Some(sse) = sse.filter(|s| s.enabled == Some(true)) else { return Ok(None) };
    if engine.store.sealing_key_id().is_none() {
        return Err(DynamoError::Validation(
            "This sluice stores items unencrypted: set storage.encryption_key_file to encrypt \
             them at rest (items are then sealed with that key, not with a KMS key)."
                .into(),
        ));
    }
    Ok(Some(sse.kms_master_key_id.clone().unwrap_or_else(|| "alias/aws/dynamodb".into())))
}
