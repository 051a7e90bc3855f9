//! What the client does with what the server sends on its own: requests (elicitation, sampling,
//! roots, ping) and notifications (progress, logging, list changes).
//!
//! The user supplies a [`ClientHandler`]: a trait with one method per server→client request, each
//! answering `-32601` (method not found) unless overridden, and a notification callback. A request's
//! answer is POSTed back to the server by the client. [`Callbacks`] implements the trait from
//! closures, for callers who want to set one or two handlers without a type.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use dcc_mcp_protocol::{codes, RpcError};
use serde_json::{Map, Value};

/// A boxed, sendable future: what handler methods return.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The outcome of a server→client request: the `result` object, or the JSON-RPC error to answer.
pub type HandlerResult = Result<Value, RpcError>;

/// Method of the server's elicitation request.
pub const ELICITATION_CREATE: &str = "elicitation/create";
/// Method of the server's sampling request.
pub const SAMPLING_CREATE_MESSAGE: &str = "sampling/createMessage";
/// Method of the server's roots request.
pub const ROOTS_LIST: &str = "roots/list";

/// One request the server sent the client.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerRequest {
    /// Its JSON-RPC id (the client answers under it).
    pub id: Value,
    /// The method.
    pub method: String,
    /// Its params (`{}` when absent).
    pub params: Value,
}

fn not_handled(method: &str) -> BoxFuture<HandlerResult> {
    let error = RpcError::new(
        codes::METHOD_NOT_FOUND,
        format!("Method not found: this client does not handle {method}"),
    );
    Box::pin(async move { Err(error) })
}

/// Answers the server's requests and receives its notifications. Every method has a default, so an
/// implementation overrides only what it supports, and declares that in
/// [`capabilities`](Self::capabilities) (sent on `initialize`).
pub trait ClientHandler: Send + Sync + 'static {
    /// The client capabilities to declare, e.g. `{"elicitation": {}, "sampling": {}, "roots": {}}`.
    /// Default: none (`{}`).
    fn capabilities(&self) -> Value {
        Value::Object(Map::new())
    }

    /// `elicitation/create`: ask the user; answer `{"action": "accept"|"decline"|"cancel", "content": …}`.
    fn elicit(&self, params: Value) -> BoxFuture<HandlerResult> {
        let _ = params;
        not_handled(ELICITATION_CREATE)
    }

    /// `sampling/createMessage`: run the model; answer `{"role", "content", "model", "stopReason"}`.
    fn create_message(&self, params: Value) -> BoxFuture<HandlerResult> {
        let _ = params;
        not_handled(SAMPLING_CREATE_MESSAGE)
    }

    /// `roots/list`: answer `{"roots": [{"uri": "file:///…", "name": …}]}`.
    fn list_roots(&self, params: Value) -> BoxFuture<HandlerResult> {
        let _ = params;
        not_handled(ROOTS_LIST)
    }

    /// Any other request: `-32601` unless overridden. `ping` never reaches here (the client answers
    /// `{}` itself).
    fn other_request(&self, request: ServerRequest) -> BoxFuture<HandlerResult> {
        not_handled(&request.method)
    }

    /// A notification from the server (`notifications/message`, `notifications/tools/list_changed`,
    /// …). Progress of a request that has its own progress callback goes there instead. Called on
    /// the task reading the stream: return quickly (spawn for slow work).
    fn on_notification(&self, method: &str, params: &Value) {
        let _ = (method, params);
    }
}

/// The handler of a client that handles nothing: every request `-32601`, notifications dropped.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHandler;

impl ClientHandler for NoHandler {}

/// Routes one server request to the handler method for its method name.
pub(crate) fn dispatch(
    handler: &dyn ClientHandler,
    request: ServerRequest,
) -> BoxFuture<HandlerResult> {
    match request.method.as_str() {
        dcc_mcp_protocol::methods::PING => Box::pin(async { Ok(Value::Object(Map::new())) }),
        ELICITATION_CREATE => handler.elicit(request.params),
        SAMPLING_CREATE_MESSAGE => handler.create_message(request.params),
        ROOTS_LIST => handler.list_roots(request.params),
        _ => handler.other_request(request),
    }
}

type RequestFn = Arc<dyn Fn(Value) -> BoxFuture<HandlerResult> + Send + Sync>;
type NotificationFn = Arc<dyn Fn(&str, &Value) + Send + Sync>;

