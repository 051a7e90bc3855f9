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
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Notify;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

use crate::error::ToolError;
use crate::inflight::InFlight;
use crate::limits::ClientLimits;
use crate::log_budget::LogBudget;
use crate::outbox_budget::OutboxBudget;
use crate::peer::Slot;
use crate::record::{ClientRequestKind, ClientRequestOutcome, Recorder, Rejection};
use crate::replay::{ParkedStream, ParkedStreams, ReplayBuffer, Resume};
use crate::session_codec::{SessionClaims, SessionCodec};
use crate::session_order::{Ordered, UseOrder};
use dcc_mcp_protocol::jsonrpc::{request_key, RpcError};
use dcc_mcp_protocol::logging::LoggingLevel;

/// Most notifications buffered per session while no stream drains them.
pub const OUTBOX_CAPACITY: usize = 1024;

/// Default of `max_outbox_bytes`: 1 MiB, room for 1024 progress notifications several times over
/// and for 16 completion notifications carrying a result at the notification budget (64 KiB).
use crate::limits::DEFAULT_OUTBOX_BYTES;

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
    /// Holds: requests in flight and (with `workflow`) queued or running jobs. A session with a hold
    /// or an open stream is busy: it is never evicted and does not expire.
    holds: AtomicUsize,
    /// The client's address, when known (per-address session limit).
    client: Option<IpAddr>,
    /// Cancelled when the session ends: its jobs are cancelled.
    ended: CancellationToken,
    /// Queued plus running jobs of this session (the per-session job quota; busy for eviction).
    live_jobs: AtomicUsize,
    /// Finished job results kept and not fetched yet: the session is not evicted for another
    /// (it still expires).
    kept_results: AtomicUsize,
    /// The store's use order and this session's place in it (none for a request scope).
    order: OnceLock<(Weak<Session>, Arc<UseOrder<Session>>)>,
    /// Stamp of the latest use, in the store's use order.
    use_stamp: AtomicU64,
    /// The store passed over this session while it was busy: it enqueues itself again when idle.
    skipped: AtomicBool,
    /// Byte budget of the outbox.
    outbox_budget: usize,
    /// The budget all outboxes share (`max_outbox_bytes_total`, `outbox_unattached_timeout`).
    shared_outbox: Arc<OutboxBudget>,
    /// When the session started (for `outbox_unattached_timeout`).
    created: Instant,
    /// Set once a stream attached (ephemeral sessions start with it set: their response drains them).
    attached_once: AtomicBool,
    recorder: Recorder,
    /// The `capabilities` the client declared in `initialize`.
    client_capabilities: std::sync::OnceLock<Value>,
    /// The level the client set with `logging/setLevel` (`None`: every level is sent).
    log_level: Mutex<Option<LoggingLevel>>,
    log_budget: Mutex<LogBudget>,
    /// Server→client requests waiting for the client's response, by request id.
    pending: Mutex<HashMap<String, PendingRequest>>,
    next_request: AtomicU64,
    limits: ClientLimits,
    /// A request scope whose answer can be closed early and resumed (see [`crate::inband`]).
    resumable: AtomicBool,
    /// Numbers this session's resumable `POST` streams.
    post_streams: AtomicU64,
    /// The closed `POST` streams of this session whose rest a `GET` may still resume.
    parked: Mutex<ParkedStreams>,
}

/// A server→client request waiting for its response.
struct PendingRequest {
    kind: ClientRequestKind,
    slot: Arc<Slot>,
}

/// Why a server→client request was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SendRefused {
    /// `max_pending_client_requests` requests are already unanswered.
    TooManyPending(usize),
    /// The session has ended.
    Ended,
}

/// Keeps a session busy (see [`Session::hold`]); releasing it counts as the session's last use.
pub(crate) struct SessionHold(Arc<Session>);

impl std::ops::Deref for SessionHold {
    type Target = Arc<Session>;

    fn deref(&self) -> &Arc<Session> {
        &self.0
    }
}

impl Ordered for Session {
    fn stamp(&self) -> u64 {
        self.use_stamp.load(Ordering::Acquire)
    }

    fn set_stamp(&self, stamp: u64) {
        self.use_stamp.store(stamp, Ordering::Release);
    }

    fn is_gone(&self) -> bool {
        self.ended.is_cancelled()
    }
}

impl Drop for SessionHold {
    fn drop(&mut self) {
        self.0.touch();
        self.0.holds.fetch_sub(1, Ordering::AcqRel);
        self.0.requeue_if_skipped();
    }
}

struct Outbox {
    queue: VecDeque<String>,
    /// Sum of the lengths of the queued messages.
    bytes: usize,
    closed: bool,
    /// What the `GET` stream sent, numbered, for a reconnect with `Last-Event-ID`.
    replay: ReplayBuffer,
    /// Messages queued so far, and messages that left the queue (sent or dropped).
    pushed: u64,
    popped: u64,
    /// The handler asked to close the answer's stream once `popped` reaches this (the messages it
    /// queued before asking go out first).
    close_at: Option<u64>,
}

impl Outbox {
    fn new(outbox_budget: usize) -> Self {
        Self {
            queue: VecDeque::new(),
            bytes: 0,
            closed: false,
            replay: ReplayBuffer::new(outbox_budget / REPLAY_BUDGET_DIVISOR),
            pushed: 0,
            popped: 0,
            close_at: None,
        }
    }
}

/// The replay buffer holds up to a quarter of the outbox byte budget (256 KiB by default).
const REPLAY_BUDGET_DIVISOR: usize = 4;

impl Outbox {
    fn pop(&mut self) -> Option<String> {
        let message = self.queue.pop_front()?;
        self.bytes -= message.len();
        self.popped += 1;
        Some(message)
    }
}

/// What the session's numbered `GET` stream should do next.
pub(crate) enum NextEvent {
    /// Send this serialized message with this event id.
    Send(u64, String),
    /// Nothing queued: wait for a wake-up.
    Wait,
    /// The session ended or another stream took over.
    End,
}

