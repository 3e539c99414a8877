//! Permissions: the IAM actions and resources each operation checks, as AWS's Service
//! Authorization Reference lists them, decided by the caller's key's policy
//! (`auth::policy`). A key without a policy may do everything; with one, every check must
//! be allowed and none denied, or the call is refused with AccessDeniedException before
//! it runs.
//!
//! A resource that cannot be named (an iterator sluice did not issue, a member missing
//! from the input) is checked as `*`, which only a policy allowing every resource allows:
//! a malformed request is never let through on a resource nobody named.

use std::sync::Arc;

use serde_json::Value;

use crate::api::lambda::Operation as LambdaOp;
use crate::api::streams::iterator::ShardIterator;
use crate::auth::policy::{Decision, Policy};
use crate::engine::Engine;
use crate::engine::kinesis::iterator::IteratorToken;
use crate::protocol::{RequestContext, Service};

/// One action on one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub action: String,
    pub resource: String,
}

fn check(action: &str, resource: impl Into<String>) -> Check {
    Check { action: action.to_string(), resource: resource.into() }
}

/// The AccessDeniedException message (AWS's wording) and the metric reason for the first
/// check `policy` does not allow, if any.
pub fn decide(
    policy: &Policy,
    access_key_id: &str,
    checks: &[Check],
    ctx: &RequestContext,
) -> Result<(), (String, &'static str)> {
    for c in checks {
        let (suffix, reason) = match policy.decide(&c.action, &c.resource) {
            Decision::Allow => continue,
            Decision::ExplicitDeny => {
                ("with an explicit deny in an identity-based policy".to_string(), "explicit_deny")
            }
            Decision::ImplicitDeny => (
                format!("because no identity-based policy allows the {} action", c.action),
                "implicit_deny",
            ),
        };
        let message = format!(
            "User: arn:aws:iam::{}:user/{access_key_id} is not authorized to perform: {} on resource: {} {suffix}",
            ctx.account_id, c.action, c.resource
        );
        return Err((message, reason));
    }
    Ok(())
}

/// What a JSON-protocol call checks, from its input.
/// What a PartiQL statement asks IAM for, as AWS: `dynamodb:PartiQLSelect` (EXISTS
/// too), `PartiQLInsert`, `PartiQLUpdate` or `PartiQLDelete` on its table (a SELECT on an
/// index: on the index). A statement that does not parse is checked as
/// `dynamodb:PartiQLSelect` on `*` and then refused for its syntax.
fn partiql_check(statement: &str, table: &dyn Fn(Option<&str>) -> String) -> Check {
    use crate::api::dynamodb::partiql::parser::{Statement, parse};
    let Ok(parsed) = parse(statement) else { return check("dynamodb:PartiQLSelect", "*") };
    let action = match &parsed {
        Statement::Select { .. } | Statement::Exists { .. } => "dynamodb:PartiQLSelect",
        Statement::Insert { .. } => "dynamodb:PartiQLInsert",
        Statement::Update { .. } => "dynamodb:PartiQLUpdate",
        Statement::Delete { .. } => "dynamodb:PartiQLDelete",
    };
    let mut resource = table(Some(parsed.table()));
    if let Statement::Select { index: Some(index), .. } = &parsed {
        resource = format!("{resource}/index/{index}");
    }
    check(action, resource)
}

