//! Real sockets: binding rules, header-read timeout (a client sending one byte at a time, a client
//! sending nothing), graceful shutdown within its deadline while slow clients and SSE streams are open.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;
use dcc_mcp_http::{McpHttpConfig, McpHttpServer, McpServerHandle, ServerError, ToolRegistry};
use serde_json::{json, Value};

fn quick_config() -> McpHttpConfig {
    McpHttpConfig {
        port: 0,
        header_read_timeout: Duration::from_millis(300),
        shutdown_timeout: Duration::from_millis(500),
        ..Default::default()
    }
}

fn connect(handle: &McpServerHandle) -> TcpStream {
    let stream = TcpStream::connect(handle.local_addr()).unwrap();
    stream.set_read_timeout(Some(HANG_GUARD)).unwrap();
    stream
}

/// One HTTP/1.1 request on a fresh connection; returns (status, headers text, body).
fn http(
    handle: &McpServerHandle,
    method: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let mut stream = connect(handle);
    let mut request = format!(
        "{method} /mcp HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n",
        handle.bind_addr()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!(
        "content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    ));
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_owned(), body.to_owned())
}

fn initialize(handle: &McpServerHandle) -> String {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18"}});
    let (status, head, _) = http(handle, "POST", &[], &body.to_string());
    assert_eq!(status, 200);
    head.lines()
        .find_map(|line| line.strip_prefix("mcp-session-id: "))
        .unwrap()
        .to_owned()
}

/// Reads until EOF or a reset; true when the server closed the connection.
fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buffer = [0u8; 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(error) if error.kind() == ErrorKind::ConnectionReset => return true,
            Err(error) => panic!("unexpected read error (hang guard?): {error}"),
        }
    }
}

#[test]
fn binding_rules() {
    let server = McpHttpServer::new(test_registry(), quick_config()).unwrap();
    let handle = server.start().unwrap();
    assert_ne!(handle.port(), 0);
    assert_eq!(handle.bind_addr(), format!("127.0.0.1:{}", handle.port()));
    assert_eq!(
        handle.mcp_url(),
        format!("http://127.0.0.1:{}/mcp", handle.port())
    );
    assert_eq!(
        handle.metrics_url(),
        format!("http://127.0.0.1:{}/metrics", handle.port())
    );
    assert!(matches!(server.start(), Err(ServerError::AlreadyStarted)));

    let clash = McpHttpServer::new(
        ToolRegistry::new(),
        McpHttpConfig {
            port: handle.port(),
            ..quick_config()
        },
    )
    .unwrap();
    assert!(matches!(clash.start(), Err(ServerError::Bind { .. })));

    handle.shutdown().unwrap();
    handle.shutdown().unwrap();
    assert!(handle.is_stopped());
    handle.wait();
}

#[test]
fn invalid_config_is_rejected_before_binding() {
    let error = McpHttpServer::new(
        ToolRegistry::new(),
        McpHttpConfig {
            max_body_bytes: 0,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid configuration: max_body_bytes is zero: it must be at least 1"
    );
}

#[test]
fn tools_registered_after_start_are_served() {
    let server = McpHttpServer::new(ToolRegistry::new(), quick_config()).unwrap();
    let handle = server.start().unwrap();
    let session = initialize(&handle);
    server
        .registry()
        .register_with_handler(
            dcc_mcp_http::ToolSpec::new("late"),
            handler(|_, _| Ok(json!("on time"))),
        )
        .unwrap();
    let body =
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "late"}});
    let (status, _, body) = http(
        &handle,
        "POST",
        &[("mcp-session-id", &session)],
        &body.to_string(),
    );
    assert_eq!(status, 200);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["result"]["content"][0]["text"], "on time");
}