/// What a `GET` stream starts with.
pub(crate) struct Attached {
    /// The stream's generation (a later stream takes over).
    pub(crate) generation: u64,
    /// The id of the last message sent so far (the priming event's id).
    pub(crate) last_id: u64,
    /// With `Last-Event-ID`: what came after it, still buffered, and how much was lost.
    pub(crate) resume: Option<Resume>,
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
        client: Option<IpAddr>,
        outbox_budget: usize,
        shared_outbox: Arc<OutboxBudget>,
        recorder: Recorder,
        limits: ClientLimits,
    ) -> Self {
        Self {
            shared_outbox,
            created: Instant::now(),
            attached_once: AtomicBool::new(false),
            client_capabilities: std::sync::OnceLock::new(),
            log_level: Mutex::new(None),
            log_budget: Mutex::new(LogBudget::new(limits.log_rate, Instant::now())),
            pending: Mutex::new(HashMap::new()),
            next_request: AtomicU64::new(0),
            limits,
            resumable: AtomicBool::new(false),
            post_streams: AtomicU64::new(0),
            parked: Mutex::new(ParkedStreams::new(outbox_budget / REPLAY_BUDGET_DIVISOR)),
            id,
            protocol_version,
            last_seen: Mutex::new(Instant::now()),
            outbox: Mutex::new(Outbox::new(outbox_budget)),
            wake: Notify::new(),
            stream_generation: AtomicU64::new(0),
            open_streams: AtomicUsize::new(0),
            in_flight: InFlight::default(),
            holds: AtomicUsize::new(0),
            client,
            ended: CancellationToken::new(),
            live_jobs: AtomicUsize::new(0),
            kept_results: AtomicUsize::new(0),
            order: OnceLock::new(),
            use_stamp: AtomicU64::new(0),
            skipped: AtomicBool::new(false),
            outbox_budget,
            recorder,
        }
    }

    /// Mark the session busy until the returned guard is dropped: a busy session is neither evicted
    /// to make room for new sessions nor expired.
    ///
    /// Every request holds its session while it runs. Jobs (feature `workflow`) must take a hold
    /// when they are queued and keep it (e.g. in the job's run state) until they reach a terminal
    /// state, so a session with a queued or running job is never evicted.
    pub(crate) fn hold(self: &Arc<Self>) -> SessionHold {
        self.holds.fetch_add(1, Ordering::AcqRel);
        SessionHold(self.clone())
    }

    /// No hold, no open stream and no queued or running job.
    fn is_idle(&self) -> bool {
        self.holds.load(Ordering::Acquire) == 0
            && self.open_streams.load(Ordering::Acquire) == 0
            && !self.has_live_jobs()
    }

    fn last_seen(&self) -> Instant {
        *self
            .last_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The record points of this session's server.
    pub(crate) fn recorder(&self) -> &Recorder {
        &self.recorder
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
        self.enqueue();
    }

    /// Join the store's use order (once, at creation) as its most recently used session.
    fn join_order(self: &Arc<Self>, order: Arc<UseOrder<Session>>) {
        if self.order.set((Arc::downgrade(self), order)).is_ok() {
            self.enqueue();
        }
    }

    /// This session is the most recently used in its store's order.
    fn enqueue(&self) {
        if let Some((me, order)) = self.order.get() {
            order.used(me.clone());
        }
    }

    /// Back in the use order if the store passed over it while it was busy (see `session_order`).
    fn requeue_if_skipped(&self) {
        if self.skipped.swap(false, Ordering::SeqCst) {
            self.enqueue();
        }
    }

    fn is_expired(&self, ttl: Duration, now: Instant) -> bool {
        if !self.is_idle() {
            return false;
        }
        now.saturating_duration_since(self.last_seen()) >= ttl
    }

    /// Resolves when the session has ended (DELETE, expiry or eviction).
    #[cfg_attr(not(feature = "workflow"), allow(dead_code))]
    pub(crate) fn ended(&self) -> WaitForCancellationFuture<'_> {
        self.ended.cancelled()
    }

    /// True once the session has ended.
    #[cfg_attr(not(feature = "workflow"), allow(dead_code))]
    pub(crate) fn is_ended(&self) -> bool {
        self.ended.is_cancelled()
    }

    /// True while a job of this session is queued or running: the session is busy, not idle.
    pub(crate) fn has_live_jobs(&self) -> bool {
        self.live_jobs.load(Ordering::Acquire) > 0
    }

    /// Take one of the session's `quota` job slots; false when all are taken.
    #[cfg_attr(not(feature = "workflow"), allow(dead_code))]
    pub(crate) fn reserve_job(&self, quota: usize) -> bool {
        self.live_jobs
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |live| {
                (live < quota).then_some(live + 1)
            })
            .is_ok()
    }

    /// The client's address, when known.
    #[cfg_attr(not(feature = "workflow"), allow(dead_code))]
    pub(crate) fn client(&self) -> Option<IpAddr> {
        self.client
    }

    /// A finished job result of this session is kept for `jobs.get`: until it is fetched or
    /// forgotten ([`result_settled`](Self::result_settled)), the session is not evicted to make
    /// room for another one.
    #[cfg_attr(not(feature = "workflow"), allow(dead_code))]
    pub(crate) fn keep_result(&self) {
        self.kept_results.fetch_add(1, Ordering::AcqRel);
    }

    /// A result counted by [`keep_result`](Self::keep_result) was fetched or forgotten.
    #[cfg_attr(not(feature = "workflow"), allow(dead_code))]
    pub(crate) fn result_settled(&self) {
        self.kept_results.fetch_sub(1, Ordering::AcqRel);
        self.requeue_if_skipped();
    }

    /// Idle, and holding no finished job result that was not fetched: a candidate for eviction.
    fn is_evictable(&self) -> bool {
        self.is_idle() && self.kept_results.load(Ordering::Acquire) == 0
    }

    /// Give back a slot taken by [`reserve_job`](Self::reserve_job) (the job's task ended). The
    /// session is touched, so its idle time starts when its last job ends.
    #[cfg_attr(not(feature = "workflow"), allow(dead_code))]
    pub(crate) fn release_job(&self) {
        self.touch();
        self.live_jobs.fetch_sub(1, Ordering::AcqRel);
        self.requeue_if_skipped();
    }

    /// Queue a JSON-RPC notification for the session's SSE stream. When the outbox would exceed its
    /// count or byte budget, the oldest notifications are dropped (a message larger than the whole
    /// byte budget is dropped itself); each drop is counted.
    pub(crate) fn notify(&self, method: &str, params: Value) {
        self.push(dcc_mcp_protocol::jsonrpc::notification(method, params).to_string());
    }

    /// Record the `capabilities` the client declared in `initialize` (the first call wins).
    pub(crate) fn set_client_capabilities(&self, capabilities: Value) {
        let _ = self.client_capabilities.set(capabilities);
    }

    /// True when the client declared the capability `name` (`elicitation`, `sampling`, `roots`).
    pub(crate) fn client_supports(&self, name: &str) -> bool {
        self.client_capabilities
            .get()
            .and_then(|capabilities| capabilities.get(name))
            .is_some_and(Value::is_object)
    }

    /// `logging/setLevel`: the least severe level the client wants.
    pub(crate) fn set_log_level(&self, level: LoggingLevel) {
        *self
            .log_level
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(level);
    }

    /// Queue `notifications/message` on `out` (the in-band stream of the POST whose handler logged,
    /// or this session itself) when `level` passes the client's level and the log budget has a
    /// token; a message over the budget is dropped and counted.
    pub(crate) fn log_to(
        &self,
        out: &Session,
        level: LoggingLevel,
        logger: Option<&str>,
        data: Value,
    ) {
        let wanted = *self
            .log_level
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if wanted.is_some_and(|wanted| level < wanted) {
            return;
        }
        let allowed = self
            .log_budget
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take(Instant::now());
        if !allowed {
            self.recorder.rejected(Rejection::LogRate);
            return;
        }
        let params = dcc_mcp_protocol::logging::LoggingMessageParams {
            level,
            logger: logger.map(str::to_owned),
            data,
        };
        let params = serde_json::to_value(params).unwrap_or(Value::Null);
        out.notify(dcc_mcp_protocol::methods::MESSAGE, params);
    }

    /// Send a request to the client on `out` (the in-band stream of the POST whose handler asked,
    /// or this session's own stream); the returned slot is filled when the client POSTs the
    /// response with this session's id ([`resolve`](Self::resolve)) or the request is
    /// [`abandon`](Self::abandon)ed.
    pub(crate) fn send_request_to(
        &self,
        out: &Session,
        kind: ClientRequestKind,
        params: Value,
    ) -> Result<(String, Arc<Slot>), SendRefused> {
        let id = format!(
            "dcc-s2c-{}",
            self.next_request.fetch_add(1, Ordering::Relaxed) + 1
        );
        let slot = Arc::new(Slot::default());
        {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            if self.is_ended() {
                return Err(SendRefused::Ended);
            }
            if pending.len() >= self.limits.max_pending {
                drop(pending);
                self.recorder.rejected(Rejection::PendingClientRequests);
                self.recorder
                    .client_request(kind, ClientRequestOutcome::Refused);
                return Err(SendRefused::TooManyPending(self.limits.max_pending));
            }
            pending.insert(
                id.clone(),
                PendingRequest {
                    kind,
                    slot: slot.clone(),
                },
            );
        }
        let message =
            dcc_mcp_protocol::jsonrpc::request(Value::String(id.clone()), kind.method(), params);
        out.push(message.to_string());
        Ok((id, slot))
    }

    /// The client's response to request `id` (unknown or settled ids are ignored).
    pub(crate) fn resolve(&self, id: &Value, outcome: Result<Value, RpcError>) {
        let key = match id {
            Value::String(id) => id.clone(),
            other => request_key(other),
        };
        let Some(request) = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key)
        else {
            return;
        };
        let (recorded, answer) = match outcome {
            Ok(result) => (ClientRequestOutcome::Answered, Ok(result)),
            Err(error) => (
                ClientRequestOutcome::Error,
                Err(ToolError::new(format!(
                    "the client refused {}: {} ({})",
                    request.kind.method(),
                    error.message,
                    error.code
                ))),
            ),
        };
        self.recorder.client_request(request.kind, recorded);
        request.slot.fill(answer);
    }

    /// Give up on request `id` (its call ended): its waiter gets `reason`, and the client is told
    /// with `notifications/cancelled`.
    pub(crate) fn abandon(&self, id: &str, reason: &str) {
        let Some(request) = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id)
        else {
            return;
        };
        self.recorder
            .client_request(request.kind, ClientRequestOutcome::Abandoned);
        request.slot.fill(Err(ToolError::new(reason)));
        self.notify(
            dcc_mcp_protocol::methods::CANCELLED,
            serde_json::json!({"requestId": id, "reason": reason}),
        );
    }

    /// Unanswered server→client requests.
    #[allow(dead_code)]
    pub(crate) fn pending_requests(&self) -> usize {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Queue one serialized message for the stream, within the outbox budgets: this session's
    /// (count and bytes, dropping its oldest first), the shared byte budget (the new message is
    /// dropped), and the unattached rule (a session that never opened a stream in time keeps nothing).
    fn push(&self, message: String) {
        let mut dropped = 0usize;
        let mut refused = None;
        {
            let mut outbox = self.outbox.lock().unwrap_or_else(PoisonError::into_inner);
            if outbox.closed {
                return;
            }
            if !self.attached_once.load(Ordering::Acquire)
                && self.created.elapsed() >= self.shared_outbox.unattached_after()
            {
                let freed = outbox.bytes;
                let count = outbox.queue.len();
                outbox.queue.clear();
                outbox.bytes = 0;
                drop(outbox);
                self.shared_outbox.release(freed);
                for _ in 0..=count {
                    self.recorder.rejected(Rejection::OutboxUnattached);
                }
                return;
            }
            if message.len() > self.outbox_budget {
                dropped += 1;
            } else {
                let mut freed = 0usize;
                while outbox.queue.len() >= OUTBOX_CAPACITY
                    || outbox.bytes + message.len() > self.outbox_budget
                {
                    let Some(old) = outbox.pop() else {
                        break;
                    };
                    freed += old.len();
                    dropped += 1;
                }
                self.shared_outbox.release(freed);
                if self.shared_outbox.reserve(message.len()) {
                    outbox.bytes += message.len();
                    outbox.pushed += 1;
                    outbox.queue.push_back(message);
                } else {
                    refused = Some(Rejection::OutboxBudget);
                }
            }
        }
        if dropped > 0 {
            // One line per second for all sessions (see `warn_budget`); the metric counts each drop.
            let now = Instant::now();
            if let Some(line) = crate::warn_budget::OUTBOX_DROPS.record(dropped as u64, now) {
                tracing::warn!(session = %self.id, dropped = line.events, "notification outboxes full; dropped the oldest notifications (at most one such line per second)");
            }
            for _ in 0..dropped {
                self.recorder.rejected(Rejection::OutboxDrop);
            }
        }
        if let Some(reason) = refused {
            tracing::debug!(session = %self.id, "outboxes hold max_outbox_bytes_total; dropped a notification");
            self.recorder.rejected(reason);
        }
        self.wake.notify_one();
    }

    /// A new stream takes over; returns its generation.
    pub(crate) fn attach_stream(&self) -> u64 {
        self.attached_once.store(true, Ordering::Release);
        let generation = self.stream_generation.fetch_add(1, Ordering::AcqRel) + 1;
        self.open_streams.fetch_add(1, Ordering::AcqRel);
        self.wake.notify_waiters();
        generation
    }

    /// The session's `GET` stream takes over, resuming after `last_event_id` when the client sent
    /// one.
    pub(crate) fn attach_numbered_stream(&self, last_event_id: Option<u64>) -> Attached {
        let generation = self.attach_stream();
        let outbox = self.outbox.lock().unwrap_or_else(PoisonError::into_inner);
        Attached {
            generation,
            last_id: outbox.replay.last_id(),
            resume: last_event_id.map(|last| outbox.replay.since(last)),
        }
    }

    /// Next step for the numbered `GET` stream of `generation`: a sent message is numbered and
    /// kept for replay.
    pub(crate) fn next_event(&self, generation: u64) -> NextEvent {
        let mut outbox = self.outbox.lock().unwrap_or_else(PoisonError::into_inner);
        if outbox.closed || self.stream_generation.load(Ordering::Acquire) != generation {
            return NextEvent::End;
        }
        match outbox.pop() {
            Some(message) => {
                let id = outbox.replay.record(&message);
                NextEvent::Send(id, message)
            }
            None => NextEvent::Wait,
        }
    }

    /// A stream ended.
    pub(crate) fn detach_stream(&self) {
        self.open_streams.fetch_sub(1, Ordering::AcqRel);
        self.skipped.store(false, Ordering::SeqCst);
        self.touch();
    }

    /// Next step for the stream of `generation`.
    pub(crate) fn next_for(&self, generation: u64) -> Next {
        let mut outbox = self.outbox.lock().unwrap_or_else(PoisonError::into_inner);
        if outbox.closed || self.stream_generation.load(Ordering::Acquire) != generation {
            return Next::End;
        }
        match outbox.pop() {
            Some(message) => {
                self.shared_outbox.release(message.len());
                Next::Send(message)
            }
            None => Next::Wait,
        }
    }

    /// Resolves when something changed for the stream (create it before calling [`next_for`](Self::next_for)).
    pub(crate) fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.wake.notified()
    }

    /// This request scope's answer is a resumable stream: its handler may close it early.
    pub(crate) fn make_resumable(&self) {
        self.resumable.store(true, Ordering::Release);
    }

    /// The handler asks to close the answer's stream before its response (the client resumes with
    /// `GET` and `Last-Event-ID`); false when this scope's answer cannot be resumed.
    pub(crate) fn request_close(&self) -> bool {
        if !self.resumable.load(Ordering::Acquire) {
            return false;
        }
        {
            let mut outbox = self.outbox.lock().unwrap_or_else(PoisonError::into_inner);
            outbox.close_at = Some(outbox.pushed);
        }
        self.wake.notify_waiters();
        true
    }

    /// True once after [`request_close`](Self::request_close), when every message queued before
    /// it has left the queue (messages queued after it stay queued).
    pub(crate) fn take_close_request(&self) -> bool {
        // Most scopes cannot be closed: no lock on their path.
        if !self.resumable.load(Ordering::Acquire) {
            return false;
        }
        let mut outbox = self.outbox.lock().unwrap_or_else(PoisonError::into_inner);
        match outbox.close_at {
            Some(at) if outbox.popped >= at => {
                outbox.close_at = None;
                true
            }
            _ => false,
        }
    }

    /// The number of this session's next resumable `POST` stream (from 1).
    pub(crate) fn next_post_stream(&self) -> u64 {
        self.post_streams.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Keep the rest of `POST` stream `stream`, closed after it sent events up to `sent`.
    pub(crate) fn park_post_stream(&self, stream: u64, sent: u64) -> Arc<ParkedStream> {
        self.parked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .park(stream, sent)
    }

    /// The closed `POST` stream `stream`, if this session still keeps it.
    pub(crate) fn parked_post_stream(&self, stream: u64) -> Option<Arc<ParkedStream>> {
        self.parked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(stream)
    }

    /// End a session that lives in no store (see [`SessionStore::ephemeral`]).
    pub(crate) fn end(&self) {
        self.close();
    }

    fn close(&self) {
        // Its running synchronous calls learn that nobody waits for them any more.
        self.in_flight.flag_all();
        let mut outbox = self.outbox.lock().unwrap_or_else(PoisonError::into_inner);
        outbox.closed = true;
        outbox.queue.clear();
        let freed = std::mem::take(&mut outbox.bytes);
        outbox.replay = ReplayBuffer::new(0);
        drop(outbox);
        self.parked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.shared_outbox.release(freed);
        let pending: Vec<PendingRequest> = {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            self.ended.cancel();
            pending.drain().map(|(_, request)| request).collect()
        };
        for request in pending {
            self.recorder
                .client_request(request.kind, ClientRequestOutcome::Abandoned);
            request.slot.fill(Err(ToolError::new(
                "the session ended before the client answered",
            )));
        }
        self.wake.notify_waiters();
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let outbox = self
            .outbox
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        self.shared_outbox
            .release(std::mem::take(&mut outbox.bytes));
    }
}

