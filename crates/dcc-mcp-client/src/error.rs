//! What can go wrong talking to an MCP server, as one enum a caller can match on.
//!
//! The variants keep apart what a caller reacts to differently: the server refused the request at
//! the HTTP level ([`ClientError::Http`]), the session is gone and a new `initialize` is needed
//! ([`ClientError::SessionNotFound`]), the method failed ([`ClientError::Rpc`]), the call took too
//! long or was cancelled, or the connection itself failed. A tool that fails is *not* an error
//! here: MCP reports it as a result with `isError: true` (see [`CallToolResult`](crate::CallToolResult)).

use std::time::Duration;

use dcc_mcp_protocol::RpcError;

/// An error of [`McpClient`](crate::McpClient).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The endpoint URL cannot be used (not `http://host[:port]/path`).
    #[error("invalid MCP endpoint URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// The request could not be sent or its response head not received (connection refused or
    /// reset, DNS, connect timeout).
    #[error("HTTP request to the MCP server failed: {0}")]
    Connection(#[source] hyper_util::client::legacy::Error),
    /// The response body could not be read to its end.
    #[error("reading the MCP server's response failed: {0}")]
    Body(#[source] hyper::Error),
    /// The server answered with an HTTP status that is not a success. `error` is the JSON-RPC error
    /// of the body when the body was one (the server's explanation).
    #[error("the MCP server answered HTTP {status}: {}", describe(.error.as_ref(), .body))]
    Http {
        /// The HTTP status code.
        status: u16,
        /// The JSON-RPC error in the body, if the body was a JSON-RPC error response.
        error: Option<RpcError>,
        /// The body (cut to 1 KiB) when it was not a JSON-RPC error.
        body: String,
        /// `Retry-After` in seconds, when the server sent one (overload).
        retry_after: Option<u64>,
    },
    /// The server does not know this session (HTTP 404 to a request carrying `Mcp-Session-Id`): it
    /// ended, expired or the server restarted. Connect again to open a new session.
    #[error("the MCP session {session_id} is not known to the server (HTTP 404: {message}); connect again to start a new session")]
    SessionNotFound {
        /// The session id the request carried.
        session_id: String,
        /// The server's message.
        message: String,
    },
    /// The server answered the request with a JSON-RPC error.
    #[error("the MCP server returned an error: {0}")]
    Rpc(#[from] RpcError),
    /// No response within the request's timeout; `notifications/cancelled` was sent.
    #[error("no response from the MCP server within {0:?}; the request was cancelled")]
    Timeout(Duration),
    /// The request was cancelled by the caller; `notifications/cancelled` was sent.
    #[error("the request was cancelled")]
    Cancelled,
    /// The server broke the protocol (an unexpected content type, a body that is not JSON-RPC, a
    /// response stream that ended without the response).
    #[error("MCP protocol violation: {0}")]
    Protocol(String),
    /// The server negotiated a protocol version this client does not speak.
    #[error("the MCP server chose protocol version {offered:?}, which this client does not speak (it speaks {supported})")]
    UnsupportedVersion {
        /// What the server answered.
        offered: String,
        /// What this client speaks.
        supported: String,
    },
    /// A response body was larger than `ClientConfig::max_response_bytes`.
    #[error("the MCP server's response exceeds {limit} bytes (max_response_bytes)")]
    ResponseTooLarge {
        /// The limit.
        limit: usize,
    },
    /// The client was closed ([`McpClient::close`](crate::McpClient::close)).
    #[error("the MCP client is closed")]
    Closed,
}

fn describe(error: Option<&RpcError>, body: &str) -> String {
    match error {
        Some(error) => error.to_string(),
        None if body.is_empty() => "(empty body)".to_owned(),
        None => body.to_owned(),
    }
}

impl ClientError {
    /// The JSON-RPC error code, for a JSON-RPC error or an HTTP error whose body carried one.
    pub fn rpc_code(&self) -> Option<i64> {
        match self {
            ClientError::Rpc(error) => Some(error.code),
            ClientError::Http {
                error: Some(error), ..
            } => Some(error.code),
            _ => None,
        }
    }

    /// The HTTP status of an HTTP-level refusal (`404` for [`ClientError::SessionNotFound`]).
    pub fn http_status(&self) -> Option<u16> {
        match self {
            ClientError::Http { status, .. } => Some(*status),
            ClientError::SessionNotFound { .. } => Some(404),
            _ => None,
        }
    }
}
