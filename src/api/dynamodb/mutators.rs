//! What a write does to the current item, as a `Mutator` the partition writer (or a
//! transaction holding the partition) runs against the real old item. PutItem,
//! UpdateItem, DeleteItem, BatchWriteItem and TransactWriteItems all build their writes
//! here, so a condition or an update behaves the same on every path.

use super::keys::PrimaryKey;
use crate::engine::{Mutator, TableMeta, WriteError};
use crate::model::expr::{Condition, UpdateExpr};
use crate::model::{Item, legacy, value};

/// Evaluates `cond` against `old`, failing the write as AWS does. `return_old` is
/// ReturnValuesOnConditionCheckFailure=ALL_OLD.
pub(super) fn check_condition(
    cond: Option<&Condition>,
    old: Option<&Item>,
    return_old: bool,
) -> Result<(), WriteError> {
    let Some(cond) = cond else { return Ok(()) };
    let empty = Item::new();
    match cond.eval(old.unwrap_or(&empty)) {
        Ok(true) => Ok(()),
        Ok(false) => Err(WriteError::ConditionalCheckFailed {
            item: old.filter(|_| return_old).map(|i| Box::new(i.clone())),
        }),
        Err(e) => Err(WriteError::Validation(e.message().to_string())),
    }
}

/// Replaces the item with `item` when the condition holds.
pub(super) fn put(cond: Option<Condition>, item: Item, return_old: bool) -> Mutator {
    Box::new(move |old| {
        check_condition(cond.as_ref(), old, return_old)?;
        Ok(Some(item))
    })
}

/// Deletes the item when the condition holds.
pub(super) fn delete(cond: Option<Condition>, return_old: bool) -> Mutator {
    Box::new(move |old| {
        check_condition(cond.as_ref(), old, return_old)?;
        Ok(None)
    })
}

/// Checks the condition and leaves the item as it is (a transaction's ConditionCheck).
pub(super) fn condition_check(cond: Option<Condition>, return_old: bool) -> Mutator {
    Box::new(move |old| {
        check_condition(cond.as_ref(), old, return_old)?;
        Ok(old.cloned())
    })
}

/// The item made of just the key attributes: what an UpdateItem on a missing item
/// starts from.
pub(super) fn key_item(meta: &TableMeta, key: &PrimaryKey) -> Item {
    meta.key_schema
        .names()
        .zip([key.hash.clone()].into_iter().chain(key.range.clone()))
        .map(|(n, v)| (n.to_string(), v))
        .collect()
}

/// Applies `update` when the condition holds: an upsert, as on AWS, except that an
/// update made only of REMOVE/DELETE actions leaves a missing item missing (no item, no
/// stream record). `legacy_updates` is set for AttributeUpdates, which words type
/// errors its own way.
pub(super) fn update(
    cond: Option<Condition>,
    update: Option<UpdateExpr>,
    key_item: Item,
    return_old: bool,
    legacy_updates: bool,
) -> Mutator {
    Box::new(move |old| {
        check_condition(cond.as_ref(), old, return_old)?;
        let mut item = old.cloned().unwrap_or(key_item);
        if let Some(update) = &update {
            // A missing item starts as just its key; AWS then ignores REMOVEs of nested
            // paths that cannot exist.
            let applied = if old.is_some() {
                update.apply(&mut item)
            } else {
                update.apply_to_new(&mut item)
            };
            let applied =
                if legacy_updates { applied.map_err(legacy::legacy_update_error) } else { applied };
            applied.map_err(|e| WriteError::Validation(e.message().to_string()))?;
        }
        if old.is_none() && update.as_ref().is_some_and(UpdateExpr::only_removes) {
            return Ok(None);
        }
        value::check_updated_item_size(&item)
            .map_err(|e| WriteError::Validation(e.message().to_string()))?;
        Ok(Some(item))
    })
}
