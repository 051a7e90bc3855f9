//! `/mcp` protocol rules through `tower::ServiceExt::oneshot`: status codes, headers, JSON-RPC error
//! codes, version rules, batches, origins, body limit, pagination, session expiry, tool results.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use dcc_mcp_http::{McpHttpConfig, ToolRegistry, ToolSpec, TOOLS_PAGE_SIZE};
use serde_json::{json, Value};

fn builtin_tools() -> Vec<&'static str> {
    if cfg!(feature = "workflow") {
        vec!["jobs.cancel", "jobs.get", "jobs.list"]
    } else {
        vec![]
    }
}

#[tokio::test]
async fn initialize_negotiates_and_issues_a_random_session_id() {
    let router = test_server().router();
    let reply = post(
        &router,
        None,
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["content-type"], "application/json");
    let id = reply.headers["mcp-session-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 32);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(
        reply.body,
        json!({"jsonrpc": "2.0", "id": 1, "result": {
            "protocolVersion": "2025-03-26",
            "capabilities": {"tools": {"listChanged": false}, "logging": {}},
            "serverInfo": {"name": "dcc-mcp", "version": env!("CARGO_PKG_VERSION")}
        }})
    );
    let other = initialize(&router).await;
    assert_ne!(other, id);

    // An unknown version is answered with the latest one.
    let reply = post(
        &router,
        None,
        json!({"jsonrpc": "2.0", "id": 2, "method": "initialize", "params": {"protocolVersion": "1999-01-01"}}),
    )
    .await;
    assert_eq!(reply.body["result"]["protocolVersion"], "2025-11-25");
}

#[tokio::test]
async fn session_rules_400_404_and_delete() {
    let router = test_server().router();
    let ping = json!({"jsonrpc": "2.0", "id": 5, "method": "ping"});

    let reply = post(&router, None, ping.clone()).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["error"]["code"], -32000);

    let reply = post(
        &router,
        Some("00000000000000000000000000000000"),
        ping.clone(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.body["error"]["code"], -32001);

    let session = initialize(&router).await;
    let reply = post(&router, Some(&session), ping.clone()).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, json!({"jsonrpc": "2.0", "id": 5, "result": {}}));

    let delete = |session: Option<&str>| {
        let mut builder = Request::delete("/mcp");
        if let Some(session) = session {
            builder = builder.header("mcp-session-id", session);
        }
        builder.body(Body::empty()).unwrap()
    };
    assert_eq!(
        send(&router, delete(None)).await.status,
        StatusCode::BAD_REQUEST
    );
    let reply = send(&router, delete(Some(&session))).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(reply.raw, "");
    assert_eq!(
        send(&router, delete(Some(&session))).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post(&router, Some(&session), ping).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn protocol_version_header_rules() {
    let router = test_server().router();
    let session = initialize(&router).await;
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}).to_string();
    for (version, status) in [
        (Some("2025-11-25"), StatusCode::OK),
        (Some("2025-06-18"), StatusCode::OK),
        (Some("2025-03-26"), StatusCode::OK),
        (None, StatusCode::OK),
        (Some("2024-11-05"), StatusCode::BAD_REQUEST),
        (Some("2026-07-28"), StatusCode::BAD_REQUEST),
        (Some("garbage"), StatusCode::BAD_REQUEST),
    ] {
        let reply = send(&router, post_request(Some(&session), version, ping.clone())).await;
        assert_eq!(reply.status, status, "{version:?}");
    }
}