#[test]
fn slow_and_silent_clients_are_disconnected_while_others_are_served() {
    let server = McpHttpServer::new(test_registry(), quick_config()).unwrap();
    let handle = server.start().unwrap();

    // Sends nothing at all.
    let mut silent = connect(&handle);

    // Sends its headers one byte at a time, far slower than the header timeout allows.
    let mut slow = connect(&handle);
    let slow_writer = slow.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let mut slow_writer = slow_writer;
        let request = format!(
            "POST /mcp HTTP/1.1\r\nhost: localhost\r\nx-padding: {}\r\n\r\n",
            "p".repeat(10_000)
        );
        for byte in request.bytes() {
            if slow_writer.write_all(&[byte]).is_err() {
                return true; // the server closed the connection
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    });

    // Meanwhile everyone else is served.
    let session = initialize(&handle);
    let ping = json!({"jsonrpc": "2.0", "id": 3, "method": "ping"}).to_string();
    let (status, _, body) = http(&handle, "POST", &[("mcp-session-id", &session)], &ping);
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"id":3,"jsonrpc":"2.0","result":{}}"#)
    );

    assert!(closed_by_server(&mut silent));
    assert!(closed_by_server(&mut slow));
    assert!(writer.join().unwrap(), "the slow client was never cut off");

    let (status, _, _) = http(&handle, "POST", &[("mcp-session-id", &session)], &ping);
    assert_eq!(status, 200);
    handle.shutdown().unwrap();
}

fn initialize_request() -> String {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18"}})
        .to_string();
    format!(
        "POST /mcp HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Reads one response with a `content-length` body; returns its head.
fn read_response(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut byte = [0u8; 1];
    while !received.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        received.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&received).into_owned();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length: "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
    head
}

#[test]
fn idle_keep_alive_connections_are_closed_after_the_keep_alive_timeout() {
    let server = McpHttpServer::new(
        test_registry(),
        McpHttpConfig {
            keep_alive_timeout: Duration::from_millis(300),
            ..quick_config()
        },
    )
    .unwrap();
    let handle = server.start().unwrap();
    let mut stream = connect(&handle);
    stream.write_all(initialize_request().as_bytes()).unwrap();
    let mut head = [0u8; 15];
    stream.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200 OK");
    // The connection stays open for keep-alive, then idles past the keep-alive timeout and is
    // closed cleanly: the rest of the response, then end of stream (no second response).
    assert!(closed_by_server(&mut stream));
    handle.shutdown().unwrap();
}

#[test]
fn a_keep_alive_pause_longer_than_the_header_timeout_keeps_the_connection() {
    let server = McpHttpServer::new(
        test_registry(),
        McpHttpConfig {
            header_read_timeout: Duration::from_millis(200),
            keep_alive_timeout: Duration::from_secs(60),
            ..quick_config()
        },
    )
    .unwrap();
    let handle = server.start().unwrap();
    let mut stream = connect(&handle);
    stream.write_all(initialize_request().as_bytes()).unwrap();
    assert!(read_response(&mut stream).starts_with("HTTP/1.1 200 OK"));
    // Three header timeouts of silence between requests: the same connection is still served.
    std::thread::sleep(Duration::from_millis(600));
    stream.write_all(initialize_request().as_bytes()).unwrap();
    assert!(read_response(&mut stream).starts_with("HTTP/1.1 200 OK"));
    // A later request that starts but never finishes its headers still gets the header timeout.
    stream
        .write_all(b"POST /mcp HTTP/1.1\r\nhost: loc")
        .unwrap();
    assert!(closed_by_server(&mut stream));
    handle.shutdown().unwrap();
}

#[test]
fn graceful_shutdown_ends_streams_and_drops_stragglers() {
    let server = McpHttpServer::new(
        test_registry(),
        McpHttpConfig {
            // Long enough that only the shutdown deadline can end the slow client below.
            header_read_timeout: Duration::from_secs(600),
            ..quick_config()
        },
    )
    .unwrap();
    let handle = server.start().unwrap();
    let session = initialize(&handle);

    // An open SSE stream.
    let mut sse = connect(&handle);
    let request = format!(
        "GET /mcp HTTP/1.1\r\nhost: localhost\r\naccept: text/event-stream\r\nmcp-session-id: {session}\r\n\r\n"
    );
    sse.write_all(request.as_bytes()).unwrap();
    let mut head = [0u8; 15];
    sse.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200 OK");

    // A client stuck in the middle of its headers.
    let mut slow = connect(&handle);
    slow.write_all(b"POST /mcp HTTP/1.1\r\nhost: localhost\r\n")
        .unwrap();

    handle.shutdown().unwrap();
    assert!(handle.is_stopped());
    assert!(closed_by_server(&mut sse));
    assert!(closed_by_server(&mut slow));
    assert!(TcpStream::connect(handle.local_addr()).is_err());
}

/// A host whose main thread stops the server stops pumping: a call still queued for it is answered at
/// once ("the server stopped …") instead of holding the graceful shutdown for `shutdown_timeout`, and
/// it never runs.
#[test]
fn stopping_answers_calls_queued_for_a_host_that_no_longer_pumps() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    let executor = dcc_mcp_http::MainThreadExecutor::new(4).unwrap();
    let registry = ToolRegistry::new();
    let ran = Arc::new(AtomicUsize::new(0));
    let counter = ran.clone();
    registry
        .register_with(
            dcc_mcp_http::ToolSpec::new("scene"),
            dcc_mcp_http::Handler::main_thread(move |_args, _ctx| {
                counter.fetch_add(1, Ordering::SeqCst);
                Ok(json!("ran"))
            }),
        )
        .unwrap();
    let config = McpHttpConfig {
        // Far longer than the test: the call must not wait for this deadline to be answered.
        shutdown_timeout: HANG_GUARD,
        main_thread_executor: Some(executor.clone()),
        ..quick_config()
    };
    let handle = McpHttpServer::new(registry, config)
        .unwrap()
        .start()
        .unwrap();
    let session = initialize(&handle);
    let handle = Arc::new(handle);
    let call = std::thread::spawn({
        let handle = handle.clone();
        move || {
            let body = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                              "params": {"name": "scene", "arguments": {}}});
            http(
                &handle,
                "POST",
                &[("mcp-session-id", &session), ("accept", "application/json")],
                &body.to_string(),
            )
        }
    });
    while executor.queued() == 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    handle.shutdown().unwrap();
    let (status, _, body) = call.join().unwrap();
    assert_eq!(status, 200);
    let reply: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(reply["result"]["isError"], json!(true));
    assert_eq!(
        reply["result"]["content"][0]["text"],
        json!("tool 'scene' was not run: the server stopped before the main thread reached it")
    );
    assert_eq!(executor.queued(), 0);
    assert_eq!(executor.pump(8, Duration::from_secs(1)).ran, 0);
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

