//! JSON-RPC error codes: the standard ones, and those MCP and this server give a meaning.

/// Invalid JSON was received.
pub const PARSE_ERROR: i64 = -32700;
/// The JSON is not a valid request object (or batch).
pub const INVALID_REQUEST: i64 = -32600;
/// The method does not exist (2026-07-28: with HTTP `404`).
pub const METHOD_NOT_FOUND: i64 = -32601;
/// Invalid method parameters (also an unknown tool, as MCP asks).
pub const INVALID_PARAMS: i64 = -32602;
/// Internal error (also a response too large to send).
pub const INTERNAL_ERROR: i64 = -32603;
/// Transport-level rejection (missing session, bad header, overload), as the reference SDKs use it.
pub const SERVER_ERROR: i64 = -32000;
/// Unknown or ended session.
pub const SESSION_NOT_FOUND: i64 = -32001;
/// 2026-07-28: an `Mcp-Method` / `Mcp-Name` header disagrees with the body.
pub const HEADER_MISMATCH: i64 = -32020;
/// 2026-07-28: the request needs a client capability its `_meta` did not declare
/// (`error.data.requiredCapabilities` names it, as a `ClientCapabilities` object).
pub const MISSING_CLIENT_CAPABILITY: i64 = -32021;
/// 2026-07-28: the request's protocol version is not one the server serves
/// (`error.data`: `{"supported": [...], "requested": "..."}`).
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;
