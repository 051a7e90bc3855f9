//! The main-thread kind: a bounded queue of calls that the host application's main thread runs.
//!
//! DCC APIs (`maya.cmds`, `bpy`, `hou`) must be called from the application's main thread. The host
//! pumps a [`MainThreadExecutor`] from its idle or timer callback; [`MainThreadExecutor::pump`] runs
//! queued calls on the calling thread and returns once its item count or time budget is spent, never
//! waiting for work. A full queue refuses a call at once (`main_thread_full`). A call whose caller gave
//! up before the pump reached it (request timeout, client cancellation, job cancelled, server stopped)
//! is removed and never run late (`expired_before_run`). The time each call waited in the queue is
//! `dcc_mcp_dispatch_wait_seconds{executor="main_thread"}`, so "the host was busy" shows as queue wait,
//! not as slow tools.
//!
//! `pump` is not re-entrant: a handler that spins the host's event loop (a modal dialog,
//! `processEvents()`) makes the host call `pump` again from inside the handler; that inner pump runs
//! nothing, so no other tool runs in the middle of an operation on the scene. An optional
//! [`on_pending`](MainThreadExecutor::with_on_pending) hook fires when the queue goes from empty to
//! non-empty, so a host can schedule a pump at once instead of at its next timer tick.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::error::ConfigError;
use crate::record::{Executor, Recorder, Rejection};
use crate::registry::{ToolContext, ToolHandler};

/// A queue of tool calls that runs on whichever thread calls [`pump`](Self::pump): the host
/// application's main thread.
///
/// Cheap to clone (clones share the queue). Give it to the server in
/// [`McpHttpConfig::main_thread_executor`](crate::McpHttpConfig::main_thread_executor) and register
/// tools with [`Handler::MainThread`](crate::Handler::MainThread).
///
/// ```
/// use std::time::Duration;
/// use dcc_mcp_http::MainThreadExecutor;
///
/// let executor = MainThreadExecutor::new(64).unwrap();
/// // In the host's idle/timer callback, on the main thread:
/// let report = executor.pump(16, Duration::from_millis(8));
/// assert_eq!(report.ran, 0); // nothing queued yet; pump never waits for work
/// ```
#[derive(Clone)]
pub struct MainThreadExecutor {
    inner: Arc<Inner>,
}

struct Inner {
    queue: Mutex<VecDeque<Task>>,
    depth: usize,
    next_id: AtomicU64,
    /// Set while a `pump` runs: a nested `pump` runs nothing.
    pumping: AtomicBool,
    on_pending: Option<PendingHook>,
    /// The call a `pump` is running now, if any.
    running: Mutex<Option<RunningCall>>,
}

/// The call a `pump` is running: its tool, and the OS thread it runs on.
struct RunningCall {
    tool: String,
    thread: Option<u32>,
}

/// How often a queued call from this process's own socket looks whether the running main-thread
/// handler is the one waiting for it (see [`super::nested`]).
const NESTED_POLL: Duration = Duration::from_millis(20);

thread_local! {
    /// The OS id of this thread, read once.
    static THREAD_ID: Option<u32> = super::nested::current_thread();
}

/// Called (on a server thread, without any lock held) when the queue goes from empty to non-empty.
type PendingHook = Arc<dyn Fn() + Send + Sync>;

/// One queued call.
struct Task {
    id: u64,
    handler: ToolHandler,
    arguments: Value,
    context: ToolContext,
    reply: oneshot::Sender<Result<Value, String>>,
    enqueued: Instant,
    recorder: Recorder,
    shutdown: CancellationToken,
}

impl Task {
    /// The caller is gone (timed out, cancelled, stopped): the call must not run.
    fn abandoned(&self) -> bool {
        self.reply.is_closed() || self.context.is_cancelled() || self.shutdown.is_cancelled()
    }

    /// Answer a call that will never run, and count it.
    fn expire(self) {
        self.recorder.rejected(Rejection::ExpiredBeforeRun);
        let message = format!(
            "tool '{}' was not run: it timed out, was cancelled or the server stopped before the \
             main thread reached it",
            self.context.tool_name()
        );
        let _ = self.reply.send(Err(message));
    }
}

/// What one [`MainThreadExecutor::pump`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PumpReport {
    /// Calls run to completion on the pumping thread.
    pub ran: usize,
    /// Calls dropped unrun because their caller had given up.
    pub expired: usize,
    /// Calls still queued when the pump returned.
    pub remaining: usize,
    /// True when this pump was called from inside a handler another pump is running, and so ran
    /// nothing (the calls wait for the next pump).
    pub reentered: bool,
}

