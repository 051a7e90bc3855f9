//! MCP sessions: random ids, idle expiry, and each session's notification outbox.
//!
//! Notifications are queued on the session (bounded, oldest dropped first) and drained by the session's
//! `GET /mcp` SSE stream, so a notification sent before the client opened its stream is not lost.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Notify;

use crate::cancel::InFlight;
use crate::record::Recorder;

/// Most notifications buffered per session while no stream drains them.
pub const OUTBOX_CAPACITY: usize = 1024;

/// One client session.
pub(crate) struct Session {
    id: String,
    protocol_version: &'static str,
    last_seen: Mutex<Instant>,
    outbox: Mutex<Outbox>,
    wake: Notify,
    /// Bumped when a new stream takes over, so the previous one ends.
    stream_generation: AtomicU64,
    open_streams: AtomicUsize,
    /// Running synchronous calls, for `notifications/cancelled`.
    in_flight: InFlight,
}

#[derive(Default)]
struct Outbox {
    queue: VecDeque<String>,
    closed: bool,
}

/// What the SSE stream should do next.
pub(crate) enum Next {
    /// Send this serialized message.
    Send(String),
    /// Nothing queued: wait for a wake-up.
    Wait,
    /// The session ended or another stream took over.
    End,
}

impl Session {
    fn new(id: String, protocol_version: &'static str) -> Self {
        Self {
            id,
            protocol_version,
            last_seen: Mutex::new(Instant::now()),
            outbox: Mutex::new(Outbox::default()),
            wake: Notify::new(),
            stream_generation: AtomicU64::new(0),
            open_streams: AtomicUsize::new(0),
            in_flight: InFlight::default(),
        }
    }

    /// The `Mcp-Session-Id`.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// The session's running synchronous calls.
    pub(crate) fn in_flight(&self) -> &InFlight {
        &self.in_flight
    }

    /// The version negotiated by `initialize`.
    pub(crate) fn protocol_version(&self) -> &'static str {
        self.protocol_version
    }

    fn touch(&self) {
        *self
            .last_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }

    fn is_expired(&self, ttl: Duration, now: Instant) -> bool {
        if self.open_streams.load(Ordering::Acquire) > 0 {
            return false;
        }
        let last_seen = *self
            .last_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        now.saturating_duration_since(last_seen) >= ttl
    }

    /// Queue a JSON-RPC notification for the session's SSE stream.
    pub(crate) fn notify(&self, method: &str, params: Value) {
        let message = crate::protocol::notification(method, params).to_string();
        {
            let mut outbox = self.outbox.lock().unwrap_or_else(PoisonError::into_inner);
            if outbox.closed {
                return;
            }
            if outbox.queue.len() >= OUTBOX_CAPACITY {
                outbox.queue.pop_front();
                tracing::warn!(session = %self.id, "notification outbox full; dropped the oldest notification");
            }
            outbox.queue.push_back(message);
        }
        self.wake.notify_one();
    }

    /// A new stream takes over; returns its generation.
    pub(crate) fn attach_stream(&self) -> u64 {
        let generation = self.stream_generation.fetch_add(1, Ordering::AcqRel) + 1;
        self.open_streams.fetch_add(1, Ordering::AcqRel);
        self.wake.notify_waiters();
        generation
    }

    /// A stream ended.
    pub(crate) fn detach_stream(&self) {
        self.open_streams.fetch_sub(1, Ordering::AcqRel);
        self.touch();
    }

    /// Next step for the stream of `generation`.
    pub(crate) fn next_for(&self, generation: u64) -> Next {
        let mut outbox = self.outbox.lock().unwrap_or_else(PoisonError::into_inner);
        if outbox.closed || self.stream_generation.load(Ordering::Acquire) != generation {
            return Next::End;
        }
        match outbox.queue.pop_front() {
            Some(message) => Next::Send(message),
            None => Next::Wait,
        }
    }

    /// Resolves when something changed for the stream (create it before calling [`next_for`](Self::next_for)).
    pub(crate) fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.wake.notified()
    }

    fn close(&self) {
        let mut outbox = self.outbox.lock().unwrap_or_else(PoisonError::into_inner);
        outbox.closed = true;
        outbox.queue.clear();
        drop(outbox);
        self.wake.notify_waiters();
    }
}

