//! One source's coordinator on this instance: renews its leases and heartbeat, evens the
//! load with the other instances, lists the source's shards and starts a reader for each
//! lease it takes (the module above tells the whole protocol).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::STOP_WITHIN;
use super::client::{CallError, Client};
use super::destination::Target;
use super::leases::{self, Lease, LeaseTable, lease_key};
use super::reader::{self, Context, Held};
use crate::config::SourceConfig;
use crate::engine::Engine;
use crate::engine::bridge::remote::backoff::Backoff;
use crate::engine::bridge::remote::client::KinesisClient;
use crate::engine::catalog::{KeyAttribute, KeySchema, ScalarType};

/// Shards are listed (and missing leases created) every this many rounds.
const SYNC_EVERY: u64 = 10;
/// Lease renewals in flight at once.
const RENEWALS_IN_FLIGHT: usize = 16;
/// The longest round.
const MAX_ROUND: Duration = Duration::from_secs(1);
/// A heartbeat unmoved for this many lease durations is an instance gone for good: its
/// item is removed.
const FORGET_AFTER: u32 = 10;

/// What this instance has seen of another's lease: its counter, and since when (by this
/// instance's clock) it has not moved.
struct Seen {
    counter: u64,
    since: Instant,
}

pub(super) struct Coordinator {
    engine: Weak<Engine>,
    config: SourceConfig,
    me: String,
    lease_duration: Duration,
    source: Arc<Client>,
    leases: Arc<LeaseTable>,
    held: HashMap<String, Arc<Held>>,
    seen: HashMap<String, Seen>,
    /// The source table's key schema and current stream, once described.
    schema: Option<KeySchema>,
    round: u64,
    /// Readers ring it when they end.
    wake: Arc<Notify>,
}

impl Coordinator {
    pub(super) fn new(
        engine: &Arc<Engine>,
        config: &SourceConfig,
        me: &str,
        own_endpoint: &str,
    ) -> Option<Coordinator> {
        let bridge = &engine.config.bridge;
        let lease_duration = Duration::from_millis(bridge.lease_duration_ms);
        let creds = (config.region.as_str(), config.access_key_id.as_str(), {
            config.secret_access_key.as_str()
        });
        // Lease calls must finish well within a renewal round.
        let lease_timeout = (lease_duration / 3).max(Duration::from_millis(50));
        let read_timeout = Duration::from_millis(bridge.request_timeout_ms);
        let source = Client::new(&config.endpoint, creds, read_timeout, engine.clock.clone())?;
        let lease_endpoint =
            if config.lease_endpoint.is_empty() { own_endpoint } else { &config.lease_endpoint };
        let lease_client = Client::new(lease_endpoint, creds, lease_timeout, engine.clock.clone())?;
        Some(Coordinator {
            engine: Arc::downgrade(engine),
            config: config.clone(),
            me: me.to_string(),
            lease_duration,
            source: Arc::new(source),
            leases: Arc::new(LeaseTable {
                client: lease_client,
                table: config.lease_table.clone(),
                source: config.name.clone(),
            }),
            held: HashMap::new(),
            seen: HashMap::new(),
            schema: None,
            round: 0,
            wake: Arc::new(Notify::new()),
        })
    }

    fn closing(&self) -> bool {
        self.engine.upgrade().is_none_or(|e| e.closing())
    }

    fn failed(&self, what: &str, e: &CallError) {
        if let Some(engine) = self.engine.upgrade() {
            let m = &engine.metrics.source;
            let which = if e.throttled() { &m.read_throttles_total } else { &m.errors_total };
            which.with_label_values(&[&self.config.name]).inc();
        }
        tracing::warn!(source = %self.config.name, "{what}: {e}");
    }