/// A [`ClientHandler`] made of closures; each one set also declares its capability.
///
/// ```
/// use dcc_mcp_client::Callbacks;
/// use serde_json::json;
///
/// let handler = Callbacks::new()
///     .on_elicit(|_params| Box::pin(async { Ok(json!({"action": "accept", "content": {"ok": true}})) }))
///     .on_notification(|method, params| eprintln!("{method}: {params}"));
/// # let _ = handler;
/// ```
#[derive(Clone, Default)]
pub struct Callbacks {
    elicit: Option<RequestFn>,
    sampling: Option<RequestFn>,
    roots: Option<RequestFn>,
    notification: Option<NotificationFn>,
}

impl std::fmt::Debug for Callbacks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Callbacks")
            .field("elicit", &self.elicit.is_some())
            .field("sampling", &self.sampling.is_some())
            .field("roots", &self.roots.is_some())
            .field("notification", &self.notification.is_some())
            .finish()
    }
}

impl Callbacks {
    /// No callbacks.
    pub fn new() -> Self {
        Self::default()
    }

    /// Answer `elicitation/create` with `f` (declares `elicitation`).
    pub fn on_elicit(
        mut self,
        f: impl Fn(Value) -> BoxFuture<HandlerResult> + Send + Sync + 'static,
    ) -> Self {
        self.elicit = Some(Arc::new(f));
        self
    }

    /// Answer `sampling/createMessage` with `f` (declares `sampling`).
    pub fn on_sampling(
        mut self,
        f: impl Fn(Value) -> BoxFuture<HandlerResult> + Send + Sync + 'static,
    ) -> Self {
        self.sampling = Some(Arc::new(f));
        self
    }

    /// Answer `roots/list` with `f` (declares `roots`).
    pub fn on_roots(
        mut self,
        f: impl Fn(Value) -> BoxFuture<HandlerResult> + Send + Sync + 'static,
    ) -> Self {
        self.roots = Some(Arc::new(f));
        self
    }

    /// Receive every notification with `f`.
    pub fn on_notification(mut self, f: impl Fn(&str, &Value) + Send + Sync + 'static) -> Self {
        self.notification = Some(Arc::new(f));
        self
    }
}

impl ClientHandler for Callbacks {
    fn capabilities(&self) -> Value {
        let mut capabilities = Map::new();
        for (set, name) in [
            (self.elicit.is_some(), "elicitation"),
            (self.sampling.is_some(), "sampling"),
            (self.roots.is_some(), "roots"),
        ] {
            if set {
                capabilities.insert(name.to_owned(), Value::Object(Map::new()));
            }
        }
        Value::Object(capabilities)
    }

    fn elicit(&self, params: Value) -> BoxFuture<HandlerResult> {
        match &self.elicit {
            Some(f) => f(params),
            None => not_handled(ELICITATION_CREATE),
        }
    }

    fn create_message(&self, params: Value) -> BoxFuture<HandlerResult> {
        match &self.sampling {
            Some(f) => f(params),
            None => not_handled(SAMPLING_CREATE_MESSAGE),
        }
    }

    fn list_roots(&self, params: Value) -> BoxFuture<HandlerResult> {
        match &self.roots {
            Some(f) => f(params),
            None => not_handled(ROOTS_LIST),
        }
    }

    fn on_notification(&self, method: &str, params: &Value) {
        if let Some(f) = &self.notification {
            f(method, params);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(method: &str) -> ServerRequest {
        ServerRequest {
            id: json!(1),
            method: method.into(),
            params: json!({"x": 1}),
        }
    }

    #[tokio::test]
    async fn routes_by_method_and_refuses_what_is_not_handled() {
        let callbacks = Callbacks::new().on_elicit(|params| {
            Box::pin(async move { Ok(json!({"action": "accept", "content": params})) })
        });
        assert_eq!(callbacks.capabilities(), json!({"elicitation": {}}));
        assert_eq!(
            dispatch(&callbacks, request(ELICITATION_CREATE)).await,
            Ok(json!({"action": "accept", "content": {"x": 1}}))
        );
        assert_eq!(dispatch(&callbacks, request("ping")).await, Ok(json!({})));
        for method in [SAMPLING_CREATE_MESSAGE, ROOTS_LIST, "x/y"] {
            let error = dispatch(&callbacks, request(method)).await.unwrap_err();
            assert_eq!(error.code, codes::METHOD_NOT_FOUND, "{method}");
            assert!(error.message.contains(method), "{}", error.message);
        }
        assert_eq!(NoHandler.capabilities(), json!({}));
    }
}
