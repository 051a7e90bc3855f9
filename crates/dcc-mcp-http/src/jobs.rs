//! Long-running jobs (feature `workflow`): a bounded queue in front of bounded concurrency.
//!
//! An async tool call reserves a queue slot (or is refused with "job queue full"), gets a random job id
//! back at once, and its handler runs when one of `job_concurrency` permits frees up. Progress goes to the
//! session's SSE stream as `notifications/progress` (token: the call's `progressToken`, else the job id);
//! completion goes out as a `notifications/message` from logger `dcc-mcp.jobs`. The built-in tools
//! `jobs.get`, `jobs.list` and `jobs.cancel` query and cancel the session's jobs.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::app::AppState;
use crate::config::McpHttpConfig;
use crate::dispatch::{Dispatcher, Lane};
use crate::record::{JobResult, Recorder};
use crate::registry::{Handler, ProgressSink, ToolContext, ToolEntry, ToolSpec};
use crate::session::{random_hex, Session};
use crate::tools::{error_result, progress_params, success_result, value_result};

/// Finished jobs kept for `jobs.get`; older ones are forgotten.
pub const MAX_FINISHED_JOBS: usize = 1000;

/// Logger name of job-completion notifications.
pub const JOB_LOGGER: &str = "dcc-mcp.jobs";

/// Names of the built-in job tools.
pub(crate) const BUILTIN_TOOL_NAMES: [&str; 3] = ["jobs.cancel", "jobs.get", "jobs.list"];

/// Specs of the built-in job tools, listed by `tools/list` next to the registered tools.
pub(crate) fn builtin_specs() -> Vec<ToolSpec> {
    let by_id = json!({
        "type": "object",
        "properties": {"jobId": {"type": "string", "description": "The id returned by the async tool call"}},
        "required": ["jobId"]
    });
    vec![
        ToolSpec::new("jobs.cancel")
            .description("Cancel a queued or running job of this session.")
            .input_schema(by_id.clone()),
        ToolSpec::new("jobs.get")
            .description("Status, progress and result of a job of this session.")
            .input_schema(by_id),
        ToolSpec::new("jobs.list")
            .description("All jobs of this session, oldest first.")
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
}

struct Job {
    id: String,
    tool: String,
    session_id: String,
    /// The `tools/call` request that started the job, as an in-flight key (`notifications/cancelled`).
    request_key: String,
    seq: u64,
    created: Instant,
    cancelled: Arc<AtomicBool>,
    state: Mutex<JobState>,
}

impl Job {
    fn lock(&self) -> std::sync::MutexGuard<'_, JobState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn to_json(&self) -> Value {
        let state = self.lock();
        let mut value =
            json!({"jobId": self.id, "tool": self.tool, "status": state.status.as_str()});
        if let Some(map) = value.as_object_mut() {
            let fields = [
                ("progress", state.progress.map(|p| json!(p))),
                ("total", state.total.map(|t| json!(t))),
                ("message", state.message.as_ref().map(|m| json!(m))),
                ("result", state.result.clone()),
                ("error", state.error.as_ref().map(|e| json!(e))),
            ];
            for (key, field) in fields {
                if let Some(field) = field {
                    map.insert(key.into(), field);
                }
            }
        }
        value
    }
}

#[derive(Default)]
struct JobTable {
    by_id: HashMap<String, Arc<Job>>,
    finished: VecDeque<String>,
    next_seq: u64,
}

/// The bounded job queue and the record of its jobs.
pub(crate) struct JobManager {
    table: Arc<Mutex<JobTable>>,
    waiting: Arc<AtomicUsize>,
    capacity: usize,
    permits: Arc<Semaphore>,
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
}

