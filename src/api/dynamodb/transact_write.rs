//! TransactWriteItems: up to 100 Put, Update, Delete and ConditionCheck actions across
//! tables, all or nothing, in one atomic commit (the engine's `transact`).
//!
//! What can be checked without the items (shapes, expressions, keys, tables, two actions
//! on one item) fails the request with a ValidationException or ResourceNotFound, as
//! on AWS. What depends on the items (conditions, update operand types, sizes) cancels
//! the transaction with one CancellationReason per action, in order. A
//! ClientRequestToken makes a successful request replayable for 10 minutes.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::DynamoError;
use super::error::CancellationReason;
use super::items::{
    check_attribute_names, expression_context, usable_table, write_units,
    written_collections_metrics,
};
use super::keys::{self, PrimaryKey};
use super::mutators;
use super::transact_get::{MSG_ONE_ITEM, add_units, check_actions, transaction_capacity};
use crate::api::validate::Validator;
use crate::api::wire::{Fingerprinted, WireItem, WireValues};
use crate::engine::tokens::Claim;
use crate::engine::{Engine, ItemWrite, Mutator, TxnError, WriteError};
use crate::model::expr::{self, ExprKind};
use crate::model::value;
use crate::protocol::RequestContext;

/// The members of a Put, Update, Delete or ConditionCheck (each uses its own subset).
#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct TransactAction {
    pub table_name: Option<String>,
    pub key: Option<WireItem>,
    pub item: Option<WireItem>,
    pub update_expression: Option<String>,
    pub condition_expression: Option<String>,
    pub expression_attribute_names: Option<HashMap<String, String>>,
    pub expression_attribute_values: Option<WireValues>,
    pub return_values_on_condition_check_failure: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct TransactWriteItem {
    pub condition_check: Option<TransactAction>,
    pub put: Option<TransactAction>,
    pub delete: Option<TransactAction>,
    pub update: Option<TransactAction>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct TransactWriteItemsInput {
    /// Fingerprinted: a ClientRequestToken replay must carry the same actions.
    pub transact_items: Option<Fingerprinted<Vec<TransactWriteItem>>>,
    pub return_consumed_capacity: Option<String>,
    pub return_item_collection_metrics: Option<String>,
    pub client_request_token: Option<String>,
}

#[derive(Serialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub struct TransactWriteItemsOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumed_capacity: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_collection_metrics: Option<serde_json::Map<String, Value>>,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    ConditionCheck,
    Put,
    Delete,
    Update,
}

impl Kind {
    /// The member name as AWS's validation paths spell it.
    fn path(self) -> &'static str {
        match self {
            Kind::ConditionCheck => "conditionCheck",
            Kind::Put => "put",
            Kind::Delete => "delete",
            Kind::Update => "update",
        }
    }
}

/// The one action of an item, or `None` when it has none or several.
fn action(item: &TransactWriteItem) -> Option<(Kind, &TransactAction)> {
    let all = [
        (Kind::ConditionCheck, &item.condition_check),
        (Kind::Put, &item.put),
        (Kind::Delete, &item.delete),
        (Kind::Update, &item.update),
    ];
    let mut set = all.into_iter().filter_map(|(k, a)| a.as_ref().map(|a| (k, a)));
    let first = set.next()?;
    set.next().is_none().then_some(first)
}

fn validate(input: &TransactWriteItemsInput) -> Result<&[TransactWriteItem], DynamoError> {
    let mut v = Validator::new();
    // The token first (AWS, nubo-db/dynamodb-conformance validation-ordering/transactions).
    v.length(input.client_request_token.as_deref(), "clientRequestToken", 1, 36);
    v.one_of(
        input.return_consumed_capacity.as_deref(),
        "returnConsumedCapacity",
        &["INDEXES", "TOTAL", "NONE"],
    );
    v.one_of(
        input.return_item_collection_metrics.as_deref(),
        "returnItemCollectionMetrics",
        &["SIZE", "NONE"],
    );
    let items = input.transact_items.as_ref().map(|f| f.value.as_slice());
    if let Some(items) = items {
        check_actions(&mut v, items.len(), "TransactWriteItem");
        for (i, item) in items.iter().enumerate() {
            let Some((kind, a)) = action(item) else { continue };
            let path = format!("transactItems.{}.member.{}", i + 1, kind.path());
            if kind == Kind::Put {
                v.not_null(a.item.as_ref(), format_args!("{path}.item"));
            } else {
                v.not_null(a.key.as_ref(), format_args!("{path}.key"));
            }
            if kind == Kind::Update {
                v.not_null(a.update_expression.as_ref(), format_args!("{path}.updateExpression"));
            }
            v.table_name(a.table_name.as_deref(), &format!("{path}.tableName"));
            if kind == Kind::ConditionCheck {
                v.not_null(
                    a.condition_expression.as_ref(),
                    format_args!("{path}.conditionExpression"),
                );
            }
            v.one_of(
                a.return_values_on_condition_check_failure.as_deref(),
                &format!("{path}.returnValuesOnConditionCheckFailure"),
                &["ALL_OLD", "NONE"],
            );
        }
    } else {
        v.not_null::<()>(None, "transactItems");
    }
    v.finish().map_err(DynamoError::Validation)?;
    Ok(items.unwrap_or_default())
}

