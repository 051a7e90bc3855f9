//! What a backend sends the gateway on its own, and where it goes.
//!
//! One upstream session serves every downstream session, so the gateway cannot tell from the
//! upstream session who a backend's message is for. It tells from *where* the message arrives: a
//! message on the response stream of a proxied `tools/call` is read while that call's future is
//! polled, and the call runs inside [`within`], which makes its downstream [`ToolContext`] the
//! task's context. So, during a call:
//! - `notifications/message` (logging) goes to the downstream session that made the call;
//! - `elicitation/create`, `sampling/createMessage` and `roots/list` are asked of that client, and
//!   its answer is POSTed back to the backend (a client without the capability gets the refusal).
//!
//! Progress has its own per-request route (see `proxy`). Messages outside any call (on the
//! backend's `GET` stream) are the list changes: `notifications/{tools,resources,prompts}/list_changed`
//! mark the backend's catalog stale and wake its follower (`follow`), which lists again and tells
//! the downstream sessions.

use std::future::Future;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use dcc_mcp_client::{BoxFuture, ClientHandler, HandlerResult};
use dcc_mcp_http::protocol::client_requests::CreateMessageParams;
use dcc_mcp_http::protocol::logging::LoggingLevel;
use dcc_mcp_http::protocol::{codes, RpcError};
use dcc_mcp_http::{InputRequest, ToolContext};
use serde_json::{json, Value};
use tokio::sync::Notify;

tokio::task_local! {
    /// The downstream call whose upstream request is being read.
    static CALL: ToolContext;
}

/// Run `future` (a proxied call) with `context` as the call the backend's messages belong to.
pub(crate) async fn within<F: Future>(context: ToolContext, future: F) -> F::Output {
    CALL.scope(context, future).await
}

fn current_call() -> Option<ToolContext> {
    CALL.try_with(ToolContext::clone).ok()
}

/// Which catalogs of a backend changed since its follower last listed them.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    kinds: AtomicU8,
    pub(crate) wake: Notify,
    /// Cancelled when the client reporting here is gone (its follower ends).
    pub(crate) closed: tokio_util::sync::CancellationToken,
}

/// The tool list changed.
pub(crate) const TOOLS: u8 = 1;
/// The resource list (or the templates) changed.
pub(crate) const RESOURCES: u8 = 2;
/// The prompt list changed.
pub(crate) const PROMPTS: u8 = 4;

impl Changes {
    fn mark(&self, kind: u8) {
        self.kinds.fetch_or(kind, Ordering::AcqRel);
        self.wake.notify_one();
    }

    pub(crate) fn take(&self) -> u8 {
        self.kinds.swap(0, Ordering::AcqRel)
    }
}

/// The handler of a gateway's client of one backend.
pub(crate) struct Upstream {
    changes: Arc<Changes>,
}

impl Upstream {
    /// A handler reporting list changes to `changes`.
    pub(crate) fn new(changes: Arc<Changes>) -> Self {
        Self { changes }
    }
}

impl Drop for Upstream {
    /// The client (which owns its handler) is gone: so is the reason to follow it.
    fn drop(&mut self) {
        self.changes.closed.cancel();
    }
}

fn no_call(method: &str) -> BoxFuture<HandlerResult> {
    let error = RpcError::new(
        codes::INVALID_REQUEST,
        format!("{method} reached the gateway outside a tool call: there is no client to ask"),
    );
    Box::pin(async move { Err(error) })
}

/// Ask the client of the current call `request`; its answer (or refusal) is the backend's answer.
fn relay(method: &'static str, request: Result<InputRequest, String>) -> BoxFuture<HandlerResult> {
    let Some(call) = current_call() else {
        return no_call(method);
    };
    let request = match request {
        Ok(request) => request,
        Err(error) => {
            let error = RpcError::new(codes::INVALID_PARAMS, format!("{method}: {error}"));
            return Box::pin(async move { Err(error) });
        }
    };
    let pending = call.ask_all(vec![request]);
    Box::pin(async move {
        match pending.await {
            Ok(mut answers) if !answers.is_empty() => Ok(answers.swap_remove(0)),
            Ok(_) => Err(RpcError::new(
                codes::INTERNAL_ERROR,
                "the client sent no answer",
            )),
            Err(error) => Err(RpcError::new(codes::INVALID_REQUEST, error.message())),
        }
    })
}

