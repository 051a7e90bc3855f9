//! Long-running jobs (feature `workflow`): a bounded queue in front of bounded concurrency, with a
//! budget for everything a client can make a job hold.
//!
//! An async tool call reserves one of its session's `max_jobs_per_session` slots (or is refused with
//! "job quota"), then a queue slot (or "job queue full"), gets a random job id back at once, and its
//! handler runs when one of `job_concurrency` permits frees up. A session never runs more than
//! `job_concurrency - 1` jobs at once, so another session's job always finds a worker. Progress goes
//! to the session's SSE stream as `notifications/progress` (token: the call's `progressToken`, else the
//! job id); completion goes out as a `notifications/message` from logger `dcc-mcp.jobs`, carrying the
//! result only up to `max_notification_result_bytes`. The built-in tools `jobs.get`, `jobs.list` and
//! `jobs.cancel` query and cancel the session's jobs; `jobs.list` leaves the results out.
//!
//! A job leaves the queue at once when it is cancelled, its session ends (DELETE, expiry, eviction),
//! the server stops, or its `job_deadline` passes; a running job is told to stop (`is_cancelled()`) in
//! the same cases. A result larger than `max_job_result_bytes` is discarded and the job fails. Finished
//! jobs are kept within a count and a byte budget, spent fairly across sessions (see [`retention`]).
//!
//! Each client address holds at most half of the queue and runs at most `job_concurrency - 1` jobs
//! (see [`share`]). A session holding a finished result nobody fetched with `jobs.get` yet is not
//! evicted to make room for another session (it still expires after `session_ttl`), so one address
//! cannot wipe other clients' results by opening sessions. A `notifications/cancelled` names one call:
//! the latest one of its session started under that request id.
//!
//! A queued job keeps its validated arguments as JSON text ([`RawValue`]), not as the
//! `serde_json::Value` tree the request was parsed into: a tree of numbers is about 16× its text (a
//! 4 MiB array of numbers was 64 MiB), and a queue of such jobs held every tree for as long as it
//! waited. The text is parsed back into a tree only when the job starts, and that tree moves into the
//! handler: a job holds about 1× its argument bytes while it waits, and never a copy while it runs.

mod retention;
mod share;

use std::collections::HashMap;
use std::io::Write;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use serde_json::value::RawValue;
use serde_json::{json, Value};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::dispatch::{Dispatcher, Lane};
use crate::limits::JobLimits;
use crate::peer::ClientPeer;
use crate::record::{JobResult, Recorder, Rejection};
use crate::registry::{success_result, Handler, ProgressSink, ToolContext, ToolEntry, ToolSpec};
use crate::session::{random_hex, Session};
use dcc_mcp_protocol::reserved;
use dcc_mcp_protocol::tools::{error_result, progress_params};
use retention::{Budget, Retention};
use share::{QueueSlots, Refused};

/// Logger name of job-completion notifications.
pub const JOB_LOGGER: &str = "dcc-mcp.jobs";

/// Specs of the built-in job tools, listed by `tools/list` next to the registered tools.
pub(crate) fn builtin_specs() -> Vec<ToolSpec> {
    let by_id = json!({
        "type": "object",
        "properties": {"jobId": {"type": "string", "description": "The id returned by the async tool call"}},
        "required": ["jobId"]
    });
    vec![
        ToolSpec::new(reserved::JOBS_CANCEL)
            .description("Cancel a queued or running job of this session.")
            .input_schema(by_id.clone()),
        ToolSpec::new(reserved::JOBS_GET)
            .description("Status, progress and result of a job of this session.")
            .input_schema(by_id),
        ToolSpec::new(reserved::JOBS_LIST)
            .description(
                "All jobs of this session, oldest first, without their results or errors \
                 (resultBytes gives the size; fetch one with jobs.get).",
            )
            .input_schema(json!({"type": "object"})),
    ]
}

/// Lifecycle of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug)]
struct JobState {
    status: JobStatus,
    progress: Option<f64>,
    total: Option<f64>,
    message: Option<String>,
    result: Option<Value>,
    error: Option<String>,
    /// Bytes of the stored result or error, once the job finished.
    result_bytes: Option<usize>,
}

/// How much of a job [`Job::to_json`] shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detail {
    /// Everything, result and error included (`jobs.get`).
    Full,
    /// No result and no error, but their size as `resultBytes` (`jobs.list`, large completions).
    Summary,
}

