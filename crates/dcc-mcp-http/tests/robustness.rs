//! Robustness limits of `/mcp`: the session cap (the least recently used idle session is evicted;
//! `503` + `Retry-After` only when every session is busy) and client cancellation (`notifications/cancelled`) of running calls and of the jobs they
//! started. The catch-panic layer is tested in the crate's unit tests (`src/panic.rs`), where a
//! route that panics on purpose exists.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::Router;
use common::*;
use dcc_mcp_http::{
    Execution, McpHttpConfig, ToolContext, ToolRegistry, ToolSpec, SESSIONS_FULL_RETRY_AFTER_SECS,
};
use serde_json::{json, Value};

fn ping(id: i64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "ping"})
}

fn initialize_message(id: i64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}
    }})
}

fn cancelled(request_id: Value) -> Value {
    json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
           "params": {"requestId": request_id, "reason": "user pressed stop"}})
}

/// Opens the session's SSE stream and keeps it open (a busy session) while the response lives.
async fn open_stream(router: &Router, session: &str) -> axum::response::Response {
    let response = tower::ServiceExt::oneshot(router.clone(), sse_request(session))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response
}

#[tokio::test]
async fn initialize_when_every_session_is_busy_is_503_with_retry_after() {
    let server = server_with(
        test_registry(),
        McpHttpConfig {
            max_sessions: 2,
            ..Default::default()
        },
    );
    let router = server.router();
    let first = initialize(&router).await;
    let second = initialize(&router).await;
    let streams = (
        open_stream(&router, &first).await,
        open_stream(&router, &second).await,
    );

    for id in [7, 8] {
        let refused = post(&router, None, initialize_message(id)).await;
        assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            refused.headers["retry-after"],
            SESSIONS_FULL_RETRY_AFTER_SECS.to_string().as_str()
        );
        assert_eq!(refused.headers["retry-after"], "5");
        assert_eq!(refused.headers["content-type"], "application/json");
        assert!(refused.headers.get("mcp-session-id").is_none());
        assert_eq!(
            refused.body,
            json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32000, "message":
                "Service Unavailable: too many sessions (max_sessions = 2) and every one is busy; \
                 end unused sessions with DELETE /mcp or retry later"}})
        );
    }

    // The busy sessions were not touched by the refusals.
    for session in [&first, &second] {
        let reply = post(&router, Some(session), ping(1)).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.body["result"], json!({}));
    }

    // Once `first`'s stream ends it is idle, and the least recently used idle session is evicted.
    drop(streams.0);
    let third = initialize(&router).await;
    assert_eq!(
        post(&router, Some(&third), ping(2)).await.status,
        StatusCode::OK
    );
    let evicted = post(&router, Some(&first), ping(3)).await;
    assert_eq!(evicted.status, StatusCode::NOT_FOUND);
    assert_eq!(evicted.body["error"]["code"], -32001);
    assert_eq!(
        post(&router, Some(&second), ping(4)).await.status,
        StatusCode::OK
    );
    drop(streams.1);
}

#[tokio::test]
async fn at_max_sessions_the_least_recently_used_idle_session_is_evicted() {
    let server = server_with(
        test_registry(),
        McpHttpConfig {
            max_sessions: 3,
            ..Default::default()
        },
    );
    let router = server.router();
    let sessions = [
        initialize(&router).await,
        initialize(&router).await,
        initialize(&router).await,
    ];
    // Pinging the oldest makes the second the least recently used.
    assert_eq!(
        post(&router, Some(&sessions[0]), ping(1)).await.status,
        StatusCode::OK
    );
    let newest = initialize(&router).await;
    assert_eq!(
        post(&router, Some(&sessions[1]), ping(2)).await.status,
        StatusCode::NOT_FOUND
    );
    for live in [&sessions[0], &sessions[2], &newest] {
        assert_eq!(
            post(&router, Some(live), ping(3)).await.status,
            StatusCode::OK
        );
    }
}

