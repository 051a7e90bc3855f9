//! [`McpClient`]: connect (and negotiate the era), send requests and notifications, close.

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use dcc_mcp_protocol::initialize::request_params;
use dcc_mcp_protocol::{codes, jsonrpc, methods, version, Era, ProtocolVersion};
use serde_json::{Map, Value};

use crate::config::{ClientConfig, ProtocolMode};
use crate::error::ClientError;
use crate::handler::{ClientHandler, NoHandler};
use crate::request::{self, RequestOptions};
use crate::results::{CallToolResult, ToolsPage};
use crate::shared::{Inner, Negotiated, ResponseFraming};
use crate::stream::{self, Opened};
use crate::transport::{self, Transport};

/// An MCP client over Streamable HTTP, connected to one endpoint.
///
/// Requests take `&self`, so one client serves many concurrent requests (each on a pooled
/// keep-alive connection; their answers are matched by id). Dropping the client ends its session
/// in the background (`DELETE`); [`close`](Self::close) does it and reports the outcome.
pub struct McpClient {
    inner: Arc<Inner>,
    server: Value,
    stream: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Set by `close`, so dropping does not send a second `DELETE`.
    closed: bool,
}

impl std::fmt::Debug for McpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpClient")
            .field("url", &self.inner.config.url)
            .field("negotiated", &self.inner.negotiated())
            .finish()
    }
}

impl McpClient {
    /// Connect with `config`, handling no server→client requests.
    pub async fn connect(config: ClientConfig) -> Result<Self, ClientError> {
        Self::connect_with(config, NoHandler).await
    }

    /// Connect with `config`; `handler` answers the server's requests and receives its
    /// notifications.
    ///
    /// In the session era this sends `initialize`, checks the negotiated version, keeps the
    /// session id, sends `notifications/initialized` and (with `open_stream`) opens the `GET`
    /// stream before returning. In the stateless era it sends `server/discover`.
    pub async fn connect_with(
        config: ClientConfig,
        handler: impl ClientHandler,
    ) -> Result<Self, ClientError> {
        let transport = Transport::new(&config)?;
        let mode = config.mode;
        let inner = Arc::new(Inner::new(transport, config, Arc::new(handler)));
        let server = match mode {
            ProtocolMode::Session(version) => initialize(&inner, version).await?,
            ProtocolMode::Stateless => discover(&inner).await?,
            ProtocolMode::Auto => match discover(&inner).await {
                Ok(server) => server,
                Err(error) if error.rpc_code() == Some(codes::METHOD_NOT_FOUND) => {
                    initialize(&inner, ProtocolVersion::LATEST).await?
                }
                Err(error) => return Err(error),
            },
        };
        let client = Self {
            inner,
            server,
            stream: Mutex::new(None),
            closed: false,
        };
        if client.era() == Era::Session && client.inner.config.open_stream {
            if let Opened::Reading(task) = stream::open(&client.inner).await? {
                *client.stream.lock().unwrap_or_else(PoisonError::into_inner) = Some(task);
            }
        }
        Ok(client)
    }

    /// The negotiated protocol revision.
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.inner
            .negotiated()
            .map_or(ProtocolVersion::LATEST, |n| n.version)
    }

    /// The era spoken: session (2025-*) or stateless (2026-07-28).
    pub fn era(&self) -> Era {
        self.protocol_version().era()
    }

    /// The session id (`Mcp-Session-Id`), in the session era when the server issued one.
    pub fn session_id(&self) -> Option<String> {
        self.inner.session_id()
    }

    /// What the server said about itself: the `initialize` result (`protocolVersion`,
    /// `capabilities`, `serverInfo`) or the `server/discover` result.
    pub fn server_info(&self) -> &Value {
        &self.server
    }

    /// How the server framed its last answer to a `POST` (JSON or SSE), once one had a body.
    pub fn last_response_framing(&self) -> Option<ResponseFraming> {
        self.inner.last_framing()
    }

    /// Whether the server's `GET` stream is being read.
    pub fn has_stream(&self) -> bool {
        self.stream
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|task| !task.is_finished())
    }

    /// Send a request and wait for its result (the client's default timeout).
    pub async fn request(&self, method: &str, params: Value) -> Result<Value, ClientError> {
        self.request_with(method, params, RequestOptions::default())
            .await
    }

    /// Send a request with per-request options (timeout, cancellation token, progress callback).
    /// Dropping the returned future before it completes cancels the request on the server
    /// (`notifications/cancelled`).
    pub async fn request_with(
        &self,
        method: &str,
        params: Value,
        options: RequestOptions,
    ) -> Result<Value, ClientError> {
        let name = routed_name(method, &params);
        request::send(&self.inner, method, name.as_deref(), params, options).await
    }

    /// Send a notification (no answer; the server acknowledges it with `202`).
    pub async fn notify(&self, method: &str, params: Value) -> Result<(), ClientError> {
        if self.inner.closing.is_cancelled() {
            return Err(ClientError::Closed);
        }
        self.inner.notify(method, params).await
    }

    /// `ping` (session era).
    pub async fn ping(&self) -> Result<(), ClientError> {
        self.request(methods::PING, Value::Object(Map::new()))
            .await
            .map(|_| ())
    }

    /// One page of `tools/list`, from `cursor` (`None`: the first page).
    pub async fn list_tools(&self, cursor: Option<&str>) -> Result<ToolsPage, ClientError> {
        let mut params = Map::new();
        if let Some(cursor) = cursor {
            params.insert("cursor".to_owned(), cursor.into());
        }
        let result = self
            .request(methods::TOOLS_LIST, Value::Object(params))
            .await?;
        Ok(ToolsPage::from_result(result))
    }

    /// Every tool, following `nextCursor` to the last page.
    pub async fn list_all_tools(&self) -> Result<Vec<Value>, ClientError> {
        let mut tools = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self.list_tools(cursor.as_deref()).await?;
            tools.extend(page.tools);
            match page.next_cursor {
                Some(next) if Some(&next) != cursor.as_ref() => cursor = Some(next),
                _ => return Ok(tools),
            }
        }
    }

    /// `tools/call name` with `arguments`. A failing tool is `Ok` with
    /// [`is_error`](CallToolResult::is_error) set.
    pub async fn call_tool(
        &self,
        name: &str,
        arguments: Value,
    ) -> Result<CallToolResult, ClientError> {
        self.call_tool_with(name, arguments, RequestOptions::default())
            .await
    }

    /// `tools/call` with per-request options (timeout, cancellation, progress).
    pub async fn call_tool_with(
        &self,
        name: &str,
        arguments: Value,
        options: RequestOptions,
    ) -> Result<CallToolResult, ClientError> {
        let params = dcc_mcp_protocol::tools::call_params(name, arguments);
        request::send(
            &self.inner,
            methods::TOOLS_CALL,
            Some(name),
            params,
            options,
        )
        .await
        .map(CallToolResult)
    }

    /// End the session: stop the stream and `DELETE` it (`204`). Requests still waiting fail with
    /// [`ClientError::Closed`]. A session the server no longer knows is
    /// [`ClientError::SessionNotFound`].
    pub async fn close(mut self) -> Result<(), ClientError> {
        self.closed = true;
        self.stop_stream();
        let Some(negotiated) = self.inner.negotiated() else {
            return Ok(());
        };
        let Some(session_id) = negotiated.session_id.clone() else {
            return Ok(());
        };
        let (status, body) = self.inner.transport.delete(&negotiated.headers).await?;
        if status.is_success() {
            return Ok(());
        }
        Err(transport::status_error(
            status,
            None,
            &body,
            Some(&session_id),
        ))
    }
}