pub fn json_checks(
    engine: &Arc<Engine>,
    service: Service,
    operation: &str,
    input: &Value,
    ctx: &RequestContext,
) -> Vec<Check> {
    let (region, account) = (ctx.region.as_str(), ctx.account_id.as_str());
    let text = |name: &str| input.get(name).and_then(Value::as_str);
    let table = |name: Option<&str>| match name {
        Some(n) if n.starts_with("arn:") => n.to_string(),
        Some(n) => format!("arn:aws:dynamodb:{region}:{account}:table/{n}"),
        None => "*".to_string(),
    };
    let stream = |arn: Option<&str>, name: Option<&str>| match (arn, name) {
        (Some(arn), _) => arn.to_string(),
        (None, Some(n)) => format!("arn:aws:kinesis:{region}:{account}:stream/{n}"),
        _ => "*".to_string(),
    };
    match service {
        Service::DynamoDb => {
            let action = format!("dynamodb:{operation}");
            match operation {
                "ListTables" | "DescribeLimits" | "DescribeEndpoints" => vec![check(&action, "*")],
                "TagResource" | "UntagResource" | "ListTagsOfResource" => {
                    vec![check(&action, text("ResourceArn").unwrap_or("*"))]
                }
                "Query" | "Scan" => {
                    let mut resource = table(text("TableName"));
                    if let Some(index) = text("IndexName") {
                        resource = format!("{resource}/index/{index}");
                    }
                    vec![check(&action, resource)]
                }
                "BatchGetItem" | "BatchWriteItem" => {
                    let tables = input.get("RequestItems").and_then(Value::as_object);
                    let mut out: Vec<Check> = tables
                        .map(|t| t.keys().map(|n| check(&action, table(Some(n)))).collect())
                        .unwrap_or_default();
                    if out.is_empty() {
                        out.push(check(&action, "*"));
                    }
                    out
                }
                "TransactWriteItems" | "TransactGetItems" => {
                    let items = input.get("TransactItems").and_then(Value::as_array);
                    let mut out = Vec::new();
                    for item in items.into_iter().flatten() {
                        for (member, action) in [
                            ("Put", "dynamodb:PutItem"),
                            ("Update", "dynamodb:UpdateItem"),
                            ("Delete", "dynamodb:DeleteItem"),
                            ("ConditionCheck", "dynamodb:ConditionCheckItem"),
                            ("Get", "dynamodb:GetItem"),
                        ] {
                            if let Some(m) = item.get(member) {
                                let name = m.get("TableName").and_then(Value::as_str);
                                out.push(check(action, table(name)));
                            }
                        }
                    }
                    if out.is_empty() {
                        out.push(check(&action, "*"));
                    }
                    out
                }
                "DescribeBackup" | "DeleteBackup" => {
                    vec![check(&action, text("BackupArn").unwrap_or("*"))]
                }
                // The backup it reads and the table it makes (AWS also asks for the item
                // writes on the target; sluice checks the restore itself).
                "RestoreTableFromBackup" => vec![
                    check(&action, text("BackupArn").unwrap_or("*")),
                    check(&action, table(text("TargetTableName"))),
                ],
                "RestoreTableToPointInTime" => vec![
                    check(&action, table(text("SourceTableArn").or(text("SourceTableName")))),
                    check(&action, table(text("TargetTableName"))),
                ],
                "ExecuteStatement" | "BatchExecuteStatement" | "ExecuteTransaction" => {
                    let statements: Vec<&str> = match operation {
                        "ExecuteStatement" => text("Statement").into_iter().collect(),
                        _ => {
                            let list = ["Statements", "TransactStatements"]
                                .iter()
                                .find_map(|m| input.get(*m).and_then(Value::as_array));
                            list.into_iter()
                                .flatten()
                                .filter_map(|s| s.get("Statement").and_then(Value::as_str))
                                .collect()
                        }
                    };
                    let mut out: Vec<Check> =
                        statements.iter().map(|s| partiql_check(s, &table)).collect();
                    if out.is_empty() {
                        out.push(check(&action, "*"));
                    }
                    out
                }
                "EnableKinesisStreamingDestination" | "UpdateKinesisStreamingDestination" => {
                    let arn = text("StreamArn").unwrap_or("*");
                    vec![
                        check(&action, table(text("TableName"))),
                        check("kinesis:PutRecords", arn),
                        check("kinesis:DescribeStream", arn),
                    ]
                }
                _ => vec![check(&action, table(text("TableName")))],
            }
        }
        Service::DynamoDbStreams => {
            let action = format!("dynamodb:{operation}");
            match operation {
                "ListStreams" => vec![check(&action, "*")],
                "GetRecords" => {
                    let it = text("ShardIterator").and_then(ShardIterator::decode);
                    vec![check(&action, it.map_or("*".to_string(), |i| i.stream_arn))]
                }
                _ => vec![check(&action, text("StreamArn").unwrap_or("*"))],
            }
        }
        Service::Kinesis => {
            let action = format!("kinesis:{operation}");
            match operation {
                "ListStreams" | "DescribeLimits" => vec![check(&action, "*")],
                "TagResource" | "UntagResource" | "ListTagsForResource" => {
                    vec![check(&action, text("ResourceARN").unwrap_or("*"))]
                }
                "SubscribeToShard" | "DescribeStreamConsumer" | "DeregisterStreamConsumer" => {
                    let resource = text("ConsumerARN")
                        .map(str::to_string)
                        .unwrap_or_else(|| stream(text("StreamARN"), None));
                    vec![check(&action, resource)]
                }
                "GetRecords" => {
                    let token = text("ShardIterator")
                        .and_then(|t| IteratorToken::decode(t, engine.kinesis.secret()));
                    let resource = match (text("StreamARN"), token) {
                        (Some(arn), _) => arn.to_string(),
                        (None, Some(t)) => stream(None, Some(&t.stream_name)),
                        _ => "*".to_string(),
                    };
                    vec![check(&action, resource)]
                }
                _ => vec![check(&action, stream(text("StreamARN"), text("StreamName")))],
            }
        }
        Service::Lambda => Vec::new(),
    }
}

