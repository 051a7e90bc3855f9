//! Method names of the requests and notifications this codebase sends or answers.

/// Request: open a session and negotiate the version (session era).
pub const INITIALIZE: &str = "initialize";
/// Notification: the client finished initializing (session era).
pub const INITIALIZED: &str = "notifications/initialized";
/// Request: liveness check, answered `{}` (session era).
pub const PING: &str = "ping";
/// Request: one page of tools.
pub const TOOLS_LIST: &str = "tools/list";
/// Request: call a tool.
pub const TOOLS_CALL: &str = "tools/call";
/// Request: set the level of `notifications/message`.
pub const LOGGING_SET_LEVEL: &str = "logging/setLevel";
/// Notification, either direction: the sender no longer waits for a request (`params.requestId`).
pub const CANCELLED: &str = "notifications/cancelled";
/// Notification: progress of a request that carried `_meta.progressToken`.
pub const PROGRESS: &str = "notifications/progress";
/// Notification: a log message.
pub const MESSAGE: &str = "notifications/message";
/// 2026-07-28 request: what the server speaks, without a session. Newer clients probe it first and
/// fall back to `initialize` on [`METHOD_NOT_FOUND`](crate::codes::METHOD_NOT_FOUND).
pub const SERVER_DISCOVER: &str = "server/discover";
