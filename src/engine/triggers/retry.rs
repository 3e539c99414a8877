//! What happens to a batch after each invocation, by AWS's rules
//! (docs/lambda-event-source-mappings.md §14):
//!
//! - a function error (the function threw, or ran out of time) is retried until the
//!   records expire, or `MaximumRetryAttempts` retries were made: N allows N + 1
//!   invocations (recorded: `approximateInvokeCount` is N + 1), then the batch is
//!   discarded;
//! - a batch that never reached the function (throttled, unreachable, unknown function)
//!   is retried without counting: "Retry attempts doesn't apply to service errors or
//!   throttles where the batch didn't reach the function";
//! - before every attempt, records older than `MaximumRecordAgeInSeconds`, or past the
//!   source's retention (expired), are discarded (`Discards`).
//!
//! Retries wait with capped exponential backoff (`lambda.mapping_retry_initial_ms` to
//! `lambda.mapping_retry_max_ms`, AWS does not document its own), so a failing function is
//! not hammered and a recovered one is tried again soon.

use std::time::Duration;

use super::batch::Outcome;
use crate::engine::bridge::remote::backoff::{Backoff, jitter};

/// Why records were discarded without a successful invocation. The names are those of the
/// on-failure record's `condition` where AWS's is known (`RetryAttemptsExhausted`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    RetryAttemptsExhausted,
    /// Older than MaximumRecordAgeInSeconds (AWS's spelling not found; LocalStack's).
    RecordAgeExceeded,
    /// Past the source's retention: the stream itself no longer keeps them.
    RecordExpired,
    /// One record whose entry alone passes the 6 MiB invocation limit.
    PayloadTooLarge,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::RetryAttemptsExhausted => "RetryAttemptsExhausted",
            Condition::RecordAgeExceeded => "RecordAgeExceeded",
            Condition::RecordExpired => "RecordExpired",
            Condition::PayloadTooLarge => "PayloadTooLarge",
        }
    }
}

/// What to do after an invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// The batch is done: the checkpoint moves past it.
    Done,
    /// Invoke it again after this pause.
    Retry(Duration),
    /// Give up on it: the checkpoint moves past it, and the discard is reported.
    Discard(Condition),
}

/// The retry bookkeeping of one batch.
#[derive(Debug, Clone)]
pub struct Attempts {
    /// Invocations that reached the function (the on-failure record's
    /// `approximateInvokeCount`).
    pub invocations: u32,
    backoff: Backoff,
}

impl Attempts {
    pub fn new(initial: Duration, cap: Duration) -> Attempts {
        Attempts { invocations: 0, backoff: Backoff::new(initial, cap) }
    }

    /// The decision after `outcome`, under `maximum_retry_attempts` (-1: no limit).
    pub fn after(&mut self, outcome: &Outcome, maximum_retry_attempts: i64) -> Next {
        if outcome.reached_function() {
            self.invocations = self.invocations.saturating_add(1);
        }
        match outcome {
            Outcome::Success(_) => Next::Done,
            Outcome::FunctionError(_) | Outcome::Reported(_)
                if maximum_retry_attempts >= 0
                    && i64::from(self.invocations) > maximum_retry_attempts =>
            {
                Next::Discard(Condition::RetryAttemptsExhausted)
            }
            Outcome::FunctionError(_) | Outcome::Reported(_) | Outcome::NotInvoked(_) => {
                Next::Retry(self.backoff.next_delay(jitter()))
            }
        }
    }
}

/// The arrival time before which a record is discarded at `now_ms`, and why: records
/// past the source's retention have expired; with a MaximumRecordAgeInSeconds (not -1),
/// records older than it are discarded too.
pub fn cutoff(now_ms: i64, retention_ms: i64, maximum_record_age_seconds: i64) -> (i64, Condition) {
    let expired = now_ms.saturating_sub(retention_ms);
    if maximum_record_age_seconds >= 0 {
        let too_old = now_ms.saturating_sub(maximum_record_age_seconds.saturating_mul(1000));
        if too_old > expired {
            return (too_old, Condition::RecordAgeExceeded);
        }
    }
    (expired, Condition::RecordExpired)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lambda::InvokeError;
    use bytes::Bytes;

    fn attempts() -> Attempts {
        Attempts::new(Duration::from_millis(10), Duration::from_millis(40))
    }

    #[test]
    fn n_retries_allow_n_plus_one_invocations() {
        let failed = Outcome::FunctionError(Bytes::new());
        for n in [0i64, 1, 2, 3] {
            let mut a = attempts();
            let mut invoked = 0;
            loop {
                invoked += 1;
                match a.after(&failed, n) {
                    Next::Retry(d) => assert!(d <= Duration::from_millis(40)),
                    Next::Discard(c) => {
                        assert_eq!(c, Condition::RetryAttemptsExhausted);
                        break;
                    }
                    Next::Done => unreachable!(),
                }
            }
            assert_eq!(
                (invoked, a.invocations),
                (n + 1, (n + 1) as u32),
                "MaximumRetryAttempts {n}"
            );
        }
        let mut a = attempts();
        for _ in 0..1000 {
            assert!(matches!(a.after(&failed, -1), Next::Retry(_)), "-1 never gives up");
        }
    }

    #[test]
    fn batches_that_never_reached_the_function_do_not_use_the_quota() {
        let mut a = attempts();
        for _ in 0..50 {
            assert!(matches!(
                a.after(&Outcome::NotInvoked(InvokeError::Throttled), 0),
                Next::Retry(_)
            ));
        }
        assert_eq!(a.invocations, 0);
        assert_eq!(a.after(&Outcome::Success(Bytes::new()), 0), Next::Done);
        assert_eq!(a.invocations, 1);
    }

    #[test]
    fn the_stricter_of_retention_and_record_age_wins() {
        let hour = 3_600_000;
        assert_eq!(cutoff(10 * hour, 24 * hour, -1), (-14 * hour, Condition::RecordExpired));
        assert_eq!(
            cutoff(10 * hour, 24 * hour, 60),
            (10 * hour - 60_000, Condition::RecordAgeExceeded)
        );
        assert_eq!(cutoff(100 * hour, hour, 604_800), (99 * hour, Condition::RecordExpired));
    }
}