#[tokio::test]
async fn notifications_and_responses_get_202_without_body() {
    let router = test_server().router();
    let session = initialize(&router).await;
    let reply = post(
        &router,
        Some(&session),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert_eq!(reply.raw, "");
    let reply = post(
        &router,
        Some(&session),
        json!({"jsonrpc": "2.0", "id": 9, "result": {}}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert_eq!(reply.raw, "");
}

#[tokio::test]
async fn malformed_messages() {
    let router = test_server().router();
    let session = initialize(&router).await;

    let reply = send(&router, post_request(Some(&session), None, "{not json")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["error"]["code"], -32700);
    assert_eq!(reply.body["id"], Value::Null);

    for bad in [
        json!({"jsonrpc": "1.0", "id": 1, "method": "ping"}),
        json!({"id": 1, "method": "ping"}),
        json!({"jsonrpc": "2.0", "id": 1, "method": 7}),
        json!({"jsonrpc": "2.0", "id": {"x": 1}, "method": "ping"}),
        json!({"jsonrpc": "2.0", "id": 1}),
        json!("just a string"),
    ] {
        let reply = post(&router, Some(&session), bad.clone()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(reply.body["error"]["code"], -32600, "{bad}");
    }

    let mut request = post_request(Some(&session), None, "{}");
    request
        .headers_mut()
        .insert("content-type", "text/plain".parse().unwrap());
    assert_eq!(
        send(&router, request).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
}

#[tokio::test]
async fn unknown_methods_and_discover() {
    let router = test_server().router();
    // server/discover is the stateless era's (tests/stateless.rs): without the _meta every
    // 2026-07-28 request carries, it is refused with -32602 and 400, under the request's id.
    let reply = send(
        &router,
        post_request(
            None,
            Some("2026-07-28"),
            json!({"jsonrpc": "2.0", "id": "d", "method": "server/discover", "params": {}})
                .to_string(),
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["id"], "d");
    assert_eq!(reply.body["error"]["code"], -32602);
    let session = initialize(&router).await;
    let reply = post(
        &router,
        Some(&session),
        json!({"jsonrpc": "2.0", "id": 3, "method": "tasks/list"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["error"]["code"], -32601);
    // An empty catalog lists nothing (resources may be added at run time).
    let reply = post(
        &router,
        Some(&session),
        json!({"jsonrpc": "2.0", "id": 5, "method": "resources/list"}),
    )
    .await;
    assert_eq!(reply.body["result"], json!({"resources": []}));
    let reply = post(
        &router,
        Some(&session),
        json!({"jsonrpc": "2.0", "id": 4, "method": "initialize", "params": {}}),
    )
    .await;
    // A fresh initialize on the session header still starts a new session (it needs no session).
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["error"]["code"], -32602);
}

#[tokio::test]
async fn batches_only_under_2025_03_26() {
    let router = test_server().router();
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "ping"},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "hi"}}},
        {"jsonrpc": "2.0", "id": 3, "method": "initialize", "params": {"protocolVersion": "2025-03-26"}},
        {"jsonrpc": "2.0", "id": 4, "method": "nope"}
    ]);
    let old = initialize_at(&router, "2025-03-26").await;
    let reply = post(&router, Some(&old), batch.clone()).await;
    assert_eq!(reply.status, StatusCode::OK);
    let responses = reply.body.as_array().unwrap();
    assert_eq!(responses.len(), 4);
    assert_eq!(
        responses[0],
        json!({"jsonrpc": "2.0", "id": 1, "result": {}})
    );
    assert_eq!(responses[1]["result"]["content"][0]["text"], "hi");
    assert_eq!(responses[2]["error"]["code"], -32600);
    assert_eq!(responses[3]["error"]["code"], -32601);

    let only_notifications = json!([{"jsonrpc": "2.0", "method": "notifications/initialized"}]);
    let reply = post(&router, Some(&old), only_notifications).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);

    assert_eq!(
        post(&router, Some(&old), json!([])).await.status,
        StatusCode::BAD_REQUEST
    );

    let new = initialize_at(&router, "2025-06-18").await;
    let reply = post(&router, Some(&new), batch.clone()).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["error"]["code"], -32600);
    // A supported header that is not the negotiated version does not override it: the
    // 2025-06-18 session gets no batches by claiming 2025-03-26, nor loses them the other way.
    let reply = send(
        &router,
        post_request(Some(&new), Some("2025-03-26"), batch.to_string()),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["error"]["code"], -32600);
    let reply = send(
        &router,
        post_request(Some(&old), Some("2025-06-18"), batch.to_string()),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body.as_array().map(Vec::len), Some(4));
}

