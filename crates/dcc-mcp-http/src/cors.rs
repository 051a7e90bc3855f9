//! CORS for browser clients, when `allowed_origins` names origins.
//!
//! Why: the Origin rule ([`crate::origin`]) lets a configured origin's requests through, but a browser
//! only hands a cross-origin response to the page when the response says it may, and it only lets the
//! page read `Mcp-Session-Id` (which every later request must carry) when the response exposes it.
//! Without CORS, `allowed_origins` could not serve a browser client at all.
//!
//! With `allowed_origins` empty this layer does nothing (same-origin and non-browser clients need no
//! CORS). Otherwise, for a request whose `Origin` the Origin rule allows:
//! - a preflight (`OPTIONS` with `Access-Control-Request-Method`) is answered `204` here, before
//!   authentication (a preflight never carries credentials), with the allowed methods and headers;
//! - every other response gets `Access-Control-Allow-Origin: <origin>` and
//!   `Access-Control-Expose-Headers: Mcp-Session-Id, Mcp-Protocol-Version, WWW-Authenticate`.
//!
//! A preflight from an origin that is not allowed is answered `403`; every response varies on
//! `Origin`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN,
    VARY,
};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::McpHttpConfig;
use crate::origin::origin_allowed;
use crate::state::AppState;

/// Methods of `/mcp` a browser may use.
pub(crate) const ALLOW_METHODS: &str = "GET, POST, DELETE";

/// Request headers an MCP browser client sends.
pub(crate) const ALLOW_HEADERS: &str =
    "Accept, Authorization, Content-Type, Last-Event-ID, Mcp-Protocol-Version, Mcp-Session-Id";

/// Response headers the page may read: the session id, the negotiated version, the auth challenge.
pub(crate) const EXPOSE_HEADERS: &str = "Mcp-Session-Id, Mcp-Protocol-Version, WWW-Authenticate";

/// How long a browser may cache a preflight answer, in seconds.
const MAX_AGE_SECS: u32 = 600;

/// True when the configuration asks for CORS (some origin is allowed explicitly).
pub(crate) fn enabled(config: &McpHttpConfig) -> bool {
    !config.allowed_origins.is_empty()
}

/// The middleware (installed only when [`enabled`]).
pub(crate) async fn layer(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let config = &state.config;
    let origin = request.headers().get(ORIGIN).cloned();
    let Some(origin) = origin else {
        return next.run(request).await;
    };
    let allowed = origin
        .to_str()
        .is_ok_and(|value| origin_allowed(config, value));
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = match (preflight, allowed) {
        (true, true) => {
            let mut response = StatusCode::NO_CONTENT.into_response();
            let headers = response.headers_mut();
            headers.insert(
                ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(ALLOW_METHODS),
            );
            headers.insert(
                ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(ALLOW_HEADERS),
            );
            headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from(MAX_AGE_SECS));
            response
        }
        (true, false) => (
            StatusCode::FORBIDDEN,
            Body::from("403 Forbidden: Origin not allowed (add it to allowed_origins)\n"),
        )
            .into_response(),
        (false, _) => next.run(request).await,
    };
    let headers = response.headers_mut();
    headers.append(VARY, HeaderValue::from_static("Origin"));
    if allowed {
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
    }
    response
}
