//! The log budget: a token bucket of handler log notifications per second.
//!
//! Why: a handler that logs in a tight loop would otherwise flood its client's stream (and the
//! session outbox, pushing out progress and requests). Each notification takes a token; the bucket
//! holds `rate` tokens and refills at `rate` per second; a notification that finds it empty is
//! dropped and counted (`dcc_mcp_rejected_total{reason="log_rate"}`). Time is passed in, so the rule
//! is tested without sleeping.

use std::time::{Duration, Instant};

/// Tokens of one session's (or one request's) log notifications.
#[derive(Debug)]
pub(crate) struct LogBudget {
    rate: u32,
    tokens: f64,
    at: Instant,
}

impl LogBudget {
    /// A full bucket of `rate` tokens refilling at `rate` per second.
    pub(crate) fn new(rate: u32, now: Instant) -> Self {
        Self {
            rate,
            tokens: f64::from(rate),
            at: now,
        }
    }

    /// Take one token at `now`; false when none is left.
    pub(crate) fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at);
        self.at = now;
        let rate = f64::from(self.rate);
        self.tokens = (self.tokens + elapsed.as_secs_f64() * rate).min(rate);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// One second, the refill period of a whole bucket.
#[allow(dead_code)]
pub(crate) const REFILL_PERIOD: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_refill_rate() {
        let start = Instant::now();
        let mut budget = LogBudget::new(3, start);
        assert_eq!(
            (0..5).map(|_| budget.take(start)).collect::<Vec<_>>(),
            [true, true, true, false, false]
        );
        // A third of a second brings one token back, and no more.
        let later = start + REFILL_PERIOD / 3 + Duration::from_millis(1);
        assert!(budget.take(later));
        assert!(!budget.take(later));
        // A long pause refills to the burst, not past it.
        let much_later = later + Duration::from_secs(60);
        assert_eq!(
            (0..4)
                .map(|_| budget.take(much_later))
                .filter(|t| *t)
                .count(),
            3
        );
    }
}
