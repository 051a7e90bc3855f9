//! The client against the real server: `dcc-mcp-http`'s `McpHttpServer`, started in each test on
//! an ephemeral port, spoken to over real sockets.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dcc_mcp_client::{
    Callbacks, CancellationToken, ClientConfig, ClientError, McpClient, ProtocolMode,
    ProtocolVersion, RequestOptions, ResponseFraming,
};
use dcc_mcp_http::{
    Execution, McpHttpConfig, McpHttpServer, McpServerHandle, ToolContext, ToolError, ToolRegistry,
    ToolSpec, TOOLS_PAGE_SIZE,
};
use serde_json::{json, Value};

/// Turns a hang into a failure; no assertion depends on it.
const HANG_GUARD: Duration = Duration::from_secs(30);

/// Extra tools so `tools/list` needs two pages.
const EXTRA_TOOLS: usize = TOOLS_PAGE_SIZE + 7;

/// What the `wait_cancel` tool saw.
#[derive(Default)]
struct Observed {
    started: AtomicUsize,
    cancelled: AtomicUsize,
    /// Lets `progress` finish (set by the test once it saw the progress).
    progress_release: AtomicBool,
}

fn handler(
    f: impl Fn(Value, &ToolContext) -> Result<Value, ToolError> + Send + Sync + 'static,
) -> dcc_mcp_http::ToolHandler {
    Arc::new(f)
}

/// Waits for `done` (polling), failing after the hang guard.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + HANG_GUARD;
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "hang guard: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn blocking_wait(limit: Duration, done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + limit;
    while !done() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn start(observed: &Arc<Observed>) -> McpServerHandle {
    let registry = ToolRegistry::new();
    registry
        .register_with_handler(
            ToolSpec::new("echo").input_schema(json!({
                "type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]
            })),
            handler(|args, _| Ok(args["text"].clone())),
        )
        .unwrap();
    registry
        .register_with_handler(
            ToolSpec::new("add").input_schema(json!({
                "type": "object",
                "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                "required": ["a", "b"]
            })),
            handler(|args, _| {
                Ok(json!({"sum": args["a"].as_i64().unwrap_or(0) + args["b"].as_i64().unwrap_or(0)}))
            }),
        )
        .unwrap();
    registry
        .register_with_handler(
            ToolSpec::new("fail"),
            handler(|_, _| Err("it failed".into())),
        )
        .unwrap();
    let seen = observed.clone();
    registry
        .register_with_handler(
            ToolSpec::new("progress"),
            handler(move |_, ctx| {
                for step in 1..=3 {
                    ctx.report_progress(f64::from(step), Some(3.0), Some("step"));
                }
                // Answer only once the client saw the progress, so the answer cannot overtake it.
                blocking_wait(HANG_GUARD, || seen.progress_release.load(Ordering::SeqCst));
                Ok(json!("done"))
            }),
        )
        .unwrap();
    let seen = observed.clone();
    registry
        .register_with_handler(
            ToolSpec::new("wait_cancel"),
            handler(move |_, ctx| {
                seen.started.fetch_add(1, Ordering::SeqCst);
                // Longer than the test waits, so only a cancellation ends it in time.
                blocking_wait(4 * HANG_GUARD, || ctx.is_cancelled());
                if ctx.is_cancelled() {
                    seen.cancelled.fetch_add(1, Ordering::SeqCst);
                }
                Ok(json!("stopped"))
            }),
        )
        .unwrap();
    registry
        .register_with_handler(
            ToolSpec::new("job").execution(Execution::Async),
            handler(|_, ctx| {
                ctx.report_progress(1.0, Some(2.0), Some("started"));
                Ok(json!({"finished": true}))
            }),
        )
        .unwrap();
    for i in 0..EXTRA_TOOLS {
        registry
            .register_with_handler(
                ToolSpec::new(format!("t{i:03}")),
                handler(|_, _| Ok(json!(null))),
            )
            .unwrap();
    }
    let config = McpHttpConfig {
        port: 0,
        // The server's own deadline (which also flags the call cancelled) must not be what stops
        // `wait_cancel` within a test's wait.
        request_timeout: 8 * HANG_GUARD,
        ..Default::default()
    };
    McpHttpServer::new(registry, config)
        .unwrap()
        .start()
        .unwrap()
}

