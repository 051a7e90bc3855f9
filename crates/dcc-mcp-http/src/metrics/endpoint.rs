//! `GET /metrics` (and `HEAD`): Basic auth, a bound on concurrent scrapes, exact live gauges, the
//! format the scraper's `Accept` asks for (see [`super::negotiate`]), gzip when it accepts it.
//!
//! Order of checks: the `Host`/`Origin` rule (DNS rebinding: `403`; `/mcp`'s, and on every bind a
//! `Host` that is an IP literal, a loopback name, the bind host or an allowed origin's), then authentication
//! (cheap, and an unauthenticated client must not learn whether the server is busy; failed logins
//! are counted as `dcc_mcp_rejected_total{reason="auth"}` and throttled per client address by
//! [`crate::throttle`]: `429` with `Retry-After`, `reason="auth_throttled"`), then a scrape permit (`503` with `Retry-After` past
//! [`super::MAX_CONCURRENT_SCRAPES`]; Prometheus simply tries again on its next interval), then the
//! merge and encode. Nothing on this path can panic, and encoding into memory cannot fail.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::header::{
    ACCEPT, ACCEPT_ENCODING, AUTHORIZATION, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE,
    RETRY_AFTER, VARY, WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::{auth, negotiate, render, ServerMetrics};
use crate::record::Rejection;
use crate::serve::ClientAddr;
use crate::throttle::LoginThrottle;

/// The server's live counts, read at scrape time so the two gauges are exact.
pub(crate) trait LiveCounts: Send + Sync + 'static {
    /// Sessions opened and not yet ended (by `DELETE` or expiry).
    fn active_sessions(&self) -> usize;
    /// Tools currently registered (what `tools/list` returns).
    fn registered_tools(&self) -> usize;
    /// Outbox bytes, body bytes, open connections and open streams now (the budget gauges).
    fn budgets(&self) -> [usize; 4] {
        [0; 4]
    }
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
    throttle: Arc<LoginThrottle>,
}

/// The `/metrics` route, to be merged into the server's router.
pub(crate) fn routes<S>(metrics: Arc<ServerMetrics>, live: Arc<dyn LiveCounts>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(Endpoint {
            metrics,
            live,
            throttle: Arc::new(LoginThrottle::default()),
        })
}