enum Submitted {
    Accepted(Arc<Job>),
    QueueFull,
    Rejected(&'static str),
}

impl JobManager {
    pub(crate) fn new(
        config: &McpHttpConfig,
        recorder: Recorder,
        shutdown: CancellationToken,
        dispatch: Dispatcher,
    ) -> Self {
        Self {
            dispatch,
            table: Arc::new(Mutex::new(JobTable::default())),
            waiting: Arc::new(AtomicUsize::new(0)),
            capacity: config.job_queue_capacity,
            permits: Arc::new(Semaphore::new(config.job_concurrency)),
            recorder,
            shutdown,
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
            Submitted::QueueFull => JobResult::QueueFull,
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
                    "structuredContent": job.to_json(),
                })
            }
            Submitted::QueueFull => error_result(&format!(
                "job queue full: {} jobs are already waiting; retry later or raise job_queue_capacity",
                self.capacity
            )),
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
        let reserved = self
            .waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |waiting| {
                (waiting < self.capacity).then_some(waiting + 1)
            })
            .is_ok();
        if !reserved {
            return Submitted::QueueFull;
        }
        let Some(id) = random_hex::<16>() else {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Submitted::Rejected(
                "cannot create a job id: the operating system has no randomness available",
            );
        };
        let job = {
            let mut table = self.table();
            table.next_seq += 1;
            let job = Arc::new(Job {
                id: id.clone(),
                tool: entry.spec.name.clone(),
                session_id: session.id().to_owned(),
                request_key: origin.request_key,
                seq: table.next_seq,
                created: Instant::now(),
                cancelled: Arc::new(AtomicBool::new(false)),
                state: Mutex::new(JobState {
                    status: JobStatus::Queued,
                    progress: None,
                    total: None,
                    message: None,
                    result: None,
                    error: None,
                }),
            });
            table.by_id.insert(id.clone(), job.clone());
            job
        };
        let token = origin.progress_token.unwrap_or(Value::String(id));
        let run = JobRun {
            job: job.clone(),
            entry,
            handler,
            arguments,
            session,
            token,
            waiting: self.waiting.clone(),
            permits: self.permits.clone(),
            recorder: self.recorder.clone(),
            shutdown: self.shutdown.clone(),
            table: self.table.clone(),
            dispatch: self.dispatch.clone(),
        };
        tokio::spawn(run.execute());
        Submitted::Accepted(job)
    }

    fn job_of(&self, session: &Session, id: &str) -> Option<Arc<Job>> {
        self.table()
            .by_id
            .get(id)
            .filter(|job| job.session_id == session.id())
            .cloned()
    }

    /// Cancel the unfinished jobs of `session` started by the request with this in-flight key
    /// (`notifications/cancelled`); returns how many.
    pub(crate) fn cancel_request(&self, session: &Session, request_key: &str) -> usize {
        let matching: Vec<Arc<Job>> = self
            .table()
            .by_id
            .values()
            .filter(|job| job.session_id == session.id() && job.request_key == request_key)
            .cloned()
            .collect();
        matching.iter().filter(|job| cancel_job(job)).count()
    }

    /// Cancel every job (server shutdown).
    pub(crate) fn cancel_all(&self) {
        for job in self.table().by_id.values() {
            job.cancelled.store(true, Ordering::Relaxed);
        }
    }
}

/// Everything one job's task needs.
struct JobRun {
    job: Arc<Job>,
    entry: Arc<ToolEntry>,
    handler: Handler,
    arguments: Value,
    session: Arc<Session>,
    token: Value,
    waiting: Arc<AtomicUsize>,
    permits: Arc<Semaphore>,
    recorder: Recorder,
    shutdown: CancellationToken,
    table: Arc<Mutex<JobTable>>,
    dispatch: Dispatcher,
}

fn lock_table(table: &Mutex<JobTable>) -> std::sync::MutexGuard<'_, JobTable> {
    table.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Remember that a job ended, forgetting the oldest finished jobs beyond the limit.
fn retire(table: &Mutex<JobTable>, id: &str) {
    let mut table = lock_table(table);
    table.finished.push_back(id.to_owned());
    while table.finished.len() > MAX_FINISHED_JOBS {
        if let Some(old) = table.finished.pop_front() {
            table.by_id.remove(&old);
        }
    }
}

