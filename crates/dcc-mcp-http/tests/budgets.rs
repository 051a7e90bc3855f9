//! The budgets a client controls, each with its exact answer: batch length (`400`), response bytes
//! (`-32603` replies once the budget is reached, nothing past it runs), the strict JSON media type
//! (`415`), the `Host`/`Origin` rule on `/mcp` and `/metrics` (`403`), the body deadline (`408`), the
//! connection cap (`503` at accept), configuration validation, reserved tool names, and a stop that
//! tells running handlers before the drain. With `prometheus`, each refusal is counted once in
//! `dcc_mcp_rejected_total{reason}`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use common::*;
use dcc_mcp_http::{
    ConfigError, McpHttpConfig, McpHttpServer, McpServerHandle, RegistryError, ToolRegistry,
    ToolSpec,
};
use serde_json::{json, Value};

const BATCH_VERSION: &str = "2025-03-26";

fn config() -> McpHttpConfig {
    McpHttpConfig {
        port: 0,
        enable_prometheus: true,
        ..Default::default()
    }
}

async fn post_batch(router: &Router, session: &str, batch: &[Value]) -> Reply {
    let body = Value::Array(batch.to_vec()).to_string();
    send(
        router,
        post_request(Some(session), Some(BATCH_VERSION), body),
    )
    .await
}

/// `dcc_mcp_rejected_total{reason="…"}` from the router's `/metrics` (`None` without `prometheus`).
async fn rejected(router: &Router, reason: &str) -> Option<f64> {
    if !cfg!(feature = "prometheus") {
        return None;
    }
    let request = Request::get("/metrics")
        .header("host", "127.0.0.1")
        .body(Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(router.clone(), request)
        .await
        .unwrap();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let prefix = format!("dcc_mcp_rejected_total{{reason=\"{reason}\"}} ");
    let line = text.lines().find(|line| line.starts_with(&prefix)).unwrap();
    Some(line[prefix.len()..].parse().unwrap())
}

#[tokio::test]
async fn a_batch_past_max_batch_messages_is_refused_whole() {
    let server = server_with(
        test_registry(),
        McpHttpConfig {
            max_batch_messages: 3,
            ..config()
        },
    );
    let router = server.router();
    let session = initialize_at(&router, BATCH_VERSION).await;
    let calls = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|id| {
                json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                              "params": {"name": "echo", "arguments": {"text": "x"}}})
            })
            .collect()
    };
    let refused = post_batch(&router, &session, &calls(4)).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        refused.body,
        json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32600, "message":
            "Invalid Request: a batch may hold at most 3 messages (max_batch_messages); split it \
             into smaller batches"}})
    );
    let accepted = post_batch(&router, &session, &calls(3)).await;
    assert_eq!(accepted.status, StatusCode::OK);
    assert_eq!(accepted.body.as_array().unwrap().len(), 3);
    if let Some(count) = rejected(&router, "batch_too_large").await {
        assert_eq!(count, 1.0);
        // None of the refused batch ran: only the three accepted calls are counted.
        let text = metrics_text(&router).await;
        assert!(
            text.contains("dcc_mcp_tool_calls_total{status=\"success\",tool=\"echo\"} 3\n"),
            "{text}"
        );
    }
}

async fn metrics_text(router: &Router) -> String {
    let request = Request::get("/metrics").body(Body::empty()).unwrap();
    send_raw(router, request).await.1
}

