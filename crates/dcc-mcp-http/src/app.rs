//! The `/mcp` router: the HTTP transport's routes over the shared [`AppState`].

use std::sync::Arc;

use axum::routing::get;
use axum::Router;

use crate::state::AppState;

/// The full application router: `/mcp`, plus the `extra` routes of the adapters above this layer (the
/// Prometheus exporter's `/metrics`). A panic while handling any of its requests is answered `500`
/// (see [`crate::panic`]).
pub(crate) fn build_router(state: Arc<AppState>, extra: Router<Arc<AppState>>) -> Router {
    let mcp = get(crate::mcp::get_stream)
        .post(crate::mcp::post_message)
        .delete(crate::mcp::delete_session);
    // Authentication covers `/mcp` only: `/metrics` keeps its own Basic auth.
    let mcp = match crate::bearer::BearerGuard::new(&state.config.bearer_tokens) {
        Some(guard) => mcp.route_layer(axum::middleware::from_fn_with_state(
            crate::bearer::BearerLayerState::new(guard, state.recorder.clone()),
            crate::bearer::require_bearer,
        )),
        None => mcp,
    };
    let router = Router::new().route("/mcp", mcp);
    #[cfg(test)]
    let router = crate::panic::with_test_route(router);
    router
        .merge(extra)
        .with_state(state)
        .layer(crate::panic::layer())
}
