//! Throttling of failed logins: a small token bucket per client address.
//!
//! Why: without it a client can try thousands of passwords or tokens a second. Every failed login
//! takes one token from its address's bucket; a bucket refills at a fixed rate up to its burst; an
//! address whose bucket is empty is refused (`429` with `Retry-After`) before its credentials are
//! even checked, so guessing slows to the refill rate. Successful logins take nothing, so a client
//! with the right credentials is never slowed by its own traffic.
//!
//! Memory is bounded: at most [`MAX_TRACKED`] addresses are tracked; when the table is full,
//! buckets that have refilled completely are forgotten, and if none has, the newcomer shares one
//! overflow bucket (so spreading guesses over many addresses, e.g. all of 127.0.0.0/8, gains
//! nothing past the table size). Time is passed in, so the rules are tested without sleeping.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Failed logins an address may make in a burst.
pub(crate) const BURST: u32 = 10;
/// One more failed login is allowed per this interval once the burst is spent.
pub(crate) const REFILL_EVERY: Duration = Duration::from_secs(1);
/// Most addresses tracked at once.
pub(crate) const MAX_TRACKED: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Tokens left at `at`.
    tokens: u32,
    /// When `tokens` was last brought up to date.
    at: Instant,
}

impl Bucket {
    fn full(now: Instant) -> Self {
        Self {
            tokens: BURST,
            at: now,
        }
    }

    /// Adds the tokens earned since `at` (whole intervals only, the remainder is kept).
    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at);
        let earned = elapsed.as_nanos() / REFILL_EVERY.as_nanos();
        if earned == 0 {
            return;
        }
        let earned = u32::try_from(earned).unwrap_or(u32::MAX);
        self.tokens = self.tokens.saturating_add(earned).min(BURST);
        self.at = if self.tokens == BURST {
            now
        } else {
            self.at + REFILL_EVERY * earned
        };
    }

    /// Time until the next token, when empty.
    fn wait(&self, now: Instant) -> Duration {
        (self.at + REFILL_EVERY).saturating_duration_since(now)
    }
}

/// Per-address buckets of failed logins. `None` keys the requests with no known peer address
/// (a router driven in-process) and the overflow bucket.
#[derive(Debug, Default)]
pub(crate) struct LoginThrottle {
    buckets: Mutex<HashMap<Option<IpAddr>, Bucket>>,
}

impl LoginThrottle {
    /// `Err(wait)` when `addr` has no failed login left: refuse it and tell it to retry after `wait`.
    pub(crate) fn check(&self, addr: Option<IpAddr>, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let key = if buckets.contains_key(&addr) {
            addr
        } else if buckets.len() >= MAX_TRACKED {
            None
        } else {
            return Ok(());
        };
        match buckets.get_mut(&key) {
            Some(bucket) => {
                bucket.refill(now);
                if bucket.tokens == 0 {
                    Err(bucket.wait(now).max(Duration::from_secs(1)))
                } else {
                    Ok(())
                }
            }
            None => Ok(()),
        }
    }

    /// Records one failed login of `addr`.
    pub(crate) fn failed(&self, addr: Option<IpAddr>, now: Instant) {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let mut key = addr;
        if !buckets.contains_key(&key) && buckets.len() >= MAX_TRACKED {
            buckets.retain(|_, bucket| {
                bucket.refill(now);
                bucket.tokens < BURST
            });
            if buckets.len() >= MAX_TRACKED {
                key = None;
            }
        }
        let bucket = buckets.entry(key).or_insert_with(|| Bucket::full(now));
        bucket.refill(now);
        bucket.tokens = bucket.tokens.saturating_sub(1);
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.buckets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
    }

    #[test]
    fn burst_then_one_per_interval() {
        let throttle = LoginThrottle::default();
        let t0 = Instant::now();
        for _ in 0..BURST {
            assert_eq!(throttle.check(ip(1), t0), Ok(()));
            throttle.failed(ip(1), t0);
        }
        assert_eq!(throttle.check(ip(1), t0), Err(REFILL_EVERY));
        // Another address is not affected.
        assert_eq!(throttle.check(ip(2), t0), Ok(()));
        // Just before the interval: still refused, told the exact wait.
        let almost = t0 + REFILL_EVERY - Duration::from_millis(1);
        assert_eq!(throttle.check(ip(1), almost), Err(Duration::from_secs(1)));
        // One interval later: exactly one more failure is allowed.
        let t1 = t0 + REFILL_EVERY;
        assert_eq!(throttle.check(ip(1), t1), Ok(()));
        throttle.failed(ip(1), t1);
        assert!(throttle.check(ip(1), t1).is_err());
        // A long pause refills to the burst, not beyond.
        let later = t1 + REFILL_EVERY * 1000;
        for _ in 0..BURST {
            assert_eq!(throttle.check(ip(1), later), Ok(()));
            throttle.failed(ip(1), later);
        }
        assert!(throttle.check(ip(1), later).is_err());
    }

    #[test]
    fn table_is_bounded_and_overflow_is_shared() {
        let throttle = LoginThrottle::default();
        let t0 = Instant::now();
        for i in 0..MAX_TRACKED {
            let addr = IpAddr::V6(std::net::Ipv6Addr::from(i as u128 + 1));
            throttle.failed(Some(addr), t0);
        }
        assert_eq!(throttle.tracked(), MAX_TRACKED);
        // Newcomers past the table share the overflow bucket (the `None` key).
        for last in 0..BURST as u8 {
            throttle.failed(ip(last), t0);
        }
        assert_eq!(throttle.tracked(), MAX_TRACKED + 1);
        assert!(throttle.check(ip(200), t0).is_err());
        // Once the tracked buckets refilled, they are forgotten to make room.
        let later = t0 + REFILL_EVERY * BURST;
        throttle.failed(ip(201), later);
        assert!(throttle.tracked() <= 2, "{}", throttle.tracked());
    }
}
