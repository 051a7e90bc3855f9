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
        }
    }

    /// The `Mcp-Session-Id`.
    pub(crate) fn id(&self) -> &str {
        &self.id
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

/// All live sessions.
pub(crate) struct SessionStore {
    sessions: RwLock<HashMap<String, Arc<Session>>>,
    ttl: Duration,
    recorder: Recorder,
}

/// Could not create a session id.
#[derive(Debug)]
pub(crate) struct NoRandomness;

impl SessionStore {
    pub(crate) fn new(ttl: Duration, recorder: Recorder) -> Self {
        Self {
            sessions: RwLock::new(HashMap::new()),
            ttl,
            recorder,
        }
    }

    /// Start a session with a fresh cryptographically random id.
    pub(crate) fn create(
        &self,
        protocol_version: &'static str,
    ) -> Result<Arc<Session>, NoRandomness> {
        let id = random_hex::<16>().ok_or(NoRandomness)?;
        let session = Arc::new(Session::new(id.clone(), protocol_version));
        self.sessions
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, session.clone());
        self.recorder.session_opened();
        Ok(session)
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
        let store = SessionStore::new(Duration::from_secs(60), Recorder::new());
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
    fn outbox_buffers_until_a_stream_drains_it() {
        let store = SessionStore::new(Duration::from_secs(60), Recorder::new());
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
