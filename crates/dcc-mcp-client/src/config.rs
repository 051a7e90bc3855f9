//! How a client connects: endpoint, protocol mode, identity, timeouts, connection pool, limits.
//!
//! Everything has a default that works against `dcc-mcp-server`, so most callers set only the URL
//! ([`ClientConfig::new`]).

use std::time::Duration;

use dcc_mcp_protocol::initialize::Implementation;
use dcc_mcp_protocol::ProtocolVersion;

/// Which protocol era the client speaks, and how it picks one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolMode {
    /// The session era: `initialize` offering this revision (2025-03-26, 2025-06-18 or 2025-11-25),
    /// then a session named by `Mcp-Session-Id`, with the negotiated version in the
    /// `MCP-Protocol-Version` header of every later request.
    Session(ProtocolVersion),
    /// The stateless 2026-07-28 revision: no `initialize` and no session; the client probes
    /// `server/discover`, and every request names its protocol version and client capabilities in
    /// `_meta`, with `Mcp-Method` / `Mcp-Name` headers repeating the body's method and name.
    Stateless,
    /// Probe `server/discover` and speak 2026-07-28 when the server answers it; fall back to the
    /// session era at the latest revision when it answers `-32601` (method not found), as the
    /// official SDK clients do.
    Auto,
}

impl Default for ProtocolMode {
    /// The session era at the latest revision.
    fn default() -> Self {
        ProtocolMode::Session(ProtocolVersion::LATEST)
    }
}

/// Settings of an [`McpClient`](crate::McpClient).
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The MCP endpoint, `http://host:port/path` (e.g. `http://127.0.0.1:8765/mcp`).
    pub url: String,
    /// The protocol era and revision to speak.
    pub mode: ProtocolMode,
    /// `clientInfo` of `initialize`.
    pub client_info: Implementation,
    /// Default deadline of a request (each request may set its own). On expiry the request fails
    /// with [`ClientError::Timeout`](crate::ClientError::Timeout) and `notifications/cancelled` is sent.
    pub request_timeout: Duration,
    /// Deadline of a TCP connect.
    pub connect_timeout: Duration,
    /// After a request is cancelled or timed out, how long its HTTP exchange may still run in the
    /// background to read the server's late answer, so the keep-alive connection goes back to the
    /// pool instead of being closed.
    pub drain_timeout: Duration,
    /// How long an idle pooled connection is kept.
    pub pool_idle_timeout: Duration,
    /// Idle pooled connections kept per host (concurrent requests open more; the extra ones close
    /// when they go idle).
    pub pool_max_idle_per_host: usize,
    /// Open the server's `GET` SSE stream after connecting (session era): it carries progress,
    /// logging and server→client requests. Off, the client only sees what comes on the responses to
    /// its own `POST`s.
    pub open_stream: bool,
    /// Wait before opening the `GET` stream again after it ended (the server's `retry:` wins).
    pub stream_retry: Duration,
    /// Largest response body (or single SSE event) accepted.
    pub max_response_bytes: usize,
    /// Extra headers sent on every request (e.g. `authorization`), as `(name, value)`.
    pub headers: Vec<(String, String)>,
}

impl ClientConfig {
    /// Defaults for the endpoint `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            mode: ProtocolMode::default(),
            client_info: Implementation {
                name: "dcc-mcp-client".to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
            },
            request_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(5),
            pool_idle_timeout: Duration::from_secs(90),
            pool_max_idle_per_host: 32,
            open_stream: true,
            stream_retry: Duration::from_secs(1),
            max_response_bytes: 64 * 1024 * 1024,
            headers: Vec::new(),
        }
    }

    /// The same settings speaking `mode`.
    pub fn mode(mut self, mode: ProtocolMode) -> Self {
        self.mode = mode;
        self
    }

    /// The same settings with a different default request timeout.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The same settings with the `GET` stream opened or not.
    pub fn open_stream(mut self, open: bool) -> Self {
        self.open_stream = open;
        self
    }

    /// The same settings with one more header on every request.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}