/// What a Lambda call checks, from its route.
pub fn lambda_checks(
    operation: LambdaOp,
    function_name: Option<&str>,
    uuid: Option<&str>,
    ctx: &RequestContext,
) -> Vec<Check> {
    let (region, account) = (ctx.region.as_str(), ctx.account_id.as_str());
    let function = || match function_name {
        Some(n) if n.starts_with("arn:") => n.to_string(),
        // A partial ARN: `123456789012:function:name`.
        Some(n) if n.contains(':') => format!("arn:aws:lambda:{region}:{n}"),
        Some(n) => format!("arn:aws:lambda:{region}:{account}:function:{n}"),
        None => "*".to_string(),
    };
    let mapping = || match uuid {
        Some(u) => format!("arn:aws:lambda:{region}:{account}:event-source-mapping:{u}"),
        None => "*".to_string(),
    };
    match operation {
        LambdaOp::GetFunction => vec![check("lambda:GetFunction", function())],
        LambdaOp::Invoke => vec![check("lambda:InvokeFunction", function())],
        LambdaOp::ListFunctions => vec![check("lambda:ListFunctions", "*")],
        LambdaOp::CreateEventSourceMapping => vec![check("lambda:CreateEventSourceMapping", "*")],
        LambdaOp::ListEventSourceMappings => vec![check("lambda:ListEventSourceMappings", "*")],
        LambdaOp::GetEventSourceMapping => vec![check("lambda:GetEventSourceMapping", mapping())],
        LambdaOp::UpdateEventSourceMapping => {
            vec![check("lambda:UpdateEventSourceMapping", mapping())]
        }
        LambdaOp::DeleteEventSourceMapping => {
            vec![check("lambda:DeleteEventSourceMapping", mapping())]
        }
    }
}

/// The members of a JSON-protocol input that name resources, read without decoding the
/// rest (a 16 MiB BatchWriteItem costs its table names, not its items).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Names {
    table_name: Option<String>,
    index_name: Option<String>,
    resource_arn: Option<String>,
    #[serde(rename = "ResourceARN")]
    resource_arn_upper: Option<String>,
    stream_arn: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn_upper: Option<String>,
    stream_name: Option<String>,
    #[serde(rename = "ConsumerARN")]
    consumer_arn: Option<String>,
    shard_iterator: Option<String>,
    backup_arn: Option<String>,
    target_table_name: Option<String>,
    source_table_name: Option<String>,
    source_table_arn: Option<String>,
    request_items: Option<std::collections::BTreeMap<String, serde::de::IgnoredAny>>,
    transact_items: Option<Vec<std::collections::BTreeMap<String, TableOf>>>,
    /// PartiQL: the statements name the tables.
    statement: Option<String>,
    statements: Option<Vec<StatementOf>>,
    transact_statements: Option<Vec<StatementOf>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StatementOf {
    statement: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TableOf {
    table_name: Option<String>,
}

/// The resource-naming members of `body` as a small JSON object [`json_checks`] reads;
/// an input that is not one gives none (its resources are then `*`).
pub fn resource_names(body: &crate::protocol::RequestBody) -> Value {
    use serde_json::json;
    let names: Names = match body {
        crate::protocol::RequestBody::Json { text, .. } => serde_json::from_slice(text),
        crate::protocol::RequestBody::Tree(v) => serde::Deserialize::deserialize(v),
    }
    .unwrap_or_default();
    let mut out = serde_json::Map::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            out.insert(k.to_string(), Value::String(v));
        }
    };
    put("TableName", names.table_name);
    put("IndexName", names.index_name);
    put("ResourceArn", names.resource_arn);
    put("ResourceARN", names.resource_arn_upper);
    put("StreamArn", names.stream_arn);
    put("StreamARN", names.stream_arn_upper);
    put("StreamName", names.stream_name);
    put("ConsumerARN", names.consumer_arn);
    put("ShardIterator", names.shard_iterator);
    put("Statement", names.statement);
    put("BackupArn", names.backup_arn);
    put("TargetTableName", names.target_table_name);
    put("SourceTableName", names.source_table_name);
    put("SourceTableArn", names.source_table_arn);
    if let Some(items) = names.request_items {
        let tables = items.into_keys().map(|k| (k, Value::Null)).collect();
        out.insert("RequestItems".into(), Value::Object(tables));
    }
    if let Some(items) = names.transact_items {
        let list = items
            .into_iter()
            .map(|item| {
                let members = item
                    .into_iter()
                    .map(|(k, t)| (k, json!({ "TableName": t.table_name })))
                    .collect();
                Value::Object(members)
            })
            .collect();
        out.insert("TransactItems".into(), Value::Array(list));
    }
    for (member, list) in
        [("Statements", names.statements), ("TransactStatements", names.transact_statements)]
    {
        if let Some(list) = list {
            let list = list.into_iter().map(|s| json!({ "Statement": s.statement })).collect();
            out.insert(member.into(), Value::Array(list));
        }
    }
    Value::Object(out)
}
