//! A hook for an embedder that answers the catalog methods (`resources/*`, `prompts/*`,
//! `completion/complete`) asynchronously, before the server's own [`Catalog`]: a gateway serves
//! the resources and prompts of its backends this way, reading them over the network.
//!
//! The hook decides per request: it returns a future for the methods (and names) it owns and
//! `None` for the rest, which the local catalog answers as before. It also adds capabilities to
//! `initialize` and `server/discover`, so a client learns that the server has resources, prompts or
//! completions even when the local catalog is empty.

use std::future::Future;
use std::pin::Pin;

use dcc_mcp_protocol::RpcError;
use serde_json::{Map, Value};

use crate::catalog::Catalog;

/// The outcome of one proxied catalog request.
pub type CatalogFuture = Pin<Box<dyn Future<Output = Result<Value, RpcError>> + Send + 'static>>;

/// Answers catalog methods before the local [`Catalog`] (see the module docs). Installed with
/// [`McpHttpServer::set_catalog_proxy`](crate::McpHttpServer::set_catalog_proxy).
pub trait CatalogProxy: Send + Sync + 'static {
    /// Capabilities to add to the handshake (`resources`, `prompts`, `completions`), merged over
    /// the local catalog's.
    fn capabilities(&self) -> Map<String, Value>;

    /// Answer `method` with `params`, or `None` to let `local` (the server's catalog) answer it.
    fn handle(
        &self,
        method: &str,
        params: Option<&Value>,
        local: &Catalog,
    ) -> Option<CatalogFuture>;
}
