//! Async jobs (feature `workflow`): immediate job id, bounded queue ("job queue full"), built-in job
//! tools, progress and completion notifications on the session's SSE stream.

#![cfg(feature = "workflow")]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use common::*;
use dcc_mcp_http::{Execution, McpHttpConfig, ToolRegistry, ToolSpec};
use serde_json::{json, Value};
use tower::ServiceExt;

/// A registry with `gate`: an async tool that reports progress, signals that it started, then blocks
/// until released.
fn gated_registry() -> (ToolRegistry, mpsc::Receiver<()>, mpsc::Sender<()>) {
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let started_tx = Mutex::new(started_tx);
    let release_rx = Arc::new(Mutex::new(release_rx));
    let registry = ToolRegistry::new();
    registry
        .register_with_handler(
            ToolSpec::new("gate").execution(Execution::Async),
            handler(move |args, ctx| {
                // Progress first, then the signal: the test reads the job's progress once signalled.
                ctx.report_progress(1.0, Some(2.0), Some("started"));
                let _ = started_tx.lock().unwrap().send(());
                release_rx.lock().unwrap().recv().unwrap();
                if args.get("fail") == Some(&Value::Bool(true)) {
                    return Err("gate failed".into());
                }
                Ok(json!({"released": true}))
            }),
        )
        .unwrap();
    (registry, started_rx, release_tx)
}

