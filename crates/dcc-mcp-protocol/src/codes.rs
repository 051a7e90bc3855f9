//! JSON-RPC error codes: the standard ones, and those MCP and this server give a meaning.

/// Invalid JSON was received.
pub const PARSE_ERROR: i64 = -32700;
/// The JSON is not a valid request object (or batch).
pub const INVALID_REQUEST: i64 = -32600;
/// The method does not exist (also the answer to `server/discover` while the stateless era is not served).
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
