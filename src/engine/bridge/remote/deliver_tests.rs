//! The retry policy of `deliver`, against a scripted remote and a recorded (never slept)
//! pause: what is resent, in which order, after which pauses, and what is counted.

use std::collections::VecDeque;
use std::time::Duration;

use super::*;

fn record(key: &str, n: u32) -> NewRecord {
    NewRecord::keyed(key.to_string(), format!("{key}{n}").into_bytes())
}

fn names(batch: &[&NewRecord]) -> Vec<String> {
    batch.iter().map(|r| String::from_utf8_lossy(&r.data).into_owned()).collect()
}

/// Answers each call with the next scripted answer (all delivered once the script ends)
/// and keeps every batch it was sent.
#[derive(Default)]
struct Scripted {
    answers: VecDeque<Result<Vec<EntryOutcome>, RemoteError>>,
    calls: Vec<Vec<String>>,
}

impl Sink for Scripted {
    async fn put(&mut self, records: &[&NewRecord]) -> Result<Vec<EntryOutcome>, RemoteError> {
        self.calls.push(names(records));
        self.answers.pop_front().unwrap_or_else(|| Ok(vec![EntryOutcome::Delivered; records.len()]))
    }
}

#[derive(Default)]
struct Recorded {
    pauses: Vec<Duration>,
    throttled: u64,
    failed: u64,
    /// Pauses allowed before `pause` answers false.
    budget: Option<usize>,
}

