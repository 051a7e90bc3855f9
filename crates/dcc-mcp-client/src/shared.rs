//! The state every part of a client shares, and the one place incoming messages are routed.
//!
//! Responses, notifications and server→client requests can arrive on the response to any `POST`
//! (JSON or SSE) or on the `GET` stream, so they all go through [`Inner::deliver`]: a response
//! completes the waiting request with that id (id correlation, so many requests can be in flight on
//! one client), a progress notification goes to the callback of the request that asked for it, other
//! notifications go to the user's handler, and a server request is answered by the handler and
//! the answer POSTed back.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use bytes::Bytes;
use dcc_mcp_protocol::version::{META_CLIENT_CAPABILITIES_KEY, META_PROTOCOL_VERSION_KEY};
use dcc_mcp_protocol::{headers, jsonrpc, methods, Era, Incoming, ProtocolVersion, RpcError};
use http_body_util::BodyExt;
use hyper::header::{HeaderName, HeaderValue};
use serde_json::{Map, Value};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::config::ClientConfig;
use crate::error::ClientError;
use crate::handler::{self, ClientHandler, ServerRequest};
use crate::sse::SseParser;
use crate::transport::{self, BodyKind, Transport};

/// Progress of a request, from `notifications/progress`.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Progress so far (increases with each notification).
    pub progress: f64,
    /// The total, when the server knows it.
    pub total: Option<f64>,
    /// A message for people, when the server sent one.
    pub message: Option<String>,
}

/// How the server framed an answer to a `POST`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFraming {
    /// `application/json`: one message in the body.
    Json,
    /// `text/event-stream`: the messages as SSE events on a short stream.
    EventStream,
}

/// A progress callback.
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// What `initialize` (or `server/discover`) settled: the era, the version and the session.
#[derive(Debug, Clone)]
pub(crate) struct Negotiated {
    pub(crate) version: ProtocolVersion,
    pub(crate) session_id: Option<String>,
    /// `MCP-Protocol-Version` and `Mcp-Session-Id`, ready to send.
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
}

impl Negotiated {
    pub(crate) fn new(version: ProtocolVersion, session_id: Option<String>) -> Self {
        let mut headers = vec![(
            HeaderName::from_static(headers::PROTOCOL_VERSION_HEADER),
            HeaderValue::from_static(version.as_str()),
        )];
        if let Some(value) = session_id
            .as_deref()
            .and_then(|id| HeaderValue::from_str(id).ok())
        {
            headers.push((HeaderName::from_static(headers::SESSION_ID_HEADER), value));
        }
        Self {
            version,
            session_id,
            headers,
        }
    }
}

/// A waiting request's completion.
type Waiter = oneshot::Sender<Result<Value, RpcError>>;

