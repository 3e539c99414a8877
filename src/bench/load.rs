//! The load driver: `concurrency` workers, each with its own keep-alive connection and
//! one request in flight, take numbered requests from a shared `Pace` until the run ends,
//! record each answer's latency in their own histogram and count errors by type; a
//! progress line goes to stderr once a second.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::client::{Client, Reply};
use super::histogram::Latency;
use super::pace::Pace;
use super::report::Measurement;

/// How hard and how long to drive.
#[derive(Debug, Clone)]
pub struct Load {
    pub concurrency: usize,
    pub duration: Duration,
    pub requests: Option<u64>,
    /// Requests per second over all workers; None for as fast as answers come.
    pub rate: Option<f64>,
    pub progress: bool,
}

/// Builds request number `n`: its target and body.
pub type MakeRequest =
    Arc<dyn Fn(u64, &mut fastrand::Rng) -> (&'static str, Vec<u8>) + Send + Sync>;

/// Reads an answer: records it wrote (PutRecords entries) and the errors it carries.
pub type Check = Arc<dyn Fn(&Reply) -> Outcome + Send + Sync>;

/// What one answer amounted to.
#[derive(Debug, Default, PartialEq)]
pub struct Outcome {
    pub records: u64,
    pub errors: Vec<(String, u64)>,
}

/// The plain reading: a 2xx answer is one record, anything else one error of its type.
pub fn plain(reply: &Reply) -> Outcome {
    match &reply.error_type {
        None => Outcome { records: 1, errors: Vec::new() },
        Some(kind) => Outcome { records: 0, errors: vec![(kind.clone(), 1)] },
    }
}

#[derive(Default)]
struct Counters {
    done: AtomicU64,
    errors: AtomicU64,
    finished: AtomicBool,
}

struct Worker {
    latency: Latency,
    requests: u64,
    records: u64,
    errors: BTreeMap<String, u64>,
}

/// Drives `make` against `client` as `load` says; the phase is reported as `name`.
pub async fn drive(
    name: &str,
    client: &Client,
    load: &Load,
    make: MakeRequest,
    check: Check,
) -> Measurement {
    let start = Instant::now();
    let pace = Arc::new(Pace::new(start, load.duration, load.requests, load.rate));
    let counters = Arc::new(Counters::default());
    let progress =
        load.progress.then(|| tokio::spawn(progress(name.to_string(), start, counters.clone())));
    let mut tasks = Vec::with_capacity(load.concurrency);
    for w in 0..load.concurrency.max(1) {
        let (client, pace, counters, make, check) =
            (client.clone(), pace.clone(), counters.clone(), make.clone(), check.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = client.conn();
            let mut rng = fastrand::Rng::with_seed(w as u64 ^ 0x5eed);
            let mut me = Worker {
                latency: Latency::new(),
                requests: 0,
                records: 0,
                errors: BTreeMap::new(),
            };
            while let Some((n, due)) = pace.take(Instant::now()) {
                tokio::time::sleep_until(due.into()).await;
                let (target, body) = make(n, &mut rng);
                let sent = Instant::now();
                let result = conn.send(target, body).await;
                me.requests += 1;
                let outcome = match result {
                    Ok(reply) => {
                        me.latency.record(sent.elapsed());
                        check(&reply)
                    }
                    Err(failure) => {
                        // A refused or broken connection: don't spin on it.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        Outcome { records: 0, errors: vec![(failure.kind(), 1)] }
                    }
                };
                me.records += outcome.records;
                for (kind, k) in outcome.errors {
                    counters.errors.fetch_add(k, Ordering::Relaxed);
                    *me.errors.entry(kind).or_default() += k;
                }
                counters.done.fetch_add(1, Ordering::Relaxed);
            }
            me
        }));
    }
    let mut total =
        Worker { latency: Latency::new(), requests: 0, records: 0, errors: BTreeMap::new() };
    for task in tasks {
        match task.await {
            Ok(w) => {
                total.latency.merge(&w.latency);
                total.requests += w.requests;
                total.records += w.records;
                for (k, n) in w.errors {
                    *total.errors.entry(k).or_default() += n;
                }
            }
            Err(e) => *total.errors.entry(format!("worker failed: {e}")).or_default() += 1,
        }
    }
    let seconds = start.elapsed().as_secs_f64().max(1e-9);
    counters.finished.store(true, Ordering::Relaxed);
    if let Some(p) = progress {
        let _ = p.await;
    }
    Measurement {
        name: name.to_string(),
        requests: total.requests,
        errors: total.errors.values().sum(),
        errors_by_type: total.errors,
        seconds,
        requests_per_s: total.requests as f64 / seconds,
        records: Some(total.records),
        records_per_s: Some(total.records as f64 / seconds),
        latency: total.latency.percentiles(),
    }
}

/// Once a second: `[  3s] put-item: 12000 requests, 4100/s, 0 errors`.
async fn progress(name: String, start: Instant, counters: Arc<Counters>) {
    let mut last = 0;
    let mut next = start + Duration::from_secs(1);
    while !counters.finished.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if Instant::now() < next || counters.finished.load(Ordering::Relaxed) {
            continue;
        }
        next += Duration::from_secs(1);
        let done = counters.done.load(Ordering::Relaxed);
        eprintln!(
            "[{:>4.0}s] {name}: {done} requests, {}/s, {} errors",
            start.elapsed().as_secs_f64(),
            done - last,
            counters.errors.load(Ordering::Relaxed)
        );
        last = done;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_answers_count_one_record_or_one_error() {
        let ok = Reply { status: 200, error_type: None, body: Default::default() };
        assert_eq!(plain(&ok), Outcome { records: 1, errors: vec![] });
        let bad = Reply {
            status: 400,
            error_type: Some("ValidationException".into()),
            body: Default::default(),
        };
        assert_eq!(
            plain(&bad),
            Outcome { records: 0, errors: vec![("ValidationException".into(), 1)] }
        );
    }
}
