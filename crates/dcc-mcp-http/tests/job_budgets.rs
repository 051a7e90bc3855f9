//! Job budgets (feature `workflow`): the per-session quota and running share, the per-result and
//! retention byte budgets, fair retention across sessions, notification and outbox budgets, the job
//! deadline, and cancellation by `jobs.cancel` and by the end of the session. Each test checks the
//! exact answers and the exact counts in `dcc_mcp_rejected_total` and `dcc_mcp_job_created_total`.

#![cfg(all(feature = "workflow", feature = "prometheus"))]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use common::*;
use dcc_mcp_http::{Execution, McpHttpConfig, ToolRegistry, ToolSpec};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

/// Handler-side signals of a gated tool: `started` gets one message per started call; each call
/// blocks until one message on `release`.
struct Gate {
    started: mpsc::Receiver<String>,
    release: mpsc::Sender<()>,
}

impl Gate {
    /// Waits (off the runtime) until a gated call started; returns its `tag` argument.
    async fn next_started(&self) -> String {
        let started = &self.started;
        tokio::task::block_in_place(|| started.recv_timeout(HANG_GUARD).expect("hang guard"))
    }

    fn release(&self) {
        self.release.send(()).unwrap();
    }
}

/// A registry with:
/// - `gate` (async): reports that it started (its `tag` argument), then blocks until released;
/// - `spin` (async): runs until `is_cancelled()`, then reports `stopped:<tag>` on `started` and fails;
/// - `blob` (sync): returns a text of `bytes` letters;
/// - `progress` (sync): three progress reports.
fn registry() -> (ToolRegistry, Gate) {
    let (started_tx, started_rx) = mpsc::channel::<String>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Arc::new(Mutex::new(release_rx));
    let registry = ToolRegistry::new();
    let tx = Mutex::new(started_tx.clone());
    registry
        .register_with_handler(
            ToolSpec::new("gate").execution(Execution::Async),
            handler(move |args, _ctx| {
                let tag = args["tag"].as_str().unwrap_or("").to_owned();
                tx.lock().unwrap().send(tag).unwrap();
                // Bounded, so a failed test cannot leave a handler blocking the runtime's drop.
                release_rx.lock().unwrap().recv_timeout(HANG_GUARD).unwrap();
                Ok(json!("released"))
            }),
        )
        .unwrap();
    let tx = Mutex::new(started_tx);
    registry
        .register_with_handler(
            ToolSpec::new("spin").execution(Execution::Async),
            handler(move |args, ctx| {
                let tag = args["tag"].as_str().unwrap_or("").to_owned();
                tx.lock().unwrap().send(format!("running:{tag}")).unwrap();
                let since = std::time::Instant::now();
                while !ctx.is_cancelled() && since.elapsed() < HANG_GUARD {
                    std::thread::sleep(Duration::from_millis(2));
                }
                let how = if ctx.is_cancelled() {
                    "stopped"
                } else {
                    "gave up"
                };
                tx.lock().unwrap().send(format!("{how}:{tag}")).unwrap();
                Err("spin stopped".into())
            }),
        )
        .unwrap();
    registry
        .register_with_handler(
            ToolSpec::new("blob"),
            handler(|args, _| Ok(json!("x".repeat(args["bytes"].as_u64().unwrap() as usize)))),
        )
        .unwrap();
    common::register_progress(&registry);
    (
        registry,
        Gate {
            started: started_rx,
            release: release_tx,
        },
    )
}

fn base_config() -> McpHttpConfig {
    McpHttpConfig {
        enable_prometheus: true,
        ..Default::default()
    }
}

/// `tools/call` as a job (`_meta` async), with an optional progress token.
async fn call_async(router: &Router, session: &str, name: &str, arguments: Value) -> Value {
    let reply = post(
        router,
        Some(session),
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
            "name": name, "arguments": arguments, "_meta": {"dcc-mcp/async": true}}}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.raw);
    reply.body
}

fn error_text(reply: &Value) -> &str {
    assert_eq!(reply["result"]["isError"], true, "{reply}");
    reply["result"]["content"][0]["text"].as_str().unwrap()
}

async fn job(router: &Router, session: &str, id: &str) -> Value {
    let reply = call(router, session, "jobs.get", json!({ "jobId": id })).await;
    reply["result"].clone()
}

