//! PartiQL: ExecuteStatement, BatchExecuteStatement and ExecuteTransaction. A statement
//! is parsed (`parser`), turned into the DynamoDB request it stands for (`translate`)
//! and run by that operation's own handler, so its checks, errors, stream records,
//! index entries and Kinesis-destination records are the equivalent call's. A SELECT
//! whose WHERE clause names the partition key with `=` is a Query (with the sort key's
//! condition, when it has one a Query takes), any other a Scan with the WHERE clause as
//! its filter; NextToken carries where the next page starts.

mod lexer;
mod params;
pub mod parser;
mod select;
mod translate;

use std::sync::Arc;

use base64::Engine as _;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value as Json, json};

use self::parser::{Refusal, Statement};
use self::translate::Context;
use super::DynamoError;
use super::{items, transact_get, transact_write};
use crate::engine::Engine;
use crate::engine::catalog::{KeySchema, TableMeta};
use crate::protocol::{RequestBody, RequestContext};

/// AWS's prefix for a statement it cannot parse.
const MALFORMED: &str = "Statement wasn't well formed, can't be processed: ";
/// AWS's message for a PartiQL INSERT of an existing item.
const DUPLICATE: &str = "Duplicate primary key exists in table";
/// Most statements in a BatchExecuteStatement and in an ExecuteTransaction.
const MAX_BATCH: usize = 25;
const MAX_TRANSACTION: usize = 100;

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ExecuteStatementInput {
    pub statement: Option<String>,
    pub parameters: Option<Vec<Json>>,
    pub consistent_read: Option<bool>,
    pub next_token: Option<String>,
    pub return_consumed_capacity: Option<String>,
    pub limit: Option<i64>,
    pub return_values_on_condition_check_failure: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub struct BatchStatementRequest {
    pub statement: Option<String>,
    pub parameters: Option<Vec<Json>>,
    pub consistent_read: Option<bool>,
    pub return_values_on_condition_check_failure: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub struct BatchExecuteStatementInput {
    pub statements: Option<Vec<BatchStatementRequest>>,
    pub return_consumed_capacity: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ParameterizedStatement {
    pub statement: Option<String>,
    pub parameters: Option<Vec<Json>>,
    pub return_values_on_condition_check_failure: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ExecuteTransactionInput {
    pub transact_statements: Option<Vec<ParameterizedStatement>>,
    pub client_request_token: Option<String>,
    pub return_consumed_capacity: Option<String>,
}

/// Parses a statement, worded as AWS words a malformed one.
fn parse(text: Option<&str>) -> Result<Statement, DynamoError> {
    let text = text.ok_or_else(|| {
        DynamoError::validation(
            "1 validation error detected: Value null at 'statement' failed to satisfy constraint: Member must not be null",
        )
    })?;
    if text.is_empty() || text.chars().count() > 8192 {
        return Err(DynamoError::validation(format!(
            "1 validation error detected: Value '{text}' at 'statement' failed to satisfy constraint: Member must have length less than or equal to 8192, Member must have length greater than or equal to 1"
        )));
    }
    parser::parse(text).map_err(|e| match e {
        Refusal::Malformed(detail) => DynamoError::validation(format!("{MALFORMED}{detail}")),
        Refusal::Plain(message) => DynamoError::validation(message),
    })
}

pub(super) fn meta_of(engine: &Engine, table: &str) -> Result<Arc<TableMeta>, DynamoError> {
    engine.table(table).map(|t| t.meta()).ok_or_else(DynamoError::no_table)
}

/// A request built as JSON, decoded as the wire decodes a body: a parameter that is no
/// AttributeValue gets the Validation or Serialization error a request body would.
pub(super) fn decode<T: DeserializeOwned>(request: Map<String, Json>) -> Result<T, DynamoError> {
    let text = Json::Object(request).to_string();
    let body = RequestBody::json(text.into()).map_err(|e| DynamoError::Internal(e.to_string()))?;
    Ok(crate::api::wire::decode(body)?)
}

pub(super) fn to_json(value: impl serde::Serialize) -> Result<Json, DynamoError> {
    serde_json::to_value(value).map_err(|e| DynamoError::Internal(e.to_string()))
}

/// ExecuteStatement.
pub async fn execute_statement(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: ExecuteStatementInput,
) -> Result<Json, DynamoError> {
    let statement = parse(input.statement.as_deref())?;
    let params = input.parameters.clone().unwrap_or_default();
    params::check(&params)?;
    let mut out = Map::new();
    match &statement {
        Statement::Select { .. } => {
            let page = select::select(engine, ctx, &statement, &params, &input)
                .await
                .map_err(bare_filter_error)?;
            out.insert("Items".into(), page.get("Items").cloned().unwrap_or(json!([])));
            if let Some(last) = page.get("LastEvaluatedKey") {
                out.insert("NextToken".into(), Json::String(next_token(statement.table(), last)));
                out.insert("LastEvaluatedKey".into(), last.clone());
            }
            // A decomposed read that stopped between partitions.
            if let Some(token) = page.get("NextToken") {
                out.insert("NextToken".into(), token.clone());
            }
            if let Some(c) = page.get("ConsumedCapacity") {
                out.insert("ConsumedCapacity".into(), c.clone());
            }
        }
        Statement::Exists { .. } => {
            return Err(DynamoError::validation("EXISTS is only supported in ExecuteTransaction"));
        }
        _ => {
            let extra = Extra {
                capacity: input.return_consumed_capacity.as_deref(),
                on_failure: input.return_values_on_condition_check_failure.as_deref(),
            };
            let answer = write(engine, ctx, &statement, &params, extra).await?;
            // A write answers an empty Items list, as AWS does; RETURNING answers with the
            // item it asked for, or none (a DELETE that found nothing, an UPDATE that
            // changed nothing it projects).
            let item = answer
                .get("Attributes")
                .filter(|a| a.as_object().is_some_and(|m| !m.is_empty()))
                .filter(|_| returning(&statement).is_some());
            out.insert("Items".into(), Json::Array(item.cloned().into_iter().collect()));
            if let Some(c) = answer.get("ConsumedCapacity") {
                out.insert("ConsumedCapacity".into(), c.clone());
            }
        }
    }
    Ok(Json::Object(out))
}

/// A WHERE clause's refusal as AWS words it for a SELECT: without the "Invalid
/// FilterExpression: " a Scan's or Query's filter has (nubo-db/dynamodb-conformance
/// partiql/comparison and error-messages/partiqlFunctions, AWS).
fn bare_filter_error(e: DynamoError) -> DynamoError {
    match e {
        DynamoError::Validation(m) => match m.strip_prefix("Invalid FilterExpression: ") {
            Some(bare) => DynamoError::validation(bare),
            None => DynamoError::Validation(m),
        },
        e => e,
    }
}

/// The RETURNING clause of an UPDATE or DELETE.
fn returning(statement: &Statement) -> parser::Returning {
    match statement {
        Statement::Update { returning, .. } | Statement::Delete { returning, .. } => *returning,
        _ => None,
    }
}

/// RETURNING is ExecuteStatement's alone: a batch or a transaction answers no items of
/// its writes.
fn no_returning(statement: &Statement) -> Result<(), DynamoError> {
    match returning(statement) {
        Some(_) => Err(DynamoError::validation("RETURNING is only supported in ExecuteStatement")),
        None => Ok(()),
    }
}

/// Options passed through to the handler a statement runs as.
#[derive(Clone, Copy, Default)]
struct Extra<'a> {
    capacity: Option<&'a str>,
    on_failure: Option<&'a str>,
}

impl Extra<'_> {
    fn apply(&self, request: &mut Map<String, Json>) {
        if let Some(c) = self.capacity {
            request.insert("ReturnConsumedCapacity".into(), Json::String(c.into()));
        }
        if let Some(v) = self.on_failure {
            request.insert("ReturnValuesOnConditionCheckFailure".into(), Json::String(v.into()));
        }
    }
}

/// Runs an INSERT, UPDATE or DELETE as its item operation; returns that operation's answer.
async fn write(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    statement: &Statement,
    params: &[Json],
    extra: Extra<'_>,
) -> Result<Json, DynamoError> {
    let meta = meta_of(engine, statement.table())?;
    let (operation, mut request) = translate::write_request(statement, &meta, params)?;
    extra.apply(&mut request);
    let answer = match operation {
        "PutItem" => items::put_item(engine, ctx, decode(request)?).await.map_err(|e| match e {
            DynamoError::ConditionalCheckFailed { .. } => {
                DynamoError::DuplicateItem(DUPLICATE.into())
            }
            other => other,
        }),
        "UpdateItem" => items::update_item(engine, ctx, decode(request)?).await,
        "DeleteItem" => items::delete_item(engine, ctx, decode(request)?).await,
        _ => unreachable!("write statements only"),
    }?;
    to_json(answer)
}

/// AWS runs no PartiQL on an index with a multi-attribute key (recorded from AWS by a
/// public conformance suite, October 2026: after the statement's syntax, before its
/// WHERE clause is looked at).
pub(super) fn refuse_multi_attribute(schema: &KeySchema) -> Result<(), DynamoError> {
    if schema.multi_attribute() {
        return Err(DynamoError::validation(
            "PartiQL statements cannot be executed on tables with multi-attribute HASH keys or multi-attribute RANGE keys.",
        ));
    }
    Ok(())
}

/// The key schema a SELECT reads: the index's, or the table's.
pub(super) fn schema_of<'m>(
    meta: &'m TableMeta,
    index: Option<&str>,
) -> Result<&'m KeySchema, DynamoError> {
    match index {
        None => Ok(&meta.key_schema),
        Some(name) => {
            // Without the name, unlike Query's message (AWS, nubo-db/dynamodb-conformance
            // error-messages/indexReads).
            meta.indexes.iter().find(|i| i.name == name).map(|i| &i.key_schema).ok_or_else(|| {
                DynamoError::validation("The table does not have the specified index")
            })
        }
    }
}

