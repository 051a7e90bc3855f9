//! An MCP client over Streamable HTTP, on hyper-util's pooled keep-alive HTTP/1.1 client.
//!
//! It exists so the server's own tests, the load generator and the gateway speak MCP through one
//! implementation of the protocol instead of each writing HTTP by hand, and it shares its protocol
//! model (`dcc-mcp-protocol`) with the server.
//!
//! What it does:
//! - **sessions** (2025-03-26, 2025-06-18, 2025-11-25): `initialize`, version check,
//!   `Mcp-Session-Id` and `MCP-Protocol-Version` on every later request, `DELETE` on close;
//! - **the stateless 2026-07-28 revision** ([`ProtocolMode::Stateless`], or [`ProtocolMode::Auto`],
//!   which falls back to sessions when the server does not know `server/discover`): `_meta`
//!   protocol version and capabilities on each request, `Mcp-Method`/`Mcp-Name` headers;
//! - **concurrent requests** on one client, matched by id, each on a pooled connection;
//!   notifications;
//! - **JSON or SSE** answers to a `POST`, and the `GET` SSE stream, with server→client requests
//!   answered by a [`ClientHandler`] (or [`Callbacks`]) and the answers POSTed back;
//! - **progress** per request ([`RequestOptions::on_progress`]);
//! - **cancellation**: a dropped request future, a cancelled token or a timeout sends
//!   `notifications/cancelled`;
//! - **clear errors** ([`ClientError`]): HTTP refusals with the server's message, an unknown
//!   session, JSON-RPC errors, timeouts.
//!
//! # Quick start
//!
//! ```
//! use dcc_mcp_client::{ClientConfig, McpClient};
//! use dcc_mcp_http::{McpHttpConfig, McpHttpServer, ToolRegistry, ToolSpec};
//! use serde_json::json;
//! use std::sync::Arc;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A server with one tool (any MCP server will do).
//! let registry = ToolRegistry::new();
//! registry.register_with_handler(
//!     ToolSpec::new("echo"),
//!     Arc::new(|args: serde_json::Value, _: &dcc_mcp_http::ToolContext| Ok(args["text"].clone())),
//! )?;
//! let server = McpHttpServer::new(registry, McpHttpConfig { port: 0, ..Default::default() })?.start()?;
//!
//! let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! runtime.block_on(async {
//!     let client = McpClient::connect(ClientConfig::new(server.mcp_url())).await?;
//!     assert_eq!(client.protocol_version().as_str(), "2025-11-25");
//!     let tools = client.list_all_tools().await?;
//!     assert_eq!(tools[0]["name"], "echo");
//!     let result = client.call_tool("echo", json!({"text": "hello"})).await?;
//!     assert_eq!(result.text(), Some("hello"));
//!     client.close().await?; // DELETE: the session ends
//!     Ok::<_, dcc_mcp_client::ClientError>(())
//! })?;
//! server.shutdown()?;
//! # Ok(())
//! # }
//! ```

mod client;
mod config;
mod error;
mod handler;
mod request;
mod results;
mod shared;
mod sse;
mod stream;
mod transport;

pub use client::McpClient;
pub use config::{ClientConfig, ProtocolMode};
pub use dcc_mcp_protocol::initialize::Implementation;
pub use dcc_mcp_protocol::{Era, ProtocolVersion, RpcError};
pub use error::ClientError;
pub use handler::{
    BoxFuture, Callbacks, ClientHandler, HandlerResult, NoHandler, ServerRequest,
    ELICITATION_CREATE, ROOTS_LIST, SAMPLING_CREATE_MESSAGE,
};
pub use request::RequestOptions;
pub use results::{CallToolResult, ToolsPage};
pub use shared::{Progress, ProgressFn, ResponseFraming};
pub use sse::{SseEvent, SseParser};
pub use tokio_util::sync::CancellationToken;