/// All live sessions, at most `max_sessions` of them (and `max_sessions_per_client` per address).
pub(crate) struct SessionStore {
    inner: RwLock<Sessions>,
    /// Least recently used first, for eviction at `max_sessions` in O(1) amortized.
    order: Arc<UseOrder<Session>>,
    ttl: Duration,
    max_sessions: usize,
    max_per_client: usize,
    /// Byte budget of each session's outbox.
    outbox_budget: usize,
    /// The budget all outboxes share.
    shared_outbox: Arc<OutboxBudget>,
    /// What each session lets its handlers ask of the client.
    client_limits: ClientLimits,
    /// No session in the map can expire before this instant (a lower bound, refreshed by every full
    /// scan in [`create`](Self::create)): when the store is full, `initialize` scans for expired
    /// sessions only once one may exist, so a client hammering a full server costs no O(n) scans
    /// for expiry. `None`: no session can ever expire (the TTL reaches past what the clock can represent).
    earliest_expiry: Mutex<Option<Instant>>,
    recorder: Recorder,
    /// Mints ids that carry the session's claims and recreates sessions from them (replicas).
    codec: RwLock<Option<Arc<dyn SessionCodec>>>,
    /// Ids ended by `DELETE` here, which the codec must not bring back (oldest forgotten first).
    deleted: Mutex<VecDeque<String>>,
}