/// The NextToken of a page: the table and the key the next page starts after.
fn next_token(table: &str, last: &Json) -> String {
    let token = json!({ "t": table, "k": last });
    base64::engine::general_purpose::STANDARD.encode(token.to_string())
}

/// The ExclusiveStartKey a NextToken carries, if it is one of this table's.
pub(super) fn start_of(table: &str, token: &str) -> Result<Json, DynamoError> {
    let invalid = || DynamoError::validation("Given NextToken is not valid");
    let bytes = base64::engine::general_purpose::STANDARD.decode(token).map_err(|_| invalid())?;
    let token: Json = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    match (token.get("t"), token.get("k")) {
        (Some(Json::String(t)), Some(k)) if t == table && k.is_object() => Ok(k.clone()),
        _ => Err(invalid()),
    }
}

/// BatchExecuteStatement: up to 25 statements, all reads (each a key lookup, as in
/// BatchGetItem) or all writes; each answered on its own, a failed one with its error.
pub async fn batch_execute_statement(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: BatchExecuteStatementInput,
) -> Result<Json, DynamoError> {
    let statements = input.statements.unwrap_or_default();
    if statements.is_empty() || statements.len() > MAX_BATCH {
        return Err(DynamoError::validation(format!(
            "1 validation error detected: Value at 'statements' failed to satisfy constraint: Member must have length less than or equal to {MAX_BATCH}, Member must have length greater than or equal to 1"
        )));
    }
    let parsed: Vec<Result<Statement, DynamoError>> =
        statements.iter().map(|s| parse(s.statement.as_deref())).collect();
    let reads = parsed.iter().filter(|p| matches!(p, Ok(Statement::Select { .. }))).count();
    let writes = parsed
        .iter()
        .filter(|p| matches!(p, Ok(s) if !matches!(s, Statement::Select { .. })))
        .count();
    if reads > 0 && writes > 0 {
        return Err(DynamoError::validation(
            "Batch statements must be either all reads or all writes",
        ));
    }
    let mut responses = Vec::with_capacity(statements.len());
    for (request, statement) in statements.iter().zip(parsed) {
        let params = request.parameters.clone().unwrap_or_default();
        let answer = match statement.and_then(|s| params::check(&params).map(|()| s)) {
            Ok(statement) => {
                let table = statement.table().to_string();
                let extra = Extra {
                    capacity: None,
                    on_failure: request.return_values_on_condition_check_failure.as_deref(),
                };
                let result = match &statement {
                    Statement::Select { .. } => {
                        get(engine, ctx, &statement, &params, request.consistent_read).await
                    }
                    Statement::Exists { .. } => Err(DynamoError::validation(
                        "EXISTS is only supported in ExecuteTransaction",
                    )),
                    _ => match no_returning(&statement) {
                        Ok(()) => {
                            write(engine, ctx, &statement, &params, extra).await.map(|_| None)
                        }
                        Err(e) => Err(e),
                    },
                };
                match result {
                    Ok(Some(item)) => json!({ "TableName": table, "Item": item }),
                    Ok(None) => json!({ "TableName": table }),
                    Err(e) => json!({ "TableName": table, "Error": batch_error(&e) }),
                }
            }
            Err(e) => json!({ "Error": batch_error(&e) }),
        };
        responses.push(answer);
    }
    Ok(json!({ "Responses": responses }))
}