/// All live sessions, at most `max_sessions` of them.
pub(crate) struct SessionStore {
    sessions: RwLock<HashMap<String, Arc<Session>>>,
    ttl: Duration,
    max_sessions: usize,
    /// No session in the map can expire before this instant (a lower bound, refreshed by every full
    /// scan in [`create`](Self::create)): when the store is full, `initialize` scans for expired
    /// sessions only once one may exist, so a client hammering a full server costs no O(n) scans.
    /// `None`: no session can ever expire (the TTL reaches past what the clock can represent).
    earliest_expiry: Mutex<Option<Instant>>,
    recorder: Recorder,
}

/// Why a session could not be created.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CreateError {
    /// The OS had no randomness for a session id.
    NoRandomness,
    /// `max_sessions` live sessions exist and none has expired.
    Full,
}

impl SessionStore {
    pub(crate) fn new(ttl: Duration, max_sessions: usize, recorder: Recorder) -> Self {
        Self {
            sessions: RwLock::new(HashMap::new()),
            ttl,
            max_sessions,
            earliest_expiry: Mutex::new(Some(Instant::now())),
            recorder,
        }
    }

    /// The configured session cap.
    pub(crate) fn max_sessions(&self) -> usize {
        self.max_sessions
    }

    /// Start a session with a fresh cryptographically random id. At the cap, expired sessions are
    /// ended first; if none had expired, the store stays as it is and the call fails with `Full`.
    pub(crate) fn create(
        &self,
        protocol_version: &'static str,
    ) -> Result<Arc<Session>, CreateError> {
        let id = random_hex::<16>().ok_or(CreateError::NoRandomness)?;
        let session = Arc::new(Session::new(id.clone(), protocol_version));
        let mut evicted = Vec::new();
        let admitted = {
            let mut sessions = self
                .sessions
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            if sessions.len() >= self.max_sessions {
                self.evict_expired(&mut sessions, &mut evicted);
            }
            let admitted = sessions.len() < self.max_sessions;
            if admitted {
                sessions.insert(id, session.clone());
            }
            admitted
        };
        for expired in evicted {
            expired.close();
            self.recorder.session_closed();
        }
        if !admitted {
            return Err(CreateError::Full);
        }
        self.recorder.session_opened();
        Ok(session)
    }