struct Job {
    id: String,
    tool: String,
    session_id: String,
    /// The session, to tell it when a finished result is fetched or forgotten.
    session: Weak<Session>,
    /// The client address of the session (its share of the queue).
    client: Option<IpAddr>,
    /// The job finished and its result was not fetched with `jobs.get` yet, nor forgotten: its
    /// session is not evicted for another (see [`Session::keep_result`]).
    unfetched: AtomicBool,
    /// The `tools/call` request that started the job, as an in-flight key (`notifications/cancelled`).
    request_key: String,
    seq: u64,
    created: Instant,
    /// The handler's `is_cancelled()`.
    cancelled: Arc<AtomicBool>,
    /// Wakes the job's task when the job is cancelled, so a queued job leaves the queue at once.
    cancel: CancellationToken,
    /// The job holds a queue slot (until it starts or leaves the queue); given back exactly once.
    holds_queue_slot: AtomicBool,
    /// The job holds one of its session's job slots (until its task ends or it is cancelled while
    /// queued); given back exactly once.
    holds_quota: AtomicBool,
    state: Mutex<JobState>,
}

impl Job {
    fn lock(&self) -> std::sync::MutexGuard<'_, JobState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn to_json(&self, detail: Detail) -> Value {
        let state = self.lock();
        let mut value =
            json!({"jobId": self.id, "tool": self.tool, "status": state.status.as_str()});
        let full = detail == Detail::Full;
        if let Some(map) = value.as_object_mut() {
            let fields = [
                ("progress", state.progress.map(|p| json!(p))),
                ("total", state.total.map(|t| json!(t))),
                ("message", state.message.as_ref().map(|m| json!(m))),
                ("result", state.result.clone().filter(|_| full)),
                (
                    "error",
                    state.error.as_ref().filter(|_| full).map(|e| json!(e)),
                ),
                (
                    "resultBytes",
                    state.result_bytes.filter(|_| !full).map(|b| json!(b)),
                ),
            ];
            for (key, field) in fields {
                if let Some(field) = field {
                    map.insert(key.into(), field);
                }
            }
        }
        value
    }

    /// Tell the handler to stop and wake the job's task.
    fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
        self.cancel.cancel();
    }

    /// Give back the job's queue slot, if it still holds it.
    fn leave_queue(&self, slots: &QueueSlots) {
        if self.holds_queue_slot.swap(false, Ordering::AcqRel) {
            slots.leave(self.client);
        }
    }

    /// The finished result is fetched or forgotten: the session may be evicted again for it.
    fn settle_result(&self) {
        if self.unfetched.swap(false, Ordering::AcqRel) {
            if let Some(session) = self.session.upgrade() {
                session.result_settled();
            }
        }
    }

    /// Give back the job's session slot, if it still holds it.
    fn release_quota(&self, session: &Session) {
        if self.holds_quota.swap(false, Ordering::AcqRel) {
            session.release_job();
        }
    }
}

/// The job budgets of the configuration.
#[derive(Debug, Clone, Copy)]
struct Budgets {
    per_session: usize,
    deadline: Option<Duration>,
    result_bytes: usize,
    notification_bytes: usize,
    /// Most jobs of one session running at once.
    session_runners: usize,
}

struct JobTable {
    by_id: HashMap<String, Arc<Job>>,
    /// Per live session that has submitted jobs: the permits that bound how many of its jobs run at once.
    runners: HashMap<String, Arc<Semaphore>>,
    retention: Retention,
    next_seq: u64,
}

impl JobTable {
    /// A finished job holding `bytes`: keep it within the retention budgets (or drop it at once when
    /// its session has ended).
    fn retire(&mut self, job: &Job, bytes: usize) {
        if !self.runners.contains_key(&job.session_id) {
            self.by_id.remove(&job.id);
            job.settle_result();
            return;
        }
        for id in self.retention.keep(&job.session_id, &job.id, bytes) {
            if let Some(forgotten) = self.by_id.remove(&id) {
                forgotten.settle_result();
            }
        }
    }

    /// The session ended: forget its finished jobs (running ones go when they finish).
    fn forget_session(&mut self, session_id: &str) {
        self.runners.remove(session_id);
        for id in self.retention.forget(session_id) {
            self.by_id.remove(&id);
        }
    }
}

