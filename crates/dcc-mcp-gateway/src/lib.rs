//! One MCP endpoint over many DCC hosts.
//!
//! A [`Gateway`] attaches to an [`McpHttpServer`](dcc_mcp_http::McpHttpServer): every backend's
//! tools appear in the server's `tools/list` as `NAME__tool` (merged, sorted by name, with the
//! backend's description, schemas, title and annotations), and a `tools/call` of `NAME__tool` is
//! sent to backend `NAME` over a pooled keep-alive client ([`dcc_mcp_client`]), its result handed
//! back unchanged. Each backend has a deadline and a concurrency budget of its own, so a slow
//! backend holds only its own slots; a backend that stops answering (failed calls, failed probes)
//! leaves `tools/list` with `notifications/tools/list_changed`, and comes back when it answers.
//!
//! Resources, templates and prompts are served the same way (`mcp-gateway://NAME/URI`,
//! `NAME__prompt`), with `resources/read`, `prompts/get` and `completion/complete` sent to the
//! owner; a backend's own `list_changed` notifications are followed. A call's log messages and
//! server→client requests (elicitation, sampling, roots) that the backend sends on the call's
//! response stream reach the downstream session that made the call. `/mcp/NAME` and
//! `/mcp/dcc/TYPE` serve one backend, or the backends of one DCC type, alone.
//!
//! Backends are static (`--backend NAME=URL`) or discovered in a directory where hosts write an
//! entry ([`discovery`]). The gateway's `/metrics` carries `dcc_mcp_gateway_*` families next to the
//! server's own per-tool families, which count the proxied `NAME__tool` calls like any tool.
//!
//! ```no_run
//! use dcc_mcp_gateway::{BackendSpec, Gateway, GatewayConfig};
//! use dcc_mcp_http::{McpHttpConfig, McpHttpServer, ToolRegistry};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = GatewayConfig {
//!     backends: vec![BackendSpec::parse("maya-01=http://127.0.0.1:8765/mcp")?],
//!     ..GatewayConfig::default()
//! };
//! let server_config = Gateway::server_config(McpHttpConfig { port: 9765, ..Default::default() }, &config);
//! let mut server = McpHttpServer::new(ToolRegistry::new(), server_config)?;
//! let mut gateway = Gateway::attach(config, &mut server)?;
//! let handle = server.start()?;
//! gateway.start()?;
//! // … `maya-01__create_sphere` is served at handle.mcp_url() …
//! gateway.shutdown();
//! handle.shutdown()?;
//! # Ok(())
//! # }
//! ```
//!
//! The topology, failure behaviour and metrics are described in `docs/guide/gateway.md`.

mod atomic_file;
mod backend;
mod catalog;
mod catalog_methods;
pub mod config;
pub mod discovery;
mod endpoints;
mod file_sd;
mod fleet;
mod follow;
mod gateway;
mod health;
pub mod metrics;
pub mod names;
mod proxy;
mod relay;
mod routes;
pub mod session_token;
mod surface;

pub use backend::{Health, Origin};
pub use catalog_methods::PAGE_SIZE;
pub use config::{BackendSpec, GatewayConfig, GatewayConfigError, SpecError};
pub use discovery::{Heartbeat, RegistryEntry};
pub use fleet::AddError;
pub use gateway::{Gateway, GatewayError};
pub use session_token::{SessionKeyError, SessionTokens};
pub use surface::MAX_CATALOG_ENTRIES;
