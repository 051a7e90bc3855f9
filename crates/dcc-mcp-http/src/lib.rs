//! MCP Streamable HTTP server for DCC hosts and gateways.
//!
//! Register tools in a [`ToolRegistry`], wrap it in an [`McpHttpServer`], and [`start`](McpHttpServer::start)
//! it: the server binds at once (so a port in use is an error you can show) and serves `/mcp` on its own
//! thread and tokio runtime, so the host application needs no async runtime.
//!
//! ```
//! use std::sync::Arc;
//! use dcc_mcp_http::{McpHttpConfig, McpHttpServer, ToolContext, ToolRegistry, ToolSpec};
//! use serde_json::{json, Value};
//!
//! let registry = ToolRegistry::new();
//! registry
//!     .register_with_handler(
//!         ToolSpec::new("add")
//!             .description("Add two numbers")
//!             .input_schema(json!({
//!                 "type": "object",
//!                 "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
//!                 "required": ["a", "b"]
//!             })),
//!         Arc::new(|args: Value, _ctx: &ToolContext| {
//!             Ok(json!(args["a"].as_f64().unwrap_or(0.0) + args["b"].as_f64().unwrap_or(0.0)))
//!         }),
//!     )
//!     .unwrap();
//! let server = McpHttpServer::new(registry, McpHttpConfig { port: 0, ..Default::default() }).unwrap();
//! let handle = server.start().unwrap();
//! assert!(handle.mcp_url().starts_with("http://127.0.0.1:"));
//! handle.shutdown().unwrap();
//! ```
//!
//! The protocol rules (sessions, versions, batches, errors) are described in `docs/guide/server.md`.

mod app;
mod bearer;
mod body_budget;
mod cancel;
pub mod catalog;
pub mod catalog_events;
pub mod catalog_proxy;
mod catalog_route;
pub mod completion_providers;
mod config;
mod conn_budget;
mod content;
mod cors;
mod credentials;
mod dispatch;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod inband;
mod inflight;
#[cfg(feature = "workflow")]
mod job_tools;
#[cfg(feature = "workflow")]
mod jobs;
mod jwks;
mod jwt;
mod limits;
mod listen;
mod log_budget;
mod mcp;
#[cfg(feature = "prometheus")]
mod metrics;
mod mrtr;
mod oauth;
mod oauth_config;
mod offload;
mod origin;
mod outbox_budget;
mod panic;
mod peer;
mod prompt_inputs;
pub mod prompt_registry;
mod pump;
mod record;
mod registry;
mod replay;
mod reply;
mod request_context;
pub mod resource_registry;
mod schema;
mod serve;
mod server;
mod service;
mod session;
mod session_codec;
mod session_events;
mod session_order;
mod session_peer;
mod sse_frames;
mod state;
mod stateless;
mod stateless_http;
mod throttle;
mod tools;
mod trace;
pub mod uri_template;
mod warn_budget;

pub use catalog::Catalog;
pub use config::{BasicAuth, McpHttpConfig, MIN_RESPONSE_BYTES};
pub use content::{CallToolResult, CALL_TOOL_RESULT_KEY};
pub use credentials::BearerTokens;
/// The MCP wire protocol this server speaks (framing, versions, codes, result shapes).
pub use dcc_mcp_protocol as protocol;
pub use dcc_mcp_protocol::headers::{PROTOCOL_VERSION_HEADER, SESSION_ID_HEADER};
pub use dcc_mcp_protocol::tools::ASYNC_META_KEY;
pub use dcc_mcp_protocol::{LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS};
pub use dispatch::{MainThreadExecutor, PumpReport};
pub use error::{ConfigError, RegistryError, ServerError};
#[cfg(feature = "workflow")]
pub use jobs::JOB_LOGGER;
pub use limits::{
    DEFAULT_MAX_LOG_MESSAGES_PER_SEC, DEFAULT_MAX_PENDING_CLIENT_REQUESTS,
    DEFAULT_MAX_REQUEST_STATE_BYTES, DEFAULT_SYNC_CONCURRENCY, DEFAULT_SYNC_QUEUE_WAIT,
};
pub use mcp::SESSIONS_FULL_RETRY_AFTER_SECS;
pub use oauth_config::{
    JwksSource, OAuthConfig, DEFAULT_JWKS_REFRESH_INTERVAL, DEFAULT_OAUTH_LEEWAY,
};
pub use peer::{InputRequest, Pending};
pub use record::ClientRequestKind;
pub use registry::{
    AsyncToolHandler, Execution, Handler, ToolAnnotations, ToolContext, ToolError, ToolFuture,
    ToolHandler, ToolRegistry, ToolSpec, UnknownToolHint, MAX_TOOL_NAME_CHARS,
    PARAM_HEADER_KEYWORD,
};
pub use request_context::RequestContext;
pub use server::{McpHttpServer, McpServerHandle, ToolCallMetrics, ToolsListNotifier};
pub use session::OUTBOX_CAPACITY;
pub use session_codec::{SessionClaims, SessionCodec};
pub use tools::TOOLS_PAGE_SIZE;
