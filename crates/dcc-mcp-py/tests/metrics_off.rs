//! The Python build without the `prometheus` feature, tested in Rust.
//!
//! Issue: a wheel built without `prometheus` must accept `enable_prometheus=True` and
//! `prometheus_basic_auth=(…)` and answer `GET /metrics` with 404. We test that code path here
//! rather than with a second wheel build in the Python suite: the binding only forwards the flags
//! (through the same `convert` functions used below) to `dcc_mcp_http::McpHttpServer`, and whether
//! `/metrics` exists is decided at compile time inside `dcc-mcp-http`. A second `maturin` build would
//! cost about a minute of CI on 2 cores to re-test the same Rust; this test costs a few seconds and
//! runs in `cargo test -p dcc-mcp-py` (no Python needed). The Python suite covers the same case
//! (`test_metrics_404_without_the_feature_even_when_enabled`) whenever the installed wheel lacks the
//! feature. With the feature on, this test checks the opposite: the same config yields 401/200.

// Test helpers may unwrap: a failure there is a failed test, not a dead worker.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;

use _core::convert;
use dcc_mcp_http::{McpHttpConfig, McpHttpServer, ToolRegistry};

/// The configuration `McpHttpConfig(port=0, enable_prometheus=True,
/// prometheus_basic_auth=("scraper", "change-me"))` builds in Python.
fn python_equivalent_config() -> McpHttpConfig {
    let config = McpHttpConfig {
        port: convert::port(0).unwrap(),
        enable_prometheus: true,
        prometheus_basic_auth: Some(convert::basic_auth("scraper", "change-me").unwrap()),
        ..McpHttpConfig::default()
    };
    config.validate().unwrap();
    config
}

/// Sends one HTTP/1.1 GET and returns the status line and the raw response.
fn get(addr: std::net::SocketAddr, path: &str, authorization: Option<&str>) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let auth = authorization
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.lines().next().unwrap_or_default().to_owned();
    (status, response)
}

// base64("scraper:change-me")
const GOOD_CREDENTIALS: &str = "Basic c2NyYXBlcjpjaGFuZ2UtbWU=";

#[test]
fn flags_are_accepted_and_metrics_route_matches_the_build() {
    let server = McpHttpServer::new(ToolRegistry::new(), python_equivalent_config()).unwrap();
    assert!(server.config().enable_prometheus);
    let handle = server.start().unwrap();
    let addr = handle.local_addr();

    let (without_auth, _) = get(addr, "/metrics", None);
    let (with_auth, body) = get(addr, "/metrics", Some(GOOD_CREDENTIALS));

    if cfg!(feature = "prometheus") {
        assert_eq!(without_auth, "HTTP/1.1 401 Unauthorized");
        assert_eq!(with_auth, "HTTP/1.1 200 OK");
        assert!(body.contains("# TYPE dcc_mcp_build_info gauge"), "{body}");
    } else {
        assert_eq!(without_auth, "HTTP/1.1 404 Not Found");
        assert_eq!(with_auth, "HTTP/1.1 404 Not Found");
        assert!(!body.contains("dcc_mcp_"), "{body}");
    }
    handle.shutdown().unwrap();
}

#[test]
fn feature_list_matches_the_build() {
    assert_eq!(
        convert::FEATURES.contains(&"prometheus"),
        cfg!(feature = "prometheus")
    );
    assert_eq!(
        convert::FEATURES.contains(&"workflow"),
        cfg!(feature = "workflow")
    );
}
