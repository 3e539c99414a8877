//! Secondary index maintenance: the index entries an item change adds and removes, in
//! the same storage batch as the item, so an index never disagrees with its table.

use std::collections::HashMap;

use crate::engine::catalog::{IndexMeta, KeyAttribute, TableMeta};
use crate::model::key_limits::check_key_size;
use crate::model::{AttributeValue, Item, value};
use crate::storage::{Mutation, Space, keys};

/// Entry and byte count changes per index id, for one group of writes.
pub type IndexDeltas = HashMap<u32, (i64, i64)>;

/// Refuses an item whose index key attributes have the wrong type, are empty or are too
/// large for a key, with AWS's messages (an item merely lacking them is fine: it is not
/// in that index).
pub fn check_index_keys(meta: &TableMeta, item: &Item) -> Result<(), String> {
    for index in &meta.indexes {
        for (attr, is_hash) in key_attributes(index) {
            if let Some(value) = item.get(&attr.name) {
                key_problem(index, attr, is_hash, value)?;
            }
        }
    }
    Ok(())
}

/// An index's key attributes, each with whether it is a partition key attribute.
fn key_attributes(index: &IndexMeta) -> impl Iterator<Item = (&KeyAttribute, bool)> {
    index.key_schema.attrs()
}

/// Why `value` cannot be `attr`'s part of a key of `index`, in AWS's words.
fn key_problem(
    index: &IndexMeta,
    attr: &KeyAttribute,
    is_hash: bool,
    value: &AttributeValue,
) -> Result<(), String> {
    if !attr.ty.matches(value) {
        return Err(format!(
            "One or more parameter values were invalid: Type mismatch for Index Key {} Expected: {} Actual: {} IndexName: {}",
            attr.name,
            attr.ty.as_str(),
            value.type_name(),
            index.name
        ));
    }
    let empty = matches!(value, AttributeValue::S(s) if s.is_empty())
        || matches!(value, AttributeValue::B(b) if b.is_empty());
    if empty {
        return Err(format!(
            "One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty string value. IndexName: {}, IndexKey: {}",
            index.name, attr.name
        ));
    }
    check_key_size(value, is_hash).map_err(str::to_string)
}

/// The storage key and projected item of `item`'s entry in `index`, if it has one. An
/// item whose index key values could not be a key (a wrong type, empty, too large) has
/// none: writes refuse such items, and a backfill leaves items stored before the index
/// existed out of it, as AWS does.
pub fn entry(
    meta: &TableMeta,
    index: &IndexMeta,
    item: &Item,
    item_key: &[u8],
) -> Option<(Vec<u8>, Item)> {
    for (attr, is_hash) in key_attributes(index) {
        if let Some(value) = item.get(&attr.name) {
            key_problem(index, attr, is_hash, value).ok()?;
        }
    }
    let projected = index.entry(&meta.key_schema, item)?;
    let values = |attrs: &mut dyn Iterator<Item = &KeyAttribute>| -> Option<Vec<&AttributeValue>> {
        attrs.map(|a| item.get(&a.name)).collect()
    };
    let hash = values(&mut index.key_schema.hash_attrs())?;
    let range = values(&mut index.key_schema.range_attrs())?;
    let key = keys::index_entry_key(meta.id, index.id, &hash, &range, item_key);
    Some((key, projected))
}