impl JobRun {
    async fn execute(self) {
        let permit = tokio::select! {
            permit = self.permits.clone().acquire_owned() => permit.ok(),
            () = self.shutdown.cancelled() => None,
        };
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        let job = &self.job;
        self.recorder.job_started(&job.tool, job.created.elapsed());
        let skip = permit.is_none() || job.cancelled.load(Ordering::Relaxed);
        let (status, result, error) = if skip {
            (
                JobStatus::Cancelled,
                None,
                Some("cancelled before it started".to_owned()),
            )
        } else {
            job.lock().status = JobStatus::Running;
            let sink: Arc<dyn ProgressSink> = Arc::new(JobProgress {
                job: job.clone(),
                session: self.session.clone(),
                token: self.token.clone(),
            });
            let context = ToolContext::attached(&job.tool, job.cancelled.clone(), Some(sink));
            let outcome = self
                .dispatch
                .run(&self.handler, self.arguments.clone(), context, Lane::Job)
                .await;
            let cancelled = job.cancelled.load(Ordering::Relaxed);
            match outcome {
                Ok(value) => {
                    let result = success_result(&self.entry, value);
                    if result.get("isError") == Some(&Value::Bool(true)) {
                        let message = result
                            .pointer("/content/0/text")
                            .and_then(Value::as_str)
                            .map(str::to_owned);
                        (JobStatus::Failed, None, message)
                    } else {
                        (JobStatus::Succeeded, Some(result), None)
                    }
                }
                Err(message) if cancelled => (JobStatus::Cancelled, None, Some(message)),
                Err(message) => (JobStatus::Failed, None, Some(message)),
            }
        };
        drop(permit);
        {
            let mut state = job.lock();
            state.status = status;
            state.result = result;
            state.error = error;
        }
        self.recorder.job_finished(&job.tool);
        retire(&self.table, &job.id);
        let level = if status == JobStatus::Succeeded {
            "info"
        } else {
            "error"
        };
        let mut data = job.to_json();
        if let Some(map) = data.as_object_mut() {
            map.insert("event".into(), json!("job_finished"));
        }
        self.session.notify(
            "notifications/message",
            json!({"level": level, "logger": JOB_LOGGER, "data": data}),
        );
    }
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

/// Serve a built-in job tool.
pub(crate) fn call_builtin(
    state: &AppState,
    session: &Arc<Session>,
    name: &str,
    arguments: &Value,
) -> Value {
    let jobs = &state.jobs;
    if name == "jobs.list" {
        let mut mine: Vec<Arc<Job>> = jobs
            .table()
            .by_id
            .values()
            .filter(|job| job.session_id == session.id())
            .cloned()
            .collect();
        mine.sort_by_key(|job| job.seq);
        let list: Vec<Value> = mine.iter().map(|job| job.to_json()).collect();
        return value_result(json!({ "jobs": list }));
    }
    let Some(id) = arguments.get("jobId").and_then(Value::as_str) else {
        return error_result(&format!("{name} needs a string argument \"jobId\""));
    };
    let Some(job) = jobs.job_of(session, id) else {
        return error_result(&format!(
            "unknown job id {id:?} (jobs are visible only to the session that started them)"
        ));
    };
    if name == "jobs.cancel" {
        cancel_job(&job);
    }
    value_result(job.to_json())
}

/// Ask a job to stop: a queued job is `cancelled` at once, a running one sees `is_cancelled()`.
/// Returns false for a job that had already finished.
fn cancel_job(job: &Job) -> bool {
    let mut state = job.lock();
    match state.status {
        JobStatus::Queued => state.status = JobStatus::Cancelled,
        JobStatus::Running => {}
        JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled => return false,
    }
    job.cancelled.store(true, Ordering::Relaxed);
    true
}