#[tokio::test]
async fn origin_validation() {
    let router = test_server().router();
    let with_origin = |origin: &str| {
        let mut request = post_request(
            None,
            None,
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18"}})
                .to_string(),
        );
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
        request
    };
    let reply = send(&router, with_origin("http://evil.example")).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.body["error"]["code"], -32000);
    assert_eq!(
        send(&router, with_origin("http://localhost:3000"))
            .await
            .status,
        StatusCode::OK
    );

    let allowed = server_with(
        ToolRegistry::new(),
        McpHttpConfig {
            allowed_origins: vec!["https://studio.example".into()],
            ..Default::default()
        },
    )
    .router();
    assert_eq!(
        send(&allowed, with_origin("https://studio.example"))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        send(&allowed, with_origin("https://other.example"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn body_limit_is_413() {
    let server = server_with(
        test_registry(),
        McpHttpConfig {
            max_body_bytes: 1024,
            ..Default::default()
        },
    );
    let router = server.router();
    let session = initialize(&router).await;
    let big = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"text": "x".repeat(2000)}}});
    let reply = post(&router, Some(&session), big).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Without Content-Length (a streamed body) the limit still holds.
    let chunks: Vec<Result<String, std::io::Error>> =
        (0..20).map(|_| Ok("x".repeat(100))).collect();
    let body = Body::from_stream(futures_util::stream::iter(chunks));
    let reply = send(&router, post_request(Some(&session), None, body)).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    let reply = post(
        &router,
        Some(&session),
        json!({"jsonrpc": "2.0", "id": 2, "method": "ping"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn tools_list_paginates_with_an_opaque_cursor() {
    let registry = ToolRegistry::new();
    let total = 2 * TOOLS_PAGE_SIZE + 7;
    for i in 0..total {
        registry
            .register(ToolSpec::new(format!("tool-{i:04}")))
            .unwrap();
    }
    let router = server_with(registry, McpHttpConfig::default()).router();
    let session = initialize(&router).await;
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let params = match &cursor {
            Some(cursor) => json!({"cursor": cursor}),
            None => json!({}),
        };
        let reply = post(
            &router,
            Some(&session),
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": params}),
        )
        .await;
        let result = &reply.body["result"];
        let page = result["tools"].as_array().unwrap();
        assert!(page.len() <= TOOLS_PAGE_SIZE);
        names.extend(
            page.iter()
                .map(|tool| tool["name"].as_str().unwrap().to_owned()),
        );
        pages += 1;
        match result.get("nextCursor") {
            Some(next) => cursor = Some(next.as_str().unwrap().to_owned()),
            None => break,
        }
    }
    let mut expected: Vec<String> = (0..total).map(|i| format!("tool-{i:04}")).collect();
    expected.extend(builtin_tools().into_iter().map(String::from));
    expected.sort();
    assert_eq!(names, expected);
    assert_eq!(pages, expected.len().div_ceil(TOOLS_PAGE_SIZE));

    let reply = post(
        &router,
        Some(&session),
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"cursor": "zz"}}),
    )
    .await;
    assert_eq!(reply.body["error"]["code"], -32602);
}

