//! `process_*` metrics on `GET /metrics`: exported by default with `enable_prometheus` on Linux,
//! absent when `enable_process_metrics` is off, and never exported on other platforms.
//!
//! The values themselves (RSS > 0, start time in the past, open fds <= max fds) are checked in
//! `metrics/process.rs` and, through a real `dcc-mcp-server` scraped by Prometheus, in
//! `tests/test_fleet.py`.

#![cfg(feature = "prometheus")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use dcc_mcp_http::{McpHttpConfig, McpHttpServer, ToolRegistry};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

/// The six standard families the issue asks for (the collector adds `process_threads` too).
const PROCESS_FAMILIES: [(&str, &str); 6] = [
    ("process_cpu_seconds_total", "counter"),
    ("process_resident_memory_bytes", "gauge"),
    ("process_virtual_memory_bytes", "gauge"),
    ("process_open_fds", "gauge"),
    ("process_max_fds", "gauge"),
    ("process_start_time_seconds", "gauge"),
];

async fn exposition(enable_process_metrics: bool) -> String {
    let config = McpHttpConfig {
        port: 0,
        enable_prometheus: true,
        enable_process_metrics,
        ..McpHttpConfig::default()
    };
    let server = McpHttpServer::new(ToolRegistry::new(), config).unwrap();
    let response = server
        .router()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

fn type_line(name: &str, kind: &str) -> String {
    format!("# TYPE {name} {kind}")
}

#[test]
fn on_by_default() {
    assert!(McpHttpConfig::default().enable_process_metrics);
}

#[tokio::test]
async fn exported_by_default_on_linux_only() {
    let text = exposition(true).await;
    for (name, kind) in PROCESS_FAMILIES {
        let present = text.lines().any(|l| l == type_line(name, kind));
        assert_eq!(present, cfg!(target_os = "linux"), "{name}:\n{text}");
    }
    // The server's own families are unaffected.
    assert!(text.lines().any(|l| l.starts_with("dcc_mcp_build_info{")));
}

#[tokio::test]
async fn absent_when_switched_off() {
    let text = exposition(false).await;
    assert!(
        !text.lines().any(|l| l.contains("process_")),
        "process_* exported although enable_process_metrics is off:\n{text}"
    );
}