async fn send_raw(router: &Router, request: Request<Body>) -> (StatusCode, String) {
    let response = tower::ServiceExt::oneshot(router.clone(), request)
        .await
        .unwrap();
    let status = response.status();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn a_batch_response_stops_growing_at_max_response_bytes() {
    let calls = Arc::new(AtomicUsize::new(0));
    let registry = test_registry();
    let counter = calls.clone();
    registry
        .register_with_handler(
            ToolSpec::new("blob"),
            handler(move |_, _| {
                counter.fetch_add(1, Ordering::SeqCst);
                Ok(json!("y".repeat(3000)))
            }),
        )
        .unwrap();
    let server = server_with(
        registry,
        McpHttpConfig {
            max_response_bytes: 10_000,
            ..config()
        },
    );
    let router = server.router();
    let session = initialize_at(&router, BATCH_VERSION).await;
    let batch: Vec<Value> = (0..10)
        .map(|id| {
            json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                          "params": {"name": "blob", "arguments": {}}})
        })
        .collect();
    let reply = post_batch(&router, &session, &batch).await;
    assert_eq!(reply.status, StatusCode::OK);
    let replies = reply.body.as_array().unwrap();
    assert_eq!(replies.len(), 10, "every request gets a reply");
    // Three ~3 KB results fit in 10 000 bytes; the fourth would not, so it and the rest are errors.
    let ok = replies
        .iter()
        .take_while(|r| r.get("result").is_some())
        .count();
    assert_eq!(ok, 3, "{}", reply.raw);
    for (id, error) in replies.iter().enumerate().skip(3) {
        assert_eq!(error["id"], id);
        assert_eq!(error["error"]["code"], -32603);
        assert_eq!(
            error["error"]["message"],
            "response too large: it would exceed max_response_bytes (10000 bytes); request less at \
             once (smaller batches, paging)"
        );
    }
    // The fourth ran (its size was only known afterwards); none after it did.
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    // Past the budget only the short errors were added.
    assert!(reply.raw.len() < 10_000 + 7 * 200, "{}", reply.raw.len());
    if let Some(count) = rejected(&router, "response_too_large").await {
        assert_eq!(count, 1.0);
    }

    // A single response past the budget is replaced by the same error.
    let single = json!({"jsonrpc": "2.0", "id": 99, "method": "tools/call",
                        "params": {"name": "echo", "arguments": {"text": "z".repeat(20_000)}}});
    let reply = send(
        &router,
        post_request(Some(&session), None, single.to_string()),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["id"], 99);
    assert_eq!(reply.body["error"]["code"], -32603);
    if let Some(count) = rejected(&router, "response_too_large").await {
        assert_eq!(count, 2.0);
    }
}

#[tokio::test]
async fn post_needs_exactly_the_json_media_type() {
    let server = server_with(test_registry(), config());
    let router = server.router();
    let session = initialize(&router).await;
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}).to_string();
    for content_type in [
        None,
        Some("application/jsonfoo"),
        Some("text/plain"),
        Some("application/json-seq"),
        Some(""),
    ] {
        let mut builder = Request::post("/mcp")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", session.as_str());
        if let Some(content_type) = content_type {
            builder = builder.header("content-type", content_type);
        }
        let reply = send(&router, builder.body(Body::from(ping.clone())).unwrap()).await;
        assert_eq!(
            reply.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}"
        );
        assert_eq!(reply.body["error"]["code"], -32600);
    }
    for content_type in [
        "application/json",
        "Application/JSON",
        "application/json; charset=utf-8",
    ] {
        let request = Request::post("/mcp")
            .header("content-type", content_type)
            .header("mcp-session-id", session.as_str())
            .body(Body::from(ping.clone()))
            .unwrap();
        assert_eq!(
            send(&router, request).await.status,
            StatusCode::OK,
            "{content_type}"
        );
    }
}

#[tokio::test]
async fn foreign_host_or_origin_is_refused_on_mcp_and_metrics() {
    let server = server_with(test_registry(), config());
    let router = server.router();
    for path in ["/mcp", "/metrics"] {
        if path == "/metrics" && !cfg!(feature = "prometheus") {
            continue;
        }
        for (name, value) in [
            ("host", "rebound.evil.example:8765"),
            ("origin", "http://rebound.evil.example"),
        ] {
            let request = Request::get(path)
                .header("accept", "text/event-stream")
                .header(name, value)
                .body(Body::empty())
                .unwrap();
            let (status, body) = send_raw(&router, request).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path} {name}");
            assert!(!body.contains("dcc_mcp_"), "{body}");
        }
        let request = Request::get(path)
            .header("accept", "text/event-stream")
            .header("host", "localhost:8765")
            .body(Body::empty())
            .unwrap();
        let (status, _) = send_raw(&router, request).await;
        assert_ne!(status, StatusCode::FORBIDDEN, "{path}");
    }
}

