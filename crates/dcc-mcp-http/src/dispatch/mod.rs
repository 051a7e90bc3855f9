//! Dispatch: where a tool handler runs, and the one place that bounds and measures it.
//!
//! A handler is one of three execution kinds ([`Handler`]):
//! - **inline** — an async handler polled on the I/O worker that serves the request: no thread
//!   handoff, for handlers that never block;
//! - **worker** — a blocking handler on a bounded set of blocking threads (`sync_concurrency`);
//! - **main thread** — a blocking handler queued for the host application's main thread, which runs it
//!   when the host pumps its [`MainThreadExecutor`] (DCC APIs must be called from that thread).
//!
//! Sync `tools/call`s and async jobs both come through [`Dispatcher::run`], so every limit of every
//! kind lives here: the worker cap and how long a call waits for a worker ("server busy" after
//! `sync_queue_wait`), and the main-thread queue depth. Each refusal is counted in
//! `dcc_mcp_rejected_total{reason}` and each wait for a thread in
//! `dcc_mcp_dispatch_wait_seconds{executor}`. Timeouts and client cancellation stay with the caller
//! (`tools/call` or the job), which drops the future; a queued main-thread call whose caller is gone
//! is never run late.

mod main_thread;
mod nested;
mod worker;

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::FutureExt as _;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::record::Recorder;
use crate::registry::{AsyncToolHandler, Handler, ToolContext};

pub use main_thread::{MainThreadExecutor, PumpReport};
pub(crate) use nested::REQUEST_CLIENT;

/// Who asked for the run: a sync `tools/call` waits for a worker under the `sync_concurrency` cap;
/// a job already holds one of the `job_concurrency` permits, so it is not counted again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lane {
    Call,
    #[cfg_attr(not(feature = "workflow"), allow(dead_code))]
    Job,
}

/// Runs handlers of every kind for one server.
#[derive(Clone)]
pub(crate) struct Dispatcher {
    workers: worker::WorkerSet,
    main_thread: Option<MainThreadExecutor>,
    recorder: Recorder,
    shutdown: CancellationToken,
}

impl Dispatcher {
    /// `sync_concurrency` workers for sync calls, each call waiting at most `sync_queue_wait` for one;
    /// main-thread handlers go to `main_thread`.
    pub(crate) fn new(
        sync_concurrency: usize,
        sync_queue_wait: Duration,
        main_thread: Option<MainThreadExecutor>,
        recorder: Recorder,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            workers: worker::WorkerSet::new(sync_concurrency, sync_queue_wait, recorder.clone()),
            main_thread,
            recorder,
            shutdown,
        }
    }

    /// Run `handler` to completion; `Err` carries the message of an `isError` result (handler error,
    /// panic, refusal). Dropping the future abandons the call: a worker handler keeps its thread
    /// until it returns (it sees `is_cancelled` if the caller set it), a queued main-thread call is
    /// skipped.
    pub(crate) async fn run(
        &self,
        handler: &Handler,
        arguments: Value,
        context: ToolContext,
        lane: Lane,
    ) -> Result<Value, String> {
        match handler {
            Handler::Inline(handler) => run_inline(handler, arguments, context).await,
            Handler::Worker(handler) => {
                self.workers
                    .run(handler.clone(), arguments, context, lane)
                    .await
            }
            Handler::MainThread(handler) => match &self.main_thread {
                Some(executor) => {
                    executor
                        .run(
                            handler.clone(),
                            arguments,
                            context,
                            self.recorder.clone(),
                            self.shutdown.clone(),
                        )
                        .await
                }
                None => Err(format!(
                    "tool '{}' must run on the host's main thread, but this server has no \
                     main_thread_executor configured",
                    context.tool_name()
                )),
            },
        }
    }

    /// The server stopped: answer this server's calls still queued for the main thread (they never run).
    pub(crate) fn close(&self) {
        if let Some(executor) = &self.main_thread {
            executor.discard_stopped();
        }
    }
}

/// Poll an inline handler on this task; a panic becomes an error message.
async fn run_inline(
    handler: &AsyncToolHandler,
    arguments: Value,
    context: ToolContext,
) -> Result<Value, String> {
    let name = context.tool_name().to_owned();
    let future = match std::panic::catch_unwind(AssertUnwindSafe(|| handler(arguments, context))) {
        Ok(future) => future,
        Err(payload) => return Err(panicked(&name, payload.as_ref())),
    };
    match AssertUnwindSafe(future).catch_unwind().await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(error.0),
        Err(payload) => Err(panicked(&name, payload.as_ref())),
    }
}

/// The error message of a handler that panicked.
pub(crate) fn panicked(tool: &str, payload: &(dyn std::any::Any + Send)) -> String {
    let detail = payload
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned());
    format!("tool '{tool}' panicked: {detail}")
}