/// The bounded job queue and the record of its jobs.
pub(crate) struct JobManager {
    table: Arc<Mutex<JobTable>>,
    slots: Arc<QueueSlots>,
    permits: Arc<Semaphore>,
    budgets: Budgets,
    recorder: Recorder,
    shutdown: CancellationToken,
    dispatch: Dispatcher,
}

/// Where an async call came from: the request that started it and the client's progress token.
pub(crate) struct Origin {
    /// The request's id as an in-flight key; `notifications/cancelled` for it cancels the job.
    pub(crate) request_key: String,
    /// `_meta.progressToken` of the call, if the client gave one.
    pub(crate) progress_token: Option<Value>,
    /// Where the job's handler asks its client (elicitation, sampling, roots) and logs; `None`:
    /// it has no client to ask.
    pub(crate) peer: Option<Arc<dyn ClientPeer>>,
}

enum Submitted {
    Accepted(Arc<Job>),
    QueueFull,
    ClientShare,
    Quota,
    Rejected(&'static str),
}

impl JobManager {
    pub(crate) fn new(
        limits: JobLimits,
        recorder: Recorder,
        shutdown: CancellationToken,
        dispatch: Dispatcher,
    ) -> Self {
        let table = JobTable {
            by_id: HashMap::new(),
            runners: HashMap::new(),
            retention: Retention::new(Budget {
                jobs: limits.finished_jobs,
                bytes: limits.finished_bytes,
            }),
            next_seq: 0,
        };
        Self {
            table: Arc::new(Mutex::new(table)),
            slots: Arc::new(QueueSlots::new(limits.queue_capacity, limits.concurrency)),
            permits: Arc::new(Semaphore::new(limits.concurrency)),
            budgets: Budgets {
                per_session: limits.per_session,
                deadline: limits.deadline,
                result_bytes: limits.result_bytes,
                notification_bytes: limits.notification_bytes,
                session_runners: limits.concurrency.saturating_sub(1).max(1),
            },
            recorder,
            shutdown,
            dispatch,
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, JobTable> {
        lock_table(&self.table)
    }

    /// Submit an async call; returns the tool result (job id, or why it was refused).
    pub(crate) fn submit(
        &self,
        entry: Arc<ToolEntry>,
        handler: Handler,
        arguments: Value,
        session: Arc<Session>,
        origin: Origin,
    ) -> Value {
        let tool = entry.spec.name.clone();
        let submitted = self.try_submit(entry, handler, arguments, session, origin);
        let outcome = match &submitted {
            Submitted::Accepted(_) => JobResult::Accepted,
            Submitted::QueueFull | Submitted::ClientShare => JobResult::QueueFull,
            Submitted::Quota => JobResult::Quota,
            Submitted::Rejected(_) => JobResult::Rejected,
        };
        self.recorder.job_created(&tool, outcome);
        match submitted {
            Submitted::Accepted(job) => {
                let text = format!(
                    "Job {} accepted for tool '{}'. Poll it with jobs.get {{\"jobId\": \"{}\"}}; \
                     completion is also sent as a notification.",
                    job.id, tool, job.id
                );
                json!({
                    "content": [{"type": "text", "text": text}],
                    "isError": false,
                    "structuredContent": job.to_json(Detail::Full),
                })
            }
            Submitted::QueueFull => {
                self.recorder.rejected(Rejection::JobQueueFull);
                error_result(&format!(
                    "job queue full: {} jobs are already waiting; retry later or raise \
                     job_queue_capacity",
                    self.slots.capacity()
                ))
            }
            Submitted::ClientShare => {
                self.recorder.rejected(Rejection::JobClientShare);
                error_result(&format!(
                    "job queue full for this client: its address already has {} jobs waiting \
                     (half of job_queue_capacity, so other clients keep room); retry later",
                    self.slots.client_share()
                ))
            }
            Submitted::Quota => {
                self.recorder.rejected(Rejection::JobQuota);
                error_result(&format!(
                    "job quota reached: this session already has {} queued or running jobs \
                     (max_jobs_per_session); wait for one to finish or cancel one with jobs.cancel",
                    self.budgets.per_session
                ))
            }
            Submitted::Rejected(reason) => error_result(reason),
        }
    }

    fn try_submit(
        &self,
        entry: Arc<ToolEntry>,
        handler: Handler,
        arguments: Value,
        session: Arc<Session>,
        origin: Origin,
    ) -> Submitted {
        if self.shutdown.is_cancelled() {
            return Submitted::Rejected("the server is shutting down; no new jobs are accepted");
        }
        if session.is_ended() {
            return Submitted::Rejected("the session has ended; initialize a new one");
        }
        // The queue holds the text (about 1x the argument bytes); the tree is dropped here.
        let Ok(arguments) = serde_json::value::to_raw_value(&arguments) else {
            return Submitted::Rejected("the job's arguments cannot be written as JSON");
        };
        if !session.reserve_job(self.budgets.per_session) {
            return Submitted::Quota;
        }
        let client = session.client();
        let client_runners = match self.slots.reserve(client) {
            Ok(runners) => runners,
            Err(refused) => {
                session.release_job();
                return match refused {
                    Refused::Full => Submitted::QueueFull,
                    Refused::ClientShare => Submitted::ClientShare,
                };
            }
        };
        let Some(id) = random_hex::<16>() else {
            self.slots.unreserve(client);
            session.release_job();
            return Submitted::Rejected(
                "cannot create a job id: the operating system has no randomness available",
            );
        };
        let (job, runners, first_of_session) = {
            let mut table = self.table();
            table.next_seq += 1;
            let job = Arc::new(Job {
                id: id.clone(),
                tool: entry.spec.name.clone(),
                session_id: session.id().to_owned(),
                session: Arc::downgrade(&session),
                client,
                unfetched: AtomicBool::new(false),
                request_key: origin.request_key,
                seq: table.next_seq,
                created: Instant::now(),
                cancelled: Arc::new(AtomicBool::new(false)),
                cancel: CancellationToken::new(),
                holds_queue_slot: AtomicBool::new(true),
                holds_quota: AtomicBool::new(true),
                state: Mutex::new(JobState {
                    status: JobStatus::Queued,
                    progress: None,
                    total: None,
                    message: None,
                    result: None,
                    error: None,
                    result_bytes: None,
                }),
            });
            table.by_id.insert(id.clone(), job.clone());
            let first_of_session = !table.runners.contains_key(session.id());
            let runners = table
                .runners
                .entry(session.id().to_owned())
                .or_insert_with(|| Arc::new(Semaphore::new(self.budgets.session_runners)))
                .clone();
            (job, runners, first_of_session)
        };
        if first_of_session {
            self.watch_session(session.clone());
        }
        let token = origin.progress_token.unwrap_or(Value::String(id));
        let run = JobRun {
            job: job.clone(),
            entry,
            handler,
            arguments: Some(arguments),
            session,
            token,
            peer: origin.peer,
            runners,
            client_runners,
            slots: self.slots.clone(),
            permits: self.permits.clone(),
            budgets: self.budgets,
            recorder: self.recorder.clone(),
            shutdown: self.shutdown.clone(),
            table: self.table.clone(),
            dispatch: self.dispatch.clone(),
        };
        tokio::spawn(run.execute());
        Submitted::Accepted(job)
    }

    /// Forget the session's finished jobs when it ends (its live jobs see the end themselves).
    fn watch_session(&self, session: Arc<Session>) {
        let table = self.table.clone();
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = session.ended() => lock_table(&table).forget_session(session.id()),
                () = shutdown.cancelled() => {}
            }
        });
    }

