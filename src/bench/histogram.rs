//! Latency recording: an HDR histogram of microseconds (3 significant digits, 1 µs to
//! 10 minutes), merged across workers, summarized as the percentiles a report prints.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Recorded latencies.
#[derive(Debug, Clone)]
pub struct Latency(Histogram<u64>);

impl Default for Latency {
    fn default() -> Latency {
        Latency::new()
    }
}

/// The percentiles of a latency histogram, in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Percentiles {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p99_9_ms: f64,
    pub max_ms: f64,
}

const HIGHEST_MICROS: u64 = 600_000_000;

impl Latency {
    pub fn new() -> Latency {
        // Bounds that are valid by construction; the fallback is never taken.
        let h = Histogram::new_with_bounds(1, HIGHEST_MICROS, 3).unwrap_or_else(|_| {
            Histogram::new(3).unwrap_or_else(|_| unreachable!("sigfig 3 is valid"))
        });
        Latency(h)
    }

    pub fn record(&mut self, d: Duration) {
        self.record_micros(d.as_micros().min(u128::from(HIGHEST_MICROS)) as u64);
    }

    /// Values past the histogram's range count as its highest value.
    pub fn record_micros(&mut self, micros: u64) {
        self.0.saturating_record(micros.max(1));
    }

    pub fn merge(&mut self, other: &Latency) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.0.add(&other.0);
    }

    pub fn count(&self) -> u64 {
        self.0.len()
    }

    pub fn percentiles(&self) -> Percentiles {
        if self.0.is_empty() {
            return Percentiles::default();
        }
        let ms = |micros: u64| micros as f64 / 1000.0;
        Percentiles {
            count: self.0.len(),
            mean_ms: self.0.mean() / 1000.0,
            p50_ms: ms(self.0.value_at_quantile(0.50)),
            p90_ms: ms(self.0.value_at_quantile(0.90)),
            p99_ms: ms(self.0.value_at_quantile(0.99)),
            p99_9_ms: ms(self.0.value_at_quantile(0.999)),
            max_ms: ms(self.0.max()),
        }
    }
}

impl Percentiles {
    /// `p50 0.412  p90 0.9  p99 2.1  p99.9 5.3  max 9.8 ms`
    pub fn line(&self) -> String {
        format!(
            "p50 {}  p90 {}  p99 {}  p99.9 {}  max {} ms",
            fmt_ms(self.p50_ms),
            fmt_ms(self.p90_ms),
            fmt_ms(self.p99_ms),
            fmt_ms(self.p99_9_ms),
            fmt_ms(self.max_ms)
        )
    }
}

/// Milliseconds with three significant digits (µs resolution below 1 ms).
pub fn fmt_ms(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.0}")
    } else if ms >= 10.0 {
        format!("{ms:.1}")
    } else if ms >= 1.0 {
        format!("{ms:.2}")
    } else {
        format!("{ms:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_spread() {
        let mut a = Latency::new();
        let mut b = Latency::new();
        for us in 1..=500 {
            a.record_micros(us * 10);
        }
        for us in 501..=1000 {
            b.record(Duration::from_micros(us * 10));
        }
        a.merge(&b);
        let p = a.percentiles();
        assert_eq!(p.count, 1000);
        // Three significant digits: within 0.1 % of the exact rank.
        assert!((p.p50_ms - 5.0).abs() < 0.01, "{p:?}");
        assert!((p.p90_ms - 9.0).abs() < 0.01, "{p:?}");
        assert!((p.p99_ms - 9.9).abs() < 0.01, "{p:?}");
        assert!((p.p99_9_ms - 9.99).abs() < 0.01, "{p:?}");
        assert!((p.max_ms - 10.0).abs() < 0.01, "{p:?}");
        assert!((p.mean_ms - 5.005).abs() < 0.01, "{p:?}");
    }

    #[test]
    fn empty_and_out_of_range() {
        assert_eq!(Latency::new().percentiles(), Percentiles::default());
        let mut h = Latency::new();
        h.record(Duration::from_secs(3600));
        h.record_micros(0);
        assert_eq!(h.count(), 2);
        assert!(h.percentiles().max_ms >= 599_000.0);
    }

    #[test]
    fn milliseconds_print_with_three_digits() {
        assert_eq!(fmt_ms(0.4123), "0.412");
        assert_eq!(fmt_ms(2.345), "2.35");
        assert_eq!(fmt_ms(12.34), "12.3");
        assert_eq!(fmt_ms(1234.5), "1234");
        let p = Percentiles {
            p50_ms: 0.5,
            p90_ms: 1.0,
            p99_ms: 2.0,
            p99_9_ms: 30.0,
            max_ms: 200.0,
            ..Default::default()
        };
        assert_eq!(p.line(), "p50 0.500  p90 1.00  p99 2.00  p99.9 30.0  max 200 ms");
    }
}
