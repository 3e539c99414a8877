//! Namespaces, as AWS has them: every table, stream, consumer, mapping and backup
//! belongs to one account in one region, and is invisible from any other. Each
//! namespace is an [`Engine`](super::Engine) of its own over the one shared store.
//!
//! The store keeps what is global by id (items, change logs, Kinesis records, statistics,
//! checkpoints, the id counters) as before; what is found by name (the catalog records
//! of tables, DynamoDB streams, Kinesis streams and mappings, and the markers of deleted
//! ones still being purged) sits under the namespace's key prefix. The default namespace
//! (`aws.account_id`, `aws.region`) has the empty prefix, so a store written before
//! namespaces existed is that namespace's as it is: nothing to migrate.

use std::ops::Bound;

use crate::storage::{Space, StorageError, Store};

/// First byte of every key under a non-default namespace's prefix (no other meta key
/// starts with it).
const TAG: u8 = b'N';

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Namespace {
    pub account: String,
    pub region: String,
}

impl Namespace {
    pub fn new(account: &str, region: &str) -> Namespace {
        Namespace { account: account.to_string(), region: region.to_string() }
    }

    /// The prefix of this namespace's name-keyed meta keys: empty for `default`,
    /// `N{account}\0{region}\0` for any other.
    pub fn key_prefix(&self, default: &Namespace) -> Vec<u8> {
        if self == default {
            return Vec::new();
        }
        let mut k = vec![TAG];
        k.extend_from_slice(self.account.as_bytes());
        k.push(0);
        k.extend_from_slice(self.region.as_bytes());
        k.push(0);
        k
    }

    /// Whether `account` and `region` could name a namespace: a 12-digit account and a
    /// region of up to 32 letters, digits and dashes (`eu-west-1`, or `local` as
    /// DynamoDB Local's users write).
    pub fn valid(account: &str, region: &str) -> bool {
        let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
        let region_ok = (1..=32).contains(&region.len())
            && region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        account_ok && region_ok
    }
}

/// Every non-default namespace the store holds anything for, in order.
pub fn stored(store: &Store) -> Result<Vec<Namespace>, StorageError> {
    let mut out = Vec::new();
    let mut from = vec![TAG];
    loop {
        let view = store.read_view();
        let next = view
            .range(Space::Meta, Bound::Included(from.clone()), Bound::Excluded(vec![TAG + 1]))
            .next();
        let Some(entry) = next else { return Ok(out) };
        let (key, _) = entry?;
        let corrupt = || StorageError::Corrupt("a namespace key without its prefix".into());
        let mut parts = key[1..].splitn(3, |b| *b == 0);
        let account = parts.next().ok_or_else(corrupt)?;
        let region = parts.next().ok_or_else(corrupt)?;
        parts.next().ok_or_else(corrupt)?;
        let ns = Namespace::new(
            std::str::from_utf8(account).map_err(|_| corrupt())?,
            std::str::from_utf8(region).map_err(|_| corrupt())?,
        );
        // Past every key of this namespace: its prefix with the region's 0 raised to 1.
        from = vec![TAG];
        from.extend_from_slice(account);
        from.push(0);
        from.extend_from_slice(region);
        from.push(1);
        out.push(ns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_namespace_has_no_prefix_and_others_are_checked() {
        let default = Namespace::new("000000000000", "us-east-1");
        assert!(default.key_prefix(&default).is_empty());
        let other = Namespace::new("111122223333", "eu-west-1");
        assert_eq!(other.key_prefix(&default), b"N111122223333\0eu-west-1\0");
        assert!(Namespace::valid("111122223333", "eu-west-1"));
        assert!(Namespace::valid("000000000000", "us-gov-west-1"));
        assert!(Namespace::valid("000000000000", "local"));
        for (account, region) in [
            ("1111", "eu-west-1"),
            ("11112222333x", "eu-west-1"),
            ("111122223333", ""),
            ("111122223333", "eu-west-1\0x"),
            ("111122223333", "eu/west"),
        ] {
            assert!(!Namespace::valid(account, region), "{account} {region}");
        }
    }
}