/// A batch statement's error: its code without the `Exception`, and its message.
fn batch_error(e: &DynamoError) -> Json {
    let code = match e {
        DynamoError::ConditionalCheckFailed { .. } => "ConditionalCheckFailed",
        DynamoError::Validation(_) | DynamoError::Serialization(_) => "ValidationError",
        DynamoError::ResourceNotFound(_) => "ResourceNotFound",
        DynamoError::DuplicateItem(_) => "DuplicateItem",
        DynamoError::LimitExceeded(_) => "RequestLimitExceeded",
        DynamoError::TransactionCanceled(_) | DynamoError::TransactionInProgress(_) => {
            "TransactionConflict"
        }
        _ => "InternalServerError",
    };
    // The message the error carries on the wire (a SerializationException's Display is
    // only its kind).
    let message = e.to_wire().message.unwrap_or_default();
    let mut error = json!({ "Code": code, "Message": message });
    if let DynamoError::ConditionalCheckFailed { item: Some(item) } = e {
        error["Item"] = crate::model::value::item_to_json(item);
    }
    error
}

/// The operation a key lookup runs in, which AWS names in its refusals.
#[derive(Clone, Copy, PartialEq)]
enum Within {
    Batch,
    /// The statement's place in the transaction.
    Transaction(usize),
}