impl std::fmt::Debug for MainThreadExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MainThreadExecutor")
            .field("queue_depth", &self.inner.depth)
            .field("queued", &self.queued())
            .finish()
    }
}

impl MainThreadExecutor {
    /// An executor that holds at most `queue_depth` waiting calls; more are refused at once.
    pub fn new(queue_depth: usize) -> Result<Self, ConfigError> {
        Self::build(queue_depth, None)
    }

    /// Like [`new`](Self::new), and `on_pending` is called whenever the queue goes from empty to
    /// non-empty (on the server thread that queued the call; it must not block). A host uses it to
    /// schedule a pump at once (`maya.utils.executeDeferred`, `hdefereval.executeDeferred`).
    pub fn with_on_pending(
        queue_depth: usize,
        on_pending: impl Fn() + Send + Sync + 'static,
    ) -> Result<Self, ConfigError> {
        Self::build(queue_depth, Some(Arc::new(on_pending)))
    }

    fn build(queue_depth: usize, on_pending: Option<PendingHook>) -> Result<Self, ConfigError> {
        if queue_depth == 0 {
            return Err(ConfigError::ZeroLimit {
                field: "queue_depth",
            });
        }
        Ok(Self {
            inner: Arc::new(Inner {
                queue: Mutex::new(VecDeque::with_capacity(queue_depth.min(1024))),
                depth: queue_depth,
                next_id: AtomicU64::new(0),
                pumping: AtomicBool::new(false),
                on_pending,
                running: Mutex::new(None),
            }),
        })
    }

    /// The most calls that can wait at once.
    pub fn queue_depth(&self) -> usize {
        self.inner.depth
    }

    /// Calls waiting now.
    pub fn queued(&self) -> usize {
        self.lock().len()
    }

    /// Run queued calls on this thread, oldest first, until `max_items` have run, `budget` is
    /// spent, or the queue is empty. Never waits for work. The budget is checked before each call:
    /// a call that has started runs to its end, so keep main-thread handlers short.
    ///
    /// Called again from inside a handler it runs (the host's event loop spun by a modal dialog),
    /// it runs nothing and returns a report with `reentered` set.
    pub fn pump(&self, max_items: usize, budget: Duration) -> PumpReport {
        if self.inner.pumping.swap(true, Ordering::Acquire) {
            return PumpReport {
                remaining: self.queued(),
                reentered: true,
                ..PumpReport::default()
            };
        }
        let _pumping = Pumping(&self.inner.pumping);
        let started = Instant::now();
        let mut report = PumpReport::default();
        while report.ran < max_items && started.elapsed() < budget {
            let Some(task) = self.lock().pop_front() else {
                break;
            };
            if task.abandoned() {
                task.expire();
                report.expired += 1;
                continue;
            }
            task.recorder
                .dispatch_wait(Executor::MainThread, task.enqueued.elapsed());
            let Task {
                handler,
                arguments,
                context,
                reply,
                ..
            } = task;
            let _running = self.running_now(context.tool_name());
            let outcome =
                std::panic::catch_unwind(AssertUnwindSafe(|| handler(arguments, &context)));
            let outcome = match outcome {
                Ok(Ok(value)) => Ok(value),
                Ok(Err(error)) => Err(error.0),
                Err(payload) => Err(super::panicked(context.tool_name(), payload.as_ref())),
            };
            let _ = reply.send(outcome);
            report.ran += 1;
        }
        report.remaining = self.queued();
        report
    }

    /// Queue one call and wait for its outcome. Dropping the future before the pump takes the call
    /// removes it from the queue (counted as `expired_before_run`).
    pub(super) async fn run(
        &self,
        handler: ToolHandler,
        arguments: Value,
        context: ToolContext,
        recorder: Recorder,
        shutdown: CancellationToken,
    ) -> Result<Value, String> {
        let tool = context.tool_name().to_owned();
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (reply, outcome) = oneshot::channel();
        let stopping = shutdown.clone();
        let was_empty = {
            let mut queue = self.lock();
            if queue.len() >= self.inner.depth {
                drop(queue);
                recorder.rejected(Rejection::MainThreadFull);
                return Err(format!(
                    "main thread busy: {} calls already wait for the host's main thread \
                     (queue_depth); tool '{tool}' was not run, retry later",
                    self.inner.depth
                ));
            }
            let was_empty = queue.is_empty();
            queue.push_back(Task {
                id,
                handler,
                arguments,
                context,
                reply,
                enqueued: Instant::now(),
                recorder,
                shutdown,
            });
            was_empty
        };
        if was_empty {
            if let Some(on_pending) = &self.inner.on_pending {
                on_pending();
            }
        }
        let mut queued = Queued {
            executor: self,
            id,
            armed: true,
        };
        tokio::pin!(outcome);
        let client = super::nested::request_client();
        // A stopping server must not wait for a host that no longer pumps (its main thread may be the
        // one stopping it): a call still queued then leaves at once; a running call is waited for.
        // A call from inside the running main-thread tool itself would wait for ever: it leaves at
        // once too.
        let outcome = tokio::select! {
            outcome = &mut outcome => outcome,
            outer = self.nested_in(client) => match queued.take() {
                Some(_task) => {
                    queued.armed = false;
                    return Err(format!(
                        "tool '{tool}' was not run: it was called from inside the main-thread tool \
                         '{outer}' of this same process, which holds the host's main thread while \
                         it waits for the answer, and only that thread can run '{tool}'. Call its \
                         function directly from '{outer}', or register '{tool}' with \
                         main_thread=False"
                    ));
                }
                None => outcome.await,
            },
            () = stopping.cancelled() => match queued.take() {
                Some(task) => {
                    queued.armed = false;
                    task.expire();
                    return Err(format!(
                        "tool '{tool}' was not run: the server stopped before the main thread reached it"
                    ));
                }
                None => outcome.await,
            },
        };
        queued.armed = false;
        outcome.unwrap_or_else(|_| {
            Err(format!(
                "tool '{tool}' was not run: its main-thread call was dropped"
            ))
        })
    }

