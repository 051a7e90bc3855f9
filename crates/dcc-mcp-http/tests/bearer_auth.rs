//! Static bearer tokens on `/mcp`, through the real router: exact statuses and challenges, the
//! `auth` refusals counted, failed logins throttled with `429`, and `/metrics` left to its own
//! Basic auth (throttled the same way).

#![cfg(feature = "prometheus")]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use base64::Engine as _;
use bytes::Bytes;
use dcc_mcp_http::{BasicAuth, BearerTokens, McpHttpConfig, McpHttpServer, ToolRegistry};
use http_body_util::BodyExt as _;
use serde_json::json;
use tower::ServiceExt as _;

fn router(basic: Option<BasicAuth>) -> Router {
    let config = McpHttpConfig {
        port: 0,
        enable_prometheus: true,
        prometheus_basic_auth: basic,
        bearer_tokens: BearerTokens::parse("# tokens\nfirst-token\n\nsecond.token\n"),
        ..McpHttpConfig::default()
    };
    McpHttpServer::new(ToolRegistry::new(), config)
        .unwrap()
        .router()
}

async fn send(router: &Router, req: Request<Body>) -> (StatusCode, HeaderMap, Bytes) {
    let resp = router.clone().oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes(),
    )
}

fn initialize(authorization: Option<&str>) -> Request<Body> {
    let msg = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "bearer_auth", "version": "0"}}});
    let mut req = Request::post("/mcp")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json, text/event-stream");
    if let Some(value) = authorization {
        req = req.header(header::AUTHORIZATION, value);
    }
    req.body(Body::from(msg.to_string())).unwrap()
}

async fn metric(router: &Router, basic: Option<&str>, reason: &str) -> f64 {
    let mut req = Request::get("/metrics");
    if let Some(value) = basic {
        req = req.header(header::AUTHORIZATION, value);
    }
    let (status, _, body) = send(router, req.body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body.to_vec()).unwrap();
    let prefix = format!("dcc_mcp_rejected_total{{reason=\"{reason}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
        .parse()
        .unwrap()
}

fn www_authenticate(headers: &HeaderMap) -> &str {
    headers[header::WWW_AUTHENTICATE].to_str().unwrap()
}

#[tokio::test]
async fn tokens_are_required_and_checked() {
    let router = router(None);
    assert_eq!(metric(&router, None, "auth").await, 0.0);
    assert_eq!(metric(&router, None, "auth_throttled").await, 0.0);

    let (status, headers, _) = send(&router, initialize(None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(www_authenticate(&headers), "Bearer realm=\"dcc-mcp\"");

    for wrong in [
        "Bearer first-tokenx",
        "Bearer",
        "Basic Zmlyc3QtdG9rZW4=",
        "Bearer a b",
    ] {
        let (status, headers, _) = send(&router, initialize(Some(wrong))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{wrong}");
        assert_eq!(
            www_authenticate(&headers),
            "Bearer realm=\"dcc-mcp\", error=\"invalid_token\"",
            "{wrong}"
        );
    }
    for good in ["Bearer first-token", "bearer second.token"] {
        let (status, headers, _) = send(&router, initialize(Some(good))).await;
        assert_eq!(status, StatusCode::OK, "{good}");
        assert!(headers.contains_key("mcp-session-id"));
    }
    // `/metrics` is not behind the bearer check.
    assert_eq!(metric(&router, None, "auth").await, 5.0);
    assert_eq!(metric(&router, None, "auth_throttled").await, 0.0);
}

#[tokio::test]
async fn failed_bearer_logins_are_throttled() {
    let router = router(None);
    // The burst is 10 failed logins; the router here has no peer address, so all share one bucket.
    for _ in 0..10 {
        let (status, _, _) = send(&router, initialize(Some("Bearer guess"))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // Then even the right token waits: a guesser cannot tell a hit while throttled.
    for attempt in ["Bearer guess", "Bearer first-token"] {
        let (status, headers, _) = send(&router, initialize(Some(attempt))).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{attempt}");
        assert_eq!(headers[header::RETRY_AFTER], "1");
    }
    assert_eq!(metric(&router, None, "auth").await, 10.0);
    assert_eq!(metric(&router, None, "auth_throttled").await, 2.0);
}

#[tokio::test]
async fn failed_basic_logins_on_metrics_are_counted_and_throttled() {
    let router = router(Some(BasicAuth::new("scraper", "pw")));
    let good = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("scraper:pw")
    );
    let bad = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("scraper:guess")
    );
    for _ in 0..10 {
        let req = Request::get("/metrics")
            .header(header::AUTHORIZATION, &bad)
            .body(Body::empty())
            .unwrap();
        let (status, _, _) = send(&router, req).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let req = Request::get("/metrics")
        .header(header::AUTHORIZATION, &good)
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = send(&router, req).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers[header::RETRY_AFTER], "1");
    // The bearer check on `/mcp` has a bucket of its own: it still answers 401, not 429.
    let (status, _, _) = send(&router, initialize(Some("Bearer guess"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