#[test]
fn budgets_are_validated() {
    for (config, expected) in [
        (
            McpHttpConfig {
                max_batch_messages: 0,
                ..Default::default()
            },
            ConfigError::ZeroLimit {
                field: "max_batch_messages",
            },
        ),
        (
            McpHttpConfig {
                max_connections: 0,
                ..Default::default()
            },
            ConfigError::ZeroLimit {
                field: "max_connections",
            },
        ),
        (
            McpHttpConfig {
                max_sessions_per_client: 0,
                ..Default::default()
            },
            ConfigError::ZeroLimit {
                field: "max_sessions_per_client",
            },
        ),
        (
            McpHttpConfig {
                max_response_bytes: 4095,
                ..Default::default()
            },
            ConfigError::LimitTooSmall {
                field: "max_response_bytes",
                min: 4096,
            },
        ),
        (
            McpHttpConfig {
                body_read_timeout: Duration::ZERO,
                ..Default::default()
            },
            ConfigError::ZeroDuration {
                field: "body_read_timeout",
            },
        ),
        (
            McpHttpConfig {
                write_timeout: Duration::ZERO,
                ..Default::default()
            },
            ConfigError::ZeroDuration {
                field: "write_timeout",
            },
        ),
    ] {
        assert_eq!(config.validate(), Err(expected));
    }
    assert_eq!(
        ConfigError::LimitTooSmall {
            field: "max_response_bytes",
            min: 4096
        }
        .to_string(),
        "max_response_bytes is below 4096: it must be at least 4096"
    );
}

#[test]
fn reserved_tool_names_are_refused() {
    let registry = ToolRegistry::new();
    for name in ["<unknown>", "jobs.get", "jobs.mine"] {
        let error = registry.register(ToolSpec::new(name)).unwrap_err();
        assert!(
            matches!(&error, RegistryError::ReservedName { name: n, .. } if n == name),
            "{error:?}"
        );
    }
    assert_eq!(
        registry
            .register(ToolSpec::new("<unknown>"))
            .unwrap_err()
            .to_string(),
        "tool name \"<unknown>\" is reserved: it is the metrics label of calls to unknown tools; \
         pick another name"
    );
    assert_eq!(
        registry
            .register(ToolSpec::new("jobs.x"))
            .unwrap_err()
            .to_string(),
        "tool name \"jobs.x\" is reserved: the `jobs.` prefix belongs to the built-in job tools; \
         pick another name"
    );
    assert!(registry.register(ToolSpec::new("jobs")).is_ok());
    assert!(registry.register(ToolSpec::new("my.jobs.x")).is_ok());
    assert_eq!(registry.len(), 2);
}

// ---- real sockets --------------------------------------------------------------------------------

fn connect(handle: &McpServerHandle) -> TcpStream {
    let stream = TcpStream::connect(handle.local_addr()).unwrap();
    stream.set_read_timeout(Some(HANG_GUARD)).unwrap();
    stream
}

fn read_all(stream: &mut TcpStream) -> String {
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

fn initialize_socket(handle: &McpServerHandle) -> String {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                      "params": {"protocolVersion": "2025-06-18"}})
    .to_string();
    let mut stream = connect(handle);
    write!(
        stream,
        "POST /mcp HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let response = read_all(&mut stream);
    response
        .lines()
        .find_map(|line| line.strip_prefix("mcp-session-id: "))
        .unwrap()
        .to_owned()
}

