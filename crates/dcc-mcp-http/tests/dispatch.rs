//! The three execution kinds through `/mcp`: inline handlers need no worker, worker handlers are
//! capped (`sync_concurrency`, "server busy" after `sync_queue_wait`, a timed-out handler keeps its
//! slot), and main-thread handlers run only inside `MainThreadExecutor::pump` on the pumping thread,
//! with a bounded queue and calls that are never run late.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use common::{call, initialize};
use dcc_mcp_http::{
    Handler, MainThreadExecutor, McpHttpConfig, McpHttpServer, ToolContext, ToolRegistry, ToolSpec,
};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

fn text(result: &Value) -> &str {
    result["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or("")
}

fn is_error(result: &Value) -> bool {
    result["result"]["isError"] == json!(true)
}

fn router(registry: ToolRegistry, config: McpHttpConfig) -> Router {
    McpHttpServer::new(
        registry,
        McpHttpConfig {
            port: 0,
            enable_prometheus: true,
            ..config
        },
    )
    .unwrap()
    .router()
}

/// The value of one exposition line, e.g. `dcc_mcp_rejected_total{reason="busy"}`.
async fn metric(router: &Router, series: &str) -> Option<f64> {
    if !cfg!(feature = "prometheus") {
        return None;
    }
    let request = Request::get("/metrics").body(Body::empty()).unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec())
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Asserts a metric value when the exporter is compiled in.
async fn assert_metric(router: &Router, series: &str, expected: f64) {
    if cfg!(feature = "prometheus") {
        assert_eq!(metric(router, series).await, Some(expected), "{series}");
    }
}

/// A blocking tool that signals when it started and returns when released.
fn gate_tool(registry: &ToolRegistry, name: &str) -> (mpsc::Receiver<()>, mpsc::Sender<()>) {
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let started_tx = Mutex::new(started_tx);
    let release_rx = Mutex::new(release_rx);
    registry
        .register_with(
            ToolSpec::new(name),
            Handler::worker(move |_args, _ctx| {
                let _ = started_tx.lock().unwrap().send(());
                let _ = release_rx.lock().unwrap().recv_timeout(common::HANG_GUARD);
                Ok(json!("released"))
            }),
        )
        .unwrap();
    (started_rx, release_tx)
}

fn inline_echo(registry: &ToolRegistry) {
    registry
        .register_with(
            ToolSpec::new("inline"),
            Handler::inline(|args: Value, _ctx: ToolContext| async move { Ok(args) }),
        )
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_after_queue_wait_while_inline_calls_go_on() {
    let registry = ToolRegistry::new();
    let (started, release) = gate_tool(&registry, "gate");
    inline_echo(&registry);
    let app = router(
        registry,
        McpHttpConfig {
            sync_concurrency: 1,
            sync_queue_wait: Duration::from_millis(50),
            ..Default::default()
        },
    );
    let session = initialize(&app).await;
    let first = tokio::spawn({
        let (app, session) = (app.clone(), session.clone());
        async move { call(&app, &session, "gate", json!({})).await }
    });
    tokio::task::spawn_blocking(move || started.recv_timeout(common::HANG_GUARD))
        .await
        .unwrap()
        .unwrap();

    let busy = call(&app, &session, "gate", json!({})).await;
    assert!(is_error(&busy), "{busy}");
    assert!(
        text(&busy).starts_with("server busy: all 1 blocking workers"),
        "{busy}"
    );
    // An inline handler needs no worker: it is served while the only worker is taken.
    let inline = call(&app, &session, "inline", json!({"x": 1})).await;
    assert!(!is_error(&inline), "{inline}");
    assert_metric(&app, r#"dcc_mcp_rejected_total{reason="busy"}"#, 1.0).await;

    release.send(()).unwrap();
    let first = first.await.unwrap();
    assert_eq!(text(&first), "released");
    release.send(()).unwrap();
    let again = call(&app, &session, "gate", json!({})).await;
    assert_eq!(text(&again), "released", "{again}");
    // Two worker calls started (the busy one never did); the inline call waited for no thread.
    assert_metric(
        &app,
        r#"dcc_mcp_dispatch_wait_seconds_count{executor="worker"}"#,
        2.0,
    )
    .await;
    assert_metric(
        &app,
        r#"dcc_mcp_tool_calls_total{status="error",tool="gate"}"#,
        1.0,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_handler_keeps_its_worker_slot() {
    let registry = ToolRegistry::new();
    let (started, release) = gate_tool(&registry, "gate");
    let app = router(
        registry,
        McpHttpConfig {
            sync_concurrency: 1,
            sync_queue_wait: Duration::from_millis(50),
            request_timeout: Duration::from_millis(100),
            ..Default::default()
        },
    );
    let session = initialize(&app).await;
    let timed_out = call(&app, &session, "gate", json!({})).await;
    assert!(text(&timed_out).contains("timed out"), "{timed_out}");
    started.recv_timeout(common::HANG_GUARD).unwrap();
    // The runaway handler still holds the only worker: the next call is refused, not given a thread.
    let busy = call(&app, &session, "gate", json!({})).await;
    assert!(text(&busy).starts_with("server busy"), "{busy}");
    release.send(()).unwrap();
    release.send(()).unwrap();
    // Once it returns, the slot is free again.
    let mut reply = call(&app, &session, "gate", json!({})).await;
    for _ in 0..100 {
        if text(&reply) == "released" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        let _ = release.send(());
        reply = call(&app, &session, "gate", json!({})).await;
    }
    assert_eq!(text(&reply), "released", "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panicking_inline_handler_is_an_error_result() {
    let registry = ToolRegistry::new();
    registry
        .register_with(
            ToolSpec::new("boom"),
            Handler::inline(|_args: Value, _ctx: ToolContext| async move {
                if true {
                    panic!("inline boom");
                }
                Ok(json!(null))
            }),
        )
        .unwrap();
    let app = router(registry, McpHttpConfig::default());
    let session = initialize(&app).await;
    let reply = call(&app, &session, "boom", json!({})).await;
    assert!(is_error(&reply));
    assert_eq!(text(&reply), "tool 'boom' panicked: inline boom");
}

/// The host's main loop: pumps until told to stop; returns its thread id.
fn host_main_loop(
    executor: MainThreadExecutor,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<std::thread::ThreadId> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            executor.pump(4, Duration::from_millis(5));
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::current().id()
    })
}

fn thread_tool(registry: &ToolRegistry, ran: Arc<AtomicUsize>) {
    registry
        .register_with(
            ToolSpec::new("where"),
            Handler::main_thread(move |_args, _ctx: &ToolContext| {
                ran.fetch_add(1, Ordering::SeqCst);
                Ok(json!(format!("{:?}", std::thread::current().id())))
            }),
        )
        .unwrap();
}

/// An app serving `where` on the main thread through a new executor of `depth`; returns the
/// executor, the app and how many times `where` ran.
fn main_thread_app(
    depth: usize,
    config: McpHttpConfig,
) -> (MainThreadExecutor, Router, Arc<AtomicUsize>) {
    let executor = MainThreadExecutor::new(depth).unwrap();
    let registry = ToolRegistry::new();
    let ran = Arc::new(AtomicUsize::new(0));
    thread_tool(&registry, ran.clone());
    let config = McpHttpConfig {
        main_thread_executor: Some(executor.clone()),
        ..config
    };
    (executor, router(registry, config), ran)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn main_thread_handlers_run_on_the_pumping_thread() {
    let (executor, app, ran) = main_thread_app(8, McpHttpConfig::default());
    let stop = Arc::new(AtomicBool::new(false));
    let host = host_main_loop(executor, stop.clone());
    let session = initialize(&app).await;
    let calls: Vec<_> = (0..6)
        .map(|_| {
            let (app, session) = (app.clone(), session.clone());
            tokio::spawn(async move { call(&app, &session, "where", json!({})).await })
        })
        .collect();
    let mut threads = Vec::new();
    for c in calls {
        threads.push(text(&c.await.unwrap()).to_owned());
    }
    stop.store(true, Ordering::Relaxed);
    let host_id = format!("{:?}", host.join().unwrap());
    assert!(
        threads.iter().all(|t| *t == host_id),
        "{threads:?} vs {host_id}"
    );
    assert_eq!(ran.load(Ordering::SeqCst), 6);
    assert_metric(
        &app,
        r#"dcc_mcp_dispatch_wait_seconds_count{executor="main_thread"}"#,
        6.0,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_and_expired_calls_never_run() {
    let config = McpHttpConfig {
        request_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let (executor, app, ran) = main_thread_app(1, config);
    let session = initialize(&app).await;
    // Nobody pumps: the first call waits in the queue.
    let waiting = tokio::spawn({
        let (app, session) = (app.clone(), session.clone());
        async move { call(&app, &session, "where", json!({})).await }
    });
    while executor.queued() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let full = call(&app, &session, "where", json!({})).await;
    assert!(is_error(&full));
    assert!(
        text(&full).starts_with("main thread busy: 1 calls already wait"),
        "{full}"
    );
    let timed_out = waiting.await.unwrap();
    assert!(text(&timed_out).contains("timed out"), "{timed_out}");
    // The timed-out call left the queue; a late pump runs nothing.
    assert_eq!(executor.queued(), 0);
    let report = executor.pump(10, Duration::from_secs(1));
    assert_eq!((report.ran, report.expired, report.remaining), (0, 0, 0));
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    assert_metric(
        &app,
        r#"dcc_mcp_rejected_total{reason="main_thread_full"}"#,
        1.0,
    )
    .await;
    assert_metric(
        &app,
        r#"dcc_mcp_rejected_total{reason="expired_before_run"}"#,
        1.0,
    )
    .await;
    assert_metric(
        &app,
        r#"dcc_mcp_dispatch_wait_seconds_count{executor="main_thread"}"#,
        0.0,
    )
    .await;
}

#[tokio::test]
async fn main_thread_tool_without_executor_says_so() {
    let registry = ToolRegistry::new();
    thread_tool(&registry, Arc::new(AtomicUsize::new(0)));
    let app = router(registry, McpHttpConfig::default());
    let session = initialize(&app).await;
    let reply = call(&app, &session, "where", json!({})).await;
    assert!(is_error(&reply));
    assert!(
        text(&reply).contains("no main_thread_executor configured"),
        "{reply}"
    );
}

#[test]
fn pump_respects_its_item_budget_and_zero_depth_is_refused() {
    assert!(MainThreadExecutor::new(0).is_err());
    let executor = MainThreadExecutor::new(4).unwrap();
    let report = executor.pump(0, Duration::from_secs(1));
    assert_eq!(report, dcc_mcp_http::PumpReport::default());
}
