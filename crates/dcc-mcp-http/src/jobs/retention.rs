//! Which finished jobs stay queryable by `jobs.get`: a count budget and a byte budget shared by all
//! sessions, spent fairly.
//!
//! When either budget is exceeded, the oldest finished job of the session holding the most (bytes when
//! the byte budget is exceeded, jobs when the count budget is) is forgotten. A session holding no more
//! than any other session is therefore never pushed out while another holds more: one session that
//! produces many or large results evicts its own jobs first, not other sessions' ones. A session's
//! finished jobs are forgotten at once when the session ends, since no one can query them any more.
//!
//! Choosing the victim scans the sessions that hold finished jobs; it runs only when a budget is
//! exceeded, at most once per finished job.

use std::collections::{HashMap, VecDeque};

/// The two budgets.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    /// Most finished jobs kept.
    pub(crate) jobs: usize,
    /// Most bytes of results and errors kept.
    pub(crate) bytes: usize,
}

/// Finished jobs of one session, oldest first, with the bytes they hold.
#[derive(Default)]
struct Held {
    jobs: VecDeque<(String, usize)>,
    bytes: usize,
}

/// The finished jobs kept, per session.
pub(crate) struct Retention {
    budget: Budget,
    sessions: HashMap<String, Held>,
    jobs: usize,
    bytes: usize,
}

impl Retention {
    pub(crate) fn new(budget: Budget) -> Self {
        Self {
            budget,
            sessions: HashMap::new(),
            jobs: 0,
            bytes: 0,
        }
    }

    /// Keep finished job `id` of `session`, holding `bytes`; returns the ids of the jobs forgotten to
    /// stay within the budgets (possibly `id` itself).
    pub(crate) fn keep(&mut self, session: &str, id: &str, bytes: usize) -> Vec<String> {
        let held = self.sessions.entry(session.to_owned()).or_default();
        held.jobs.push_back((id.to_owned(), bytes));
        held.bytes += bytes;
        self.jobs += 1;
        self.bytes += bytes;
        let mut forgotten = Vec::new();
        while self.jobs > self.budget.jobs || self.bytes > self.budget.bytes {
            let by_bytes = self.bytes > self.budget.bytes;
            let Some(victim) = self.largest(by_bytes) else {
                break;
            };
            if let Some(id) = self.pop_oldest(&victim) {
                forgotten.push(id);
            }
        }
        forgotten
    }

    /// Forget every finished job of `session` (it ended); returns their ids.
    pub(crate) fn forget(&mut self, session: &str) -> Vec<String> {
        let Some(held) = self.sessions.remove(session) else {
            return Vec::new();
        };
        self.jobs -= held.jobs.len();
        self.bytes -= held.bytes;
        held.jobs.into_iter().map(|(id, _)| id).collect()
    }

    /// The session holding the most bytes (`by_bytes`) or the most jobs; ties go to the session whose
    /// other measure is larger, then to the smaller id, so the choice is deterministic.
    fn largest(&self, by_bytes: bool) -> Option<String> {
        self.sessions
            .iter()
            .max_by(|(a_id, a), (b_id, b)| {
                let (a_key, b_key) = if by_bytes {
                    ((a.bytes, a.jobs.len()), (b.bytes, b.jobs.len()))
                } else {
                    ((a.jobs.len(), a.bytes), (b.jobs.len(), b.bytes))
                };
                a_key.cmp(&b_key).then_with(|| b_id.cmp(a_id))
            })
            .map(|(id, _)| id.clone())
    }

    fn pop_oldest(&mut self, session: &str) -> Option<String> {
        let held = self.sessions.get_mut(session)?;
        let (id, bytes) = held.jobs.pop_front()?;
        held.bytes -= bytes;
        self.jobs -= 1;
        self.bytes -= bytes;
        if held.jobs.is_empty() {
            self.sessions.remove(session);
        }
        Some(id)
    }

    /// Finished jobs kept now, and the bytes they hold.
    #[cfg(test)]
    fn totals(&self) -> (usize, usize) {
        (self.jobs, self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retention(jobs: usize, bytes: usize) -> Retention {
        Retention::new(Budget { jobs, bytes })
    }

    #[test]
    fn the_count_budget_evicts_the_session_with_the_most_jobs() {
        let mut kept = retention(4, 1000);
        assert!(kept.keep("quiet", "q1", 10).is_empty());
        assert!(kept.keep("loud", "l1", 10).is_empty());
        assert!(kept.keep("loud", "l2", 10).is_empty());
        assert!(kept.keep("loud", "l3", 10).is_empty());
        // Over the count: `loud` holds 3 (the most), its oldest goes; `quiet` keeps q1.
        assert_eq!(kept.keep("loud", "l4", 10), ["l1"]);
        assert_eq!(kept.keep("loud", "l5", 10), ["l2"]);
        assert_eq!(kept.totals(), (4, 40));
    }

    #[test]
    fn the_byte_budget_evicts_the_session_with_the_most_bytes() {
        let mut kept = retention(100, 100);
        assert!(kept.keep("quiet", "q1", 30).is_empty());
        assert!(kept.keep("quiet", "q2", 5).is_empty());
        assert!(kept.keep("big", "b1", 60).is_empty());
        // 95 + 60 > 100: `big` holds 120 after the push, the most; its jobs go, oldest first.
        assert_eq!(kept.keep("big", "b2", 60), ["b1"]);
        assert_eq!(kept.totals(), (3, 95));
        // A result that alone fills the budget: `big` stays the largest holder, so its own jobs go,
        // even the new one, and `quiet` keeps everything.
        assert_eq!(kept.keep("big", "b3", 100), ["b2", "b3"]);
        assert_eq!(kept.totals(), (2, 35));
    }

    #[test]
    fn a_session_that_ends_frees_its_share() {
        let mut kept = retention(10, 100);
        kept.keep("a", "a1", 40);
        kept.keep("b", "b1", 20);
        kept.keep("a", "a2", 30);
        let mut gone = kept.forget("a");
        gone.sort();
        assert_eq!(gone, ["a1", "a2"]);
        assert!(kept.forget("a").is_empty());
        assert_eq!(kept.totals(), (1, 20));
    }
}