    /// Move expired sessions from `sessions` to `evicted` (scanning only when one may have expired)
    /// and refresh the earliest-expiry bound.
    fn evict_expired(
        &self,
        sessions: &mut HashMap<String, Arc<Session>>,
        evicted: &mut Vec<Arc<Session>>,
    ) {
        let now = Instant::now();
        let mut earliest = self
            .earliest_expiry
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !earliest.is_some_and(|earliest| now >= earliest) {
            return;
        }
        // A session with an open stream, once detached, is touched at that moment (>= now), and
        // touches only move `last_seen` later, so `now + ttl` bounds those and new sessions too.
        let mut next = now.checked_add(self.ttl);
        sessions.retain(|_, session| {
            if session.is_expired(self.ttl, now) {
                evicted.push(session.clone());
                return false;
            }
            if session.open_streams.load(Ordering::Acquire) == 0 {
                let last_seen = *session
                    .last_seen
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                next = match (next, last_seen.checked_add(self.ttl)) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            true
        });
        *earliest = next;
    }

    /// The live session with this id (touching it), or `None` if unknown, ended or expired.
    pub(crate) fn get(&self, id: &str) -> Option<Arc<Session>> {
        let session = self
            .sessions
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()?;
        if session.is_expired(self.ttl, Instant::now()) {
            self.remove(id);
            return None;
        }
        session.touch();
        Some(session)
    }

    /// End a session (DELETE or expiry); returns whether it was live.
    pub(crate) fn remove(&self, id: &str) -> bool {
        let removed = self
            .sessions
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
        match removed {
            Some(session) => {
                session.close();
                self.recorder.session_closed();
                true
            }
            None => false,
        }
    }

    /// End every expired session; returns how many ended.
    pub(crate) fn sweep(&self) -> usize {
        let now = Instant::now();
        let expired: Vec<String> = self
            .sessions
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .filter(|session| session.is_expired(self.ttl, now))
            .map(|session| session.id.clone())
            .collect();
        expired.iter().filter(|id| self.remove(id)).count()
    }

    /// Sessions that are neither ended nor expired.
    pub(crate) fn live_count(&self) -> usize {
        let now = Instant::now();
        self.sessions
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .filter(|session| !session.is_expired(self.ttl, now))
            .count()
    }

    /// How often the sweeper should run.
    pub(crate) fn sweep_interval(&self) -> Duration {
        (self.ttl / 2).clamp(Duration::from_millis(10), Duration::from_secs(60))
    }
}

/// `N` random bytes from the operating system, hex-encoded; `None` if the OS has no randomness for us.
pub(crate) fn random_hex<const N: usize>() -> Option<String> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).ok()?;
    Some(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_hex() {
        let store = SessionStore::new(Duration::from_secs(60), 10, Recorder::new());
        let a = store.create("2025-06-18").unwrap();
        let b = store.create("2025-06-18").unwrap();
        assert_ne!(a.id(), b.id());
        assert_eq!(a.id().len(), 32);
        assert!(a.id().bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(store.live_count(), 2);
        assert!(store.remove(a.id()));
        assert!(!store.remove(a.id()));
        assert!(store.get(a.id()).is_none());
        assert!(store.get(b.id()).is_some());
        assert_eq!(store.live_count(), 1);
    }

    #[test]
    fn the_cap_refuses_without_evicting_live_sessions() {
        let store = SessionStore::new(Duration::from_secs(60), 2, Recorder::new());
        let a = store.create("2025-06-18").unwrap();
        let b = store.create("2025-06-18").unwrap();
        assert_eq!(store.create("2025-06-18").err(), Some(CreateError::Full));
        assert_eq!(store.create("2025-06-18").err(), Some(CreateError::Full));
        assert!(store.get(a.id()).is_some());
        assert!(store.get(b.id()).is_some());
        assert!(store.remove(a.id()));
        let c = store.create("2025-06-18").unwrap();
        assert_eq!(store.live_count(), 2);
        assert!(store.get(c.id()).is_some());
    }

    #[test]
    fn at_the_cap_expired_sessions_are_evicted_first() {
        let ttl = Duration::from_millis(20);
        let store = SessionStore::new(ttl, 1, Recorder::new());
        let old = store.create("2025-06-18").unwrap();
        // A refusal while `old` is live records when it may expire at the earliest.
        assert_eq!(store.create("2025-06-18").err(), Some(CreateError::Full));
        old.notify("notifications/progress", serde_json::json!({"progress": 1}));
        std::thread::sleep(ttl * 3);
        let new = store.create("2025-06-18").unwrap();
        assert!(store.get(old.id()).is_none());
        assert!(store.get(new.id()).is_some());
        assert_eq!(store.live_count(), 1);
        // The evicted session was closed: its stream would end at once.
        assert!(matches!(old.next_for(old.attach_stream()), Next::End));
    }

    #[test]
    fn a_session_with_an_open_stream_is_never_evicted() {
        let store = SessionStore::new(Duration::from_millis(1), 1, Recorder::new());
        let streaming = store.create("2025-06-18").unwrap();
        let _generation = streaming.attach_stream();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(store.create("2025-06-18").err(), Some(CreateError::Full));
        assert!(store.get(streaming.id()).is_some());
    }

    #[test]
    fn outbox_buffers_until_a_stream_drains_it() {
        let store = SessionStore::new(Duration::from_secs(60), 10, Recorder::new());
        let session = store.create("2025-06-18").unwrap();
        session.notify("notifications/progress", serde_json::json!({"progress": 1}));
        let generation = session.attach_stream();
        match session.next_for(generation) {
            Next::Send(text) => assert!(text.contains("notifications/progress")),
            _ => panic!("expected a queued message"),
        }
        assert!(matches!(session.next_for(generation), Next::Wait));
        let newer = session.attach_stream();
        assert!(matches!(session.next_for(generation), Next::End));
        assert!(matches!(session.next_for(newer), Next::Wait));
        store.remove(session.id());
        assert!(matches!(session.next_for(newer), Next::End));
    }
}
