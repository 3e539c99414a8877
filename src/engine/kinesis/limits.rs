//! AWS's per-shard limits with `governor`, when `kinesis.enforce_limits` is on: 1,000
//! records/s and 1 MiB/s in, 5 GetRecords/s and 2 MiB/s out, and 2 MiB/s per fan-out
//! consumer per shard. The limiters run on sluice's own clock, so tests move time instead
//! of sleeping.
//!
//! Bursts: writes may burst to one maximum-size record (AWS lets large records borrow
//! up to 10 MiB of the shard's write capacity). Read bytes are paid for after the fact:
//! a response of N bytes blocks the shard's reads for N / 2 MiB seconds (AWS: after a
//! 10 MiB response "subsequent calls made within the next 5 seconds throw
//! ProvisionedThroughputExceededException"), which a token bucket cannot express since
//! the size is only known once the read is done.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::Clock as GovernorClock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

use crate::clock::SharedClock;

const MIB: u32 = 1024 * 1024;

/// sluice's clock as governor sees it: time since the epoch.
#[derive(Debug, Clone)]
pub struct LimitClock(SharedClock);

impl GovernorClock for LimitClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        Duration::from_millis(self.0.now_millis().max(0) as u64)
    }
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, LimitClock, NoOpMiddleware<Duration>>;

fn limiter(per_second: u32, burst: u32, clock: &LimitClock) -> Limiter {
    let rate = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    RateLimiter::direct_with_clock(Quota::per_second(rate).allow_burst(burst), clock.clone())
}

/// One shard's four limiters.
pub struct ShardLimits {
    put_records: Limiter,
    put_bytes: Limiter,
    get_calls: Limiter,
    /// Until when (epoch ms) the bytes of earlier reads are still being paid back.
    reads_paid_until_ms: AtomicI64,
    clock: SharedClock,
}

impl ShardLimits {
    /// Admits a write of `records` records and `bytes` bytes, or refuses it whole.
    pub fn admit_write(&self, records: u32, bytes: u32) -> bool {
        let Some(n) = NonZeroU32::new(records) else { return true };
        if !matches!(self.put_records.check_n(n), Ok(Ok(()))) {
            return false;
        }
        match NonZeroU32::new(bytes) {
            None => true,
            Some(b) => matches!(self.put_bytes.check_n(b), Ok(Ok(()))),
        }
    }

    /// Admits one GetRecords call: within 5 calls/s, and not while earlier reads are
    /// still being paid back.
    pub fn admit_read(&self) -> bool {
        let now = self.clock.now_millis();
        self.reads_paid_until_ms.load(Ordering::Acquire) <= now && self.get_calls.check().is_ok()
    }

    /// Charges the bytes a read returned against the shard's 2 MiB/s.
    pub fn charge_read(&self, bytes: usize) {
        let now = self.clock.now_millis();
        let cost = (bytes as i64).saturating_mul(1000) / i64::from(2 * MIB);
        let _ = self.reads_paid_until_ms.fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
            Some(t.max(now).saturating_add(cost))
        });
    }
}

/// One fan-out consumer's read budget on one shard: 2 MiB/s, paid after each event like
/// GetRecords' bytes (an event's size is only known once it is read). SubscribeToShard
/// is pushed, so instead of refusing, the subscription waits before its next read. Shared
/// by a subscription and the one that takes it over: the limit is per consumer.
#[derive(Debug)]
pub struct FanoutBudget {
    paid_until_ms: AtomicI64,
}

impl FanoutBudget {
    /// How long to wait at `now_ms` before the next read.
    pub fn wait_ms(&self, now_ms: i64) -> i64 {
        self.paid_until_ms.load(Ordering::Acquire).saturating_sub(now_ms).max(0)
    }

    /// Charges the bytes an event carried.
    pub fn charge(&self, bytes: usize, now_ms: i64) {
        let cost = (bytes as i64).saturating_mul(1000) / i64::from(2 * MIB);
        let _ = self.paid_until_ms.fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
            Some(t.max(now_ms).saturating_add(cost))
        });
    }
}

