//! A proxied `tools/call`: take a slot of the backend's budget, send the call over its pooled
//! client with the backend's deadline, and hand the backend's result back unchanged.
//!
//! The handler is inline (polled on the server's I/O worker): it only waits on the network, and a
//! downstream cancellation or the server's own timeout drops the future, which sends
//! `notifications/cancelled` upstream. Every outcome is counted once here, per backend.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dcc_mcp_client::{ClientError, RequestOptions};
use dcc_mcp_http::{ToolContext, ToolError, CALL_TOOL_RESULT_KEY};
use serde_json::{Map, Value};

use crate::backend::{Backend, Health};
use crate::metrics::{ErrorKind, RequestStatus};

/// Call `tool` of `backend` with `arguments`; the value is the backend's result, marked so the
/// server sends it as is (content, `structuredContent`, `isError`).
pub(crate) async fn call(
    backend: Arc<Backend>,
    tool: String,
    arguments: Value,
    context: ToolContext,
    budget: Budget,
) -> Result<Value, ToolError> {
    let Budget {
        call_timeout: timeout,
        queue_wait,
    } = budget;
    let fail = |kind: ErrorKind, message: String| {
        backend.metrics.request(RequestStatus::Failure, None);
        backend.metrics.error(kind);
        Err(ToolError::new(message))
    };
    let client = match (backend.health(), backend.client()) {
        (Health::Up, Some(client)) => client,
        _ => {
            return fail(
                ErrorKind::Down,
                format!(
                    "backend '{}' is down; tool '{}' is not available",
                    backend.name,
                    context.tool_name()
                ),
            )
        }
    };
    let started = Instant::now();
    let wait = queue_wait.min(timeout);
    // A free slot is taken at once; only a full budget arms the queue-wait timer.
    let permit = match backend.budget.try_acquire() {
        Ok(permit) => Ok(permit),
        Err(tokio::sync::TryAcquireError::Closed) => Err(()),
        Err(tokio::sync::TryAcquireError::NoPermits) => {
            match tokio::time::timeout(wait, backend.budget.acquire()).await {
                Ok(Ok(permit)) => Ok(permit),
                _ => Err(()),
            }
        }
    };
    let permit = match permit {
        Ok(permit) => permit,
        Err(()) => {
            return fail(
                ErrorKind::Busy,
                format!(
                    "backend '{}' is busy: its {} call slots stayed taken for {:.3} s",
                    backend.name,
                    backend.max_in_flight(),
                    wait.as_secs_f64()
                ),
            )
        }
    };
    let remaining = timeout.saturating_sub(started.elapsed());
    if remaining.is_zero() {
        return fail(
            ErrorKind::Busy,
            format!("backend '{}' is busy", backend.name),
        );
    }
    let mut options = RequestOptions::new().timeout(remaining);
    // Progress is asked of the backend only for a caller that asked for it.
    if context.wants_progress() {
        let progress = context.clone();
        options = options.on_progress(move |p| {
            progress.report_progress(p.progress, p.total, p.message.as_deref())
        });
    }
    let sent = Instant::now();
    let mut pending = Pending {
        backend: &backend,
        sent,
        answered: false,
    };
    let outcome = crate::relay::within(
        context.clone(),
        client.call_tool_with(&tool, arguments, options),
    )
    .await;
    pending.answered = true;
    let elapsed = sent.elapsed();
    drop(permit);
    match outcome {
        Ok(result) => {
            backend.note_success();
            let status = if result.is_error() {
                RequestStatus::Error
            } else {
                RequestStatus::Success
            };
            backend.metrics.request(status, Some(elapsed));
            Ok(mark_complete(result.into_value()))
        }
        Err(error) => {
            let kind = kind_of(&error);
            backend
                .metrics
                .request(RequestStatus::Failure, Some(elapsed));
            if matches!(kind, ErrorKind::Connect | ErrorKind::Timeout) {
                // No answer: count it towards "down" and have the prober look now.
                backend.note_failure(kind);
                backend.wake.notify_one();
            } else {
                backend.metrics.error(kind);
                if matches!(error, ClientError::SessionNotFound { .. }) {
                    backend.wake.notify_one();
                }
            }
            let message = format!("backend '{}': {error}", backend.name);
            backend.set_last_error(message.clone());
            Err(ToolError::new(message))
        }
    }
}

/// A call sent and not answered yet: dropped before the answer (the caller cancelled, or the
/// server's deadline passed), it is counted as a `failure` of kind `cancelled`, so every call sent
/// is counted once.
struct Pending<'a> {
    backend: &'a Backend,
    sent: Instant,
    answered: bool,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if !self.answered {
            let metrics = &self.backend.metrics;
            metrics.request(RequestStatus::Failure, Some(self.sent.elapsed()));
            metrics.error(ErrorKind::Cancelled);
        }
    }
}

/// The deadlines of one proxied call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    /// From the call's start to the backend's answer.
    pub(crate) call_timeout: Duration,
    /// Most time spent waiting for a slot of the backend's budget.
    pub(crate) queue_wait: Duration,
}

/// Which `kind` a client error is counted as.
pub(crate) fn kind_of(error: &ClientError) -> ErrorKind {
    match error {
        ClientError::Connection(_) | ClientError::Body(_) => ErrorKind::Connect,
        ClientError::Timeout(_) | ClientError::Cancelled => ErrorKind::Timeout,
        ClientError::Rpc(_) | ClientError::Http { .. } => ErrorKind::Rpc,
        _ => ErrorKind::Protocol,
    }
}

/// A backend result, wrapped so the server's result mapper passes it through instead of treating it
/// as data.
fn mark_complete(result: Value) -> Value {
    let mut wrapper = Map::new();
    wrapper.insert(CALL_TOOL_RESULT_KEY.to_owned(), result);
    Value::Object(wrapper)
}
