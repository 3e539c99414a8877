//! The retry pause of a remote destination: exponential, capped, with jitter.
//!
//! The n-th consecutive failure waits between half and all of
//! `min(cap, initial × 2ⁿ)` ("equal jitter"): the random half keeps many bridges that
//! lost the same endpoint from retrying in lockstep, the fixed half keeps a pause from
//! collapsing to nothing. The pause is bounded by `cap` however long the endpoint stays
//! down; retries themselves never stop, because the cursor cannot move past a change
//! that was not delivered.

use std::time::Duration;

/// Consecutive-failure state of one destination.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    cap: Duration,
    failures: u32,
}

impl Backoff {
    /// Pauses start at `initial` and never exceed `cap`.
    pub fn new(initial: Duration, cap: Duration) -> Backoff {
        Backoff { initial, cap: cap.max(initial), failures: 0 }
    }

    /// After progress: the next failure waits the shortest pause again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The pause before the next attempt, counting one more failure. `jitter` is a
    /// uniform draw from [0, 1) (injected, so tests are deterministic).
    pub fn next_delay(&mut self, jitter: f64) -> Duration {
        // 2^20 × initial is past any sane cap already; stopping there avoids overflow.
        let doubled = self.initial.saturating_mul(1u32 << self.failures.min(20));
        let ceiling = doubled.min(self.cap);
        self.failures = self.failures.saturating_add(1);
        let jitter = if jitter.is_finite() { jitter.clamp(0.0, 1.0) } else { 0.0 };
        ceiling / 2 + (ceiling / 2).mul_f64(jitter)
    }
}

/// A uniform draw from [0, 1) for `Backoff::next_delay`.
pub fn jitter() -> f64 {
    fastrand::f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn doubles_from_the_initial_pause_up_to_the_cap() {
        let mut b = Backoff::new(ms(100), ms(1000));
        let lows: Vec<Duration> = (0..6).map(|_| b.next_delay(0.0)).collect();
        assert_eq!(lows, [ms(50), ms(100), ms(200), ms(400), ms(500), ms(500)]);
        assert_eq!(b.failures(), 6);
        let mut b = Backoff::new(ms(100), ms(1000));
        let highs: Vec<Duration> = (0..6).map(|_| b.next_delay(1.0)).collect();
        assert_eq!(highs, [ms(100), ms(200), ms(400), ms(800), ms(1000), ms(1000)]);
    }

    #[test]
    fn jitter_spreads_each_pause_over_its_upper_half() {
        let mut b = Backoff::new(ms(100), ms(10_000));
        b.next_delay(0.0);
        b.next_delay(0.0);
        // Third failure: ceiling 400 ms, so between 200 and 400.
        assert_eq!(b.clone().next_delay(0.25), ms(250));
        assert_eq!(b.clone().next_delay(0.5), ms(300));
        for _ in 0..100 {
            let d = b.clone().next_delay(jitter());
            assert!(d >= ms(200) && d <= ms(400), "{d:?}");
        }
        // Nonsense draws are tamed rather than trusted.
        assert_eq!(b.clone().next_delay(f64::NAN), ms(200));
        assert_eq!(b.clone().next_delay(7.0), ms(400));
    }

    #[test]
    fn reset_starts_over_and_long_outages_stay_bounded() {
        let mut b = Backoff::new(ms(50), ms(5000));
        for _ in 0..10_000 {
            assert!(b.next_delay(1.0) <= ms(5000));
        }
        assert_eq!(b.next_delay(1.0), ms(5000));
        b.reset();
        assert_eq!(b.failures(), 0);
        assert_eq!(b.next_delay(1.0), ms(50));
        // A cap below the initial pause is raised to it.
        let mut b = Backoff::new(ms(50), ms(10));
        assert_eq!(b.next_delay(1.0), ms(50));
    }
}