/// The value of one exposition line `name{labels}`.
async fn metric(router: &Router, series: &str) -> f64 {
    let response = router
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no series {series}"))
        .parse()
        .unwrap()
}

async fn rejected(router: &Router, reason: &str) -> f64 {
    metric(
        router,
        &format!("dcc_mcp_rejected_total{{reason=\"{reason}\"}}"),
    )
    .await
}

async fn created(router: &Router, tool: &str, result: &str) -> f64 {
    metric(
        router,
        &format!("dcc_mcp_job_created_total{{result=\"{result}\",tool=\"{tool}\"}}"),
    )
    .await
}

/// Reads SSE messages until a `job_finished` completion for each of `ids` arrived; returns the
/// completions by job id.
async fn completions(body: &mut Body, ids: &[&str]) -> std::collections::HashMap<String, Value> {
    let mut done = std::collections::HashMap::new();
    let mut buffer = String::new();
    tokio::time::timeout(HANG_GUARD, async {
        while ids.iter().any(|id| !done.contains_key(*id)) {
            let frame = body.frame().await.expect("stream ended").unwrap();
            if let Ok(data) = frame.into_data() {
                buffer.push_str(std::str::from_utf8(&data).unwrap());
            }
            while let Some(end) = buffer.find("\n\n") {
                let event: String = buffer.drain(..end + 2).collect();
                for line in event.lines() {
                    let Some(data) = line.strip_prefix("data: ") else {
                        continue;
                    };
                    let message: Value = serde_json::from_str(data).unwrap();
                    let data = &message["params"]["data"];
                    if data["event"] == "job_finished" {
                        done.insert(data["jobId"].as_str().unwrap().to_owned(), data.clone());
                    }
                }
            }
        }
    })
    .await
    .expect("hang guard: missing completions");
    done
}

/// Runs `blob` as a job and waits for its completion on `stream`; returns the job id.
async fn blob_job(router: &Router, session: &str, stream: &mut Body, bytes: u64) -> String {
    let id = job_id(&call_async(router, session, "blob", json!({ "bytes": bytes })).await);
    completions(stream, &[&id]).await;
    id
}