    /// Queue `handler` for the host's next pump and wait for its outcome, outside a tool call: the
    /// reader of a resource or the filler of a prompt that must touch the host's API. The call takes
    /// a place in the same bounded queue as tool calls (a full queue refuses it at once); dropping
    /// the future before the pump took it removes it, so a caller that gives up (its own timeout)
    /// never has it run late. Nothing is counted in the server's metrics.
    pub async fn call(
        &self,
        handler: ToolHandler,
        arguments: Value,
        context: ToolContext,
    ) -> Result<Value, String> {
        self.run(
            handler,
            arguments,
            context,
            Recorder::new(),
            CancellationToken::new(),
        )
        .await
    }

    /// Marks `tool` as the call running on this thread until the returned guard is dropped.
    fn running_now(&self, tool: &str) -> RunningGuard<'_> {
        *self
            .inner
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(RunningCall {
            tool: tool.to_owned(),
            thread: THREAD_ID.with(|id| *id),
        });
        RunningGuard(&self.inner.running)
    }

    /// Resolves with the name of the running main-thread tool once that tool's thread is seen
    /// waiting on `client`'s socket (a socket of this process): the call comes from inside it. Never
    /// resolves for a client of another process or without a client address.
    async fn nested_in(&self, client: Option<std::net::SocketAddr>) -> String {
        let Some(client) = client.filter(|c| c.ip().to_canonical().is_loopback()) else {
            return std::future::pending().await;
        };
        // Whose socket it is does not change: looked up once, when a handler is running.
        let mut fds: Option<Option<Vec<u32>>> = None;
        loop {
            let running = self
                .inner
                .running
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
                .map(|call| (call.tool.clone(), call.thread));
            if let Some((tool, Some(thread))) = running {
                let own = fds.get_or_insert_with(|| super::nested::own_socket(client));
                match own {
                    None => return std::future::pending().await,
                    Some(fds) if super::nested::waits_on(thread, fds) => return tool,
                    Some(_) => {}
                }
            }
            tokio::time::sleep(NESTED_POLL).await;
        }
    }

    /// Answer and remove every queued call whose server has stopped.
    pub(super) fn discard_stopped(&self) {
        let stopped: Vec<Task> = {
            let mut queue = self.lock();
            let (stopped, kept): (Vec<Task>, Vec<Task>) =
                queue.drain(..).partition(|t| t.shutdown.is_cancelled());
            queue.extend(kept);
            stopped
        };
        stopped.into_iter().for_each(Task::expire);
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Task>> {
        self.inner
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Clears the executor's running call however the handler ends.
struct RunningGuard<'a>(&'a Mutex<Option<RunningCall>>);

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

/// Clears the executor's `pumping` flag however the pump ends.
struct Pumping<'a>(&'a AtomicBool);

impl Drop for Pumping<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Removes a call from the queue when its waiting future is dropped before the pump took it.
struct Queued<'a> {
    executor: &'a MainThreadExecutor,
    id: u64,
    armed: bool,
}

impl Queued<'_> {
    /// Remove this call from the queue, if the pump has not taken it yet.
    fn take(&self) -> Option<Task> {
        let mut queue = self.executor.lock();
        queue
            .iter()
            .position(|t| t.id == self.id)
            .and_then(|at| queue.remove(at))
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        if self.armed {
            if let Some(task) = self.take() {
                task.expire();
            }
        }
    }
}
