//! `GET /metrics` (and `HEAD`): Basic auth, a bound on concurrent scrapes, exact live gauges,
//! gzip when the scraper accepts it.
//!
//! Order of checks: the `Host`/`Origin` rule of `/mcp` (DNS rebinding: `403`), then authentication
//! (cheap, and an unauthenticated client must not learn whether the server is busy), then a scrape permit (`503` with `Retry-After` past
//! [`super::MAX_CONCURRENT_SCRAPES`]; Prometheus simply tries again on its next interval), then the
//! merge and encode. Nothing on this path can panic; an encoder error is a logged `500` without
//! details.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::{
    ACCEPT_ENCODING, AUTHORIZATION, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER,
    VARY, WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::{auth, render, ServerMetrics};

/// The server's live counts, read at scrape time so the two gauges are exact.
pub(crate) trait LiveCounts: Send + Sync + 'static {
    /// Sessions opened and not yet ended (by `DELETE` or expiry).
    fn active_sessions(&self) -> usize;
    /// Tools currently registered (what `tools/list` returns).
    fn registered_tools(&self) -> usize;
    /// The server's `Host`/`Origin` rule (the same as `/mcp`'s); `Err` is the `403` message.
    fn check_host_and_origin(&self, headers: &HeaderMap) -> Result<(), &'static str> {
        let _ = headers;
        Ok(())
    }
}

#[derive(Clone)]
struct Endpoint {
    metrics: Arc<ServerMetrics>,
    live: Arc<dyn LiveCounts>,
}

/// The `/metrics` route, to be merged into the server's router.
pub(crate) fn routes<S>(metrics: Arc<ServerMetrics>, live: Arc<dyn LiveCounts>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(Endpoint { metrics, live })
}

async fn scrape(State(ep): State<Endpoint>, headers: HeaderMap) -> Response {
    let metrics = &ep.metrics;
    // DNS rebinding first: a foreign page must learn nothing, not even whether auth is on.
    if let Err(message) = ep.live.check_host_and_origin(&headers) {
        return (StatusCode::FORBIDDEN, format!("403 {message}\n")).into_response();
    }
    if let Some(guard) = &metrics.auth {
        if !guard.verify(headers.get(AUTHORIZATION)) {
            return (
                StatusCode::UNAUTHORIZED,
                [(WWW_AUTHENTICATE, HeaderValue::from_static(auth::CHALLENGE))],
                "401 Unauthorized: /metrics needs the configured Basic auth credentials\n",
            )
                .into_response();
        }
    }
    let Ok(_permit) = metrics.scrapes.try_acquire() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(RETRY_AFTER, HeaderValue::from_static("1"))],
            "503 Service Unavailable: too many concurrent scrapes\n",
        )
            .into_response();
    };
    let text = match metrics.render(ep.live.active_sessions(), ep.live.registered_tools()) {
        Ok(text) => text,
        Err(err) => {
            tracing::error!(error = %err, "encoding /metrics failed");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "500 Internal Server Error: metrics encoding failed (see the server log)\n",
            )
                .into_response();
        }
    };
    let gzip_ok = headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(render::accepts_gzip);
    let content_type = (CONTENT_TYPE, HeaderValue::from_static(render::CONTENT_TYPE));
    let vary = (VARY, HeaderValue::from_static("Accept-Encoding"));
    let no_store = (CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if gzip_ok {
        match render::gzip(text.as_bytes()) {
            Ok(body) => {
                return (
                    [
                        content_type,
                        (CONTENT_ENCODING, HeaderValue::from_static("gzip")),
                        vary,
                        no_store,
                    ],
                    body,
                )
                    .into_response()
            }
            // Writing into a Vec cannot fail in practice; fall back to identity if it does.
            Err(err) => tracing::warn!(error = %err, "gzip of /metrics failed; sending identity"),
        }
    }
    ([content_type, vary, no_store], text).into_response()
}

impl LiveCounts for crate::state::AppState {
    fn active_sessions(&self) -> usize {
        self.live_sessions()
    }

    fn registered_tools(&self) -> usize {
        crate::state::AppState::registered_tools(self)
    }

    fn check_host_and_origin(&self, headers: &HeaderMap) -> Result<(), &'static str> {
        crate::origin::check_host_and_origin(&self.config, headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;

    struct Fixed(usize, usize);

    impl LiveCounts for Fixed {
        fn active_sessions(&self) -> usize {
            self.0
        }
        fn registered_tools(&self) -> usize {
            self.1
        }
    }

    async fn get(router: &Router) -> (StatusCode, HeaderMap, String) {
        let req = Request::get("/metrics").body(Body::empty()).unwrap();
        let resp = router.clone().oneshot(req).await.unwrap();
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        (
            parts.status,
            parts.headers,
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    #[tokio::test]
    async fn scrapes_past_the_bound_get_503_then_recover() {
        let metrics = Arc::new(ServerMetrics::new(None).unwrap());
        let router: Router = routes(metrics.clone(), Arc::new(Fixed(7, 11)));
        let held = metrics
            .scrapes
            .try_acquire_many(super::super::MAX_CONCURRENT_SCRAPES as u32)
            .unwrap();
        let (status, headers, _) = get(&router).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(headers[RETRY_AFTER], "1");
        drop(held);
        let (status, _, text) = get(&router).await;
        assert_eq!(status, StatusCode::OK);
        assert!(text.contains("\ndcc_mcp_active_sessions 7\n"), "{text}");
        assert!(text.contains("\ndcc_mcp_registered_tools 11\n"), "{text}");
    }

    #[tokio::test]
    async fn auth_is_checked_before_the_scrape_bound() {
        let auth = crate::BasicAuth::new("u", "p");
        let metrics = Arc::new(ServerMetrics::new(Some(&auth)).unwrap());
        let router: Router = routes(metrics.clone(), Arc::new(Fixed(0, 0)));
        let _held = metrics
            .scrapes
            .try_acquire_many(super::super::MAX_CONCURRENT_SCRAPES as u32)
            .unwrap();
        let (status, headers, _) = get(&router).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(headers[WWW_AUTHENTICATE], auth::CHALLENGE);
    }
}
