//! MCP sessions: random ids, idle expiry, and each session's notification outbox.
//!
//! Notifications are queued on the session and drained by the session's `GET /mcp` SSE stream, so a
//! notification sent before the client opened its stream is not lost. The outbox is bounded twice, by
//! count ([`OUTBOX_CAPACITY`]) and by bytes (`max_outbox_bytes`): a client that never opens its stream
//! cannot make the server hold more; the oldest notifications are dropped first, and each drop is
//! counted as `outbox_drop` in `dcc_mcp_rejected_total`.
//!
//! A session also knows when it ended (DELETE, expiry, eviction), so its jobs can be cancelled, and how
//! many of its jobs are queued or running, for the per-session job quota and the idle check.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Notify;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

use crate::cancel::InFlight;
use crate::record::{Recorder, Rejection};

/// Most notifications buffered per session while no stream drains them.
pub const OUTBOX_CAPACITY: usize = 1024;

/// Default of `max_outbox_bytes`: 1 MiB, room for 1024 progress notifications several times over
/// and for 16 completion notifications carrying a result at the notification budget (64 KiB).
pub(crate) const DEFAULT_OUTBOX_BYTES: usize = 1024 * 1024;

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
    /// Cancelled when the session ends: its jobs are cancelled.
    ended: CancellationToken,
    /// Queued plus running jobs of this session (the per-session job quota; busy for eviction).
    live_jobs: AtomicUsize,
    /// Byte budget of the outbox.
    outbox_budget: usize,
    recorder: Recorder,
}

#[derive(Default)]
struct Outbox {
    queue: VecDeque<String>,
    /// Sum of the lengths of the queued messages.
    bytes: usize,
    closed: bool,
}

impl Outbox {
    fn pop(&mut self) -> Option<String> {
        let message = self.queue.pop_front()?;
        self.bytes -= message.len();
        Some(message)
    }
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
    fn new(
        id: String,
        protocol_version: &'static str,
        outbox_budget: usize,
        recorder: Recorder,
    ) -> Self {
        Self {
            id,
            protocol_version,
            last_seen: Mutex::new(Instant::now()),
            outbox: Mutex::new(Outbox::default()),
            wake: Notify::new(),
            stream_generation: AtomicU64::new(0),
            open_streams: AtomicUsize::new(0),
            in_flight: InFlight::default(),
            ended: CancellationToken::new(),
            live_jobs: AtomicUsize::new(0),
            outbox_budget,
            recorder,
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

    /// Busy: a stream is open or a job is queued or running. A busy session never expires; it is
    /// touched when it stops being busy.
    fn is_busy(&self) -> bool {
        self.open_streams.load(Ordering::Acquire) > 0 || self.has_live_jobs()
    }

    fn is_expired(&self, ttl: Duration, now: Instant) -> bool {
        if self.is_busy() {
            return false;
        }
        let last_seen = *self
            .last_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        now.saturating_duration_since(last_seen) >= ttl
    }

    /// Resolves when the session has ended (DELETE, expiry or eviction).
    pub(crate) fn ended(&self) -> WaitForCancellationFuture<'_> {
        self.ended.cancelled()
    }

    /// True once the session has ended.
    pub(crate) fn is_ended(&self) -> bool {
        self.ended.is_cancelled()
    }

    /// True while a job of this session is queued or running: the session is busy, not idle.
    pub(crate) fn has_live_jobs(&self) -> bool {
        self.live_jobs.load(Ordering::Acquire) > 0
    }

    /// Take one of the session's `quota` job slots; false when all are taken.
    pub(crate) fn reserve_job(&self, quota: usize) -> bool {
        self.live_jobs
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |live| {
                (live < quota).then_some(live + 1)
            })
            .is_ok()
    }

    /// Give back a slot taken by [`reserve_job`](Self::reserve_job) (the job's task ended). The
    /// session is touched, so its idle time starts when its last job ends.
    pub(crate) fn release_job(&self) {
        self.touch();
        self.live_jobs.fetch_sub(1, Ordering::AcqRel);
    }

