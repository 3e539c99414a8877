//! AWS's per-shard limits with `governor`, when `kinesis.enforce_limits` is on: 1,000
//! records/s and 1 MiB/s in, 5 GetRecords/s and 2 MiB/s out. The limiters run on
//! sluice's own clock, so tests move time instead of sleeping.
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

/// The limiters of one stream's shards, made when a shard is first used.
pub struct StreamLimits {
    clock: LimitClock,
    shards: Mutex<HashMap<u32, Arc<ShardLimits>>>,
}

impl StreamLimits {
    pub fn new(clock: SharedClock) -> StreamLimits {
        StreamLimits { clock: LimitClock(clock), shards: Mutex::new(HashMap::new()) }
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
}
