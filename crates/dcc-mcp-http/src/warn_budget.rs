//! Rate-limited warnings: at most one log line per interval for an event a client can repeat.
//!
//! Why: a client that never reads its stream makes its outbox drop a notification per progress
//! report; one WARN line per drop was 125,000 lines (20.9 MB of log) in 10 s, a disk and log-pipeline
//! attack of its own. A [`WarnBudget`] lets one line through per interval and folds the events in
//! between into the next line's count; `dcc_mcp_rejected_total` still counts every event. Time is
//! passed in, so the rule is tested without sleeping.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How often a rate-limited warning may be logged.
pub(crate) const WARN_INTERVAL: Duration = Duration::from_secs(1);

/// What a warning line reports: the events since the previous line, this one included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Warning {
    /// Events folded into this line.
    pub(crate) events: u64,
}

#[derive(Debug, Default)]
struct State {
    /// When the last line went out (`None`: never).
    last: Option<Instant>,
    /// Events since then, not logged yet.
    pending: u64,
}

/// One line per [`WARN_INTERVAL`] for one kind of event, process-wide.
#[derive(Debug)]
pub(crate) struct WarnBudget {
    state: Mutex<State>,
}

impl WarnBudget {
    /// A budget that lets the first event through.
    pub(crate) const fn new() -> Self {
        Self {
            state: Mutex::new(State {
                last: None,
                pending: 0,
            }),
        }
    }

    /// `events` more happened at `now`: `Some` when a line is due (with every event since the
    /// previous line), `None` when they are folded into the next one.
    pub(crate) fn record(&self, events: u64, now: Instant) -> Option<Warning> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.pending = state.pending.saturating_add(events);
        let due = state
            .last
            .is_none_or(|last| now.saturating_duration_since(last) >= WARN_INTERVAL);
        if !due {
            return None;
        }
        state.last = Some(now);
        let events = std::mem::take(&mut state.pending);
        Some(Warning { events })
    }
}

/// Outbox drops of every session.
pub(crate) static OUTBOX_DROPS: WarnBudget = WarnBudget::new();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_carries_every_event_since_the_last() {
        let budget = WarnBudget::new();
        let start = Instant::now();
        assert_eq!(budget.record(1, start), Some(Warning { events: 1 }));
        let mut lines = 0;
        // 10,000 events within the interval: folded, no line.
        for i in 1..=10_000u32 {
            let at = start + WARN_INTERVAL * i / 10_001;
            lines += usize::from(budget.record(2, at).is_some());
        }
        assert_eq!(lines, 0);
        assert_eq!(
            budget.record(1, start + WARN_INTERVAL),
            Some(Warning { events: 20_001 })
        );
        assert_eq!(budget.record(1, start + WARN_INTERVAL * 3 / 2), None);
        assert_eq!(
            budget.record(3, start + WARN_INTERVAL * 5),
            Some(Warning { events: 4 })
        );
    }
}