/// Most ids ended by `DELETE` that a store with a codec remembers, so it does not recreate them.
const DELETED_REMEMBERED: usize = 4096;

/// The map of sessions and, kept in step with it, the number of sessions per client address.
#[derive(Default)]
struct Sessions {
    by_id: HashMap<String, Arc<Session>>,
    per_client: HashMap<IpAddr, usize>,
}

impl Sessions {
    fn insert(&mut self, session: Arc<Session>) {
        if let Some(client) = session.client {
            *self.per_client.entry(client).or_default() += 1;
        }
        self.by_id.insert(session.id.clone(), session);
    }

    fn remove(&mut self, id: &str) -> Option<Arc<Session>> {
        let session = self.by_id.remove(id)?;
        self.forget_client(&session);
        Some(session)
    }

    fn forget_client(&mut self, session: &Session) {
        if let Some(client) = session.client {
            if let Some(count) = self.per_client.get_mut(&client) {
                *count -= 1;
                if *count == 0 {
                    self.per_client.remove(&client);
                }
            }
        }
    }

    /// The id of the least recently used idle session (of `client` when given), if any.
    fn least_recently_used_idle(&self, client: Option<IpAddr>) -> Option<String> {
        self.by_id
            .values()
            .filter(|session| client.is_none() || session.client == client)
            .filter(|session| session.is_evictable())
            .min_by_key(|session| session.last_seen())
            .map(|session| session.id.clone())
    }
}