#[tokio::test]
async fn tools_call_results() {
    let router = test_server().router();
    let session = initialize(&router).await;

    let reply = call(&router, &session, "add", json!({"a": 2, "b": 3})).await;
    assert_eq!(
        reply["result"],
        json!({"content": [{"type": "text", "text": "{\"sum\":5}"}], "structuredContent": {"sum": 5}, "isError": false})
    );
    let reply = call(&router, &session, "echo", json!({"text": "héllo"})).await;
    assert_eq!(
        reply["result"],
        json!({"content": [{"type": "text", "text": "héllo"}], "isError": false})
    );

    let reply = call(&router, &session, "add", json!({"a": 2, "b": "x"})).await;
    assert_eq!(
        reply["result"],
        json!({"content": [{"type": "text", "text": "invalid arguments for tool 'add': /b: \"x\" is not of type \"number\""}], "isError": true})
    );
    let reply = call(&router, &session, "add", json!({"a": 2})).await;
    assert_eq!(reply["result"]["isError"], true);

    let reply = call(&router, &session, "fail", json!({})).await;
    assert_eq!(
        reply["result"],
        json!({"content": [{"type": "text", "text": "it failed"}], "isError": true})
    );

    let reply = call(&router, &session, "panic", json!({})).await;
    assert_eq!(
        reply["result"],
        json!({"content": [{"type": "text", "text": "tool 'panic' panicked: boom"}], "isError": true})
    );
    // The server keeps serving after a handler panic.
    let reply = call(&router, &session, "echo", json!({"text": "still here"})).await;
    assert_eq!(reply["result"]["content"][0]["text"], "still here");

    let reply = call(&router, &session, "no-such-tool", json!({})).await;
    assert_eq!(reply["error"]["code"], -32602);
    assert_eq!(reply["error"]["message"], "Unknown tool: no-such-tool");

    let reply = post(&router, Some(&session), json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": [1]}})).await;
    assert_eq!(reply.body["error"]["code"], -32602);
}

#[tokio::test]
async fn registered_without_handler_and_late_registration() {
    let server = test_server();
    let router = server.router();
    let session = initialize(&router).await;
    server.registry().register(ToolSpec::new("later")).unwrap();
    let reply = call(&router, &session, "later", json!({})).await;
    assert_eq!(
        reply["result"],
        json!({"content": [{"type": "text", "text": "tool 'later' has no handler yet"}], "isError": true})
    );
    server
        .registry()
        .set_handler("later", handler(|_, _| Ok(json!("now"))))
        .unwrap();
    let reply = call(&router, &session, "later", json!({})).await;
    assert_eq!(reply["result"]["content"][0]["text"], "now");
    assert!(server.registry().unregister("later"));
    let reply = call(&router, &session, "later", json!({})).await;
    assert_eq!(reply["error"]["code"], -32602);
}

#[tokio::test]
async fn sync_call_timeout_is_an_error_result() {
    let registry = ToolRegistry::new();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let (seen_tx, seen_rx) = std::sync::mpsc::channel::<bool>();
    let release_rx = std::sync::Mutex::new(release_rx);
    let seen_tx = std::sync::Mutex::new(seen_tx);
    registry
        .register_with_handler(
            ToolSpec::new("stuck"),
            handler(move |_, ctx| {
                // Blocks until the test releases it, after the call has already timed out.
                let _ = release_rx.lock().unwrap().recv();
                let _ = seen_tx.lock().unwrap().send(ctx.is_cancelled());
                Ok(json!("late"))
            }),
        )
        .unwrap();
    let server = server_with(
        registry,
        McpHttpConfig {
            request_timeout: Duration::from_millis(50),
            ..Default::default()
        },
    );
    let router = server.router();
    let session = initialize(&router).await;
    let reply = call(&router, &session, "stuck", json!({})).await;
    assert_eq!(
        reply["result"],
        json!({"content": [{"type": "text", "text": "tool 'stuck' timed out after 0.050 s (request_timeout)"}], "isError": true})
    );
    release_tx.send(()).unwrap();
    // The handler, still running on the blocking pool, sees that its call was cancelled.
    let seen = tokio::task::spawn_blocking(move || seen_rx.recv().unwrap())
        .await
        .unwrap();
    assert!(seen);
}

#[tokio::test]
async fn idle_sessions_expire() {
    let server = server_with(
        test_registry(),
        McpHttpConfig {
            session_ttl: Duration::from_millis(20),
            ..Default::default()
        },
    );
    let router = server.router();
    let session = initialize(&router).await;
    tokio::time::sleep(Duration::from_millis(60)).await;
    let reply = post(
        &router,
        Some(&session),
        json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn get_opens_the_session_stream_with_progress() {
    let router = test_server().router();
    let session = initialize(&router).await;

    let no_accept = Request::get("/mcp")
        .header("mcp-session-id", &session)
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(&router, no_accept).await.status,
        StatusCode::NOT_ACCEPTABLE
    );
    let no_session = Request::get("/mcp")
        .header("accept", "text/event-stream")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(&router, no_session).await.status,
        StatusCode::BAD_REQUEST
    );

    use tower::ServiceExt;
    let response = router.clone().oneshot(sse_request(&session)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");

    // A client that does not accept SSE on its POST gets the call's progress on the GET stream.
    let json_only = Request::post("/mcp")
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .header("mcp-session-id", &session)
        .body(Body::from(
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                   "params": {"name": "progress", "arguments": {}, "_meta": {"progressToken": "tok"}}})
            .to_string(),
        ))
        .unwrap();
    let reply = send(&router, json_only).await;
    assert_eq!(reply.headers["content-type"], "application/json");
    assert_eq!(reply.body["result"]["content"][0]["text"], "done");
    let messages = read_sse(response.into_body(), 3).await;
    let expected: Vec<Value> = (1..=3)
        .map(|step| {
            json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {
                "progressToken": "tok", "progress": f64::from(step), "total": 3.0, "message": "step"}})
        })
        .collect();
    assert_eq!(messages, expected);
}

