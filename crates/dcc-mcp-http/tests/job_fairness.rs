//! Jobs and calls named exactly (feature `workflow`): a `notifications/cancelled` cancels only the
//! latest call of its session under that id, `DELETE` flags the session's running synchronous calls,
//! and a finished job result nobody fetched keeps its session from being evicted for another one
//! until `jobs.get` fetched it. (The per-address share of the queue needs a client address: it is
//! tested against the real server in `tests/hostile/test_jobs.py`.)

#![cfg(all(feature = "workflow", feature = "prometheus"))]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use common::*;
use dcc_mcp_http::{Execution, McpHttpConfig, ToolRegistry, ToolSpec};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

/// A registry with `spin` (async) and `spin_sync` (sync): each reports `running:<tag>`, runs until
/// `is_cancelled()`, then reports `stopped:<tag>`; and `blob` (sync): `bytes` letters.
fn registry() -> (ToolRegistry, mpsc::Receiver<String>) {
    let (tx, rx) = mpsc::channel::<String>();
    let registry = ToolRegistry::new();
    for (name, execution) in [("spin", Execution::Async), ("spin_sync", Execution::Sync)] {
        let tx = Mutex::new(tx.clone());
        registry
            .register_with_handler(
                ToolSpec::new(name).execution(execution),
                handler(move |args, ctx| {
                    let tag = args["tag"].as_str().unwrap_or("").to_owned();
                    let send = |what: String| {
                        let _ = tx.lock().unwrap().send(what);
                    };
                    send(format!("running:{tag}"));
                    let since = std::time::Instant::now();
                    while !ctx.is_cancelled() && since.elapsed() < HANG_GUARD {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    let how = if ctx.is_cancelled() {
                        "stopped"
                    } else {
                        "gave up"
                    };
                    send(format!("{how}:{tag}"));
                    Err("spin stopped".into())
                }),
            )
            .unwrap();
    }
    registry
        .register_with_handler(
            ToolSpec::new("blob"),
            handler(|args, _| Ok(json!("x".repeat(args["bytes"].as_u64().unwrap() as usize)))),
        )
        .unwrap();
    (registry, rx)
}

async fn next(rx: &mpsc::Receiver<String>) -> String {
    tokio::task::block_in_place(|| rx.recv_timeout(HANG_GUARD).expect("hang guard"))
}

/// `tools/call` with request id `id`, as a job.
async fn call_job(router: &Router, session: &str, id: i64, name: &str, arguments: Value) -> String {
    let reply = post(
        router,
        Some(session),
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
            "name": name, "arguments": arguments, "_meta": {"dcc-mcp/async": true}}}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.raw);
    job_id(&reply.body)
}

async fn cancel_request(router: &Router, session: &str, id: i64) {
    let reply = post(
        router,
        Some(session),
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": id}}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
}

/// The status of a `ping` in `session` (404 once the session is gone).
async fn ping(router: &Router, session: &str) -> StatusCode {
    let request = post_request(
        Some(session),
        None,
        json!({"jsonrpc": "2.0", "id": 9, "method": "ping"}).to_string(),
    );
    let response = tokio::time::timeout(HANG_GUARD, router.clone().oneshot(request))
        .await
        .expect("hang guard")
        .unwrap();
    response.status()
}

async fn status(router: &Router, session: &str, job: &str) -> Value {
    let reply = call(router, session, "jobs.get", json!({ "jobId": job })).await;
    reply["result"]["structuredContent"]["status"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_request_id_names_the_latest_call_of_its_session_only() {
    let (registry, rx) = registry();
    let config = McpHttpConfig {
        job_concurrency: 4,
        enable_prometheus: true,
        ..Default::default()
    };
    let server = server_with(registry, config);
    let router = server.router();
    let mine = initialize(&router).await;
    let theirs = initialize(&router).await;
    let older = call_job(&router, &mine, 7, "spin", json!({"tag": "older"})).await;
    assert_eq!(next(&rx).await, "running:older");
    let newer = call_job(&router, &mine, 7, "spin", json!({"tag": "newer"})).await;
    assert_eq!(next(&rx).await, "running:newer");
    let other = call_job(&router, &theirs, 7, "spin", json!({"tag": "other"})).await;
    assert_eq!(next(&rx).await, "running:other");

    cancel_request(&router, &mine, 7).await;
    assert_eq!(next(&rx).await, "stopped:newer");
    // The older job of the same id and the other session's job of the same id keep running.
    assert_eq!(status(&router, &mine, &older).await, "running");
    assert_eq!(status(&router, &theirs, &other).await, "running");
    // The newer job has finished: cancelling id 7 again cancels nothing.
    while status(&router, &mine, &newer).await != "cancelled" {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    cancel_request(&router, &mine, 7).await;
    assert_eq!(status(&router, &mine, &older).await, "running");
    assert!(rx.try_recv().is_err());

    for (session, job) in [(&mine, &older), (&theirs, &other)] {
        call(&router, session, "jobs.cancel", json!({ "jobId": job })).await;
    }
    let mut stopped = vec![next(&rx).await, next(&rx).await];
    stopped.sort();
    assert_eq!(stopped, ["stopped:older", "stopped:other"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_flags_the_running_sync_calls_of_the_session() {
    let (registry, rx) = registry();
    let server = server_with(registry, McpHttpConfig::default());
    let router = server.router();
    let session = initialize(&router).await;
    let running = {
        let (router, session) = (router.clone(), session.clone());
        tokio::spawn(async move { call(&router, &session, "spin_sync", json!({"tag": "s"})).await })
    };
    assert_eq!(next(&rx).await, "running:s");
    let delete = send(
        &router,
        Request::delete("/mcp")
            .header("mcp-session-id", &session)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(delete.status, StatusCode::NO_CONTENT);
    assert_eq!(next(&rx).await, "stopped:s");
    let reply = tokio::time::timeout(HANG_GUARD, running)
        .await
        .expect("hang guard")
        .unwrap();
    assert_eq!(reply["result"]["isError"], true, "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unfetched_result_keeps_its_session_from_eviction_until_fetched() {
    let (registry, _rx) = registry();
    let config = McpHttpConfig {
        max_sessions: 2,
        enable_prometheus: true,
        ..Default::default()
    };
    let server = server_with(registry, config);
    let router = server.router();
    let holder = initialize(&router).await;
    let job = call_job(&router, &holder, 1, "blob", json!({"bytes": 10})).await;
    // jobs.list does not fetch the result: poll it until the job finished.
    loop {
        let list = call(&router, &holder, "jobs.list", json!({})).await;
        if list["result"]["structuredContent"]["jobs"][0]["status"] == "succeeded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let second = initialize(&router).await;
    // At the cap, `holder` is the least recently used idle session, but its result is unfetched:
    // `second` is evicted instead.
    let third = initialize(&router).await;
    assert_eq!(ping(&router, &second).await, StatusCode::NOT_FOUND);
    let fetched = call(&router, &holder, "jobs.get", json!({ "jobId": job })).await;
    assert_eq!(
        fetched["result"]["structuredContent"]["result"]["content"][0]["text"],
        "xxxxxxxxxx"
    );
    // Fetched: `holder` may go now. `third` is used, so `holder` is the least recently used.
    assert_eq!(ping(&router, &third).await, StatusCode::OK);
    let _fourth = initialize(&router).await;
    assert_eq!(ping(&router, &holder).await, StatusCode::NOT_FOUND);
    let rejected = "dcc_mcp_rejected_total{reason=\"session_evicted\"} ";
    let response = router
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(
        text.lines().any(|line| line == format!("{rejected}2")),
        "{text}"
    );
}