impl Hooks for Recorded {
    fn throttled(&mut self, n: u64) {
        self.throttled += n;
    }
    fn failed(&mut self, n: u64, _why: &str) {
        self.failed += n;
    }
    async fn pause(&mut self, delay: Duration) -> bool {
        self.pauses.push(delay);
        self.budget.is_none_or(|b| self.pauses.len() <= b)
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn down(message: &str) -> Result<Vec<EntryOutcome>, RemoteError> {
    Err(RemoteError::Connection { endpoint: "http://r".into(), message: message.into() })
}

fn refused(status: u16, code: &str) -> Result<Vec<EntryOutcome>, RemoteError> {
    Err(RemoteError::Refused {
        endpoint: "http://r".into(),
        status,
        code: code.into(),
        message: "m".into(),
    })
}

async fn run(records: &[NewRecord], sink: &mut impl Sink, hooks: &mut Recorded) -> Delivery {
    let mut backoff = Backoff::new(ms(100), ms(1000));
    // The low end of every pause: deterministic.
    deliver(records, sink, &mut backoff, hooks, &mut || 0.0).await
}

#[tokio::test]
async fn whole_call_failures_resend_everything_after_growing_pauses() {
    let records = [record("a", 1), record("b", 1)];
    let mut sink = Scripted::default();
    sink.answers.extend([down("refused"), down("reset"), refused(500, "InternalFailure")]);
    let mut hooks = Recorded::default();
    assert_eq!(run(&records, &mut sink, &mut hooks).await, Delivery::Done);
    assert_eq!(sink.calls, vec![vec!["a1", "b1"]; 4]);
    assert_eq!(hooks.pauses, [ms(50), ms(100), ms(200)]);
    assert_eq!((hooks.failed, hooks.throttled), (3, 0));
}

#[tokio::test]
async fn a_throttled_call_counts_each_of_its_records() {
    let records = [record("a", 1), record("b", 1), record("c", 1)];
    let mut sink = Scripted::default();
    sink.answers.extend([refused(400, "ProvisionedThroughputExceededException")]);
    let mut hooks = Recorded::default();
    assert_eq!(run(&records, &mut sink, &mut hooks).await, Delivery::Done);
    assert_eq!((hooks.failed, hooks.throttled, sink.calls.len()), (0, 3, 2));
}

#[tokio::test]
async fn failed_entries_are_resent_with_the_later_entries_of_their_item_only() {
    use EntryOutcome::{Delivered, Failed, Throttled};
    let records = [record("a", 1), record("b", 1), record("a", 2), record("c", 1), record("b", 2)];
    let mut sink = Scripted::default();
    sink.answers.extend([
        Ok(vec![Delivered, Throttled, Delivered, Failed("InternalFailure: x".into()), Delivered]),
        Ok(vec![Delivered, Throttled, Delivered]),
    ]);
    let mut hooks = Recorded::default();
    assert_eq!(run(&records, &mut sink, &mut hooks).await, Delivery::Done);
    // b2 went through but follows the throttled b1, so it goes again after it; a2 does
    // not, since nothing of item a failed.
    assert_eq!(
        sink.calls,
        [
            vec!["a1", "b1", "a2", "c1", "b2"],
            vec!["b1", "c1", "b2"],
            vec!["c1"], // c1 throttled the second time; b1 and b2 are in
        ]
    );
    assert_eq!((hooks.throttled, hooks.failed), (2, 1));
    // Each round made progress, so each pause is the shortest.
    assert_eq!(hooks.pauses, [ms(50), ms(50)]);
}

#[tokio::test]
async fn no_progress_grows_the_pause_and_progress_resets_it() {
    use EntryOutcome::{Delivered, Throttled};
    let records = [record("a", 1), record("b", 1)];
    let mut sink = Scripted::default();
    sink.answers.extend([
        Ok(vec![Throttled, Throttled]),
        Ok(vec![Throttled, Throttled]),
        Ok(vec![Delivered, Throttled]),
        Ok(vec![Throttled]),
    ]);
    let mut hooks = Recorded::default();
    assert_eq!(run(&records, &mut sink, &mut hooks).await, Delivery::Done);
    assert_eq!(hooks.pauses, [ms(50), ms(100), ms(50), ms(100)]);
    assert_eq!(hooks.throttled, 6);
}

#[tokio::test]
async fn a_pause_that_says_stop_abandons_delivery() {
    let records = [record("a", 1)];
    let mut sink = Scripted::default();
    sink.answers.extend([down("x"), down("x"), down("x")]);
    let mut hooks = Recorded { budget: Some(1), ..Recorded::default() };
    assert_eq!(run(&records, &mut sink, &mut hooks).await, Delivery::Abandoned);
    assert_eq!(sink.calls.len(), 2);
}

/// A remote that fails each entry at random and keeps what it accepted.
struct Flaky {
    rng: fastrand::Rng,
    stream: Vec<String>,
}

impl Sink for Flaky {
    async fn put(&mut self, records: &[&NewRecord]) -> Result<Vec<EntryOutcome>, RemoteError> {
        if self.rng.u8(..) < 40 {
            return down("flaky");
        }
        let mut out = Vec::new();
        for r in records {
            if self.rng.bool() {
                out.push(EntryOutcome::Throttled);
            } else {
                self.stream.push(String::from_utf8_lossy(&r.data).into_owned());
                out.push(EntryOutcome::Delivered);
            }
        }
        Ok(out)
    }
}

#[tokio::test]
async fn under_random_failures_every_item_ends_in_commit_order() {
    for seed in 0..200 {
        let mut rng = fastrand::Rng::with_seed(seed);
        let records: Vec<NewRecord> =
            (0..30).map(|n| record(&format!("k{}-", rng.u8(..4)), n)).collect();
        let mut sink = Flaky { rng, stream: Vec::new() };
        let mut hooks = Recorded::default();
        assert_eq!(run(&records, &mut sink, &mut hooks).await, Delivery::Done);
        for r in &records {
            let key = &r.partition_key;
            let want: Vec<String> = records
                .iter()
                .filter(|o| o.partition_key == *key)
                .map(|o| String::from_utf8_lossy(&o.data).into_owned())
                .collect();
            // The last copy of each of the item's records, in stream order.
            let mut last: Vec<String> = Vec::new();
            for got in sink.stream.iter().filter(|g| g.starts_with(key.as_str())) {
                last.retain(|l| l != got);
                last.push(got.clone());
            }
            assert_eq!(last, want, "seed {seed}, item {key}: {:?}", sink.stream);
        }
    }
}