#[tokio::test]
async fn a_call_that_reports_progress_is_answered_in_band_in_order() {
    let router = test_server().router();
    let session = initialize(&router).await;
    use tower::ServiceExt;
    let request = post_request(
        Some(&session),
        None,
        json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
               "params": {"name": "progress", "arguments": {}, "_meta": {"progressToken": "tok"}}})
        .to_string(),
    );
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let messages = read_sse(response.into_body(), 4).await;
    let mut expected: Vec<Value> = (1..=3)
        .map(|step| {
            json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {
                "progressToken": "tok", "progress": f64::from(step), "total": 3.0, "message": "step"}})
        })
        .collect();
    expected.push(json!({"jsonrpc": "2.0", "id": 7, "result": {
        "content": [{"type": "text", "text": "done"}], "isError": false}}));
    assert_eq!(messages, expected);

    // A call that sends nothing while it runs keeps its plain JSON answer.
    let plain = post(
        &router,
        Some(&session),
        json!({"jsonrpc": "2.0", "id": 8, "method": "tools/call",
               "params": {"name": "progress", "arguments": {}}}),
    )
    .await;
    assert_eq!(plain.headers["content-type"], "application/json");
    assert_eq!(plain.body["id"], 8);
    assert_eq!(plain.body["result"]["content"][0]["text"], "done");
}

