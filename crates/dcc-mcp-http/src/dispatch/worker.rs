//! The worker kind: blocking handlers on a bounded set of blocking threads.
//!
//! A sync call takes one of `sync_concurrency` permits before its handler gets a thread, waiting at
//! most `sync_queue_wait` ("server busy" after that). The permit moves into the thread and is
//! released only when the handler returns, so a handler that outlives `request_timeout` keeps
//! counting against the cap: runaway handlers can exhaust the cap (calls then get "busy"), never the
//! process's threads.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::Lane;
use crate::record::{Executor, Recorder, Rejection};
use crate::registry::{ToolContext, ToolHandler};

#[derive(Clone)]
pub(super) struct WorkerSet {
    permits: Arc<Semaphore>,
    capacity: usize,
    queue_wait: Duration,
    recorder: Recorder,
}

impl WorkerSet {
    pub(super) fn new(capacity: usize, queue_wait: Duration, recorder: Recorder) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(capacity)),
            capacity,
            queue_wait,
            recorder,
        }
    }

    pub(super) async fn run(
        &self,
        handler: ToolHandler,
        arguments: Value,
        context: ToolContext,
        lane: Lane,
    ) -> Result<Value, String> {
        let queued = Instant::now();
        let permit = match lane {
            Lane::Call => Some(self.admit(context.tool_name()).await?),
            Lane::Job => None,
        };
        let recorder = self.recorder.clone();
        let name = context.tool_name().to_owned();
        let run = move || {
            recorder.dispatch_wait(Executor::Worker, queued.elapsed());
            let outcome = handler(arguments, &context);
            drop(permit);
            outcome
        };
        match tokio::task::spawn_blocking(run).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(error.0),
            Err(join_error) if join_error.is_panic() => {
                Err(super::panicked(&name, join_error.into_panic().as_ref()))
            }
            Err(_) => Err(format!(
                "tool '{name}' was stopped because the server is shutting down"
            )),
        }
    }

    /// A permit within `queue_wait`, or the "server busy" answer.
    async fn admit(&self, tool: &str) -> Result<OwnedSemaphorePermit, String> {
        let acquire = self.permits.clone().acquire_owned();
        match tokio::time::timeout(self.queue_wait, acquire).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_closed)) => Err(format!(
                "tool '{tool}' was not run because the server is shutting down"
            )),
            Err(_elapsed) => {
                self.recorder.rejected(Rejection::Busy);
                Err(format!(
                    "server busy: all {} blocking workers stayed in use for {:.3} s \
                     (sync_concurrency, sync_queue_wait); tool '{tool}' was not run, retry later",
                    self.capacity,
                    self.queue_wait.as_secs_f64()
                ))
            }
        }
    }
}