    /// Queue a JSON-RPC notification for the session's SSE stream. When the outbox would exceed its
    /// count or byte budget, the oldest notifications are dropped (a message larger than the whole
    /// byte budget is dropped itself); each drop is counted.
    pub(crate) fn notify(&self, method: &str, params: Value) {
        let message = crate::protocol::notification(method, params).to_string();
        let mut dropped = 0usize;
        {
            let mut outbox = self.outbox.lock().unwrap_or_else(PoisonError::into_inner);
            if outbox.closed {
                return;
            }
            if message.len() > self.outbox_budget {
                dropped += 1;
            } else {
                while outbox.queue.len() >= OUTBOX_CAPACITY
                    || outbox.bytes + message.len() > self.outbox_budget
                {
                    if outbox.pop().is_none() {
                        break;
                    }
                    dropped += 1;
                }
                outbox.bytes += message.len();
                outbox.queue.push_back(message);
            }
        }
        if dropped > 0 {
            tracing::warn!(session = %self.id, dropped, "notification outbox full; dropped the oldest notifications");
            for _ in 0..dropped {
                self.recorder.rejected(Rejection::OutboxDrop);
            }
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
        match outbox.pop() {
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
        outbox.bytes = 0;
        drop(outbox);
        self.ended.cancel();
        self.wake.notify_waiters();
    }
}

/// All live sessions, at most `max_sessions` of them.
pub(crate) struct SessionStore {
    sessions: RwLock<HashMap<String, Arc<Session>>>,
    ttl: Duration,
    max_sessions: usize,
    /// Byte budget of each session's outbox.
    outbox_budget: usize,
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
            outbox_budget: DEFAULT_OUTBOX_BYTES,
            earliest_expiry: Mutex::new(Some(Instant::now())),
            recorder,
        }
    }

    /// The same store with each session's outbox held to `bytes` (`max_outbox_bytes`).
    pub(crate) fn with_outbox_budget(mut self, bytes: usize) -> Self {
        self.outbox_budget = bytes;
        self
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
        let session = Arc::new(Session::new(
            id.clone(),
            protocol_version,
            self.outbox_budget,
            self.recorder.clone(),
        ));
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
        // A busy session (open stream, live job), once idle, is touched at that moment (>= now), and
        // touches only move `last_seen` later, so `now + ttl` bounds those and new sessions too.
        let mut next = now.checked_add(self.ttl);
        sessions.retain(|_, session| {
            if session.is_expired(self.ttl, now) {
                evicted.push(session.clone());
                return false;
            }
            if !session.is_busy() {
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
    fn the_outbox_byte_budget_drops_the_oldest_notifications() {
        let one = crate::protocol::notification("n", serde_json::json!({"i": 0}))
            .to_string()
            .len();
        let store = SessionStore::new(Duration::from_secs(60), 10, Recorder::new())
            .with_outbox_budget(3 * one);
        let session = store.create("2025-06-18").unwrap();
        for i in 0..5 {
            session.notify("n", serde_json::json!({ "i": i }));
        }
        // A message larger than the whole budget is dropped itself.
        session.notify("n", serde_json::json!({ "i": "x".repeat(3 * one) }));
        let generation = session.attach_stream();
        let mut kept = Vec::new();
        while let Next::Send(text) = session.next_for(generation) {
            let message: Value = serde_json::from_str(&text).unwrap();
            kept.push(message["params"]["i"].clone());
        }
        assert_eq!(kept, [2, 3, 4]);
        assert_eq!(session.outbox.lock().unwrap().bytes, 0);
    }

    #[test]
    fn a_session_with_a_live_job_does_not_expire() {
        let ttl = Duration::from_millis(1);
        let store = SessionStore::new(ttl, 1, Recorder::new());
        let session = store.create("2025-06-18").unwrap();
        assert!(session.reserve_job(1));
        assert!(!session.reserve_job(1));
        std::thread::sleep(ttl * 5);
        assert_eq!(store.create("2025-06-18").err(), Some(CreateError::Full));
        assert!(session.has_live_jobs());
        session.release_job();
        assert!(!session.has_live_jobs());
        std::thread::sleep(ttl * 5);
        assert!(store.create("2025-06-18").is_ok());
        assert!(session.is_ended());
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