/// One action, checked and ready to run.
struct Prepared {
    write: ItemWrite,
    table: String,
    /// A ConditionCheck: it writes nothing.
    check: bool,
}

/// An action's expressions, parsed: what every action is checked for before any table
/// is looked up (AWS reports a later action's malformed condition ahead of an earlier
/// action's missing table: nubo-db/dynamodb-conformance validation-ordering/transactions).
struct Parsed {
    update: Option<expr::UpdateExpr>,
    cond: Option<expr::Condition>,
}

fn parse_action(kind: Kind, a: &TransactAction) -> Result<Parsed, DynamoError> {
    let uses_expressions = a.condition_expression.is_some() || a.update_expression.is_some();
    let mut ctx = expression_context(
        a.expression_attribute_names.as_ref(),
        a.expression_attribute_values.as_ref(),
        uses_expressions,
    )?;
    let update = a.update_expression.as_deref().filter(|_| kind == Kind::Update);
    let update = update.map(|u| expr::parse_update(u, &mut ctx)).transpose()?;
    let cond = a.condition_expression.as_deref();
    let cond = cond.map(|c| expr::parse_condition(c, ExprKind::Condition, &mut ctx)).transpose()?;
    ctx.finish()?;
    Ok(Parsed { update, cond })
}

fn prepare(
    engine: &Engine,
    kind: Kind,
    a: &TransactAction,
    parsed: Parsed,
) -> Result<Prepared, DynamoError> {
    let Parsed { update, cond } = parsed;
    let item = a.item.as_ref().map(|i| i.0.clone()).unwrap_or_default();
    if kind == Kind::Put {
        value::check_item_size(&item)?;
    }
    let table = usable_table(engine, a.table_name.as_deref())?;
    let meta = table.meta();
    let key: PrimaryKey = match kind {
        Kind::Put => keys::from_item(&meta, &item)?,
        _ => keys::from_key(&meta, &a.key.as_ref().map(|k| k.0.clone()).unwrap_or_default())?,
    };
    if kind == Kind::Put {
        check_attribute_names(item.keys())?;
    }
    if let Some(update) = &update {
        update.check_keys(&meta.key_schema.names().collect::<Vec<_>>())?;
    }
    let return_old = a.return_values_on_condition_check_failure.as_deref() == Some("ALL_OLD");
    let mutate: Mutator = match kind {
        Kind::Put => mutators::put(cond, item, return_old),
        Kind::Delete => mutators::delete(cond, return_old),
        Kind::ConditionCheck => mutators::condition_check(cond, return_old),
        Kind::Update => {
            mutators::update(cond, update, mutators::key_item(&meta, &key), return_old, false)
        }
    };
    let write = ItemWrite { table, hash: key.hash, storage_key: key.storage_key, mutate };
    Ok(Prepared { write, table: meta.name.clone(), check: kind == Kind::ConditionCheck })
}

/// The reason an action gives for a cancelled transaction.
fn reason(error: Option<WriteError>) -> Result<CancellationReason, DynamoError> {
    Ok(match error {
        None => CancellationReason::none(),
        Some(WriteError::ConditionalCheckFailed { item }) => CancellationReason {
            code: "ConditionalCheckFailed",
            message: Some("The conditional request failed".into()),
            item,
        },
        Some(WriteError::Validation(m)) => {
            CancellationReason { code: "ValidationError", message: Some(m), item: None }
        }
        Some(other) => return Err(other.into()),
    })
}

/// How many actions each table had, in first-seen order (what a replay reports reading).
fn action_counts(tables: &[String]) -> Vec<(String, usize)> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for table in tables {
        match counts.iter_mut().find(|(t, _)| t == table) {
            Some((_, n)) => *n += 1,
            None => counts.push((table.clone(), 1)),
        }
    }
    counts
}