/// The shared state of one client.
pub(crate) struct Inner {
    pub(crate) transport: Transport,
    pub(crate) config: ClientConfig,
    pub(crate) handler: Arc<dyn ClientHandler>,
    /// Shared, so a request reads it without copying its session id and headers.
    negotiated: RwLock<Option<Arc<Negotiated>>>,
    next_id: AtomicU64,
    pending: Mutex<HashMap<String, Waiter>>,
    progress: Mutex<HashMap<String, ProgressFn>>,
    /// Cancelled when the client closes: ends the `GET` stream task.
    pub(crate) closing: CancellationToken,
    /// The framing of the last `POST` answer with a body: 0 none yet, 1 JSON, 2 SSE.
    framing: AtomicU8,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Inner {
    pub(crate) fn new(
        transport: Transport,
        config: ClientConfig,
        handler: Arc<dyn ClientHandler>,
    ) -> Self {
        Self {
            transport,
            config,
            handler,
            negotiated: RwLock::new(None),
            next_id: AtomicU64::new(0),
            pending: Mutex::new(HashMap::new()),
            progress: Mutex::new(HashMap::new()),
            closing: CancellationToken::new(),
            framing: AtomicU8::new(0),
        }
    }

    /// A fresh request id (numbers, from 0).
    pub(crate) fn next_id(&self) -> Value {
        Value::from(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    pub(crate) fn set_negotiated(&self, negotiated: Negotiated) {
        *self
            .negotiated
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(negotiated));
    }

    /// The framing of the last `POST` answer that had a body.
    pub(crate) fn last_framing(&self) -> Option<ResponseFraming> {
        match self.framing.load(Ordering::Relaxed) {
            1 => Some(ResponseFraming::Json),
            2 => Some(ResponseFraming::EventStream),
            _ => None,
        }
    }

    /// Forget a failed negotiation.
    pub(crate) fn clear_negotiated(&self) {
        *self
            .negotiated
            .write()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    pub(crate) fn negotiated(&self) -> Option<Arc<Negotiated>> {
        self.negotiated
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The session id, if a session is open.
    pub(crate) fn session_id(&self) -> Option<String> {
        self.negotiated().and_then(|n| n.session_id.clone())
    }

    /// Wait for the response with id `key`.
    pub(crate) fn expect(&self, key: String) -> oneshot::Receiver<Result<Value, RpcError>> {
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(key, tx);
        rx
    }

    /// Stop waiting for `key` (finished, cancelled or failed); returns whether it was still waiting.
    pub(crate) fn forget(&self, key: &str) -> bool {
        lock(&self.progress).remove(key);
        lock(&self.pending).remove(key).is_some()
    }

    /// Route `notifications/progress` with token `key` to `callback`.
    pub(crate) fn watch_progress(&self, key: String, callback: ProgressFn) {
        lock(&self.progress).insert(key, callback);
    }

    /// The headers of a request of `method` (`name`: its tool, prompt or resource), by era.
    pub(crate) fn request_headers(
        &self,
        method: &str,
        name: Option<&str>,
    ) -> Vec<(HeaderName, HeaderValue)> {
        let Some(negotiated) = self.negotiated() else {
            return Vec::new();
        };
        let mut headers = negotiated.headers.clone();
        if negotiated.version.era() == Era::Stateless {
            if let Ok(value) = HeaderValue::from_str(method) {
                headers.push((HeaderName::from_static(headers::METHOD_HEADER), value));
            }
            if let Some(value) = name.and_then(|name| HeaderValue::from_str(name).ok()) {
                headers.push((HeaderName::from_static(headers::NAME_HEADER), value));
            }
        }
        headers
    }

    /// 2026-07-28: `params._meta` gains the protocol version and the client capabilities.
    pub(crate) fn stamp_meta(&self, params: &mut Map<String, Value>) {
        let stateless = self
            .negotiated()
            .is_some_and(|n| n.version.era() == Era::Stateless);
        if stateless {
            let capabilities = self.handler.capabilities();
            with_meta(params, |meta| {
                meta.insert(
                    META_PROTOCOL_VERSION_KEY.to_owned(),
                    ProtocolVersion::V2026_07_28.as_str().into(),
                );
                meta.insert(META_CLIENT_CAPABILITIES_KEY.to_owned(), capabilities);
            });
        }
    }

    /// `POST` one message and route everything its response carries. Returns the session id the
    /// response set (only `initialize` gets one) once the response has been read to its end.
    pub(crate) async fn exchange(
        self: &Arc<Self>,
        headers: &[(HeaderName, HeaderValue)],
        body: Bytes,
    ) -> Result<Option<String>, ClientError> {
        let response = self.transport.post(headers, body).await?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = transport::retry_after(&response);
            let body = self.transport.read_body(response.into_body()).await?;
            let session = headers
                .iter()
                .find(|(name, _)| name.as_str() == headers::SESSION_ID_HEADER)
                .and_then(|(_, value)| value.to_str().ok());
            return Err(transport::status_error(status, retry_after, &body, session));
        }
        let session_id = response
            .headers()
            .get(headers::SESSION_ID_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        match transport::body_kind(&response)? {
            BodyKind::Empty => {}
            BodyKind::Json => {
                self.framing.store(1, Ordering::Relaxed);
                let bytes = self.transport.read_body(response.into_body()).await?;
                if !bytes.is_empty() {
                    self.deliver_bytes(&bytes)?;
                }
            }
            BodyKind::EventStream => {
                self.framing.store(2, Ordering::Relaxed);
                self.read_events(response.into_body()).await?;
            }
        }
        Ok(session_id)
    }

    /// Route every event of an SSE body until it ends (or the client closes).
    pub(crate) async fn read_events(
        self: &Arc<Self>,
        mut body: hyper::body::Incoming,
    ) -> Result<(), ClientError> {
        let mut parser = SseParser::new();
        loop {
            let frame = tokio::select! {
                frame = body.frame() => frame,
                () = self.closing.cancelled() => return Ok(()),
            };
            let Some(frame) = frame else { return Ok(()) };
            let frame = frame.map_err(ClientError::Body)?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            for event in parser.push(&data) {
                if event.data.len() > self.transport.max_body() {
                    return Err(ClientError::ResponseTooLarge {
                        limit: self.transport.max_body(),
                    });
                }
                if event.event != "message" || event.data.trim().is_empty() {
                    continue;
                }
                self.deliver_bytes(event.data.as_bytes())?;
            }
        }
    }

    /// Parse and route one body: a message or a batch of them.
    fn deliver_bytes(self: &Arc<Self>, bytes: &[u8]) -> Result<(), ClientError> {
        let value: Value = serde_json::from_slice(bytes).map_err(|error| {
            ClientError::Protocol(format!("the server sent a body that is not JSON: {error}"))
        })?;
        match value {
            Value::Array(messages) => messages.into_iter().for_each(|m| self.deliver(m)),
            message => self.deliver(message),
        }
        Ok(())
    }

    /// Route one incoming message (see the module docs).
    pub(crate) fn deliver(self: &Arc<Self>, message: Value) {
        match jsonrpc::classify(message) {
            Ok(Incoming::Response { id, outcome }) => {
                let key = jsonrpc::request_key(&id);
                let waiter = lock(&self.pending).remove(&key);
                match waiter {
                    Some(waiter) => {
                        lock(&self.progress).remove(&key);
                        let _ = waiter.send(outcome);
                    }
                    None => tracing::debug!(id = %key, "response to no waiting request; dropped"),
                }
            }
            Ok(Incoming::Notification { method, params }) => {
                let params = params.unwrap_or_else(|| Value::Object(Map::new()));
                if method == methods::PROGRESS && self.progress_of(&params) {
                    return;
                }
                self.handler.on_notification(&method, &params);
            }
            Ok(Incoming::Request { id, method, params }) => {
                let request = ServerRequest {
                    id,
                    method,
                    params: params.unwrap_or_else(|| Value::Object(Map::new())),
                };
                self.answer(request);
            }
            Err(error) => tracing::debug!(%error, "unreadable message from the server; dropped"),
        }
    }

    /// Hand a progress notification to its request's callback; false when no request asked for it.
    fn progress_of(&self, params: &Value) -> bool {
        let Some(token) = params.get(dcc_mcp_protocol::tools::PROGRESS_TOKEN_KEY) else {
            return false;
        };
        let callback = lock(&self.progress)
            .get(&jsonrpc::request_key(token))
            .cloned();
        let Some(callback) = callback else {
            return false;
        };
        callback(Progress {
            progress: params
                .get("progress")
                .and_then(Value::as_f64)
                .unwrap_or(0.0),
            total: params.get("total").and_then(Value::as_f64),
            message: params
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_owned),
        });
        true
    }

    /// Run the handler for a server request and POST its answer back (on its own task). The
    /// handler method is called here, on the task reading the response, so it sees that task's
    /// context (a gateway finds the downstream call the request belongs to this way).
    fn answer(self: &Arc<Self>, request: ServerRequest) {
        let inner = Arc::clone(self);
        let id = request.id.clone();
        let method = request.method.clone();
        let pending = handler::dispatch(inner.handler.as_ref(), request);
        tokio::spawn(async move {
            let outcome = pending.await;
            let body = jsonrpc::response(id, outcome).to_string();
            let headers = inner.request_headers(&method, None);
            if let Err(error) = inner.exchange(&headers, Bytes::from(body)).await {
                tracing::warn!(%error, %method, "the answer to a server request was not accepted");
            }
        });
    }

    /// `POST` a notification (`202` expected).
    pub(crate) async fn notify(
        self: &Arc<Self>,
        method: &str,
        params: Value,
    ) -> Result<(), ClientError> {
        let mut params = match params {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            other => {
                return Err(ClientError::Protocol(format!(
                    "notification params must be an object, not {other}"
                )))
            }
        };
        self.stamp_meta(&mut params);
        let body = jsonrpc::notification(method, Value::Object(params)).to_string();
        let headers = self.request_headers(method, None);
        self.exchange(&headers, Bytes::from(body)).await.map(|_| ())
    }
}

/// Edit `params._meta` with `edit` (an object is created when it is absent or not an object).
pub(crate) fn with_meta(
    params: &mut Map<String, Value>,
    edit: impl FnOnce(&mut Map<String, Value>),
) {
    let mut meta = match params.remove("_meta") {
        Some(Value::Object(meta)) => meta,
        _ => Map::new(),
    };
    edit(&mut meta);
    params.insert("_meta".to_owned(), Value::Object(meta));
}