struct Fixture {
    server: McpServerHandle,
    observed: Arc<Observed>,
}

impl Fixture {
    fn new() -> Self {
        let observed = Arc::new(Observed::default());
        Self {
            server: start(&observed),
            observed,
        }
    }

    fn config(&self) -> ClientConfig {
        ClientConfig::new(self.server.mcp_url())
    }

    async fn client(&self) -> McpClient {
        tokio::time::timeout(HANG_GUARD, McpClient::connect(self.config()))
            .await
            .expect("hang guard")
            .unwrap()
    }
}

/// A raw request on the endpoint (for exact statuses), returning the status.
async fn raw_status(url: &str, method: &str, session: &str, body: &str) -> u16 {
    use http_body_util::Full;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<bytes::Bytes>>();
    let request = hyper::Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", session)
        .body(Full::new(bytes::Bytes::from(body.to_owned())))
        .unwrap();
    client.request(request).await.unwrap().status().as_u16()
}

const PING: &str = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initialize_negotiates_a_session() {
    let fixture = Fixture::new();
    let client = fixture.client().await;
    assert_eq!(client.protocol_version(), ProtocolVersion::V2025_11_25);
    let session = client.session_id().unwrap();
    assert_eq!(session.len(), 32);
    assert!(client.has_stream());
    let info = client.server_info();
    assert_eq!(info["serverInfo"]["name"], "dcc-mcp");
    assert_eq!(info["capabilities"]["tools"], json!({"listChanged": false}));
    client.ping().await.unwrap();

    // An older revision is offered and kept, and the server accepts it on later requests.
    let old = McpClient::connect(
        fixture
            .config()
            .mode(ProtocolMode::Session(ProtocolVersion::V2025_03_26)),
    )
    .await
    .unwrap();
    assert_eq!(old.protocol_version(), ProtocolVersion::V2025_03_26);
    assert_ne!(old.session_id(), client.session_id());
    old.ping().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_picks_the_stateless_era_and_both_eras_serve_tools() {
    let fixture = Fixture::new();
    // The server answers server/discover, so auto mode speaks 2026-07-28: no session.
    for mode in [ProtocolMode::Auto, ProtocolMode::Stateless] {
        let client = McpClient::connect(fixture.config().mode(mode))
            .await
            .unwrap();
        assert_eq!(client.protocol_version(), ProtocolVersion::V2026_07_28);
        assert!(client.session_id().is_none());
        assert_eq!(
            client
                .call_tool("echo", json!({"text": "x"}))
                .await
                .unwrap()
                .text(),
            Some("x")
        );
    }
    // A client that asks for the session era still gets it.
    let session = McpClient::connect(
        fixture
            .config()
            .mode(ProtocolMode::Session(ProtocolVersion::LATEST)),
    )
    .await
    .unwrap();
    assert_eq!(session.protocol_version(), ProtocolVersion::LATEST);
    assert!(session.session_id().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_list_pages_follow_the_cursor() {
    let fixture = Fixture::new();
    let client = fixture.client().await;
    let first = client.list_tools(None).await.unwrap();
    assert_eq!(first.tools.len(), TOOLS_PAGE_SIZE);
    let cursor = first.next_cursor.clone().unwrap();
    let second = client.list_tools(Some(&cursor)).await.unwrap();
    // 6 named tools, the extra ones and the three built-in job tools (workflow).
    let total = 6 + EXTRA_TOOLS + 3;
    assert_eq!(second.tools.len(), total - TOOLS_PAGE_SIZE);
    assert_eq!(second.next_cursor, None);
    let all = client.list_all_tools().await.unwrap();
    assert_eq!(all.len(), total);
    let names: Vec<&str> = all.iter().filter_map(|t| t["name"].as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), total, "no tool twice");
    assert!(names.contains(&"echo") && names.contains(&"t106"));
    // A cursor the server never issued is a JSON-RPC error.
    let error = client.list_tools(Some("zz")).await.unwrap_err();
    assert_eq!(error.rpc_code(), Some(-32602), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_results_and_tool_errors() {
    let fixture = Fixture::new();
    let client = fixture.client().await;
    let echo = client
        .call_tool("echo", json!({"text": "hello"}))
        .await
        .unwrap();
    assert!(!echo.is_error());
    assert_eq!(client.last_response_framing(), Some(ResponseFraming::Json));
    assert_eq!(
        echo.clone().into_value(),
        json!({"content": [{"type": "text", "text": "hello"}], "isError": false})
    );
    let add = client
        .call_tool("add", json!({"a": 2, "b": 3}))
        .await
        .unwrap();
    assert_eq!(add.structured(), Some(&json!({"sum": 5})));
    // A failing tool, and arguments that break the schema, are results with isError.
    let fail = client.call_tool("fail", json!({})).await.unwrap();
    assert!(fail.is_error());
    assert_eq!(fail.text(), Some("it failed"));
    let invalid = client.call_tool("add", json!({"a": "x"})).await.unwrap();
    assert!(invalid.is_error());
    assert!(
        invalid.text().unwrap().contains("invalid arguments"),
        "{invalid:?}"
    );
    // An unknown tool is a protocol error (-32602).
    match client.call_tool("nope", json!({})).await {
        Err(ClientError::Rpc(error)) => {
            assert_eq!(error.code, -32602);
            assert!(error.message.contains("nope"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    // So is an unknown method.
    let error = client.request("nope/nope", json!({})).await.unwrap_err();
    assert_eq!(error.rpc_code(), Some(-32601));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_on_one_client_get_their_own_answers() {
    let fixture = Fixture::new();
    let client = Arc::new(fixture.client().await);
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..64i64 {
        let client = client.clone();
        calls.spawn(async move {
            let result = client
                .call_tool("add", json!({"a": i, "b": 1000}))
                .await
                .unwrap();
            (i, result.structured().cloned())
        });
    }
    let mut seen = 0;
    while let Some(joined) = calls.join_next().await {
        let (i, sum) = joined.unwrap();
        assert_eq!(sum, Some(json!({"sum": i + 1000})));
        seen += 1;
    }
    assert_eq!(seen, 64);
}

/// One progress report: progress, total, message.
type Step = (f64, Option<f64>, Option<String>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_arrives_on_the_stream_for_its_request() {
    let fixture = Fixture::new();
    let client = fixture.client().await;
    let seen: Arc<Mutex<Vec<Step>>> = Arc::default();
    let record = seen.clone();
    let release = fixture.observed.clone();
    let options = RequestOptions::new().on_progress(move |p| {
        let mut seen = record.lock().unwrap();
        seen.push((p.progress, p.total, p.message));
        if seen.len() == 3 {
            release.progress_release.store(true, Ordering::SeqCst);
        }
    });
    let result = tokio::time::timeout(
        HANG_GUARD,
        client.call_tool_with("progress", json!({}), options),
    )
    .await
    .expect("hang guard: the progress never arrived")
    .unwrap();
    assert_eq!(result.text(), Some("done"));
    let step = Some("step".to_owned());
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            (1.0, Some(3.0), step.clone()),
            (2.0, Some(3.0), step.clone()),
            (3.0, Some(3.0), step)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jobs_notifications_reach_the_notification_callback() {
    let fixture = Fixture::new();
    let seen: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let record = seen.clone();
    let callbacks = Callbacks::new().on_notification(move |method, params| {
        record
            .lock()
            .unwrap()
            .push((method.to_owned(), params.clone()));
    });
    let client = McpClient::connect_with(fixture.config(), callbacks)
        .await
        .unwrap();
    let accepted = client.call_tool("job", json!({})).await.unwrap();
    let job = accepted.structured().unwrap()["jobId"]
        .as_str()
        .unwrap()
        .to_owned();
    eventually("two job notifications", || seen.lock().unwrap().len() == 2).await;
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen[0],
        (
            "notifications/progress".to_owned(),
            json!({"progressToken": job, "progress": 1.0, "total": 2.0, "message": "started"})
        )
    );
    assert_eq!(seen[1].0, "notifications/message");
    let data = &seen[1].1["data"];
    assert_eq!(
        (
            data["event"].as_str(),
            data["jobId"].as_str(),
            data["status"].as_str()
        ),
        (Some("job_finished"), Some(job.as_str()), Some("succeeded"))
    );
    assert_eq!(
        data["result"]["structuredContent"],
        json!({"finished": true})
    );
}

/// Cancellation must reach the tool through `notifications/cancelled`: the drain period is longer
/// than the hang guard, so the request's connection stays open and a dropped connection cannot be
/// what cancels it.
fn keep_connections(config: ClientConfig) -> ClientConfig {
    ClientConfig {
        drain_timeout: Duration::from_secs(120),
        ..config
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_call_reaches_the_tool() {
    let fixture = Fixture::new();
    let client = McpClient::connect(keep_connections(fixture.config()))
        .await
        .unwrap();
    let observed = fixture.observed.clone();
    let token = CancellationToken::new();
    let cancel = token.clone();
    let started = observed.clone();
    tokio::spawn(async move {
        eventually("the tool started", || {
            started.started.load(Ordering::SeqCst) == 1
        })
        .await;
        cancel.cancel();
    });
    let outcome = client
        .call_tool_with(
            "wait_cancel",
            json!({}),
            RequestOptions::new().cancel_with(token),
        )
        .await;
    assert!(
        matches!(outcome, Err(ClientError::Cancelled)),
        "{outcome:?}"
    );
    eventually("the tool saw the cancellation", || {
        observed.cancelled.load(Ordering::SeqCst) == 1
    })
    .await;
    // The client still works on the same session.
    assert_eq!(
        client
            .call_tool("echo", json!({"text": "x"}))
            .await
            .unwrap()
            .text(),
        Some("x")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_or_timed_out_call_is_cancelled_on_the_server() {
    let fixture = Fixture::new();
    let client = Arc::new(
        McpClient::connect(keep_connections(fixture.config()))
            .await
            .unwrap(),
    );
    let observed = fixture.observed.clone();

    // Dropped: the future is aborted while the tool runs.
    let call = {
        let client = client.clone();
        tokio::spawn(async move { client.call_tool("wait_cancel", json!({})).await })
    };
    eventually("the tool started", || {
        observed.started.load(Ordering::SeqCst) == 1
    })
    .await;
    call.abort();
    eventually("the dropped call was cancelled", || {
        observed.cancelled.load(Ordering::SeqCst) == 1
    })
    .await;

    // Timed out.
    let outcome = client
        .call_tool_with(
            "wait_cancel",
            json!({}),
            RequestOptions::new().timeout(Duration::from_millis(300)),
        )
        .await;
    assert!(
        matches!(outcome, Err(ClientError::Timeout(t)) if t == Duration::from_millis(300)),
        "{outcome:?}"
    );
    eventually("the timed-out call was cancelled", || {
        observed.cancelled.load(Ordering::SeqCst) == 2
    })
    .await;
    assert_eq!(observed.started.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_ends_the_session() {
    let fixture = Fixture::new();
    let url = fixture.server.mcp_url();
    let client = fixture.client().await;
    let session = client.session_id().unwrap();
    assert_eq!(raw_status(&url, "POST", &session, PING).await, 200);
    client.close().await.unwrap();
    assert_eq!(raw_status(&url, "POST", &session, PING).await, 404);

    // Dropping a client ends its session too (in the background).
    let client = fixture.client().await;
    let session = client.session_id().unwrap();
    drop(client);
    let mut status = 0;
    let deadline = tokio::time::Instant::now() + HANG_GUARD;
    while tokio::time::Instant::now() < deadline {
        status = raw_status(&url, "POST", &session, PING).await;
        if status == 404 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_session_is_a_clear_error() {
    let fixture = Fixture::new();
    let url = fixture.server.mcp_url();
    let client = fixture.client().await;
    let session = client.session_id().unwrap();
    // The session ends behind the client's back.
    assert_eq!(raw_status(&url, "DELETE", &session, "").await, 204);
    match client.call_tool("echo", json!({"text": "x"})).await {
        Err(ClientError::SessionNotFound {
            session_id,
            message,
        }) => {
            assert_eq!(session_id, session);
            assert!(message.contains("Session not found"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let error = client.ping().await.unwrap_err();
    assert_eq!(error.http_status(), Some(404));
    assert!(error.to_string().contains("connect again"), "{error}");
    assert!(matches!(
        client.close().await,
        Err(ClientError::SessionNotFound { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_failures_are_clear() {
    // Nothing listens on the port of a server that stopped.
    let fixture = Fixture::new();
    let url = fixture.server.mcp_url();
    fixture.server.shutdown().unwrap();
    let error = McpClient::connect(ClientConfig::new(url))
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Connection(_)), "{error}");
    let error = McpClient::connect(ClientConfig::new("https://example.invalid/mcp"))
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::InvalidUrl { .. }), "{error}");
}