    fn job_of(&self, session: &Session, id: &str) -> Option<Arc<Job>> {
        self.table()
            .by_id
            .get(id)
            .filter(|job| job.session_id == session.id())
            .cloned()
    }

    /// Cancel the job of `session` started by the latest request with this in-flight key
    /// (`notifications/cancelled`), if it has not finished; returns whether one was cancelled. A
    /// request id reused after its first call ended names the newer call only: older jobs started
    /// under the same id keep running.
    pub(crate) fn cancel_request(&self, session: &Session, request_key: &str) -> bool {
        let latest = self
            .table()
            .by_id
            .values()
            .filter(|job| job.session_id == session.id() && job.request_key == request_key)
            .max_by_key(|job| job.seq)
            .cloned();
        latest.is_some_and(|job| self.cancel(&job, session))
    }

    /// Ask a job of `session` to stop: a queued job is `cancelled` at once and gives back its queue
    /// slot and session slot before this returns; a running one sees `is_cancelled()`. Returns false
    /// for a job that had already finished.
    fn cancel(&self, job: &Job, session: &Session) -> bool {
        let was_queued = {
            let mut state = job.lock();
            match state.status {
                JobStatus::Queued => {
                    state.status = JobStatus::Cancelled;
                    true
                }
                JobStatus::Running => false,
                JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled => return false,
            }
        };
        job.cancel();
        if was_queued {
            job.leave_queue(&self.slots);
            job.release_quota(session);
        }
        true
    }

