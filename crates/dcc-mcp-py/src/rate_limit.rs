//! A token bucket: at most `burst` events at once, then `per_second` on average.
//!
//! Why here, pyo3-free: the `tracing` → `logging` bridge uses it to keep a flood of server warnings
//! from reaching the host's console, and as plain Rust it is unit-tested by `cargo test -p
//! dcc-mcp-py` without an interpreter.

use std::time::Instant;

/// A token bucket refilled continuously at `per_second`, holding at most `burst` tokens.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    per_second: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(per_second: f64, burst: f64) -> Self {
        Self::new_at(per_second, burst, Instant::now())
    }

    /// A full bucket as of `now`.
    pub fn new_at(per_second: f64, burst: f64, now: Instant) -> Self {
        Self {
            per_second,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes a token now if there is one.
    pub fn allow(&mut self) -> bool {
        self.allow_at(Instant::now())
    }

    /// Takes a token at `now` (not earlier than the previous call) if there is one.
    pub fn allow_at(&mut self, now: Instant) -> bool {
        let refill = now.saturating_duration_since(self.last).as_secs_f64() * self.per_second;
        self.tokens = (self.tokens + refill).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_then_the_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new_at(10.0, 20.0, start);
        assert_eq!((0..1000).filter(|_| bucket.allow_at(start)).count(), 20);
        let later = start + Duration::from_secs(1);
        assert_eq!((0..1000).filter(|_| bucket.allow_at(later)).count(), 10);
        // Never more than the burst, however long the bucket rested.
        let much_later = later + Duration::from_secs(3600);
        assert_eq!(
            (0..1000).filter(|_| bucket.allow_at(much_later)).count(),
            20
        );
    }
}