    pub(super) async fn run(mut self) {
        let round = (self.lease_duration / 3).min(MAX_ROUND);
        while let Err(e) = self.leases.ensure().await {
            self.failed("lease table", &e);
            if self.closing() {
                return;
            }
            tokio::time::sleep(round.max(Duration::from_millis(500))).await;
        }
        loop {
            let started = Instant::now();
            if self.stopping() {
                self.hand_back_all().await;
                return;
            }
            if self.closing() {
                self.stop_all();
                return;
            }
            self.round_once().await;
            self.round += 1;
            // A reader that ended (a shard done, a lease to give back) starts the next
            // round at once.
            // A clean shutdown starts the next round at once (the loop's first check).
            let engine = self.engine.upgrade();
            let stopped = async {
                match &engine {
                    Some(e) => e.sources.stop.notified().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = tokio::time::sleep_until(started + round) => {}
                () = self.wake.notified() => {}
                () = stopped => {}
            }
            drop(engine);
        }
    }

    fn stopping(&self) -> bool {
        self.engine.upgrade().is_some_and(|e| e.sources.stopping.load(Ordering::Acquire))
    }

    /// Clean shutdown: every reader stops after its checkpoint, then its lease is released.
    async fn hand_back_all(&mut self) {
        for held in self.held.values() {
            held.shed.store(true, Ordering::Release);
        }
        let deadline = Instant::now() + STOP_WITHIN - Duration::from_secs(1);
        while self.held.values().any(|h| !h.exited.load(Ordering::Acquire))
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.release_shed().await;
        if let Err(e) = self.leases.leave(&self.me).await {
            self.failed("removing this instance's heartbeat", &e);
        }
        self.stop_all();
        self.count_held();
    }

    fn stop_all(&mut self) {
        for held in self.held.values() {
            held.stop.store(true, Ordering::Release);
        }
        self.held.clear();
    }

    async fn round_once(&mut self) {
        self.renew().await;
        let beat = self.engine.upgrade().map_or(0, |e| e.clock.now_millis().max(0) as u64);
        if let Err(e) = self.leases.heartbeat(&self.me, beat.max(self.round)).await {
            self.failed("heartbeat", &e);
        }
        let finished_any = self.held.values().any(|h| h.finished.load(Ordering::Acquire));
        self.drop_finished();
        self.release_shed().await;
        self.count_held();
        let (mut leases, mut workers) = match self.leases.list().await {
            Ok(l) => l,
            Err(e) => return self.failed("listing leases", &e),
        };
        if self.schema.is_none() || finished_any || self.round.is_multiple_of(SYNC_EVERY) {
            match self.sync(&leases).await {
                Ok(true) => match self.leases.list().await {
                    Ok(l) => (leases, workers) = l,
                    Err(e) => return self.failed("listing leases", &e),
                },
                Ok(false) => {}
                Err(e) => self.failed("listing the source's shards", &e),
            }
        }
        // The first round only announces this instance: instances started together then
        // see each other before any takes a lease, and share from the start.
        if self.schema.is_some() && self.round > 0 {
            self.acquire(&leases, &workers).await;
        }
        self.count_held();
    }

    /// Gives back the leases handed off whose readers have stopped (after their last
    /// checkpoint), so another instance takes them at once.
    async fn release_shed(&mut self) {
        let done: Vec<String> = self
            .held
            .iter()
            .filter(|(_, h)| h.shed.load(Ordering::Acquire) && h.exited.load(Ordering::Acquire))
            .map(|(k, _)| k.clone())
            .collect();
        for key in done {
            let Some(held) = self.held.remove(&key) else { continue };
            let counter = held.counter.load(Ordering::Acquire);
            match self.leases.release(&key, &self.me, counter).await {
                Ok(()) => {
                    tracing::info!(source = %self.config.name, shard = %held.shard_id, "lease handed back")
                }
                // Lost meanwhile, or the table is unreachable: either way it is not ours
                // any more (it lapses by itself).
                Err(e) if leases::lost(&e) => {}
                Err(e) => self.failed("releasing a lease", &e),
            }
            self.forget(&held);
        }
    }

    fn count_held(&self) {
        if let Some(e) = self.engine.upgrade() {
            let held = e.metrics.source.leases_held.with_label_values(&[&self.config.name]);
            held.set(self.held.len() as i64);
        }
    }

    /// Renews every held lease; one lost to another instance's write stops its reader.
    async fn renew(&mut self) {
        // Many at once (a source may have hundreds of shards), a bounded number in flight.
        let valid_for = self.valid_for();
        let owned: Vec<(String, Arc<Held>)> =
            self.held.iter().map(|(k, h)| (k.clone(), h.clone())).collect();
        let renewals = owned.into_iter().map(|(key, held)| {
            let (leases, me) = (self.leases.clone(), self.me.clone());
            async move {
                let started = Instant::now();
                let counter = held.counter.load(Ordering::Acquire);
                let result = leases.renew(&key, &me, counter).await;
                if let Ok(next) = result {
                    held.counter.store(next, Ordering::Release);
                    *held.valid_until.lock().unwrap_or_else(|e| e.into_inner()) =
                        started + valid_for;
                }
                (key, result)
            }
        });
        let results: Vec<(String, Result<u64, CallError>)> = futures_util::stream::iter(renewals)
            .buffer_unordered(RENEWALS_IN_FLIGHT)
            .collect()
            .await;
        let mut lost = Vec::new();
        for (key, result) in results {
            match result {
                Ok(_) => {}
                Err(e) if leases::lost(&e) => lost.push(key),
                // Unreachable lease table: the lease lapses by itself (valid_until) unless
                // a later renewal gets through.
                Err(e) => self.failed("renewing a lease", &e),
            }
        }
        for key in lost {
            if let Some(held) = self.held.remove(&key) {
                held.stop.store(true, Ordering::Release);
                tracing::info!(source = %self.config.name, shard = %held.shard_id, "lease lost to another instance");
                self.forget(&held);
            }
        }
        // Leases whose renewals kept failing have lapsed: their readers have stopped by
        // now (they check the same deadline), and another instance may take them.
        let now = Instant::now();
        let lapsed: Vec<String> = self
            .held
            .iter()
            .filter(|(_, h)| *h.valid_until.lock().unwrap_or_else(|e| e.into_inner()) <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in lapsed {
            if let Some(held) = self.held.remove(&key) {
                held.stop.store(true, Ordering::Release);
                tracing::warn!(source = %self.config.name, shard = %held.shard_id, "lease lapsed: it could not be renewed within the lease duration");
                self.forget(&held);
            }
        }
    }

    /// How long after a renewal starts the lease surely stays this instance's: the lease
    /// duration less a tenth, for clocks that run at slightly different rates.
    fn valid_for(&self) -> Duration {
        self.lease_duration - self.lease_duration / 10
    }

    fn forget(&self, held: &Held) {
        if let Some(e) = self.engine.upgrade() {
            e.metrics.source.forget_shard(&self.config.name, &held.shard_id);
        }
    }

    fn drop_finished(&mut self) {
        let done: Vec<String> = self
            .held
            .iter()
            .filter(|(_, h)| h.finished.load(Ordering::Acquire) || h.stop.load(Ordering::Acquire))
            .filter(|(_, h)| !h.shed.load(Ordering::Acquire) || h.finished.load(Ordering::Acquire))
            .map(|(k, _)| k.clone())
            .collect();
        for key in done {
            if let Some(held) = self.held.remove(&key) {
                self.forget(&held);
            }
        }
    }

    /// Describes the source table and its current stream, creating a lease for each shard
    /// without one; whether any was created.
    async fn sync(&mut self, leases: &[Lease]) -> Result<bool, CallError> {
        let table = json!({"TableName": self.config.table});
        let described = self.source.call("DynamoDB_20120810.DescribeTable", &table).await?;
        let t = &described["Table"];
        self.schema = key_schema(t);
        let Some(stream_arn) = t["LatestStreamArn"].as_str() else {
            tracing::warn!(source = %self.config.name, "table {} has no stream", self.config.table);
            return Ok(false);
        };
        // Every shard of the stream, page by page.
        let mut shards = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let mut body = json!({"StreamArn": stream_arn});
            if let Some(s) = start.take() {
                body["ExclusiveStartShardId"] = json!(s);
            }
            let page = self.source.call("DynamoDBStreams_20120810.DescribeStream", &body).await?;
            let d = &page["StreamDescription"];
            shards.extend(d["Shards"].as_array().cloned().unwrap_or_default());
            match d["LastEvaluatedShardId"].as_str() {
                Some(last) => start = Some(last.to_string()),
                None => break,
            }
        }
        // The configured starting position applies to a source's very first shards; any
        // shard after them starts at its beginning, so nothing between them is missed.
        let first = leases.is_empty();
        let mut created = false;
        for shard in &shards {
            let Some(id) = shard["ShardId"].as_str() else { continue };
            let key = lease_key(&self.config.name, stream_arn, id);
            if leases.iter().any(|l| l.key == key) {
                continue;
            }
            let parents: Vec<String> =
                shard["ParentShardId"].as_str().map(str::to_string).into_iter().collect();
            let start = match first && parents.is_empty() {
                true => self.config.starting_position.as_str(),
                false => "TRIM_HORIZON",
            };
            let lease = Lease::new(&self.config.name, stream_arn, id, parents, start);
            created |= self.leases.create(&lease).await?;
        }
        Ok(created)
    }

    /// Evens the load: over its share, this instance hands leases back; under it, it takes
    /// free leases and expired ones (from an instance dead or cut off for a lease
    /// duration).
    async fn acquire(&mut self, leases: &[Lease], workers: &[(String, u64)]) {
        let now = Instant::now();
        let counters =
            leases.iter().map(|l| (&l.key, l.counter)).chain(workers.iter().map(|(k, b)| (k, *b)));
        for (key, counter) in counters {
            let fresh = self.seen.get(key).is_none_or(|s| s.counter != counter);
            if fresh {
                self.seen.insert(key.clone(), Seen { counter, since: now });
            }
        }
        self.seen.retain(|k, _| {
            leases.iter().any(|l| &l.key == k) || workers.iter().any(|(w, _)| w == k)
        });
        let alive =
            |key: &str| self.seen.get(key).is_some_and(|s| now - s.since < self.lease_duration);
        let mine = leases::worker_key(&self.config.name, &self.me);
        let live = workers.iter().filter(|(k, _)| *k != mine && alive(k)).count() + 1;
        for (key, beat) in workers {
            let gone = self
                .seen
                .get(key)
                .is_some_and(|s| now - s.since >= self.lease_duration * FORGET_AFTER);
            if gone && let Err(e) = self.leases.forget_worker(key, *beat).await {
                self.failed("removing a gone instance's heartbeat", &e);
            }
        }
        let expired = |l: &Lease| {
            l.owner.is_none()
                || (l.owner.as_deref() == Some(&self.me) && !self.held.contains_key(&l.key))
                || !alive(&l.key)
        };
        let active: Vec<&Lease> = leases.iter().filter(|l| !l.finished()).collect();
        let target = active.len().div_ceil(live);
        let keeping: Vec<String> = self
            .held
            .iter()
            .filter(|(_, h)| !h.shed.load(Ordering::Acquire) && !h.finished.load(Ordering::Acquire))
            .map(|(k, _)| k.clone())
            .collect();
        if keeping.len() > target {
            // Over the share: the readers of the excess stop after their next checkpoint,
            // and their leases are released (release_shed).
            let mut excess = keeping;
            excess.sort();
            for key in excess.iter().skip(target) {
                if let Some(h) = self.held.get(key) {
                    h.shed.store(true, Ordering::Release);
                }
            }
            return;
        }
        let mut want = target - keeping.len();
        let mut free: Vec<&Lease> = active
            .iter()
            .copied()
            .filter(|l| !self.held.contains_key(&l.key) && expired(l) && ready(l, leases))
            .collect();
        // Instances that start together try different leases first.
        free.sort_by_key(|l| md5::compute(format!("{}{}", self.me, l.key)).0);
        for lease in free {
            if want == 0 {
                break;
            }
            let from_another = lease.owner.as_deref().is_some_and(|o| o != self.me);
            if self.take(lease).await {
                want -= 1;
                if from_another && let Some(e) = self.engine.upgrade() {
                    e.metrics
                        .source
                        .lease_steals_total
                        .with_label_values(&[&self.config.name])
                        .inc();
                }
            }
        }
    }

    /// Takes `lease` (free, or expired: its holder has not renewed it for a whole lease
    /// duration, so it has stopped) and starts its reader.
    async fn take(&mut self, lease: &Lease) -> bool {
        let Some(engine) = self.engine.upgrade() else { return false };
        let Some(schema) = self.schema.clone() else { return false };
        let started = Instant::now();
        let counter = match self.leases.take(lease, &self.me).await {
            Ok(c) => c,
            Err(e) if leases::lost(&e) => return false,
            Err(e) => {
                self.failed("taking a lease", &e);
                return false;
            }
        };
        let held = Arc::new(Held {
            key: lease.key.clone(),
            shard_id: lease.shard_id.clone(),
            stream_arn: lease.stream_arn.clone(),
            counter: AtomicU64::new(counter),
            valid_until: Mutex::new(started + self.valid_for()),
            stop: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            shed: AtomicBool::new(false),
            exited: AtomicBool::new(false),
        });
        self.held.insert(lease.key.clone(), held.clone());
        tracing::info!(source = %self.config.name, shard = %lease.shard_id, "lease taken");
        let ctx = Arc::new(Context {
            engine: self.engine.clone(),
            name: self.config.name.clone(),
            table: self.config.table.clone(),
            region: self.config.region.clone(),
            me: self.me.clone(),
            schema,
            source: self.source.clone(),
            leases: self.leases.clone(),
            poll_interval: Duration::from_millis(self.config.poll_interval_ms),
            wake: self.wake.clone(),
        });
        let target = target(&engine, &self.config.destination);
        let checkpoint = lease.checkpoint.clone();
        tokio::spawn(reader::run(ctx, held, checkpoint, target));
        true
    }
}

/// Whether `lease` may be read: its parents are read to their end (or gone), and so is
/// every shard of an older stream of the same source.
fn ready(lease: &Lease, all: &[Lease]) -> bool {
    let label = |arn: &str| arn.rsplit('/').next().unwrap_or(arn).to_string();
    let mine = label(&lease.stream_arn);
    let parents_done = lease.parents.iter().all(|p| {
        all.iter()
            .find(|l| l.stream_arn == lease.stream_arn && &l.shard_id == p)
            .is_none_or(Lease::finished)
    });
    let older_done = all.iter().all(|l| l.finished() || label(&l.stream_arn) >= mine);
    parents_done && older_done
}

/// The key schema of a DescribeTable `Table`.
fn key_schema(table: &serde_json::Value) -> Option<KeySchema> {
    let ty = |name: &str| {
        table["AttributeDefinitions"].as_array()?.iter().find_map(|d| {
            (d["AttributeName"] == name)
                .then(|| d["AttributeType"].as_str().and_then(ScalarType::parse))
                .flatten()
        })
    };
    let attribute = |kind: &str| {
        table["KeySchema"].as_array()?.iter().find_map(|k| {
            let name = k["AttributeName"].as_str()?;
            (k["KeyType"] == kind)
                .then(|| Some(KeyAttribute { name: name.to_string(), ty: ty(name)? }))?
        })
    };
    Some(KeySchema::new(attribute("HASH")?, attribute("RANGE")))
}

/// The destination of a source: a remote when `[[bridge.remotes]]` names it, else a
/// stream of this sluice by the ARN's name.
fn target(engine: &Arc<Engine>, arn: &str) -> Target {
    let bridge = &engine.config.bridge;
    if let Some(remote) = bridge.remote(arn) {
        let timeout = Duration::from_millis(bridge.request_timeout_ms);
        if let Some(client) = KinesisClient::new(remote, timeout, engine.clock.clone()) {
            let backoff = Backoff::new(
                Duration::from_millis(bridge.retry_initial_ms),
                Duration::from_millis(bridge.retry_max_ms),
            );
            return Target::Remote { client: Box::new(client), backoff };
        }
    }
    let stream = arn.rsplit_once(":stream/").map_or(arn, |(_, name)| name).to_string();
    Target::Local { engine: Arc::downgrade(engine), stream }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(stream: &str, shard: &str, parents: &[&str], done: bool) -> Lease {
        let arn = format!("arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/{stream}");
        let parents = parents.iter().map(|p| p.to_string()).collect();
        let checkpoint = if done { leases::SHARD_END } else { "TRIM_HORIZON" };
        Lease::new("s", &arn, shard, parents, checkpoint)
    }

    #[test]
    fn children_wait_for_their_parents_and_new_streams_for_old_ones() {
        let parent = lease("2026-01-01", "a", &[], false);
        let child = lease("2026-01-01", "b", &["a"], false);
        let orphan = lease("2026-01-01", "c", &["gone"], false);
        let newer = lease("2026-02-01", "x", &[], false);
        let all = vec![parent.clone(), child.clone(), orphan.clone(), newer.clone()];
        assert!(ready(&parent, &all) && ready(&orphan, &all));
        assert!(!ready(&child, &all) && !ready(&newer, &all));
        let done = vec![lease("2026-01-01", "a", &[], true), child.clone(), newer.clone()];
        assert!(ready(&child, &done));
        assert!(!ready(&newer, &done), "the old stream's child is not done yet");
    }

    #[test]
    fn key_schemas_come_from_describe_table() {
        let t = json!({
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        });
        let s = key_schema(&t).unwrap();
        assert_eq!((s.hash.name.as_str(), s.range.unwrap().ty), ("pk", ScalarType::N));
        assert!(key_schema(&json!({})).is_none());
        assert_eq!(super::super::worker_id("w1"), "w1");
        assert!(super::super::worker_id("").ends_with(&format!("-{}", std::process::id())));
    }
}