    /// Cancel every job (server shutdown).
    pub(crate) fn cancel_all(&self) {
        for job in self.table().by_id.values() {
            job.cancel();
        }
    }
}

/// Everything one job's task needs.
struct JobRun {
    job: Arc<Job>,
    entry: Arc<ToolEntry>,
    handler: Handler,
    /// The validated arguments as JSON text until the job starts (then taken: a job runs once).
    arguments: Option<Box<RawValue>>,
    session: Arc<Session>,
    token: Value,
    peer: Option<Arc<dyn ClientPeer>>,
    /// The session's running-job permits.
    runners: Arc<Semaphore>,
    /// The client address's running-job permits.
    client_runners: Arc<Semaphore>,
    slots: Arc<QueueSlots>,
    permits: Arc<Semaphore>,
    budgets: Budgets,
    recorder: Recorder,
    shutdown: CancellationToken,
    table: Arc<Mutex<JobTable>>,
    dispatch: Dispatcher,
}

fn lock_table(table: &Mutex<JobTable>) -> std::sync::MutexGuard<'_, JobTable> {
    table.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Why a job left the queue without running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NotRun {
    Cancelled,
    SessionEnded,
    Shutdown,
    Deadline,
}

/// How a job ended: its status and what it stores.
struct Outcome {
    status: JobStatus,
    result: Option<Value>,
    error: Option<String>,
}

impl Outcome {
    fn error(status: JobStatus, message: String) -> Self {
        Self {
            status,
            result: None,
            error: Some(message),
        }
    }
}

/// The permits a job needs to run: one of its session's, one of its address's, then one of the
/// server's (always taken in this order).
type RunPermits = (
    OwnedSemaphorePermit,
    OwnedSemaphorePermit,
    OwnedSemaphorePermit,
);

