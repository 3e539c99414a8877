//! The fan-out hub's bookkeeping: which subscription holds each (consumer, shard), when it
//! started (the 5-second rule), and a way to end it from outside: a takeover, the
//! consumer's deregistration, the stream's deletion, or shutdown.
//!
//! Records themselves never pass through here: every subscription waits on its shard's
//! committed tip (`StreamShared::subscribe`) and reads from storage, so a writer only
//! bumps a `watch` and no subscriber, however slow, can hold a writer or another
//! subscriber back.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::watch;

/// Why a subscription was ended from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// A later SubscribeToShard for the same consumer and shard took over.
    TakenOver,
    /// The consumer was deregistered.
    ConsumerDeleted,
    /// The stream was deleted.
    StreamDeleted,
    /// The server is shutting down: end cleanly, the client resubscribes elsewhere.
    Shutdown,
}

/// One subscription slot: a consumer (by name and registration time, so a re-registered
/// consumer of the same name starts afresh) on one shard of one stream.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SlotKey {
    pub stream_id: u64,
    pub consumer: String,
    pub consumer_created_ms: i64,
    pub shard: u32,
}

struct Slot {
    id: u64,
    started_ms: i64,
    end: watch::Sender<Option<EndReason>>,
}

/// A claim on a slot: the receiver tells the subscription when to end.
#[derive(Debug)]
pub struct Claim {
    pub id: u64,
    pub end: watch::Receiver<Option<EndReason>>,
}

/// Every slot. Bounded by consumers × shards: slots stay after their subscription ends
/// (the 5-second rule counts from the last successful call either way) and go with their
/// consumer or stream.
#[derive(Default)]
pub struct Hub {
    slots: Mutex<HashMap<SlotKey, Slot>>,
    next_id: AtomicU64,
    shutting_down: AtomicBool,
}

/// The slot was claimed less than the takeover window ago.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InUse;

impl Hub {
    /// Claims `key` at `now_ms`: refused within `window_ms` of the previous successful
    /// claim; otherwise the previous subscription (if still open) is told it was taken
    /// over. After shutdown began, the claim's receiver already says so.
    pub fn claim(&self, key: SlotKey, now_ms: i64, window_ms: u64) -> Result<Claim, InUse> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = slots.get(&key) {
            if now_ms < old.started_ms.saturating_add(window_ms as i64) {
                return Err(InUse);
            }
            old.end.send_replace(Some(EndReason::TakenOver));
        }
        let initial = self.shutting_down.load(Ordering::Acquire).then_some(EndReason::Shutdown);
        let (end, rx) = watch::channel(initial);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        slots.insert(key, Slot { id, started_ms: now_ms, end });
        Ok(Claim { id, end: rx })
    }

    /// Ends every subscription of one consumer and forgets its slots.
    pub fn end_consumer(&self, stream_id: u64, consumer: &str, reason: EndReason) {
        self.end_where(|k| k.stream_id == stream_id && k.consumer == consumer, reason);
    }

    /// Ends every subscription of one stream and forgets its slots.
    pub fn end_stream(&self, stream_id: u64, reason: EndReason) {
        self.end_where(|k| k.stream_id == stream_id, reason);
    }

    /// Ends every subscription (shutdown); later claims start ended.
    pub fn end_all(&self, reason: EndReason) {
        self.shutting_down.store(true, Ordering::Release);
        self.end_where(|_| true, reason);
    }

    /// Whether subscription `id` still holds `key` (it was neither taken over nor ended).
    pub fn holds(&self, key: &SlotKey, id: u64) -> bool {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.get(key).is_some_and(|s| s.id == id)
    }

    fn end_where(&self, which: impl Fn(&SlotKey) -> bool, reason: EndReason) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.retain(|key, slot| {
            if which(key) {
                slot.end.send_replace(Some(reason));
                false
            } else {
                true
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(consumer: &str, shard: u32) -> SlotKey {
        SlotKey { stream_id: 1, consumer: consumer.into(), consumer_created_ms: 7, shard }
    }

    #[test]
    fn the_five_second_rule_then_takeover() {
        let hub = Hub::default();
        let first = hub.claim(key("a", 0), 10_000, 5_000).unwrap();
        // The same consumer and shard within 5 s: refused, and the first is untouched.
        assert_eq!(hub.claim(key("a", 0), 14_999, 5_000).unwrap_err(), InUse);
        assert_eq!(*first.end.borrow(), None);
        // Another shard, or another consumer, is independent.
        let other = hub.claim(key("a", 1), 14_999, 5_000).unwrap();
        hub.claim(key("b", 0), 14_999, 5_000).unwrap();
        // At 5 s the new call takes over and the old one is told so.
        let second = hub.claim(key("a", 0), 15_000, 5_000).unwrap();
        assert_eq!(*first.end.borrow(), Some(EndReason::TakenOver));
        assert!(hub.holds(&key("a", 0), second.id) && !hub.holds(&key("a", 0), first.id));
        // Deregistration ends every shard of that consumer only.
        hub.end_consumer(1, "a", EndReason::ConsumerDeleted);
        assert_eq!(*second.end.borrow(), Some(EndReason::ConsumerDeleted));
        assert_eq!(*other.end.borrow(), Some(EndReason::ConsumerDeleted));
        // A fresh claim right away is allowed: the slot went with the consumer.
        let third = hub.claim(key("a", 0), 15_001, 5_000).unwrap();
        hub.end_all(EndReason::Shutdown);
        assert_eq!(*third.end.borrow(), Some(EndReason::Shutdown));
        let late = hub.claim(key("c", 0), 99_000, 5_000).unwrap();
        assert_eq!(*late.end.borrow(), Some(EndReason::Shutdown));
    }
}