async fn open_stream(router: &Router, session: &str) -> Body {
    let stream = router.clone().oneshot(sse_request(session)).await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    stream.into_body()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_quota_refuses_one_session_not_the_others() {
    let (registry, gate) = registry();
    let config = McpHttpConfig {
        max_jobs_per_session: 2,
        job_concurrency: 3,
        job_queue_capacity: 10,
        ..base_config()
    };
    let server = server_with(registry, config);
    let router = server.router();
    let greedy = initialize(&router).await;
    let polite = initialize(&router).await;

    let first = job_id(&call(&router, &greedy, "gate", json!({"tag": "g1"})).await);
    let second = job_id(&call(&router, &greedy, "gate", json!({"tag": "g2"})).await);
    let refused = call(&router, &greedy, "gate", json!({"tag": "g3"})).await;
    assert_eq!(
        error_text(&refused),
        "job quota reached: this session already has 2 queued or running jobs \
         (max_jobs_per_session); wait for one to finish or cancel one with jobs.cancel"
    );
    // The other session is not refused, and its job runs next to the greedy session's two.
    job_id(&call(&router, &polite, "gate", json!({"tag": "p1"})).await);
    let mut started = [
        gate.next_started().await,
        gate.next_started().await,
        gate.next_started().await,
    ];
    started.sort();
    assert_eq!(started, ["g1", "g2", "p1"]);

    assert_eq!(created(&router, "gate", "accepted").await, 3.0);
    assert_eq!(created(&router, "gate", "quota").await, 1.0);
    assert_eq!(created(&router, "gate", "queue_full").await, 0.0);
    assert_eq!(rejected(&router, "job_quota").await, 1.0);

    // Finished jobs give their session slots back before their completion is announced.
    let mut stream = open_stream(&router, &greedy).await;
    for _ in 0..3 {
        gate.release();
    }
    completions(&mut stream, &[&first, &second]).await;
    job_id(&call(&router, &greedy, "gate", json!({"tag": "g4"})).await);
    assert_eq!(gate.next_started().await, "g4");
    gate.release();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_session_never_takes_every_worker() {
    let (registry, gate) = registry();
    let config = McpHttpConfig {
        job_concurrency: 2,
        ..base_config()
    };
    let server = server_with(registry, config);
    let router = server.router();
    let greedy = initialize(&router).await;
    let polite = initialize(&router).await;

    // `g2` is submitted once `g1` runs, so which of the two runs first is not left to the scheduler.
    job_id(&call(&router, &greedy, "gate", json!({"tag": "g1"})).await);
    assert_eq!(gate.next_started().await, "g1");
    let second = job_id(&call(&router, &greedy, "gate", json!({"tag": "g2"})).await);
    // A worker is free, but `greedy` already runs job_concurrency - 1 = 1 job: `g2` waits.
    job_id(&call(&router, &polite, "gate", json!({"tag": "p1"})).await);
    assert_eq!(gate.next_started().await, "p1");
    assert_eq!(
        job(&router, &greedy, &second).await["structuredContent"]["status"],
        "queued"
    );
    for _ in 0..3 {
        gate.release();
    }
    assert_eq!(gate.next_started().await, "g2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_past_the_budgets() {
    let (registry, _gate) = registry();
    let config = McpHttpConfig {
        max_job_result_bytes: 1000,
        max_notification_result_bytes: 200,
        ..base_config()
    };
    let server = server_with(registry, config);
    let router = server.router();
    let session = initialize(&router).await;
    let mut stream = open_stream(&router, &session).await;

    let too_large = job_id(&call_async(&router, &session, "blob", json!({"bytes": 2000})).await);
    let medium = job_id(&call_async(&router, &session, "blob", json!({"bytes": 500})).await);
    let small = job_id(&call_async(&router, &session, "blob", json!({"bytes": 10})).await);
    let done = completions(&mut stream, &[&too_large, &medium, &small]).await;

    let discarded = "job result too large: the result of tool 'blob' is larger than \
                     max_job_result_bytes (1000 bytes) and was discarded";
    assert_eq!(
        done[&too_large],
        json!({"event": "job_finished", "jobId": too_large, "tool": "blob", "status": "failed",
               "error": discarded})
    );
    let medium_result =
        json!({"content": [{"type": "text", "text": "x".repeat(500)}], "isError": false});
    let medium_bytes = medium_result.to_string().len();
    // Over the notification budget: id and status only, and the size; the result stays in jobs.get.
    assert_eq!(
        done[&medium],
        json!({"event": "job_finished", "jobId": medium, "tool": "blob", "status": "succeeded",
               "resultBytes": medium_bytes})
    );
    assert_eq!(
        done[&small]["result"],
        json!({"content": [{"type": "text", "text": "xxxxxxxxxx"}], "isError": false})
    );
    assert_eq!(
        job(&router, &session, &medium).await["structuredContent"]["result"],
        medium_result
    );
    assert_eq!(
        job(&router, &session, &too_large).await["structuredContent"]["error"],
        discarded
    );

    // jobs.list carries no result and no error, only their sizes.
    let list = call(&router, &session, "jobs.list", json!({})).await;
    let jobs = list["result"]["structuredContent"]["jobs"]
        .as_array()
        .unwrap();
    assert_eq!(jobs.len(), 3);
    for entry in jobs {
        assert!(
            entry.get("result").is_none() && entry.get("error").is_none(),
            "{entry}"
        );
    }
    assert_eq!(jobs[1]["resultBytes"], medium_bytes);
    assert_eq!(jobs[0]["resultBytes"], discarded.len());

    assert_eq!(rejected(&router, "result_too_large").await, 1.0);
    assert_eq!(created(&router, "blob", "accepted").await, 3.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_session_cannot_push_out_the_jobs_of_another() {
    let (registry, _gate) = registry();
    let result_bytes = |n: usize| {
        json!({"content": [{"type": "text", "text": "x".repeat(n)}], "isError": false})
            .to_string()
            .len()
    };
    let config = McpHttpConfig {
        max_finished_jobs: 4,
        max_job_result_bytes: 1100,
        // Room for the victim's result and two of the flood's, not three.
        max_finished_job_bytes: result_bytes(10) + 2 * result_bytes(1000) + 100,
        ..base_config()
    };
    let server = server_with(registry, config);
    let router = server.router();
    let victim = initialize(&router).await;
    let flood = initialize(&router).await;

    let mut stream = open_stream(&router, &victim).await;
    let kept = job_id(&call_async(&router, &victim, "blob", json!({"bytes": 10})).await);
    completions(&mut stream, &[&kept]).await;

    // One job after the other, so they finish in a known order.
    let mut stream = open_stream(&router, &flood).await;
    // Large results: the byte budget evicts the flood's own oldest results.
    let mut large = Vec::new();
    for _ in 0..3 {
        large.push(blob_job(&router, &flood, &mut stream, 1000).await);
    }
    let forgotten = job(&router, &flood, &large[0]).await;
    assert!(error_text(&json!({ "result": forgotten })).starts_with("unknown job id"));
    for id in &large[1..] {
        assert_eq!(
            job(&router, &flood, id).await["structuredContent"]["status"],
            "succeeded"
        );
    }

    // Many small results: the count budget (4) evicts the flood's oldest, never the victim's.
    let mut small = Vec::new();
    for _ in 0..5 {
        small.push(blob_job(&router, &flood, &mut stream, 1).await);
    }
    assert_eq!(
        job(&router, &victim, &kept).await["structuredContent"]["result"]["content"][0]["text"],
        "x".repeat(10)
    );
    let list = call(&router, &flood, "jobs.list", json!({})).await;
    let listed: Vec<&str> = list["result"]["structuredContent"]["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| job["jobId"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [&small[2], &small[3], &small[4]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_byte_budget_drops_and_counts_the_oldest() {
    let (registry, _gate) = registry();
    let one = json!({"jsonrpc": "2.0", "method": "notifications/progress",
                     "params": {"progressToken": "t", "progress": 1.0, "total": 3.0, "message": "step"}})
    .to_string()
    .len();
    let config = McpHttpConfig {
        max_outbox_bytes: 2 * one + one / 2,
        max_notification_result_bytes: one,
        ..base_config()
    };
    let server = server_with(registry, config);
    let router = server.router();
    let session = initialize(&router).await;
    for _ in 0..2 {
        let reply = post_json_only(
            &router,
            &session,
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
                "name": "progress", "arguments": {}, "_meta": {"progressToken": "t"}}}),
        )
        .await;
        assert_eq!(reply.body["result"]["isError"], false);
    }
    // Six notifications, room for two: the four oldest were dropped and counted.
    assert_eq!(rejected(&router, "outbox_drop").await, 4.0);
    let stream = open_stream(&router, &session).await;
    let messages = read_sse(stream, 2).await;
    let progress: Vec<&Value> = messages.iter().map(|m| &m["params"]["progress"]).collect();
    assert_eq!(progress, [&json!(2.0), &json!(3.0)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadline_ends_running_and_queued_jobs() {
    let (registry, gate) = registry();
    let config = McpHttpConfig {
        job_concurrency: 1,
        job_deadline: Some(Duration::from_millis(200)),
        ..base_config()
    };
    let server = server_with(registry, config);
    let router = server.router();
    let session = initialize(&router).await;
    let mut stream = open_stream(&router, &session).await;

    // `gate` ignores cancellation: at the deadline it is finished as failed, but it keeps its worker
    // until its handler returns, so the queued job cannot start and expires in the queue.
    // The second job is submitted once the first holds the only worker, so it is the one queued.
    let running = job_id(&call(&router, &session, "gate", json!({"tag": "r"})).await);
    assert_eq!(gate.next_started().await, "r");
    let queued = job_id(&call(&router, &session, "gate", json!({"tag": "q"})).await);
    let done = completions(&mut stream, &[&running, &queued]).await;
    assert_eq!(done[&running]["status"], "failed");
    assert_eq!(
        done[&running]["error"],
        "job deadline exceeded: ran past 0.200 s (job_deadline) and was cancelled"
    );
    assert_eq!(done[&queued]["status"], "failed");
    assert_eq!(
        done[&queued]["error"],
        "job deadline exceeded: still queued after 0.200 s (job_deadline); it never ran"
    );
    assert_eq!(rejected(&router, "expired_before_run").await, 1.0);

    // Once the handler returns, the worker is free again.
    gate.release();
    let next = job_id(&call_async(&router, &session, "blob", json!({"bytes": 1})).await);
    assert_eq!(
        completions(&mut stream, &[&next]).await[&next]["status"],
        "succeeded"
    );
    assert_eq!(
        metric(&router, "dcc_mcp_jobs_in_flight{tool=\"gate\"}").await,
        0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_queued_job_frees_its_slot_at_once() {
    let (registry, gate) = registry();
    let config = McpHttpConfig {
        job_concurrency: 1,
        job_queue_capacity: 1,
        max_jobs_per_session: 2,
        ..base_config()
    };
    let server = server_with(registry, config);
    let router = server.router();
    let session = initialize(&router).await;
    job_id(&call(&router, &session, "gate", json!({"tag": "1"})).await);
    assert_eq!(gate.next_started().await, "1");
    let queued = job_id(&call(&router, &session, "gate", json!({"tag": "2"})).await);
    assert!(
        error_text(&call(&router, &session, "gate", json!({"tag": "3"})).await)
            .starts_with("job quota reached")
    );
    let cancelled = call(&router, &session, "jobs.cancel", json!({ "jobId": queued })).await;
    assert_eq!(
        cancelled["result"]["structuredContent"]["status"],
        "cancelled"
    );
    // The queue slot and the session slot are free before `1` finishes.
    job_id(&call(&router, &session, "gate", json!({"tag": "4"})).await);
    assert_eq!(created(&router, "gate", "accepted").await, 3.0);
    assert_eq!(created(&router, "gate", "quota").await, 1.0);
    gate.release();
    assert_eq!(gate.next_started().await, "4");
    gate.release();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_session_cancels_its_jobs() {
    let (registry, gate) = registry();
    let config = McpHttpConfig {
        job_concurrency: 2,
        job_queue_capacity: 1,
        ..base_config()
    };
    let server = server_with(registry, config);
    let router = server.router();
    let doomed = initialize(&router).await;
    let other = initialize(&router).await;

    job_id(&call(&router, &doomed, "spin", json!({"tag": "a"})).await);
    assert_eq!(gate.next_started().await, "running:a");
    job_id(&call(&router, &doomed, "spin", json!({"tag": "b"})).await);
    // The queue is full of `doomed`'s jobs.
    assert_eq!(
        error_text(&call(&router, &other, "spin", json!({"tag": "x"})).await),
        "job queue full: 1 jobs are already waiting; retry later or raise job_queue_capacity"
    );
    let delete = send(
        &router,
        Request::delete("/mcp")
            .header("mcp-session-id", &doomed)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(delete.status, StatusCode::NO_CONTENT);
    // The running job sees is_cancelled(); the queued one leaves the queue and never runs.
    assert_eq!(gate.next_started().await, "stopped:a");
    let left_queue = "dcc_mcp_job_wait_seconds_count{tool=\"spin\"}";
    tokio::time::timeout(HANG_GUARD, async {
        while metric(&router, left_queue).await != 2.0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("hang guard: the queued job did not leave the queue");
    let mut stream = open_stream(&router, &other).await;
    let mine = job_id(&call(&router, &other, "spin", json!({"tag": "c"})).await);
    assert_eq!(gate.next_started().await, "running:c");
    let cancel = call(&router, &other, "jobs.cancel", json!({ "jobId": mine })).await;
    assert_eq!(cancel["result"]["isError"], false);
    assert_eq!(gate.next_started().await, "stopped:c");
    let done = completions(&mut stream, &[&mine]).await;
    assert_eq!(done[&mine]["status"], "cancelled");
    assert_eq!(created(&router, "spin", "accepted").await, 3.0);
    assert_eq!(created(&router, "spin", "queue_full").await, 1.0);
    // A full queue is a refusal reason of its own; without a client address there is no share.
    assert_eq!(rejected(&router, "job_queue_full").await, 1.0);
    assert_eq!(rejected(&router, "job_client_share").await, 0.0);
    assert_eq!(
        metric(&router, "dcc_mcp_jobs_in_flight{tool=\"spin\"}").await,
        0.0
    );
}
