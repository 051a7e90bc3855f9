//! The in-flight registry of a session: its running synchronous calls, by request id.
//!
//! A synchronous `tools/call` registers itself here for as long as it runs, keyed by its JSON-RPC id
//! within its session; cancelling that key makes the handler's
//! [`ToolContext::is_cancelled`](crate::ToolContext::is_cancelled) true and wakes the call, which then
//! answers at once. Who cancels (a client's `notifications/cancelled`, an abandoned request, a server
//! stopping) is decided above this module.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

/// The cancellation state of one running call: the flag its handler polls and a token its
/// request awaits.
struct CallCancel {
    flag: Arc<AtomicBool>,
    token: CancellationToken,
}

impl CallCancel {
    fn cancel(&self) {
        self.flag.store(true, Ordering::Relaxed);
        self.token.cancel();
    }
}

/// The running synchronous calls of one session, by request key.
#[derive(Default)]
pub(crate) struct InFlight {
    calls: Mutex<HashMap<String, Arc<CallCancel>>>,
}

impl InFlight {
    /// Register a running call until the returned guard is dropped. A call registered under the
    /// key of a call still running replaces it (ids of in-flight requests must be unique; the
    /// older call simply can no longer be cancelled by id).
    pub(crate) fn register(&self, key: String) -> InFlightGuard<'_> {
        let call = Arc::new(CallCancel {
            flag: Arc::new(AtomicBool::new(false)),
            token: CancellationToken::new(),
        });
        self.lock().insert(key.clone(), call.clone());
        InFlightGuard {
            in_flight: self,
            key,
            call,
            finished: false,
        }
    }

    /// Cancel the running call with this key; returns whether there was one.
    pub(crate) fn cancel(&self, key: &str) -> bool {
        let call = self.lock().get(key).cloned();
        match call {
            Some(call) => {
                call.cancel();
                true
            }
            None => false,
        }
    }

    /// Set the cancellation flag of every running call without answering them (server stopping).
    pub(crate) fn flag_all(&self) {
        for call in self.lock().values() {
            call.flag.store(true, Ordering::Relaxed);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<CallCancel>>> {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Keeps a call registered while it runs. Dropped before [`finish`](Self::finish) (the request was
/// abandoned: the connection went away or the server stopped), it cancels the call, so the handler
/// learns that nobody waits for its result.
pub(crate) struct InFlightGuard<'a> {
    in_flight: &'a InFlight,
    key: String,
    call: Arc<CallCancel>,
    finished: bool,
}

impl InFlightGuard<'_> {
    /// The flag to hand to the handler's `ToolContext`.
    pub(crate) fn flag(&self) -> Arc<AtomicBool> {
        self.call.flag.clone()
    }

    /// Resolves when the client cancels the call.
    pub(crate) fn cancelled(&self) -> WaitForCancellationFuture<'_> {
        self.call.token.cancelled()
    }

    /// The call produced its response.
    pub(crate) fn finish(mut self) {
        self.finished = true;
    }
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.call.cancel();
        }
        let mut calls = self.in_flight.lock();
        if calls
            .get(&self.key)
            .is_some_and(|call| Arc::ptr_eq(call, &self.call))
        {
            calls.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_reaches_the_registered_call_only_while_it_runs() {
        let in_flight = InFlight::default();
        assert!(!in_flight.cancel("1"));
        let guard = in_flight.register("1".into());
        let flag = guard.flag();
        assert!(!in_flight.cancel("2"));
        assert!(!flag.load(Ordering::Relaxed));
        assert!(in_flight.cancel("1"));
        assert!(flag.load(Ordering::Relaxed));
        guard.finish();
        assert!(!in_flight.cancel("1"));
    }

    #[test]
    fn an_abandoned_call_is_cancelled_and_a_finished_one_is_not() {
        let in_flight = InFlight::default();
        let abandoned = in_flight.register("1".into());
        let abandoned_flag = abandoned.flag();
        drop(abandoned);
        assert!(abandoned_flag.load(Ordering::Relaxed));
        let finished = in_flight.register("2".into());
        let finished_flag = finished.flag();
        finished.finish();
        assert!(!finished_flag.load(Ordering::Relaxed));
        assert!(in_flight.lock().is_empty());
    }

    #[test]
    fn a_reused_id_replaces_the_older_registration() {
        let in_flight = InFlight::default();
        let older = in_flight.register("1".into());
        let newer = in_flight.register("1".into());
        let (older_flag, newer_flag) = (older.flag(), newer.flag());
        older.finish();
        assert!(in_flight.cancel("1"));
        assert!(newer_flag.load(Ordering::Relaxed));
        assert!(!older_flag.load(Ordering::Relaxed));
        newer.finish();
        assert!(in_flight.lock().is_empty());
    }
}