#[tokio::test]
async fn other_methods_are_405() {
    let router = test_server().router();
    let request = Request::put("/mcp").body(Body::empty()).unwrap();
    assert_eq!(
        send(&router, request).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
}

/// Reads `count` raw SSE events (the text between blank lines, keep-alive comments skipped).
async fn raw_events(body: &mut Body, count: usize) -> Vec<String> {
    use http_body_util::BodyExt;
    let read = async {
        let mut buffer = String::new();
        let mut events = Vec::new();
        while events.len() < count {
            let frame = body.frame().await.expect("stream ended early").unwrap();
            if let Ok(data) = frame.into_data() {
                buffer.push_str(std::str::from_utf8(&data).unwrap());
            }
            while let Some(end) = buffer.find("\n\n") {
                let event: String = buffer.drain(..end + 2).collect();
                if !event.starts_with(':') {
                    events.push(event);
                }
            }
        }
        events
    };
    tokio::time::timeout(HANG_GUARD, read)
        .await
        .expect("hang guard")
}

fn list_changed_event(id: u64) -> String {
    format!(
        "event: message\nid: {id}\ndata: {{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\",\"params\":{{}}}}\n\n"
    )
}

/// The session stream on the wire: a priming event (id, `retry:`, no data), then numbered
/// messages; a reconnect with `Last-Event-ID` gets what came after it, then what is new.
#[tokio::test]
async fn the_session_stream_numbers_its_events_and_resumes_after_last_event_id() {
    use tower::ServiceExt;
    let server = server_with(test_registry(), McpHttpConfig::default());
    let router = server.router();
    let session = initialize(&router).await;
    let notifier = server.tools_list_notifier();

    let mut first = router
        .clone()
        .oneshot(sse_request(&session))
        .await
        .unwrap()
        .into_body();
    assert_eq!(raw_events(&mut first, 1).await, ["id: 0\nretry: 1000\n\n"]);
    for _ in 0..3 {
        assert_eq!(notifier.notify(), 1);
    }
    assert_eq!(
        raw_events(&mut first, 3).await,
        [1, 2, 3].map(list_changed_event)
    );
    drop(first);

    // Two more while no stream is open; the client saw up to id 2.
    assert_eq!(notifier.notify(), 1);
    assert_eq!(notifier.notify(), 1);
    let mut resumed_request = sse_request(&session);
    resumed_request
        .headers_mut()
        .insert("last-event-id", "2".parse().unwrap());
    let mut resumed = router
        .clone()
        .oneshot(resumed_request)
        .await
        .unwrap()
        .into_body();
    let events = raw_events(&mut resumed, 4).await;
    assert_eq!(events[0], "id: 2\nretry: 1000\n\n");
    assert_eq!(events[1..], [3, 4, 5].map(list_changed_event));
    drop(resumed);

    // An id this session never sent replays nothing; a malformed one is ignored.
    for (header, before) in [("99", 5u64), ("not-an-id", 6)] {
        let mut request = sse_request(&session);
        request
            .headers_mut()
            .insert("last-event-id", header.parse().unwrap());
        let mut stream = router.clone().oneshot(request).await.unwrap().into_body();
        assert_eq!(
            raw_events(&mut stream, 1).await,
            [format!("id: {before}\nretry: 1000\n\n")]
        );
        assert_eq!(notifier.notify(), 1);
        let id = before + 1;
        assert_eq!(raw_events(&mut stream, 1).await, [list_changed_event(id)]);
        drop(stream);
        let mut request = sse_request(&session);
        request
            .headers_mut()
            .insert("last-event-id", id.to_string().parse().unwrap());
        let mut caught_up = router.clone().oneshot(request).await.unwrap().into_body();
        assert_eq!(
            raw_events(&mut caught_up, 1).await,
            [format!("id: {id}\nretry: 1000\n\n")]
        );
    }
}

/// A session stream with nothing to send is closed after `sse_idle_close`; the client reconnects.
#[tokio::test]
async fn an_idle_session_stream_is_closed() {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let config = McpHttpConfig {
        sse_idle_close: Duration::from_millis(200),
        ..Default::default()
    };
    let server = server_with(test_registry(), config);
    let router = server.router();
    let session = initialize(&router).await;
    let mut stream = router
        .clone()
        .oneshot(sse_request(&session))
        .await
        .unwrap()
        .into_body();
    assert_eq!(raw_events(&mut stream, 1).await, ["id: 0\nretry: 1000\n\n"]);
    let end = tokio::time::timeout(HANG_GUARD, async {
        while let Some(frame) = stream.frame().await {
            frame.unwrap();
        }
    })
    .await;
    assert!(end.is_ok(), "the idle stream was not closed");
    // The session lives on and takes a new stream.
    let mut again = router
        .clone()
        .oneshot(sse_request(&session))
        .await
        .unwrap()
        .into_body();
    assert_eq!(raw_events(&mut again, 1).await, ["id: 0\nretry: 1000\n\n"]);
}