/// Why a session could not be created.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CreateError {
    /// The OS had no randomness for a session id.
    NoRandomness,
    /// `max_sessions` live sessions exist and every one of them is busy.
    Full,
    /// The client's address holds `max_sessions_per_client` sessions and every one of them is busy.
    ClientFull,
}

impl SessionStore {
    pub(crate) fn new(
        ttl: Duration,
        max_sessions: usize,
        max_per_client: usize,
        recorder: Recorder,
    ) -> Self {
        Self {
            inner: RwLock::new(Sessions::default()),
            order: Arc::new(UseOrder::default()),
            ttl,
            max_sessions,
            max_per_client,
            outbox_budget: DEFAULT_OUTBOX_BYTES,
            shared_outbox: Arc::new(OutboxBudget::default()),
            client_limits: ClientLimits::default(),
            earliest_expiry: Mutex::new(Some(Instant::now())),
            recorder,
            codec: RwLock::new(None),
            deleted: Mutex::new(VecDeque::new()),
        }
    }

    /// Mint session ids with `codec` from now on, and recreate sessions whose id it opens.
    pub(crate) fn set_codec(&self, codec: Arc<dyn SessionCodec>) {
        *self.codec.write().unwrap_or_else(PoisonError::into_inner) = Some(codec);
    }