/// The limiters of one stream's shards (and fan-out budgets), made when first used.
pub struct StreamLimits {
    clock: LimitClock,
    shards: Mutex<HashMap<u32, Arc<ShardLimits>>>,
    /// By (consumer name, consumer registration time, shard).
    fanout: Mutex<HashMap<(String, i64, u32), Arc<FanoutBudget>>>,
}

impl StreamLimits {
    pub fn new(clock: SharedClock) -> StreamLimits {
        StreamLimits {
            clock: LimitClock(clock),
            shards: Mutex::new(HashMap::new()),
            fanout: Mutex::new(HashMap::new()),
        }
    }

    /// A consumer's budget on a shard.
    pub fn fanout(&self, consumer: &str, created_ms: i64, shard: u32) -> Arc<FanoutBudget> {
        let mut budgets = self.fanout.lock().unwrap_or_else(|e| e.into_inner());
        budgets
            .entry((consumer.to_string(), created_ms, shard))
            .or_insert_with(|| Arc::new(FanoutBudget { paid_until_ms: AtomicI64::new(i64::MIN) }))
            .clone()
    }

    /// Forgets a deregistered consumer's budgets.
    pub fn forget_consumer(&self, consumer: &str) {
        let mut budgets = self.fanout.lock().unwrap_or_else(|e| e.into_inner());
        budgets.retain(|(name, _, _), _| name != consumer);
    }

    /// Shard `index`'s limiters; `max_record_bytes` sizes the write burst.
    pub fn shard(&self, index: u32, max_record_bytes: usize) -> Arc<ShardLimits> {
        let mut shards = self.shards.lock().unwrap_or_else(|e| e.into_inner());
        shards
            .entry(index)
            .or_insert_with(|| {
                let c = &self.clock;
                let write_burst = (max_record_bytes as u32).max(MIB);
                Arc::new(ShardLimits {
                    put_records: limiter(1000, 1000, c),
                    put_bytes: limiter(MIB, write_burst, c),
                    get_calls: limiter(5, 5, c),
                    reads_paid_until_ms: AtomicI64::new(i64::MIN),
                    clock: c.0.clone(),
                })
            })
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn limits_follow_the_injected_clock() {
        let clock = ManualClock::new(1_000_000);
        let limits = StreamLimits::new(clock.clone());
        let shard = limits.shard(0, MIB as usize);
        for _ in 0..1000 {
            assert!(shard.admit_write(1, 10));
        }
        assert!(!shard.admit_write(1, 10), "the 1001st record in a second is refused");
        clock.advance_millis(1000);
        assert!(shard.admit_write(500, 100));
        assert!(!shard.admit_write(1, MIB), "1 MiB/s of bytes");
        for _ in 0..5 {
            assert!(shard.admit_read());
        }
        assert!(!shard.admit_read(), "5 reads per second");
        clock.advance_millis(1000);
        assert!(shard.admit_read());
        shard.charge_read(10 * MIB as usize);
        clock.advance_millis(4999);
        assert!(!shard.admit_read(), "a 10 MiB read is paid back at 2 MiB/s");
        clock.advance_millis(1);
        assert!(shard.admit_read());
    }

    #[test]
    fn fanout_budgets_pay_back_at_two_mib_per_second_per_consumer() {
        let clock = ManualClock::new(1_000_000);
        let limits = StreamLimits::new(clock.clone());
        let a = limits.fanout("a", 1, 0);
        assert_eq!(a.wait_ms(1_000_000), 0);
        a.charge(4 * MIB as usize, 1_000_000);
        assert_eq!(a.wait_ms(1_000_000), 2000);
        assert_eq!(a.wait_ms(1_001_500), 500);
        // The same consumer and shard share it (a takeover inherits the debt); others not.
        assert_eq!(limits.fanout("a", 1, 0).wait_ms(1_000_000), 2000);
        assert_eq!(limits.fanout("a", 1, 1).wait_ms(1_000_000), 0);
        assert_eq!(limits.fanout("b", 1, 0).wait_ms(1_000_000), 0);
        limits.forget_consumer("a");
        assert_eq!(limits.fanout("a", 1, 0).wait_ms(1_000_000), 0);
    }
}