/// A tool that hands its context to the test, then runs until it is cancelled.
fn until_cancelled_registry(execution: Execution) -> (ToolRegistry, mpsc::Receiver<ToolContext>) {
    let (started_tx, started_rx) = mpsc::channel::<ToolContext>();
    let started_tx = Mutex::new(started_tx);
    let registry = ToolRegistry::new();
    registry
        .register_with_handler(
            ToolSpec::new("wait").execution(execution),
            handler(move |_, ctx| {
                let _ = started_tx.lock().unwrap().send(ctx.clone());
                let give_up = Instant::now() + HANG_GUARD;
                while !ctx.is_cancelled() && Instant::now() < give_up {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err("stopped".into())
            }),
        )
        .unwrap();
    (registry, started_rx)
}

async fn started(
    receiver: mpsc::Receiver<ToolContext>,
) -> (ToolContext, mpsc::Receiver<ToolContext>) {
    tokio::task::spawn_blocking(move || {
        let context = receiver
            .recv_timeout(HANG_GUARD)
            .expect("hang guard: tool never started");
        (context, receiver)
    })
    .await
    .unwrap()
}

/// POSTs a notification; it must be `202` with no body.
async fn notify(router: &axum::Router, session: &str, message: Value) {
    let reply = post(router, Some(session), message).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert_eq!(reply.raw, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_cancels_a_running_sync_call() {
    let (registry, started_rx) = until_cancelled_registry(Execution::Sync);
    let server = server_with(registry, McpHttpConfig::default());
    let router = server.router();
    let session = initialize(&router).await;
    let other = initialize(&router).await;

    let call = tokio::spawn({
        let (router, session) = (router.clone(), session.clone());
        async move {
            post(
                &router,
                Some(&session),
                json!({"jsonrpc": "2.0", "id": "call-7", "method": "tools/call",
                       "params": {"name": "wait", "arguments": {}}}),
            )
            .await
        }
    });
    let (context, _started_rx) = started(started_rx).await;

    // Cancellations that do not name this call are accepted and change nothing: a number id
    // where the call used a string, an unknown id, no params, the right id in another session.
    notify(&router, &session, cancelled(json!(7))).await;
    notify(&router, &session, cancelled(json!("call-8"))).await;
    notify(
        &router,
        &session,
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled"}),
    )
    .await;
    notify(&router, &other, cancelled(json!("call-7"))).await;
    assert!(!context.is_cancelled());
    assert!(!call.is_finished());

    notify(&router, &session, cancelled(json!("call-7"))).await;
    assert!(context.is_cancelled());
    let reply = call.await.unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.body,
        json!({"jsonrpc": "2.0", "id": "call-7", "result": {"content": [{"type": "text",
            "text": "tool 'wait' was cancelled by the client (notifications/cancelled)"}],
            "isError": true}})
    );

    // Once answered, the id is free again: cancelling it now does nothing (and is still 202).
    notify(&router, &session, cancelled(json!("call-7"))).await;
}

#[cfg(feature = "workflow")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_the_request_that_started_a_job_cancels_the_job() {
    use tower::ServiceExt;

    let (registry, started_rx) = until_cancelled_registry(Execution::Async);
    let server = server_with(
        registry,
        McpHttpConfig {
            job_concurrency: 1,
            job_queue_capacity: 2,
            ..Default::default()
        },
    );
    let router = server.router();
    let session = initialize(&router).await;
    let other = initialize(&router).await;

    let start = |id: i64| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
               "params": {"name": "wait", "arguments": {}}})
    };
    let job_of = |reply: &Value| {
        reply["result"]["structuredContent"]["jobId"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let running = job_of(&post(&router, Some(&session), start(41)).await.body);
    let (context, _started_rx) = started(started_rx).await;
    let queued = job_of(&post(&router, Some(&session), start(42)).await.body);

    // A queued job is cancelled at once.
    notify(&router, &session, cancelled(json!(42))).await;
    let status = call(&router, &session, "jobs.get", json!({"jobId": queued})).await;
    assert_eq!(status["result"]["structuredContent"]["status"], "cancelled");

    // Another session cannot cancel this session's job, even with the same request id.
    notify(&router, &other, cancelled(json!(41))).await;
    assert!(!context.is_cancelled());
    let status = call(&router, &session, "jobs.get", json!({"jobId": running})).await;
    assert_eq!(status["result"]["structuredContent"]["status"], "running");

    // The running job sees is_cancelled() and ends as cancelled.
    notify(&router, &session, cancelled(json!(41))).await;
    assert!(context.is_cancelled());
    let stream = router.clone().oneshot(sse_request(&session)).await.unwrap();
    let messages = read_sse(stream.into_body(), 2).await;
    // Both completions, in either order (the queued job may report before the running one does).
    let mut finished: Vec<(String, String, String)> = messages
        .iter()
        .map(|message| {
            let data = &message["params"]["data"];
            (
                data["jobId"].as_str().unwrap().to_owned(),
                data["status"].as_str().unwrap().to_owned(),
                data["error"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    finished.sort();
    let mut expected = [
        (running, "cancelled".to_owned(), "stopped".to_owned()),
        (
            queued,
            "cancelled".to_owned(),
            "cancelled before it started".to_owned(),
        ),
    ];
    expected.sort();
    assert_eq!(finished, expected);
}
