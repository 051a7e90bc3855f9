//! Routing of the catalog methods: the installed [`CatalogProxy`] first, the server's own catalog
//! for what it declines, and the handshake capabilities of both.

use std::sync::Arc;

use dcc_mcp_protocol::RpcError;
use serde_json::{Map, Value};

use crate::catalog_proxy::CatalogProxy;
use crate::registry::ToolContext;
use crate::state::AppState;

/// The capabilities of the local catalog with the proxy's over them.
pub(crate) fn capabilities(state: &AppState) -> Map<String, Value> {
    let mut caps = state.config.catalog.capabilities();
    if let Some(proxy) = state.catalog_proxy() {
        caps.extend(proxy.capabilities());
    }
    caps
}

/// Answer a catalog method: the proxy when it takes the request, else the local catalog; `None`
/// when neither knows the method. `context` is what the local catalog's readers find with
/// [`ToolContext::for_catalog`] while they answer (`None`: a detached one).
pub(crate) async fn handle(
    state: &AppState,
    session: &str,
    method: &str,
    params: Option<&Value>,
    context: Option<ToolContext>,
) -> Option<Result<Value, RpcError>> {
    let proxy: Option<Arc<dyn CatalogProxy>> = state.catalog_proxy();
    if let Some(future) = proxy.and_then(|p| p.handle(method, params, &state.config.catalog)) {
        return Some(future.await);
    }
    let answer = || state.config.catalog.handle(session, method, params);
    match context {
        Some(context) => context.serving_catalog(answer),
        None => answer(),
    }
}