fn config() -> McpHttpConfig {
    McpHttpConfig {
        job_queue_capacity: 1,
        job_concurrency: 1,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_full_completion_and_notifications() {
    let (registry, started, release) = gated_registry();
    let server = server_with(registry, config());
    let router = server.router();
    let session = initialize(&router).await;
    let stream = router.clone().oneshot(sse_request(&session)).await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);

    // Job 1 runs (the one permit), job 2 waits (the one queue slot), job 3 is refused.
    let first = job_id(&call(&router, &session, "gate", json!({})).await);
    let started = tokio::task::spawn_blocking(move || {
        started.recv().unwrap();
        started
    })
    .await
    .unwrap();
    let second_reply = call(&router, &session, "gate", json!({"fail": true})).await;
    let second = job_id(&second_reply);
    assert_eq!(
        second_reply["result"]["structuredContent"],
        json!({"jobId": second, "status": "queued", "tool": "gate"})
    );
    let third = call(&router, &session, "gate", json!({})).await;
    assert_eq!(
        third["result"],
        json!({"content": [{"type": "text", "text": "job queue full: 1 jobs are already waiting; retry later or raise job_queue_capacity"}], "isError": true})
    );

    let status = call(&router, &session, "jobs.get", json!({"jobId": first})).await;
    assert_eq!(
        status["result"]["structuredContent"],
        json!({"jobId": first, "tool": "gate", "status": "running", "progress": 1.0, "total": 2.0, "message": "started"})
    );

    release.send(()).unwrap();
    tokio::task::spawn_blocking(move || started.recv().unwrap())
        .await
        .unwrap();
    release.send(()).unwrap();

    // progress(first), completion(first), progress(second), completion(second)
    let messages = read_sse(stream.into_body(), 4).await;
    assert_eq!(
        messages[0],
        json!({"jsonrpc": "2.0", "method": "notifications/progress",
               "params": {"progressToken": first, "progress": 1.0, "total": 2.0, "message": "started"}})
    );
    assert_eq!(messages[1]["method"], "notifications/message");
    assert_eq!(messages[1]["params"]["level"], "info");
    assert_eq!(messages[1]["params"]["logger"], "dcc-mcp.jobs");
    let done = &messages[1]["params"]["data"];
    assert_eq!(
        (
            done["event"].as_str(),
            done["jobId"].as_str(),
            done["status"].as_str()
        ),
        (
            Some("job_finished"),
            Some(first.as_str()),
            Some("succeeded")
        )
    );
    assert_eq!(
        done["result"]["structuredContent"],
        json!({"released": true})
    );
    assert_eq!(messages[2]["params"]["progressToken"], second);
    assert_eq!(messages[3]["params"]["level"], "error");
    assert_eq!(messages[3]["params"]["data"]["status"], "failed");
    assert_eq!(messages[3]["params"]["data"]["error"], "gate failed");

    let list = call(&router, &session, "jobs.list", json!({})).await;
    let jobs = list["result"]["structuredContent"]["jobs"]
        .as_array()
        .unwrap();
    let summary: Vec<(&str, &str)> = jobs
        .iter()
        .map(|job| {
            (
                job["jobId"].as_str().unwrap(),
                job["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [(first.as_str(), "succeeded"), (second.as_str(), "failed")]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_a_queued_job_and_session_scoping() {
    let (registry, started, release) = gated_registry();
    let server = server_with(registry, config());
    let router = server.router();
    let session = initialize(&router).await;
    let other = initialize(&router).await;

    let first = job_id(&call(&router, &session, "gate", json!({})).await);
    tokio::task::spawn_blocking(move || started.recv().unwrap())
        .await
        .unwrap();
    let second = job_id(&call(&router, &session, "gate", json!({})).await);

    let cancelled = call(&router, &session, "jobs.cancel", json!({"jobId": second})).await;
    assert_eq!(
        cancelled["result"]["structuredContent"]["status"],
        "cancelled"
    );

    // Another session cannot see the job.
    let hidden = call(&router, &other, "jobs.get", json!({"jobId": first})).await;
    assert_eq!(hidden["result"]["isError"], true);
    let missing = call(&router, &session, "jobs.get", json!({})).await;
    assert_eq!(
        missing["result"],
        json!({"content": [{"type": "text", "text": "jobs.get needs a string argument \"jobId\""}], "isError": true})
    );

    release.send(()).unwrap();
    let stream = router.clone().oneshot(sse_request(&session)).await.unwrap();
    // Buffered before the stream opened: progress of `first`; the completion of the cancelled
    // `second`, which left the queue at once, before `first` was released; completion of `first`.
    let messages = read_sse(stream.into_body(), 3).await;
    assert_eq!(messages[1]["params"]["data"]["jobId"], second);
    assert_eq!(messages[1]["params"]["data"]["status"], "cancelled");
    assert_eq!(
        messages[1]["params"]["data"]["error"],
        "cancelled before it started"
    );
    assert_eq!(messages[2]["params"]["data"]["jobId"], first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_tool_runs_as_a_job_when_the_call_asks() {
    let server = server_with(test_registry(), McpHttpConfig::default());
    let router = server.router();
    let session = initialize(&router).await;
    let reply = post(
        &router,
        Some(&session),
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
            "name": "echo", "arguments": {"text": "later"}, "_meta": {"dcc-mcp/async": true}}}),
    )
    .await;
    let id = job_id(&reply.body);
    let stream = router.clone().oneshot(sse_request(&session)).await.unwrap();
    let messages = read_sse(stream.into_body(), 1).await;
    let done = &messages[0]["params"]["data"];
    assert_eq!(done["jobId"], id);
    assert_eq!(done["status"], "succeeded");
    assert_eq!(
        done["result"],
        json!({"content": [{"type": "text", "text": "later"}], "isError": false})
    );
}

/// A job asks its client on the session's stream (its POST was answered when it was accepted): the
/// client POSTs the answer and the job finishes with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_elicits_on_the_session_stream() {
    use dcc_mcp_http::protocol::client_requests::{ElicitResult, FormSchema};
    let registry = ToolRegistry::new();
    registry
        .register_with_handler(
            ToolSpec::new("purge").execution(Execution::Async),
            handler(|_args, ctx| {
                let form = FormSchema::new()
                    .field("ok", json!({"type": "boolean"}), true)
                    .build();
                let answer: ElicitResult = ctx.elicit("Delete 1204 keyframes?", form).wait()?;
                Ok(json!({"action": answer.action, "content": answer.content}))
            }),
        )
        .unwrap();
    let server = server_with(registry, McpHttpConfig::default());
    let router = server.router();
    let reply = post(
        &router,
        None,
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {"elicitation": {}},
            "clientInfo": {"name": "t", "version": "1"}}}),
    )
    .await;
    let session = reply.headers["mcp-session-id"].to_str().unwrap().to_owned();
    let stream = router.clone().oneshot(sse_request(&session)).await.unwrap();
    let mut body = stream.into_body();
    let job = job_id(&call(&router, &session, "purge", json!({})).await);

    let asked = read_sse_from(&mut body, 1).await;
    assert_eq!(asked[0]["method"], "elicitation/create", "{asked:?}");
    assert_eq!(asked[0]["params"]["message"], "Delete 1204 keyframes?");
    let request_id = asked[0]["id"].clone();
    let answered = post(
        &router,
        Some(&session),
        json!({"jsonrpc": "2.0", "id": request_id, "result": {"action": "accept", "content": {"ok": true}}}),
    )
    .await;
    assert_eq!(answered.status, StatusCode::ACCEPTED);

    let done = read_sse_from(&mut body, 1).await;
    assert_eq!(done[0]["params"]["data"]["jobId"], job);
    assert_eq!(done[0]["params"]["data"]["status"], "succeeded");
    assert_eq!(
        done[0]["params"]["data"]["result"]["structuredContent"],
        json!({"action": "accept", "content": {"ok": true}})
    );
}