impl McpClient {
    /// Mark the client closing and stop the `GET` stream task.
    fn stop_stream(&mut self) {
        self.inner.closing.cancel();
        if let Some(task) = self
            .stream
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            task.abort();
        }
    }
}

impl Drop for McpClient {
    fn drop(&mut self) {
        self.stop_stream();
        if self.closed {
            return;
        }
        let Some(negotiated) = self.inner.negotiated() else {
            return;
        };
        if negotiated.session_id.is_none() {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let transport = self.inner.transport.clone();
            runtime.spawn(async move {
                let _ = transport.delete(&negotiated.headers).await;
            });
        }
    }
}

/// The name the `Mcp-Name` header repeats: a tool's or prompt's `name`, a resource's `uri`.
fn routed_name(method: &str, params: &Value) -> Option<String> {
    let key = match method {
        "tools/call" | "prompts/get" => "name",
        "resources/read" | "resources/subscribe" | "resources/unsubscribe" => "uri",
        _ => return None,
    };
    params.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// The session-era handshake; returns the `initialize` result.
async fn initialize(inner: &Arc<Inner>, offer: ProtocolVersion) -> Result<Value, ClientError> {
    let id = inner.next_id();
    let key = jsonrpc::request_key(&id);
    let params = request_params(
        offer,
        &inner.config.client_info,
        inner.handler.capabilities(),
    );
    let body = Bytes::from(jsonrpc::request(id, methods::INITIALIZE, params).to_string());
    let mut answer = inner.expect(key.clone());
    let timeout = inner.config.request_timeout;
    let exchange = tokio::time::timeout(timeout, inner.exchange(&[], body)).await;
    let session_id = match exchange {
        Ok(Ok(session_id)) => session_id,
        Ok(Err(error)) => {
            inner.forget(&key);
            return Err(error);
        }
        Err(_) => {
            inner.forget(&key);
            return Err(ClientError::Timeout(timeout));
        }
    };
    let result = match answer.try_recv() {
        Ok(outcome) => outcome?,
        Err(_) => {
            inner.forget(&key);
            return Err(ClientError::Protocol(
                "the server's response to initialize carried no answer".to_owned(),
            ));
        }
    };
    let offered = result
        .get("protocolVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let negotiated = version::accept(offered)
        .ok()
        .filter(|v| v.era() == Era::Session)
        .ok_or_else(|| ClientError::UnsupportedVersion {
            offered: offered.to_owned(),
            supported: supported_session_versions(),
        })?;
    inner.set_negotiated(Negotiated::new(negotiated, session_id));
    inner
        .notify(methods::INITIALIZED, Value::Object(Map::new()))
        .await?;
    Ok(result)
}

fn supported_session_versions() -> String {
    ProtocolVersion::ALL
        .iter()
        .filter(|v| v.era() == Era::Session && v.is_supported())
        .map(|v| v.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The stateless handshake: `server/discover`; returns its result.
async fn discover(inner: &Arc<Inner>) -> Result<Value, ClientError> {
    inner.set_negotiated(Negotiated::new(ProtocolVersion::V2026_07_28, None));
    let result = request::send(
        inner,
        methods::SERVER_DISCOVER,
        None,
        Value::Object(Map::new()),
        RequestOptions::default(),
    )
    .await;
    if result.is_err() {
        // Not negotiated: a fallback to `initialize` starts from nothing.
        inner.clear_negotiated();
    }
    result
}