    fn codec(&self) -> Option<Arc<dyn SessionCodec>> {
        self.codec
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// [`create`](Self::create) for `initialize`: the id is minted by the codec from the claims
    /// when one is set (random otherwise), and the client's `capabilities` are recorded.
    pub(crate) fn open(
        &self,
        protocol_version: &'static str,
        client: Option<IpAddr>,
        capabilities: Option<&Value>,
    ) -> Result<Arc<Session>, CreateError> {
        let minted = self.codec().and_then(|codec| {
            codec.mint(&SessionClaims {
                protocol_version: protocol_version.to_owned(),
                client_capabilities: capabilities.cloned(),
            })
        });
        let session = match minted {
            Some(id) => self.admit(id, protocol_version, client)?,
            None => self.create(protocol_version, client)?,
        };
        if let Some(capabilities) = capabilities {
            session.set_client_capabilities(capabilities.clone());
        }
        Ok(session)
    }

    /// A session this store does not hold, recreated from its id's claims when the codec opens it
    /// (minted by another replica, or before a restart). `None`: no codec, an id the codec refuses
    /// or one ended here by `DELETE`, an unsupported version, or a store full of busy sessions.
    fn resume(&self, id: &str) -> Option<SessionHold> {
        let codec = self.codec()?;
        if self
            .deleted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .any(|deleted| deleted == id)
        {
            return None;
        }
        let claims = codec.open(id)?;
        let version = dcc_mcp_protocol::version::supported_version(&claims.protocol_version)?;
        let session = self.admit(id.to_owned(), version, None).ok()?;
        if let Some(capabilities) = claims.client_capabilities {
            session.set_client_capabilities(capabilities);
        }
        let hold = session.hold();
        hold.touch();
        Some(hold)
    }

    /// End a session on `DELETE`: [`remove`](Self::remove), and with a codec remember the id so
    /// it is not recreated here.
    pub(crate) fn delete(&self, id: &str) -> bool {
        if self.codec().is_some() {
            let mut deleted = self.deleted.lock().unwrap_or_else(PoisonError::into_inner);
            if deleted.len() >= DELETED_REMEMBERED {
                deleted.pop_front();
            }
            deleted.push_back(id.to_owned());
        }
        self.remove(id)
    }

    /// The same store with each session's outbox held to `bytes` (`max_outbox_bytes`).
    pub(crate) fn with_outbox_budget(mut self, bytes: usize) -> Self {
        self.outbox_budget = bytes;
        self
    }

    /// The same store with all outboxes sharing `budget` (`max_outbox_bytes_total`).
    pub(crate) fn with_shared_outbox(mut self, budget: OutboxBudget) -> Self {
        self.shared_outbox = Arc::new(budget);
        self
    }

    /// Bytes held by all outboxes now (the gauge `dcc_mcp_outbox_bytes`).
    // Read by the /metrics gauges (feature `prometheus`) and the tests.
    #[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
    pub(crate) fn outbox_bytes(&self) -> usize {
        self.shared_outbox.used()
    }

    /// The same store with each session's handlers held to `limits`.
    pub(crate) fn with_client_limits(mut self, limits: ClientLimits) -> Self {
        self.client_limits = limits;
        self
    }

    /// A request scope of the stateless era (2026-07-28): a session that is in no map, has no id and
    /// never expires, so the code that serves a tool (in-flight registry, progress outbox) serves a
    /// stateless request unchanged. Its outbox is drained by the request's own response stream (or
    /// a `subscriptions/listen` stream); it ends when that response is done.
    pub(crate) fn ephemeral(&self, protocol_version: &'static str) -> Arc<Session> {
        let session = Session::new(
            String::new(),
            protocol_version,
            None,
            self.outbox_budget,
            self.shared_outbox.clone(),
            self.recorder.clone(),
            self.client_limits,
        );
        // Drained by the request's own response: never "unattached".
        session.attached_once.store(true, Ordering::Release);
        Arc::new(session)
    }

    /// The configured session cap.
    pub(crate) fn max_sessions(&self) -> usize {
        self.max_sessions
    }

    /// The configured per-address session cap.
    pub(crate) fn max_per_client(&self) -> usize {
        self.max_per_client
    }

    /// Start a session with a fresh cryptographically random id for a client at `client` (when
    /// known). At a cap, expired sessions are ended first; then the least recently used idle session
    /// (of the same address, for the per-address cap) is evicted: its next request gets `404`. Only
    /// when every candidate is busy does the call fail, and then the store is unchanged.
    pub(crate) fn create(
        &self,
        protocol_version: &'static str,
        client: Option<IpAddr>,
    ) -> Result<Arc<Session>, CreateError> {
        let id = random_hex::<16>().ok_or(CreateError::NoRandomness)?;
        self.admit(id, protocol_version, client)
    }

    /// Admit a session under `id` (see [`create`](Self::create)); an id already live (two
    /// requests recreating one session at once) gives that session.
    fn admit(
        &self,
        id: String,
        protocol_version: &'static str,
        client: Option<IpAddr>,
    ) -> Result<Arc<Session>, CreateError> {
        let session = Arc::new(Session::new(
            id,
            protocol_version,
            client,
            self.outbox_budget,
            self.shared_outbox.clone(),
            self.recorder.clone(),
            self.client_limits,
        ));
        let mut ended = Vec::new();
        let mut evicted = None;
        let admitted = {
            let mut sessions = self.inner.write().unwrap_or_else(PoisonError::into_inner);
            if let Some(live) = sessions.by_id.get(&session.id) {
                return Ok(live.clone());
            }
            let client_full = |sessions: &Sessions| {
                client.is_some_and(|client| {
                    sessions.per_client.get(&client).copied().unwrap_or(0) >= self.max_per_client
                })
            };
            if sessions.by_id.len() >= self.max_sessions || client_full(&sessions) {
                self.evict_expired(&mut sessions, &mut ended);
            }
            let mut admitted = Ok(());
            if client_full(&sessions) {
                match sessions.least_recently_used_idle(client) {
                    Some(id) => evicted = sessions.remove(&id),
                    None => admitted = Err(CreateError::ClientFull),
                }
            } else if sessions.by_id.len() >= self.max_sessions {
                match self.oldest_evictable(&sessions) {
                    Some(id) => evicted = sessions.remove(&id),
                    None => admitted = Err(CreateError::Full),
                }
            }
            if admitted.is_ok() {
                session.join_order(self.order.clone());
                sessions.insert(session.clone());
            }
            admitted
        };
        for expired in ended {
            expired.close();
            self.recorder.session_closed();
        }
        if let Some(evicted) = evicted {
            tracing::debug!(session = %evicted.id, "evicted the least recently used idle session");
            evicted.close();
            self.recorder.session_closed();
            self.recorder.rejected(Rejection::SessionEvicted);
        }
        admitted?;
        self.recorder.session_opened();
        Ok(session)
    }

    /// The least recently used evictable session of the store, in O(1) amortized (see
    /// `session_order`): busy sessions met on the way lose their place until they are idle again.
    fn oldest_evictable(&self, sessions: &Sessions) -> Option<String> {
        while let Some(session) = self.order.pop_oldest() {
            let live = sessions
                .by_id
                .get(&session.id)
                .is_some_and(|live| Arc::ptr_eq(live, &session));
            if !live {
                continue;
            }
            if session.is_evictable() {
                return Some(session.id.clone());
            }
            session.skipped.store(true, Ordering::SeqCst);
            // Released since the check: it would not enqueue itself again, so take it now.
            if session.is_evictable() {
                return Some(session.id.clone());
            }
        }
        None
    }

    /// Move expired sessions from `sessions` to `evicted` (scanning only when one may have expired)
    /// and refresh the earliest-expiry bound.
    fn evict_expired(&self, sessions: &mut Sessions, evicted: &mut Vec<Arc<Session>>) {
        let now = Instant::now();
        let mut earliest = self
            .earliest_expiry
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !earliest.is_some_and(|earliest| now >= earliest) {
            return;
        }
        // A busy session (open stream, request or job), once released, is touched at that moment
        // (>= now), and touches only move `last_seen` later, so `now + ttl` bounds those and new
        // sessions too.
        let mut next = now.checked_add(self.ttl);
        let mut expired = Vec::new();
        for session in sessions.by_id.values() {
            if session.is_expired(self.ttl, now) {
                expired.push(session.id.clone());
            } else if session.is_idle() {
                next = match (next, session.last_seen().checked_add(self.ttl)) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
        }
        for id in expired {
            evicted.extend(sessions.remove(&id));
        }
        *earliest = next;
    }

    /// The live session with this id, touched and held busy until the returned hold is dropped;
    /// `None` if unknown, ended or expired. The hold is taken under the store's lock, so the session
    /// cannot be evicted between the lookup and the hold.
    pub(crate) fn get(&self, id: &str) -> Option<SessionHold> {
        let hold = {
            let sessions = self.inner.read().unwrap_or_else(PoisonError::into_inner);
            let Some(session) = sessions.by_id.get(id) else {
                drop(sessions);
                return self.resume(id);
            };
            if session.is_expired(self.ttl, Instant::now()) {
                None
            } else {
                Some(session.hold())
            }
        };
        match hold {
            Some(hold) => {
                hold.touch();
                Some(hold)
            }
            None => {
                self.remove(id);
                None
            }
        }
    }

    /// End a session (DELETE or expiry); returns whether it was live.
    pub(crate) fn remove(&self, id: &str) -> bool {
        let removed = self
            .inner
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
            .inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .by_id
            .values()
            .filter(|session| session.is_expired(self.ttl, now))
            .map(|session| session.id.clone())
            .collect();
        expired.iter().filter(|id| self.remove(id)).count()
    }

    /// Sessions that are neither ended nor expired.
    pub(crate) fn live_count(&self) -> usize {
        let now = Instant::now();
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .by_id
            .values()
            .filter(|session| !session.is_expired(self.ttl, now))
            .count()
    }

    /// Tell the handlers of every running synchronous call that the server is stopping
    /// (`ToolContext::is_cancelled` turns true; the calls are still answered as usual).
    pub(crate) fn flag_all_calls_cancelled(&self) {
        let sessions: Vec<Arc<Session>> = self
            .inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .by_id
            .values()
            .cloned()
            .collect();
        for session in sessions {
            session.in_flight.flag_all();
        }
    }

    /// Queue the notification `method` for every live session; returns how many were told.
    pub(crate) fn notify_all(&self, method: &str, params: &Value) -> usize {
        let now = Instant::now();
        let sessions: Vec<Arc<Session>> = self
            .inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .by_id
            .values()
            .filter(|session| !session.is_expired(self.ttl, now))
            .cloned()
            .collect();
        for session in &sessions {
            session.notify(method, params.clone());
        }
        sessions.len()
    }

    /// Queue the notification `method` for the live sessions among `ids` (unknown, ended or
    /// expired ids are skipped); returns how many were told.
    pub(crate) fn notify_ids(&self, ids: &[String], method: &str, params: &Value) -> usize {
        let now = Instant::now();
        let sessions: Vec<Arc<Session>> = {
            let inner = self.inner.read().unwrap_or_else(PoisonError::into_inner);
            ids.iter()
                .filter_map(|id| inner.by_id.get(id))
                .filter(|session| !session.is_expired(self.ttl, now))
                .cloned()
                .collect()
        };
        for session in &sessions {
            session.notify(method, params.clone());
        }
        sessions.len()
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

    const V: &str = "2025-06-18";

    fn store(ttl: Duration, max: usize, per_client: usize) -> SessionStore {
        SessionStore::new(ttl, max, per_client, Recorder::new())
    }

    #[test]
    fn ids_are_random_hex() {
        let store = store(Duration::from_secs(60), 10, 10);
        let a = store.create(V, None).unwrap();
        let b = store.create(V, None).unwrap();
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
    fn at_the_cap_the_least_recently_used_idle_session_is_evicted() {
        let store = store(Duration::from_secs(60), 3, 3);
        let a = store.create(V, None).unwrap();
        let b = store.create(V, None).unwrap();
        let c = store.create(V, None).unwrap();
        // `a` is used again: `b` is now the least recently used.
        drop(store.get(a.id()));
        let d = store.create(V, None).unwrap();
        assert!(
            store.get(b.id()).is_none(),
            "the LRU idle session was evicted"
        );
        assert!(matches!(b.next_for(b.attach_stream()), Next::End));
        for live in [&a, &c, &d] {
            assert!(store.get(live.id()).is_some());
        }
        assert_eq!(store.live_count(), 3);
    }

    #[test]
    fn a_busy_session_passed_over_at_the_cap_is_evicted_in_its_turn_once_idle() {
        let store = store(Duration::from_secs(60), 3, 3);
        let a = store.create(V, None).unwrap();
        let b = store.create(V, None).unwrap();
        let c = store.create(V, None).unwrap();
        // `a` is the least recently used but busy: `b` goes, `a` loses its place.
        let held = a.hold();
        let d = store.create(V, None).unwrap();
        assert!(b.is_ended());
        // Released, `a` is the most recently used: `c`, then `d`, then `a` go.
        drop(held);
        let mut order = Vec::new();
        for _ in 0..3 {
            store.create(V, None).unwrap();
            let gone = [&a, &c, &d]
                .into_iter()
                .filter(|s| s.is_ended() && !order.contains(&s.id().to_owned()))
                .map(|s| s.id().to_owned())
                .collect::<Vec<_>>();
            order.extend(gone);
        }
        assert_eq!(order, [c.id(), d.id(), a.id()]);
        assert_eq!(store.live_count(), 3);
    }

    #[test]
    fn every_session_busy_empties_the_order_and_release_refills_it() {
        let store = store(Duration::from_secs(60), 2, 2);
        let a = store.create(V, None).unwrap();
        let b = store.create(V, None).unwrap();
        let (held_a, held_b) = (a.hold(), b.hold());
        assert_eq!(store.create(V, None).err(), Some(CreateError::Full));
        assert_eq!(store.create(V, None).err(), Some(CreateError::Full));
        drop(held_b);
        let c = store.create(V, None).unwrap();
        assert!(b.is_ended() && !a.is_ended());
        // Released now, `a` was used after `c` was created: `c` is the least recently used.
        drop(held_a);
        store.create(V, None).unwrap();
        assert!(c.is_ended() && !a.is_ended());
    }

    #[test]
    fn busy_sessions_are_never_evicted_and_all_busy_refuses() {
        let store = store(Duration::from_secs(60), 2, 2);
        let a = store.create(V, None).unwrap();
        let b = store.create(V, None).unwrap();
        let held = store.get(a.id()).unwrap();
        let _stream = b.attach_stream();
        assert_eq!(store.create(V, None).err(), Some(CreateError::Full));
        assert_eq!(store.live_count(), 2);
        // A job's hold (taken on the session itself) counts the same as a request's.
        drop(held);
        let job = a.hold();
        assert_eq!(store.create(V, None).err(), Some(CreateError::Full));
        drop(job);
        let c = store.create(V, None).unwrap();
        assert!(store.get(a.id()).is_none());
        assert!(store.get(c.id()).is_some());
    }

    #[test]
    fn the_per_client_cap_evicts_within_the_address_only() {
        let store = store(Duration::from_secs(60), 10, 2);
        let (x, y): (IpAddr, IpAddr) = ("127.0.0.2".parse().unwrap(), "127.0.0.3".parse().unwrap());
        let other = store.create(V, Some(y)).unwrap();
        let x1 = store.create(V, Some(x)).unwrap();
        let x2 = store.create(V, Some(x)).unwrap();
        let x3 = store.create(V, Some(x)).unwrap();
        assert!(
            store.get(x1.id()).is_none(),
            "x's own LRU idle session was evicted"
        );
        assert!(store.get(other.id()).is_some());
        let _held = (store.get(x2.id()).unwrap(), store.get(x3.id()).unwrap());
        assert_eq!(
            store.create(V, Some(x)).err(),
            Some(CreateError::ClientFull)
        );
        assert!(store.create(V, Some(y)).is_ok());
        assert!(store.create(V, None).is_ok());
        assert_eq!(store.live_count(), 5);
    }

    #[test]
    fn at_the_cap_expired_sessions_are_ended_first() {
        let ttl = Duration::from_millis(20);
        let store = store(ttl, 2, 2);
        let old = store.create(V, None).unwrap();
        let held = store.create(V, None).unwrap();
        let _hold = held.hold();
        std::thread::sleep(ttl * 3);
        let new = store.create(V, None).unwrap();
        assert!(store.get(old.id()).is_none());
        assert!(store.get(new.id()).is_some());
        assert!(
            store.get(held.id()).is_some(),
            "a held session does not expire"
        );
        assert_eq!(store.live_count(), 2);
    }

    #[test]
    fn a_session_with_an_open_stream_does_not_expire() {
        let store = store(Duration::from_millis(1), 1, 1);
        let streaming = store.create(V, None).unwrap();
        let _generation = streaming.attach_stream();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(store.create(V, None).err(), Some(CreateError::Full));
        assert!(store.get(streaming.id()).is_some());
    }

    #[test]
    fn the_outbox_byte_budget_drops_the_oldest_notifications() {
        let one = dcc_mcp_protocol::jsonrpc::notification("n", serde_json::json!({"i": 0}))
            .to_string()
            .len();
        let store = SessionStore::new(Duration::from_secs(60), 10, 10, Recorder::new())
            .with_outbox_budget(3 * one);
        let session = store.create("2025-06-18", None).unwrap();
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
        let store = SessionStore::new(ttl, 1, 1, Recorder::new());
        let session = store.create("2025-06-18", None).unwrap();
        assert!(session.reserve_job(1));
        assert!(!session.reserve_job(1));
        std::thread::sleep(ttl * 5);
        assert_eq!(
            store.create("2025-06-18", None).err(),
            Some(CreateError::Full)
        );
        assert!(session.has_live_jobs());
        session.release_job();
        assert!(!session.has_live_jobs());
        std::thread::sleep(ttl * 5);
        assert!(store.create("2025-06-18", None).is_ok());
        assert!(session.is_ended());
    }

    /// A codec whose ids spell their claims (`v:VERSION:CAPABILITY`); ids without the prefix are
    /// refused, as a keyed codec refuses a forged one.
    struct Spelled;

    impl SessionCodec for Spelled {
        fn mint(&self, claims: &SessionClaims) -> Option<String> {
            let capability = claims
                .client_capabilities
                .as_ref()
                .and_then(|c| c.as_object()?.keys().next().cloned())
                .unwrap_or_default();
            Some(format!("v:{}:{capability}", claims.protocol_version))
        }

        fn open(&self, id: &str) -> Option<SessionClaims> {
            let (version, capability) = id.strip_prefix("v:")?.split_once(':')?;
            Some(SessionClaims {
                protocol_version: version.to_owned(),
                client_capabilities: Some(serde_json::json!({ capability: {} })),
            })
        }
    }

    #[test]
    fn a_codec_id_is_recreated_in_another_store_but_not_after_delete() {
        let (a, b) = (
            store(Duration::from_secs(60), 10, 10),
            store(Duration::from_secs(60), 10, 10),
        );
        a.set_codec(Arc::new(Spelled));
        b.set_codec(Arc::new(Spelled));
        let caps = serde_json::json!({"elicitation": {}});
        let session = a.open(V, None, Some(&caps)).unwrap();
        assert_eq!(session.id(), "v:2025-06-18:elicitation");
        assert!(session.client_supports("elicitation"));
        // The other store never saw it: it recreates it from the id, once.
        let resumed = b.get(session.id()).unwrap();
        assert_eq!(resumed.protocol_version(), V);
        assert!(resumed.client_supports("elicitation"));
        assert!(Arc::ptr_eq(&resumed, &b.get(session.id()).unwrap()));
        drop(resumed);
        assert_eq!(b.live_count(), 1);
        // Unknown versions and foreign ids are not recreated.
        assert!(b.get("v:1999-01-01:x").is_none());
        assert!(b.get("0123abcd").is_none());
        // DELETE here ends it here for good; a store without a codec recreates nothing.
        assert!(b.delete(session.id()));
        assert!(b.get(session.id()).is_none());
        assert!(a.get(session.id()).is_some());
        let plain = store(Duration::from_secs(60), 10, 10);
        assert!(plain.get(session.id()).is_none());
        let random = plain.open(V, None, None).unwrap();
        assert_eq!(random.id().len(), 32);
    }

    #[test]
    fn outbox_buffers_until_a_stream_drains_it() {
        let store = store(Duration::from_secs(60), 10, 10);
        let session = store.create(V, None).unwrap();
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
