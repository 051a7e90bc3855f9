//! What a browser meets: CORS when `allowed_origins` names origins (a preflight answered before
//! authentication, `Mcp-Session-Id` exposed to the page), and the DNS-rebinding `Host` rule of
//! `/metrics` on a non-loopback bind. Every header is checked exactly.

#![cfg(feature = "prometheus")]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use common::*;
use dcc_mcp_http::{BearerTokens, McpHttpConfig};
use serde_json::json;
use tower::ServiceExt;

const STUDIO: &str = "https://studio.example";

fn router(config: McpHttpConfig) -> (dcc_mcp_http::McpHttpServer, Router) {
    let server = server_with(test_registry(), config);
    let router = server.router();
    (server, router)
}

async fn raw(router: &Router, request: Request<Body>) -> axum::http::Response<Body> {
    tokio::time::timeout(HANG_GUARD, router.clone().oneshot(request))
        .await
        .expect("hang guard")
        .unwrap()
}

fn preflight(origin: &str) -> Request<Body> {
    Request::options("/mcp")
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type, mcp-session-id",
        )
        .body(Body::empty())
        .unwrap()
}

fn header<'a>(response: &'a axum::http::Response<Body>, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

fn initialize_body() -> String {
    json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}
    }})
    .to_string()
}

#[tokio::test]
async fn allowed_origins_get_cors_with_the_session_header_exposed() {
    let (_server, router) = router(McpHttpConfig {
        allowed_origins: vec![STUDIO.into()],
        // The preflight is answered before authentication: it never carries the token.
        bearer_tokens: BearerTokens::parse("secret-token\n"),
        ..Default::default()
    });
    let response = raw(&router, preflight(STUDIO)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        header(&response, "access-control-allow-origin"),
        Some(STUDIO)
    );
    assert_eq!(
        header(&response, "access-control-allow-methods"),
        Some("GET, POST, DELETE")
    );
    assert_eq!(
        header(&response, "access-control-allow-headers"),
        Some("Accept, Authorization, Content-Type, Last-Event-ID, Mcp-Protocol-Version, Mcp-Session-Id")
    );
    assert_eq!(header(&response, "access-control-max-age"), Some("600"));
    assert_eq!(header(&response, "vary"), Some("Origin"));

    let mut request = post_request(None, None, initialize_body());
    request
        .headers_mut()
        .insert("origin", STUDIO.parse().unwrap());
    request
        .headers_mut()
        .insert("authorization", "Bearer secret-token".parse().unwrap());
    let response = raw(&router, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(&response, "access-control-allow-origin"),
        Some(STUDIO)
    );
    assert_eq!(
        header(&response, "access-control-expose-headers"),
        Some("Mcp-Session-Id, Mcp-Protocol-Version, WWW-Authenticate")
    );
    assert!(header(&response, "mcp-session-id").is_some());
    let vary: Vec<&str> = response
        .headers()
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(vary.contains(&"Origin"), "{vary:?}");

    // A refusal is readable by the page too (the challenge is exposed).
    let mut request = post_request(None, None, initialize_body());
    request
        .headers_mut()
        .insert("origin", STUDIO.parse().unwrap());
    let response = raw(&router, request).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&response, "access-control-allow-origin"),
        Some(STUDIO)
    );
    assert!(header(&response, "www-authenticate").is_some());
}

#[tokio::test]
async fn a_foreign_origin_gets_no_cors_and_its_preflight_is_refused() {
    let (_server, router) = router(McpHttpConfig {
        allowed_origins: vec![STUDIO.into()],
        ..Default::default()
    });
    let response = raw(&router, preflight("https://evil.example")).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(header(&response, "access-control-allow-origin"), None);
    let mut request = post_request(None, None, initialize_body());
    request
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    let response = raw(&router, request).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(header(&response, "access-control-allow-origin"), None);
    assert_eq!(header(&response, "access-control-expose-headers"), None);
}

#[tokio::test]
async fn without_allowed_origins_there_is_no_cors() {
    let (_server, router) = router(McpHttpConfig::default());
    let response = raw(&router, preflight("http://localhost:3000")).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&response, "access-control-allow-origin"), None);
    let mut request = post_request(None, None, initialize_body());
    request
        .headers_mut()
        .insert("origin", "http://localhost:3000".parse().unwrap());
    let response = raw(&router, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn metrics_refuses_a_rebound_host_on_a_non_loopback_bind() {
    let (_server, router) = router(McpHttpConfig {
        host: "0.0.0.0".into(),
        enable_prometheus: true,
        ..Default::default()
    });
    let scrape = |host: &str| {
        Request::get("/metrics")
            .header("host", host)
            .body(Body::empty())
            .unwrap()
    };
    for host in [
        "evil.example",
        "evil.example:8765",
        "10.0.0.5.nip.evil:8765",
    ] {
        let response = raw(&router, scrape(host)).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{host}");
    }
    for host in [
        "10.0.0.5:8765",
        "192.168.1.20",
        "[fe80::1]:8765",
        "localhost:8765",
    ] {
        let response = raw(&router, scrape(host)).await;
        assert_eq!(response.status(), StatusCode::OK, "{host}");
    }
}