/// Adds to `mutations` what keeps every index of `meta` in step with the item at
/// `item_key` changing from `old` to `new`, and counts the changes in `deltas`.
pub fn maintain(
    meta: &TableMeta,
    item_key: &[u8],
    old: Option<&Item>,
    new: Option<&Item>,
    mutations: &mut Vec<Mutation>,
    deltas: &mut IndexDeltas,
) {
    for index in &meta.indexes {
        let before = old.and_then(|i| entry(meta, index, i, item_key));
        let after = new.and_then(|i| entry(meta, index, i, item_key));
        if before.as_ref() == after.as_ref() {
            continue;
        }
        let delta = deltas.entry(index.id).or_default();
        if let Some((key, projected)) = &before {
            delta.0 -= 1;
            delta.1 -= value::item_size(projected) as i64;
            if after.as_ref().is_none_or(|(k, _)| k != key) {
                mutations.push(Mutation::delete(Space::Indexes, key.clone()));
            }
        }
        if let Some((key, projected)) = after {
            delta.0 += 1;
            delta.1 += value::item_size(&projected) as i64;
            mutations.push(Mutation::put(Space::Indexes, key, value::encode_item(&projected)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::catalog::{KeyAttribute, KeySchema, ProjectionKind, ScalarType};

    fn s(x: &str) -> AttributeValue {
        AttributeValue::S(x.into())
    }

    fn meta() -> TableMeta {
        let key = |n: &str| KeyAttribute { name: n.into(), ty: ScalarType::S };
        let mut meta = TableMeta::new("t", KeySchema::new(key("pk"), None), 1);
        meta.id = 9;
        meta.attribute_definitions.push(key("g"));
        meta.indexes.push(IndexMeta {
            id: 1,
            name: "gsi".into(),
            global: true,
            key_schema: KeySchema::new(key("g"), None),
            projection: ProjectionKind::KeysOnly,
            throughput: None,
            backfilling: false,
        });
        meta.next_index_id = 2;
        meta
    }

    fn item(pairs: &[(&str, &str)]) -> Item {
        pairs.iter().map(|(k, v)| (k.to_string(), s(v))).collect()
    }

    #[test]
    fn entries_follow_the_index_key() {
        let m = meta();
        let key = keys::item_key(9, &s("a"), None);
        let (mut muts, mut deltas) = (Vec::new(), IndexDeltas::new());
        // Without the index key: no entry.
        maintain(&m, &key, None, Some(&item(&[("pk", "a")])), &mut muts, &mut deltas);
        assert!(muts.is_empty());
        // Gains it: one put of the keys-only projection.
        let with = item(&[("pk", "a"), ("g", "x"), ("other", "y")]);
        maintain(&m, &key, Some(&item(&[("pk", "a")])), Some(&with), &mut muts, &mut deltas);
        assert_eq!(muts.len(), 1);
        let projected = value::decode_item(muts[0].value.as_ref().unwrap()).unwrap();
        assert_eq!(projected, item(&[("pk", "a"), ("g", "x")]));
        // Index key changes: the old entry goes, the new one comes.
        let moved = item(&[("pk", "a"), ("g", "z")]);
        maintain(&m, &key, Some(&with), Some(&moved), &mut muts, &mut deltas);
        assert_eq!(muts.len(), 3);
        assert!(muts[1].value.is_none());
        // Only a non-projected attribute changes: nothing to do.
        let touched = item(&[("pk", "a"), ("g", "z"), ("other", "q")]);
        maintain(&m, &key, Some(&moved), Some(&touched), &mut muts, &mut deltas);
        assert_eq!(muts.len(), 3);
        assert_eq!(deltas[&1].0, 1);
    }

    #[test]
    fn wrong_or_empty_index_keys_are_refused() {
        let m = meta();
        let mut bad = item(&[("pk", "a")]);
        bad.insert("g".into(), AttributeValue::Bool(true));
        assert!(
            check_index_keys(&m, &bad)
                .unwrap_err()
                .contains("Type mismatch for Index Key g Expected: S Actual: BOOL IndexName: gsi")
        );
        assert!(
            check_index_keys(&m, &item(&[("pk", "a"), ("g", "")]))
                .unwrap_err()
                .contains("IndexName: gsi, IndexKey: g")
        );
        assert!(check_index_keys(&m, &item(&[("pk", "a")])).is_ok());
        let big = "x".repeat(2049);
        assert_eq!(
            check_index_keys(&m, &item(&[("pk", "a"), ("g", &big)])),
            Err(crate::model::key_limits::MSG_HASH_KEY_TOO_LARGE.to_string())
        );
        assert!(check_index_keys(&m, &item(&[("pk", "a"), ("g", &big[1..])])).is_ok());
    }

    #[test]
    fn items_whose_index_keys_cannot_be_keys_have_no_entry() {
        // What a backfill meets in items stored before the index existed.
        let m = meta();
        let key = keys::item_key(9, &s("a"), None);
        for bad in ["x".repeat(65_536), String::new()] {
            assert_eq!(entry(&m, &m.indexes[0], &item(&[("pk", "a"), ("g", &bad)]), &key), None);
        }
        let mut wrong = item(&[("pk", "a")]);
        wrong.insert("g".into(), AttributeValue::Bool(true));
        assert_eq!(entry(&m, &m.indexes[0], &wrong, &key), None);
        assert!(entry(&m, &m.indexes[0], &item(&[("pk", "a"), ("g", "ok")]), &key).is_some());
    }
}