impl JobRun {
    async fn execute(mut self) {
        let job = self.job.clone();
        let deadline = self
            .budgets
            .deadline
            .and_then(|deadline| job.created.checked_add(deadline))
            .map(tokio::time::Instant::from_std);
        let expiry = async move {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(expiry);

        let runners = self.runners.clone();
        let client_runners = self.client_runners.clone();
        let permits = self.permits.clone();
        let acquire = async move {
            let own = runners.acquire_owned().await.ok()?;
            let client = client_runners.acquire_owned().await.ok()?;
            let global = permits.acquire_owned().await.ok()?;
            Some((own, client, global))
        };
        let queued: Result<RunPermits, NotRun> = tokio::select! {
            biased;
            () = job.cancel.cancelled() => Err(NotRun::Cancelled),
            () = self.session.ended() => Err(NotRun::SessionEnded),
            () = self.shutdown.cancelled() => Err(NotRun::Shutdown),
            () = &mut expiry => Err(NotRun::Deadline),
            permits = acquire => permits.ok_or(NotRun::Shutdown),
        };
        job.leave_queue(&self.slots);
        self.recorder.job_started(&job.tool, job.created.elapsed());
        match queued {
            Err(reason) => {
                if reason == NotRun::Deadline {
                    self.recorder.rejected(Rejection::ExpiredBeforeRun);
                }
                job.release_quota(&self.session);
                self.finish(self.not_run(reason));
            }
            Ok(permits) => {
                self.run(&mut expiry).await;
                drop(permits);
            }
        }
        // After a deadline the slot is given back only now, when the handler has returned.
        job.release_quota(&self.session);
        self.slots.release(job.client);
    }

    fn not_run(&self, reason: NotRun) -> Outcome {
        let message = match reason {
            NotRun::Cancelled => "cancelled before it started".to_owned(),
            NotRun::SessionEnded => "cancelled before it started: the session ended".to_owned(),
            NotRun::Shutdown => {
                "cancelled before it started: the server is shutting down".to_owned()
            }
            NotRun::Deadline => format!(
                "job deadline exceeded: still queued after {:.3} s (job_deadline); it never ran",
                self.deadline_secs()
            ),
        };
        let status = if reason == NotRun::Deadline {
            JobStatus::Failed
        } else {
            JobStatus::Cancelled
        };
        Outcome::error(status, message)
    }

    fn deadline_secs(&self) -> f64 {
        self.budgets.deadline.unwrap_or_default().as_secs_f64()
    }

    /// Run the handler holding both permits. At the deadline the job is cancelled and finished at
    /// once; the permits are still held until the handler returns, so no more handlers run than
    /// `job_concurrency` allows.
    async fn run(
        &mut self,
        expiry: &mut std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
    ) {
        let job = &self.job;
        if job.cancelled.load(Ordering::Relaxed) {
            job.release_quota(&self.session);
            self.finish(self.not_run(NotRun::Cancelled));
            return;
        }
        // Parsed only now, and the text dropped before the handler runs: a running job holds its
        // arguments once, as the tree the handler takes.
        let arguments = match self
            .arguments
            .take()
            .map(|raw| serde_json::from_str::<Value>(raw.get()))
        {
            Some(Ok(arguments)) => arguments,
            Some(Err(error)) => {
                job.release_quota(&self.session);
                self.finish(Outcome::error(
                    JobStatus::Failed,
                    format!("the job's arguments could not be read back: {error}"),
                ));
                return;
            }
            None => {
                job.release_quota(&self.session);
                self.finish(Outcome::error(
                    JobStatus::Failed,
                    "the job's arguments were already handed to a run".to_owned(),
                ));
                return;
            }
        };
        job.lock().status = JobStatus::Running;
        let sink: Arc<dyn ProgressSink> = Arc::new(JobProgress {
            job: job.clone(),
            session: self.session.clone(),
            token: self.token.clone(),
        });
        let mut context = ToolContext::attached(&job.tool, job.cancelled.clone(), Some(sink), None);
        if let Some(peer) = &self.peer {
            context = context.with_peer(peer.clone());
        }
        let handler = self
            .dispatch
            .run(&self.handler, arguments, context, Lane::Job);
        tokio::pin!(handler);
        let session = self.session.clone();
        let shutdown = self.shutdown.clone();
        let stop = async move {
            tokio::select! {
                () = session.ended() => {}
                () = shutdown.cancelled() => {}
            }
        };
        tokio::pin!(stop);
        let mut stop_seen = false;
        let finished = loop {
            tokio::select! {
                outcome = &mut handler => break Some(outcome),
                () = &mut stop, if !stop_seen => {
                    stop_seen = true;
                    job.cancel();
                }
                () = expiry.as_mut() => break None,
            }
        };
        let Some(outcome) = finished else {
            job.cancel();
            self.finish(Outcome::error(
                JobStatus::Failed,
                format!(
                    "job deadline exceeded: ran past {:.3} s (job_deadline) and was cancelled",
                    self.deadline_secs()
                ),
            ));
            let _ = handler.await;
            return;
        };
        let cancelled = job.cancelled.load(Ordering::Relaxed);
        let outcome = match outcome {
            Ok(value) => {
                let result = success_result(&self.entry, value);
                if result.get("isError") == Some(&Value::Bool(true)) {
                    let message = result
                        .pointer("/content/0/text")
                        .and_then(Value::as_str)
                        .unwrap_or("the tool's output does not match its outputSchema")
                        .to_owned();
                    Outcome::error(JobStatus::Failed, message)
                } else {
                    Outcome {
                        status: JobStatus::Succeeded,
                        result: Some(result),
                        error: None,
                    }
                }
            }
            Err(message) if cancelled => Outcome::error(JobStatus::Cancelled, message),
            Err(message) => Outcome::error(JobStatus::Failed, message),
        };
        // The handler has returned: the session slot is free before the completion is announced.
        job.release_quota(&self.session);
        self.finish(outcome);
    }

    /// Store the outcome within `max_job_result_bytes`, retire the job and announce it; what the
    /// job asked of its client and is still unanswered is abandoned.
    fn finish(&self, outcome: Outcome) {
        let job = &self.job;
        if let Some(peer) = &self.peer {
            peer.end_call(&format!(
                "the job of tool '{}' ended before the client answered",
                job.tool
            ));
        }
        let limit = self.budgets.result_bytes;
        let Outcome {
            mut status,
            mut result,
            mut error,
        } = outcome;
        let size = match (&result, &error) {
            (Some(result), _) => json_len_within(result, limit),
            (None, Some(error)) => Some(error.len()).filter(|&len| len <= limit),
            (None, None) => Some(0),
        };
        let bytes = match size {
            Some(bytes) => bytes,
            None => {
                self.recorder.rejected(Rejection::ResultTooLarge);
                let what = if result.is_some() {
                    "result"
                } else {
                    "error message"
                };
                let message = format!(
                    "job result too large: the {what} of tool '{}' is larger than \
                     max_job_result_bytes ({limit} bytes) and was discarded",
                    job.tool
                );
                if status == JobStatus::Succeeded {
                    status = JobStatus::Failed;
                }
                result = None;
                let bytes = message.len();
                error = Some(message);
                bytes
            }
        };
        {
            let mut state = job.lock();
            state.status = status;
            state.result = result;
            state.error = error;
            state.result_bytes = Some(bytes);
        }
        self.recorder.job_finished(&job.tool);
        {
            let mut table = lock_table(&self.table);
            // Marked before it is retired: retiring may forget it (or another) at once, and
            // forgetting settles the mark under the same lock.
            if !self.session.is_ended() && !job.unfetched.swap(true, Ordering::AcqRel) {
                self.session.keep_result();
            }
            table.retire(job, bytes);
        }
        let level = if status == JobStatus::Succeeded {
            "info"
        } else {
            "error"
        };
        let detail = if bytes <= self.budgets.notification_bytes {
            Detail::Full
        } else {
            Detail::Summary
        };
        let mut data = job.to_json(detail);
        if let Some(map) = data.as_object_mut() {
            map.insert("event".into(), json!("job_finished"));
        }
        self.session.notify(
            "notifications/message",
            json!({"level": level, "logger": JOB_LOGGER, "data": data}),
        );
    }
}

/// The length of `value` as compact JSON, or `None` as soon as it exceeds `limit` (so measuring a huge
/// value costs no more than `limit` bytes of output and allocates nothing).
fn json_len_within(value: &Value, limit: usize) -> Option<usize> {
    struct Counter {
        len: usize,
        limit: usize,
    }
    impl Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.len += buf.len();
            if self.len > self.limit {
                return Err(std::io::Error::other("over the limit"));
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter { len: 0, limit };
    serde_json::to_writer(&mut counter, value).ok()?;
    Some(counter.len)
}

/// Progress of a job: kept on the job and sent to its session.
struct JobProgress {
    job: Arc<Job>,
    session: Arc<Session>,
    token: Value,
}

impl ProgressSink for JobProgress {
    fn report(&self, progress: f64, total: Option<f64>, message: Option<&str>) {
        {
            let mut state = self.job.lock();
            state.progress = Some(progress);
            state.total = total;
            state.message = message.map(str::to_owned);
        }
        self.session.notify(
            "notifications/progress",
            progress_params(&self.token, progress, total, message),
        );
    }
}

impl JobManager {
    /// `jobs.list`: every job of `session`, oldest first, results left out.
    pub(crate) fn list_of(&self, session: &Session) -> Vec<Value> {
        let mut mine: Vec<Arc<Job>> = self
            .table()
            .by_id
            .values()
            .filter(|job| job.session_id == session.id())
            .cloned()
            .collect();
        mine.sort_by_key(|job| job.seq);
        mine.iter()
            .map(|job| job.to_json(Detail::Summary))
            .collect()
    }

    /// `jobs.get` (and, with `cancel`, `jobs.cancel` first): the job `id` of `session` in full, or
    /// `None` when the session has no such job.
    pub(crate) fn get_of(&self, session: &Session, id: &str, cancel: bool) -> Option<Value> {
        let job = self.job_of(session, id)?;
        if cancel {
            self.cancel(&job, session);
        }
        let value = job.to_json(Detail::Full);
        // A finished result went out: the session no longer needs protecting for it.
        job.settle_result();
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_length_is_measured_up_to_the_limit() {
        let value = json!({"text": "abc"});
        assert_eq!(json_len_within(&value, 100), Some(value.to_string().len()));
        assert_eq!(json_len_within(&value, 14), Some(14));
        assert_eq!(json_len_within(&value, 13), None);
    }
}