async fn scrape(
    State(ep): State<Endpoint>,
    client: Option<axum::Extension<ClientAddr>>,
    headers: HeaderMap,
) -> Response {
    let metrics = &ep.metrics;
    // DNS rebinding first: a foreign page must learn nothing, not even whether auth is on.
    if let Err(message) = ep.live.check_host_and_origin(&headers) {
        return (StatusCode::FORBIDDEN, format!("403 {message}\n")).into_response();
    }
    if let Some(guard) = &metrics.auth {
        let addr = client.map(|c| c.0 .0.ip());
        let now = Instant::now();
        if let Err(wait) = ep.throttle.check(addr, now) {
            metrics.rejected(Rejection::AuthThrottled);
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(RETRY_AFTER, HeaderValue::from(wait.as_secs().max(1)))],
                "429 Too Many Requests: too many failed logins from this address; retry later\n",
            )
                .into_response();
        }
        if !guard.verify(headers.get(AUTHORIZATION)) {
            ep.throttle.failed(addr, now);
            metrics.rejected(Rejection::Auth);
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
    let accept: Vec<&str> = headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let format = negotiate::negotiate(&accept.join(","));
    metrics.set_budgets(ep.live.budgets());
    let body = metrics.render(
        ep.live.active_sessions(),
        ep.live.registered_tools(),
        format,
    );
    let gzip_ok = headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(render::accepts_gzip);
    let content_type = (
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    let vary = (VARY, HeaderValue::from_static("Accept, Accept-Encoding"));
    let no_store = (CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if gzip_ok {
        match render::gzip(&body) {
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
    ([content_type, vary, no_store], body).into_response()
}

impl LiveCounts for crate::state::AppState {
    fn active_sessions(&self) -> usize {
        self.live_sessions()
    }

    fn registered_tools(&self) -> usize {
        crate::state::AppState::registered_tools(self)
    }

    fn budgets(&self) -> [usize; 4] {
        [
            self.sessions.outbox_bytes(),
            self.body_budget.used(),
            self.conns.connections(),
            self.conns.streams(),
        ]
    }

    fn check_host_and_origin(&self, headers: &HeaderMap) -> Result<(), &'static str> {
        // Stricter than `/mcp`'s on non-loopback binds: the Host rule holds on every bind.
        crate::origin::check_metrics_host_and_origin(&self.config, headers)
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

    async fn get_with(
        router: &Router,
        accept: Option<&str>,
        accept_encoding: Option<&str>,
    ) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut req = Request::get("/metrics");
        if let Some(a) = accept {
            req = req.header(ACCEPT, a);
        }
        if let Some(e) = accept_encoding {
            req = req.header(ACCEPT_ENCODING, e);
        }
        let resp = router
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        (parts.status, parts.headers, body.to_vec())
    }

    /// Each `Accept` a scraper sends gets its format, with the exact `Content-Type`.
    #[tokio::test]
    async fn accept_picks_the_format_and_content_type() {
        let metrics = Arc::new(ServerMetrics::new(None).unwrap());
        let router: Router = routes(metrics, Arc::new(Fixed(2, 0)));
        let om = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        let proto = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        let cases = [
            (None, "text/plain; version=0.0.4; charset=utf-8"),
            (Some("text/plain"), "text/plain; version=0.0.4; charset=utf-8"),
            (Some(om), "application/openmetrics-text; version=1.0.0; charset=utf-8"),
            (
                Some("application/openmetrics-text"),
                "application/openmetrics-text; version=0.0.1; charset=utf-8",
            ),
            (
                Some(proto),
                "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited",
            ),
        ];
        for (accept, content_type) in cases {
            let (status, headers, body) = get_with(&router, accept, None).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(headers[CONTENT_TYPE], content_type, "{accept:?}");
            assert_eq!(headers[VARY], "Accept, Accept-Encoding");
            assert!(headers.get(CONTENT_ENCODING).is_none());
            if content_type.starts_with("text/plain") {
                let text = String::from_utf8(body).unwrap();
                assert!(text.contains("\ndcc_mcp_active_sessions 2\n"), "{text}");
                assert!(!text.contains("# EOF"));
            } else if content_type.starts_with("application/openmetrics-text") {
                let text = String::from_utf8(body).unwrap();
                assert!(
                    text.contains("\n# TYPE dcc_mcp_tool_calls counter\n"),
                    "{text}"
                );
                assert!(text.contains("\ndcc_mcp_active_sessions 2\n"), "{text}");
                assert!(text.ends_with("\n# EOF\n"), "{text}");
            } else {
                // Delimited: a varint length, then a MetricFamily whose field 1 is its name.
                let (len, name_len) = (body[0] as usize, body[2] as usize);
                assert!(len < 0x80 && body[1] == 0x0a, "{body:?}");
                assert!(body.len() > len + 1);
                let first = std::str::from_utf8(&body[3..3 + name_len]).unwrap();
                assert_eq!(first, "dcc_mcp_active_sessions");
            }
        }
    }

    /// gzip applies to every format.
    #[tokio::test]
    async fn openmetrics_is_gzipped_when_accepted() {
        use std::io::Read as _;
        let metrics = Arc::new(ServerMetrics::new(None).unwrap());
        let router: Router = routes(metrics, Arc::new(Fixed(0, 0)));
        let (_, headers, body) = get_with(
            &router,
            Some("application/openmetrics-text; version=1.0.0"),
            Some("gzip"),
        )
        .await;
        assert_eq!(headers[CONTENT_ENCODING], "gzip");
        assert_eq!(
            headers[CONTENT_TYPE],
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        );
        let mut text = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut text)
            .unwrap();
        assert!(text.ends_with("\n# EOF\n"), "{text}");
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