/// A refusal of one statement of a transaction, as AWS words it.
fn in_transaction(at: usize, e: DynamoError) -> DynamoError {
    match e {
        DynamoError::Validation(m) => {
            DynamoError::validation(format!("Validation failed in TransactStatements[{at}]: {m}"))
        }
        e => e,
    }
}

/// The GetItem request of a SELECT that names a whole key and nothing else (a batch's or
/// a transaction's read).
fn key_lookup(
    engine: &Engine,
    statement: &Statement,
    params: &[Json],
    within: Within,
) -> Result<Map<String, Json>, DynamoError> {
    let Statement::Select { table, index, projection, filter, .. } = statement else {
        unreachable!()
    };
    // AWS's wording (nubo-db/dynamodb-conformance partiql/executeStatementIndex and
    // error-messages/partiqlFunctions; the index one is DynamoDB Local's).
    let refusal = |message: String| match within {
        Within::Batch => DynamoError::validation(message),
        Within::Transaction(at) => in_transaction(at, DynamoError::validation(message)),
    };
    let operation = match within {
        Within::Batch => "BatchExecuteStatement",
        Within::Transaction(_) => "ExecuteTransaction",
    };
    let whole_key = || {
        refusal(format!(
            "Select statements within {operation} must specify the primary key in the where clause."
        ))
    };
    let meta = meta_of(engine, table)?;
    if index.is_some() {
        refuse_multi_attribute(schema_of(&meta, index.as_deref())?)?;
        return Err(match within {
            Within::Batch => whole_key(),
            Within::Transaction(_) => {
                refusal("Reads on indices are not supported within transactions.".into())
            }
        });
    }
    let filter = filter.as_ref().ok_or_else(whole_key)?;
    let (key, rest) = translate::key_of(&meta, filter, params).map_err(|e| match e {
        DynamoError::Validation(m) if m == translate::NO_KEY => whole_key(),
        e => e,
    })?;
    if rest.is_some() {
        return Err(whole_key());
    }
    let mut request = Map::new();
    request.insert("TableName".into(), Json::String(table.clone()));
    request.insert("Key".into(), key);
    let mut names = Context::new(params);
    if !projection.is_empty() {
        let paths: Vec<String> = projection.iter().map(|p| names.path(p)).collect();
        request.insert("ProjectionExpression".into(), Json::String(paths.join(", ")));
    }
    names.attach(&mut request);
    Ok(request)
}