impl ClientHandler for Upstream {
    fn capabilities(&self) -> Value {
        json!({"elicitation": {}, "sampling": {}, "roots": {}})
    }

    fn elicit(&self, params: Value) -> BoxFuture<HandlerResult> {
        let message = params.get("message").and_then(Value::as_str);
        let schema = params.get("requestedSchema");
        let request = match (message, schema) {
            (Some(message), Some(schema)) => Ok(InputRequest::elicit(message, schema.clone())),
            _ => Err("needs \"message\" and \"requestedSchema\" (form mode)".to_owned()),
        };
        relay(dcc_mcp_client::ELICITATION_CREATE, request)
    }

    fn create_message(&self, params: Value) -> BoxFuture<HandlerResult> {
        let request = serde_json::from_value::<CreateMessageParams>(params)
            .map(|params| InputRequest::sample(&params))
            .map_err(|error| error.to_string());
        relay(dcc_mcp_client::SAMPLING_CREATE_MESSAGE, request)
    }

    fn list_roots(&self, _params: Value) -> BoxFuture<HandlerResult> {
        relay(dcc_mcp_client::ROOTS_LIST, Ok(InputRequest::list_roots()))
    }

    fn on_notification(&self, method: &str, params: &Value) {
        use dcc_mcp_http::protocol::{prompts, resources, tools};
        match method {
            tools::LIST_CHANGED => self.changes.mark(TOOLS),
            resources::LIST_CHANGED => self.changes.mark(RESOURCES),
            prompts::LIST_CHANGED => self.changes.mark(PROMPTS),
            "notifications/message" => {
                let Some(call) = current_call() else { return };
                let level = params
                    .get("level")
                    .cloned()
                    .and_then(|level| serde_json::from_value::<LoggingLevel>(level).ok())
                    .unwrap_or(LoggingLevel::Info);
                let data = params.get("data").cloned().unwrap_or(Value::Null);
                match params.get("logger").and_then(Value::as_str) {
                    Some(logger) => call.log_as(logger, level, data),
                    None => call.log(level, data),
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_changes_are_marked_per_kind_and_taken_once() {
        let changes = Arc::new(Changes::default());
        let upstream = Upstream::new(changes.clone());
        upstream.on_notification("notifications/prompts/list_changed", &json!({}));
        upstream.on_notification("notifications/tools/list_changed", &json!({}));
        upstream.on_notification(
            "notifications/message",
            &json!({"level": "info", "data": 1}),
        );
        assert_eq!(changes.take(), TOOLS | PROMPTS);
        assert_eq!(changes.take(), 0);
        upstream.on_notification("notifications/resources/list_changed", &json!({}));
        assert_eq!(changes.take(), RESOURCES);
        assert_eq!(
            upstream.capabilities(),
            json!({"elicitation": {}, "sampling": {}, "roots": {}})
        );
        assert!(!changes.closed.is_cancelled());
        drop(upstream);
        assert!(changes.closed.is_cancelled());
    }

    #[tokio::test]
    async fn requests_outside_a_call_or_malformed_are_refused_clearly() {
        let upstream = Upstream::new(Arc::new(Changes::default()));
        let outside = upstream
            .elicit(json!({"message": "?", "requestedSchema": {"type": "object"}}))
            .await
            .unwrap_err();
        assert_eq!(outside.code, codes::INVALID_REQUEST);
        assert!(
            outside.message.contains("outside a tool call"),
            "{}",
            outside.message
        );

        // The handler is called while the call's response is read (inside the call's scope), and
        // its answer is awaited after.
        let call = ToolContext::detached("a__ask");
        let malformed = CALL
            .sync_scope(call.clone(), || upstream.elicit(json!({"x": 1})))
            .await
            .unwrap_err();
        assert_eq!(malformed.code, codes::INVALID_PARAMS);
        assert!(
            malformed.message.contains("requestedSchema"),
            "{}",
            malformed.message
        );
        // A detached call has no client to ask: the backend gets that refusal.
        let refused = CALL
            .sync_scope(call, || upstream.list_roots(json!({})))
            .await
            .unwrap_err();
        assert_eq!(refused.code, codes::INVALID_REQUEST);
        assert!(
            refused.message.contains("no client to ask"),
            "{}",
            refused.message
        );
    }
}
