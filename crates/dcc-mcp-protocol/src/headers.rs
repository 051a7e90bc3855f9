//! HTTP header names of MCP Streamable HTTP, lower-case (HTTP header names are case-insensitive; the
//! lower-case form is what `http::HeaderName::from_static` accepts).

/// Carries the session id: set by the server on the `initialize` response, echoed by the client on
/// every later request of the session (session era).
pub const SESSION_ID_HEADER: &str = "mcp-session-id";
/// Names the protocol version in use on every request after `initialize` (session era).
pub const PROTOCOL_VERSION_HEADER: &str = "mcp-protocol-version";
/// 2026-07-28: repeats the JSON-RPC method of the body, so a proxy can route without parsing it.
pub const METHOD_HEADER: &str = "mcp-method";
/// 2026-07-28: repeats the tool, resource or prompt name of the body, for the same reason.
pub const NAME_HEADER: &str = "mcp-name";
/// The id of the last SSE event a client saw, to resume a stream.
pub const LAST_EVENT_ID_HEADER: &str = "last-event-id";
