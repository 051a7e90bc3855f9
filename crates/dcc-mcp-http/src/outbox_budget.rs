//! The outbox budgets shared by every session: a global byte budget, and an end to buffering for a
//! session that never opens its stream.
//!
//! `max_outbox_bytes` bounds one session's outbox, but not their sum: 600 sessions that queue async
//! results and never open `GET /mcp` held 1 MiB each. [`OutboxBudget`] is the sum every outbox
//! reserves from before it keeps a message (`max_outbox_bytes_total`); a message that does not fit
//! is dropped and counted as `outbox_budget`. And a session that has not opened its stream
//! `outbox_unattached_timeout` after `initialize` is not going to: its outbox is emptied and it
//! buffers nothing more (counted as `outbox_unattached`) until a stream attaches. The total is
//! exported as the gauge `dcc_mcp_outbox_bytes`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Notification bytes held by every outbox of one server, within one budget.
#[derive(Debug)]
pub(crate) struct OutboxBudget {
    used: AtomicUsize,
    limit: usize,
    unattached_after: Duration,
}

impl OutboxBudget {
    /// A budget of `limit` bytes; sessions without a stream stop buffering after `unattached_after`.
    pub(crate) fn new(limit: usize, unattached_after: Duration) -> Self {
        Self {
            used: AtomicUsize::new(0),
            limit,
            unattached_after,
        }
    }

    /// Take `bytes` from the budget; false (nothing taken) when they do not fit.
    pub(crate) fn reserve(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|total| *total <= self.limit)
            })
            .is_ok()
    }

    /// Give back `bytes` taken by [`reserve`](Self::reserve).
    pub(crate) fn release(&self, bytes: usize) {
        if bytes > 0 {
            self.used.fetch_sub(bytes, Ordering::AcqRel);
        }
    }

    /// Bytes held by all outboxes now.
    // Read by the /metrics gauges (feature `prometheus`) and the tests.
    #[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// How long a session that never opened a stream keeps buffering.
    pub(crate) fn unattached_after(&self) -> Duration {
        self.unattached_after
    }
}

impl Default for OutboxBudget {
    fn default() -> Self {
        Self::new(
            crate::limits::DEFAULT_OUTBOX_BYTES_TOTAL,
            crate::limits::DEFAULT_OUTBOX_UNATTACHED_TIMEOUT,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_stop_at_the_limit_and_come_back() {
        let budget = OutboxBudget::new(10, Duration::from_secs(1));
        assert!(budget.reserve(6));
        assert!(!budget.reserve(5));
        assert_eq!(budget.used(), 6);
        assert!(budget.reserve(4));
        budget.release(6);
        assert_eq!(budget.used(), 4);
        assert!(budget.reserve(6));
        assert!(!budget.reserve(1));
    }
}