/// A batch's SELECT, as GetItem: the item, if there is one.
async fn get(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    statement: &Statement,
    params: &[Json],
    consistent: Option<bool>,
) -> Result<Option<Json>, DynamoError> {
    let mut request = key_lookup(engine, statement, params, Within::Batch)?;
    if let Some(c) = consistent {
        request.insert("ConsistentRead".into(), json!(c));
    }
    let answer = to_json(items::get_item(engine, ctx, decode(request)?).await?)?;
    Ok(answer.get("Item").cloned())
}

/// ExecuteTransaction: up to 100 statements, all reads (TransactGetItems, each naming a
/// whole key) or all writes and EXISTS checks (TransactWriteItems), all or nothing.
pub async fn execute_transaction(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: ExecuteTransactionInput,
) -> Result<Json, DynamoError> {
    let statements = input.transact_statements.unwrap_or_default();
    if statements.is_empty() || statements.len() > MAX_TRANSACTION {
        return Err(DynamoError::validation(format!(
            "1 validation error detected: Value at 'transactStatements' failed to satisfy constraint: Member must have length less than or equal to {MAX_TRANSACTION}, Member must have length greater than or equal to 1"
        )));
    }
    let mut parsed = Vec::with_capacity(statements.len());
    for (at, s) in statements.iter().enumerate() {
        let statement = parse(s.statement.as_deref()).map_err(|e| in_transaction(at, e))?;
        no_returning(&statement)?;
        parsed.push(statement);
    }
    let reads = parsed.iter().filter(|s| matches!(s, Statement::Select { .. })).count();
    if reads > 0 && reads < parsed.len() {
        return Err(DynamoError::validation(
            "Transaction statements must be either all reads or all writes",
        ));
    }
    let mut actions = Vec::with_capacity(parsed.len());
    for (at, (statement, request)) in parsed.iter().zip(&statements).enumerate() {
        let params = request.parameters.clone().unwrap_or_default();
        params::check(&params)?;
        if reads > 0 {
            let get = key_lookup(engine, statement, &params, Within::Transaction(at))?;
            actions.push(json!({ "Get": get }));
        } else {
            let meta = meta_of(engine, statement.table())?;
            let (operation, mut action) = translate::write_request(statement, &meta, &params)
                .map_err(|e| match e {
                    DynamoError::Validation(m) if m == translate::EXISTS_CONDITION => {
                        in_transaction(at, DynamoError::Validation(m))
                    }
                    e => e,
                })?;
            if let Some(v) = &request.return_values_on_condition_check_failure {
                action
                    .insert("ReturnValuesOnConditionCheckFailure".into(), Json::String(v.clone()));
            }
            let member = match operation {
                "PutItem" => "Put",
                "UpdateItem" => "Update",
                "DeleteItem" => "Delete",
                _ => "ConditionCheck",
            };
            actions.push(json!({ member: action }));
        }
    }
    let mut request = Map::new();
    request.insert("TransactItems".into(), Json::Array(actions));
    if let Some(c) = &input.return_consumed_capacity {
        request.insert("ReturnConsumedCapacity".into(), Json::String(c.clone()));
    }
    if reads > 0 {
        let answer =
            to_json(transact_get::transact_get_items(engine, ctx, decode(request)?).await?)?;
        let mut out = Map::new();
        out.insert("Responses".into(), answer.get("Responses").cloned().unwrap_or(json!([])));
        if let Some(c) = answer.get("ConsumedCapacity") {
            out.insert("ConsumedCapacity".into(), c.clone());
        }
        return Ok(Json::Object(out));
    }
    if let Some(token) = &input.client_request_token {
        request.insert("ClientRequestToken".into(), Json::String(token.clone()));
    }
    let answer =
        to_json(transact_write::transact_write_items(engine, ctx, decode(request)?).await?)?;
    // Writes answer an empty Responses list, as AWS does.
    let mut out = Map::new();
    out.insert("Responses".into(), json!([]));
    if let Some(c) = answer.get("ConsumedCapacity") {
        out.insert("ConsumedCapacity".into(), c.clone());
    }
    Ok(Json::Object(out))
}