/// TransactWriteItems.
pub async fn transact_write_items(
    engine: &Arc<Engine>,
    _ctx: &RequestContext,
    input: TransactWriteItemsInput,
) -> Result<TransactWriteItemsOutput, DynamoError> {
    let items = validate(&input)?;
    let mut actions = Vec::with_capacity(items.len());
    for item in items {
        let Some((kind, a)) = action(item) else {
            let empty = item.condition_check.is_none()
                && item.put.is_none()
                && item.delete.is_none()
                && item.update.is_none();
            // An action naming no operation: AWS's current words (nubo-db/dynamodb-
            // conformance error-messages/transactWriteItems); one naming two: dynalite's.
            return Err(DynamoError::validation(match empty {
                true => {
                    "1 validation error detected: Value '' at 'transactItems' failed to satisfy constraint: TransactWriteRequest should contain Delete or Put or Update or ConditionCheck"
                }
                false => "TransactItems can only contain one of Check, Put, Update or Delete",
            }));
        };
        actions.push((kind, a, parse_action(kind, a)?));
    }
    let mut prepared = Vec::with_capacity(items.len());
    let mut faults = Vec::new();
    for (at, (kind, a, parsed)) in actions.into_iter().enumerate() {
        match prepare(engine, kind, a, parsed) {
            Ok(p) => prepared.push(p),
            Err(e) => match keys::mismatches_schema(&e) {
                Some(message) => faults.push((at, message.to_string())),
                None => return Err(e),
            },
        }
    }
    if !faults.is_empty() {
        return Err(CancellationReason::cancelled(items.len(), &faults));
    }
    for (i, p) in prepared.iter().enumerate() {
        let id = p.write.table.meta().id;
        let same = |q: &Prepared| {
            q.write.table.meta().id == id && q.write.storage_key == p.write.storage_key
        };
        if prepared[..i].iter().any(same) {
            return Err(DynamoError::validation(MSG_ONE_ITEM));
        }
    }
    let mode = input.return_consumed_capacity.as_deref();
    let fingerprint = input.transact_items.as_ref().map_or(0, |f| f.fingerprint);
    let now = engine.clock.now_millis();
    let guard = match input.client_request_token.as_deref() {
        None => None,
        Some(token) => match engine.transaction_tokens.claim(token, fingerprint, now) {
            Claim::Fresh(guard) => Some(guard),
            Claim::Replay(tables) => {
                // A replay writes nothing; AWS reports the reads it took instead.
                let per_table: Vec<(String, f64)> =
                    tables.into_iter().map(|(t, n)| (t, n as f64)).collect();
                let consumed_capacity = transaction_capacity(mode, &per_table, "ReadCapacityUnits");
                return Ok(TransactWriteItemsOutput {
                    consumed_capacity,
                    item_collection_metrics: None,
                });
            }
            Claim::Mismatch => {
                return Err(DynamoError::IdempotentParameterMismatch(
                    "The request uses the same client token as a previous, but non-identical request.".into(),
                ));
            }
            Claim::InProgress => {
                return Err(DynamoError::TransactionInProgress(
                    "Transaction from previous request is still in progress".into(),
                ));
            }
        },
    };
    let tables: Vec<String> = prepared.iter().map(|p| p.table.clone()).collect();
    // The item collections written (ConditionChecks write none), gathered only when
    // ReturnItemCollectionMetrics asks.
    let asked = input.return_item_collection_metrics.as_deref();
    let written: Vec<_> = match asked {
        Some("SIZE") => prepared
            .iter()
            .filter(|p| !p.check)
            .map(|p| (p.write.table.meta(), p.write.hash.clone()))
            .collect(),
        _ => Vec::new(),
    };
    let writes: Vec<ItemWrite> = prepared.into_iter().map(|p| p.write).collect();
    // The token is settled in the same task as the commit: a client that hangs up and
    // retries must find it recorded, not forgotten, once the transaction committed.
    let task = {
        let (engine, tables) = (engine.clone(), tables.clone());
        tokio::spawn(async move {
            let result = engine.transact(writes).await;
            if let (Ok(_), Some(guard)) = (&result, guard) {
                guard.complete(action_counts(&tables), engine.clock.now_millis());
            }
            result
        })
    };
    let result = task.await.map_err(|e| DynamoError::Internal(e.to_string()))?;
    let outcomes = match result {
        Ok(outcomes) => outcomes,
        Err(TxnError::Cancelled(errors)) => {
            let reasons = errors.into_iter().map(reason).collect::<Result<_, _>>()?;
            return Err(DynamoError::TransactionCanceled(reasons));
        }
        Err(TxnError::Failed(e)) => return Err(e.into()),
    };
    let mut units = Vec::new();
    for (table, outcome) in tables.iter().zip(&outcomes) {
        // Transactional writes cost twice a standard write.
        add_units(&mut units, table, 2.0 * write_units(outcome));
    }
    Ok(TransactWriteItemsOutput {
        consumed_capacity: transaction_capacity(mode, &units, "WriteCapacityUnits"),
        item_collection_metrics: written_collections_metrics(engine, &written, asked).await?,
    })
}
