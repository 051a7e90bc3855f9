//! The `/mcp` router: the HTTP transport's routes over the shared [`AppState`].

use std::sync::Arc;

use axum::routing::get;
use axum::Router;

use crate::state::AppState;

/// The full application router: `/mcp`, plus the `extra` routes of the adapters above this layer (the
/// Prometheus exporter's `/metrics`). A panic while handling any of its requests is answered `500`
/// (see [`crate::panic`]).
pub(crate) fn build_router(state: Arc<AppState>, extra: Router<Arc<AppState>>) -> Router {
    let router = Router::new().route(
        "/mcp",
        get(crate::mcp::get_stream)
            .post(crate::mcp::post_message)
            .delete(crate::mcp::delete_session),
    );
    #[cfg(test)]
    let router = crate::panic::with_test_route(router);
    router
        .merge(extra)
        .with_state(state)
        .layer(crate::panic::layer())
}