/// A stateless `subscriptions/listen` stream open when the server stops ends with the listen
/// request's result (its subscription id in `_meta`), not with a cut connection.
#[test]
fn a_listen_stream_ends_with_its_result_when_the_server_stops() {
    let server = McpHttpServer::new(test_registry(), quick_config()).unwrap();
    let handle = server.start().unwrap();
    let body = json!({"jsonrpc": "2.0", "id": "L", "method": "subscriptions/listen", "params": {
        "notifications": {"toolsListChanged": true},
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                  "io.modelcontextprotocol/clientCapabilities": {}}}})
    .to_string();
    let mut stream = connect(&handle);
    let request = format!(
        "POST /mcp HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
         mcp-protocol-version: 2026-07-28\r\nmcp-method: subscriptions/listen\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("subscriptions/acknowledged") {
        let read = stream.read(&mut buffer).unwrap();
        assert!(read > 0, "the stream ended before its acknowledgement");
        seen.extend_from_slice(&buffer[..read]);
    }
    handle.shutdown().unwrap();
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    seen.extend_from_slice(&rest);
    let text = String::from_utf8_lossy(&seen);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    let last = text
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .next_back()
        .unwrap();
    let last: Value = serde_json::from_str(last).unwrap();
    assert_eq!(
        last,
        json!({"jsonrpc": "2.0", "id": "L", "result": {
            "resultType": "complete", "_meta": {"io.modelcontextprotocol/subscriptionId": "L"}}})
    );
}
