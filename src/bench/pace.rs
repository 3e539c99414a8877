//! When each request may start: requests are numbered in the order workers take them,
//! and with a rate limit request `n` is due `n / rate` seconds after the start, so the
//! rate holds whatever the concurrency (a worker that falls behind sends at once).
//! How the run ends: after `--requests` tickets, or at the `--duration` deadline.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Hands out request numbers and their due times.
#[derive(Debug)]
pub struct Pace {
    next: AtomicU64,
    start: Instant,
    deadline: Instant,
    limit: Option<u64>,
    rate: Option<f64>,
}

impl Pace {
    pub fn new(start: Instant, duration: Duration, limit: Option<u64>, rate: Option<f64>) -> Pace {
        // With a request count and no explicit duration the count alone ends the run; the
        // caller passes a long duration then.
        Pace {
            next: AtomicU64::new(0),
            start,
            deadline: start + duration,
            limit,
            rate: rate.filter(|r| *r > 0.0),
        }
    }

    /// The next request's number and when it is due, or None when the run is over.
    pub fn take(&self, now: Instant) -> Option<(u64, Instant)> {
        if now >= self.deadline {
            return None;
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        if self.limit.is_some_and(|l| n >= l) {
            return None;
        }
        let due = self.due(n);
        (due < self.deadline).then_some((n, due))
    }

    /// When request `n` is due.
    pub fn due(&self, n: u64) -> Instant {
        match self.rate {
            // A rate so low that the request falls past any clock is simply never due.
            Some(rate) => Duration::try_from_secs_f64(n as f64 / rate)
                .ok()
                .and_then(|d| self.start.checked_add(d))
                .unwrap_or(self.deadline),
            None => self.start,
        }
    }
}

/// `10`, `10s`, `500ms`, `2m`: a duration on the command line.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (t, 1.0)
    };
    let value: f64 =
        number.trim().parse().map_err(|_| format!("{text}: expected e.g. 10s, 500ms, 2m, 1h"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!("{text}: must be a positive duration"));
    }
    // At most a year: longer would overflow the clock arithmetic of a run's deadline.
    Duration::try_from_secs_f64(value * scale)
        .ok()
        .filter(|d| d.as_secs() <= 366 * 86_400)
        .ok_or_else(|| format!("{text}: at most a year (8784h)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_spaces_requests_evenly() {
        let start = Instant::now();
        let pace = Pace::new(start, Duration::from_secs(10), None, Some(1000.0));
        let due: Vec<Duration> =
            (0..4).map(|_| pace.take(start).unwrap()).map(|(_, d)| d - start).collect();
        assert_eq!(due, [0, 1, 2, 3].map(Duration::from_millis));
        // Past the deadline's due time no ticket is handed out.
        let pace = Pace::new(start, Duration::from_millis(2), None, Some(1000.0));
        assert_eq!(pace.take(start).map(|t| t.0), Some(0));
        assert_eq!(pace.take(start).map(|t| t.0), Some(1));
        assert_eq!(pace.take(start), None);
    }

    #[test]
    fn a_request_count_or_the_deadline_ends_the_run() {
        let start = Instant::now();
        let pace = Pace::new(start, Duration::from_secs(3600), Some(3), None);
        let numbers: Vec<u64> = std::iter::from_fn(|| pace.take(start).map(|t| t.0)).collect();
        assert_eq!(numbers, [0, 1, 2]);
        assert_eq!(pace.due(2), start);
        let pace = Pace::new(start, Duration::from_secs(1), None, None);
        assert!(pace.take(start).is_some());
        assert!(pace.take(start + Duration::from_secs(1)).is_none());
        // A rate of 0 means no limit.
        assert_eq!(Pace::new(start, Duration::from_secs(1), None, Some(0.0)).due(99), start);
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("10").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("2.5s").unwrap(), Duration::from_millis(2500));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("24h").unwrap(), Duration::from_secs(86400));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("1e300h").is_err());
    }
}
