//! The `/mcp` router: the HTTP transport's routes over the shared [`AppState`].

use std::sync::Arc;

use axum::routing::get;
use axum::Router;

use crate::state::AppState;

/// The full application router: `/mcp`, plus the `extra` routes of the adapters above this layer (the
/// Prometheus exporter's `/metrics`). A panic while handling any of its requests is answered `500`
/// (see [`crate::panic`]). With `allowed_origins` set, CORS answers browsers (see [`crate::cors`]).
pub(crate) fn build_router(state: Arc<AppState>, extra: Router<Arc<AppState>>) -> Router {
    let mcp = get(crate::mcp::get_stream)
        .post(crate::mcp::post_message)
        .delete(crate::mcp::delete_session);
    // Authentication covers `/mcp` only: `/metrics` keeps its own Basic auth.
    let oauth = state
        .config
        .oauth
        .as_ref()
        .map(|c| Arc::new(crate::oauth::OAuthGuard::new(c)));
    let layer = crate::bearer::BearerLayerState::new(
        crate::bearer::BearerGuard::new(&state.config.bearer_tokens),
        oauth.clone(),
        state.recorder.clone(),
    );
    let mcp = match layer {
        Some(layer) => mcp.route_layer(axum::middleware::from_fn_with_state(
            layer,
            crate::bearer::require_bearer,
        )),
        None => mcp,
    };
    let mut router = Router::new().route("/mcp", mcp);
    // RFC 9728 metadata, unauthenticated, at the bare and the `/mcp`-suffixed well-known paths.
    if let Some(oauth) = oauth {
        let metadata = get(crate::oauth::protected_resource_metadata).with_state(oauth);
        router = router
            .route(crate::oauth::METADATA_PATH, metadata.clone())
            .route(&format!("{}/mcp", crate::oauth::METADATA_PATH), metadata);
    }
    #[cfg(test)]
    let router = crate::panic::with_test_route(router);
    let cors = crate::cors::enabled(&state.config).then(|| state.clone());
    let router = router.merge(extra).with_state(state);
    // CORS outside authentication: a browser's preflight carries no credentials.
    let router = match cors {
        Some(state) => router.layer(axum::middleware::from_fn_with_state(
            state,
            crate::cors::layer,
        )),
        None => router,
    };
    router.layer(crate::panic::layer())
}