#[test]
fn a_body_that_does_not_arrive_in_time_gets_408_and_the_connection_closes() {
    let server = McpHttpServer::new(
        test_registry(),
        McpHttpConfig {
            body_read_timeout: Duration::from_millis(300),
            header_read_timeout: Duration::from_secs(600),
            ..config()
        },
    )
    .unwrap();
    let handle = server.start().unwrap();
    let mut stream = connect(&handle);
    // Headers, then 10 bytes of a 1 MB body, then nothing.
    stream
        .write_all(
            b"POST /mcp HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
              content-length: 1000000\r\n\r\n[{\"jsonrpc",
        )
        .unwrap();
    let response = read_all(&mut stream);
    assert!(
        response.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{response}"
    );
    assert!(response.contains("\r\nconnection: close\r\n"), "{response}");
    assert!(
        response.contains("the request body did not arrive within 0.300 s (body_read_timeout)"),
        "{response}"
    );
    handle.shutdown().unwrap();
}

#[test]
fn at_max_connections_an_idle_connection_is_shed_for_the_newcomer() {
    let server = McpHttpServer::new(
        test_registry(),
        McpHttpConfig {
            max_connections: 2,
            ..config()
        },
    )
    .unwrap();
    let handle = server.start().unwrap();
    let held = [connect(&handle), connect(&handle)];
    // A connection idle for less than a second is a client between two calls: never shed. Past
    // that, both slots hold silent connections; the newcomer is served and one of them is closed.
    std::thread::sleep(Duration::from_millis(1100));
    let mut third = connect(&handle);
    write!(
        third,
        "GET /metrics HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let response = read_all(&mut third);
    assert!(response.starts_with("HTTP/1.1 "), "{response}");
    assert!(!response.starts_with("HTTP/1.1 503"), "{response}");
    for stream in &held {
        stream.set_nonblocking(true).unwrap();
    }
    let closed = |stream: &TcpStream| matches!(stream.peek(&mut [0u8; 1]), Ok(0));
    let deadline = Instant::now() + HANG_GUARD;
    while !held.iter().any(closed) {
        assert!(Instant::now() < deadline, "no idle connection was shed");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Exactly one was shed; the other still waits (no byte, no end of stream).
    assert_eq!(held.iter().filter(|stream| closed(stream)).count(), 1);
    let open = held.iter().find(|stream| !closed(stream)).unwrap();
    assert_eq!(
        open.peek(&mut [0u8; 1]).map_err(|error| error.kind()),
        Err(std::io::ErrorKind::WouldBlock)
    );
    handle.shutdown().unwrap();
}

#[test]
fn stopping_tells_running_handlers_before_the_drain() {
    let (entered_tx, entered_rx) = mpsc::channel::<()>();
    let entered_tx = Mutex::new(entered_tx);
    let registry = ToolRegistry::new();
    registry
        .register_with_handler(
            ToolSpec::new("wait"),
            handler(move |_, ctx| {
                let _ = entered_tx.lock().unwrap().send(());
                let give_up = Instant::now() + HANG_GUARD;
                while !ctx.is_cancelled() && Instant::now() < give_up {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Ok(json!(if ctx.is_cancelled() {
                    "told to stop"
                } else {
                    "never told"
                }))
            }),
        )
        .unwrap();
    let server = McpHttpServer::new(
        registry,
        McpHttpConfig {
            // The drain is long: only a stop that flags handlers first lets the call answer.
            shutdown_timeout: HANG_GUARD,
            ..config()
        },
    )
    .unwrap();
    let handle = server.start().unwrap();
    let session = initialize_socket(&handle);
    let mut stream = connect(&handle);
    let body = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                      "params": {"name": "wait", "arguments": {}}})
    .to_string();
    write!(
        stream,
        "POST /mcp HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\ncontent-type: application/json\r\n\
         mcp-session-id: {session}\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    entered_rx.recv_timeout(HANG_GUARD).unwrap();
    handle.shutdown().unwrap();
    let response = read_all(&mut stream);
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.contains("told to stop"), "{response}");
}
