//! SSE polling and resumption (2025-11-25) through the public router, on the wire: a `POST`
//! answered as SSE in a 2025-11-25 session is primed with an event id; a handler that closes its
//! stream early leaves the rest of it for a `GET` with `Last-Event-ID`, which gets that stream's
//! messages and result only; older sessions keep unnumbered streams; and every resume is counted
//! exactly in `dcc_mcp_sse_replay_total{outcome}`.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(feature = "prometheus")]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use common::{initialize_at, post_request, server_with, sse_request, HANG_GUARD};
use dcc_mcp_http::{Handler, McpHttpConfig, McpHttpServer, ToolContext, ToolRegistry, ToolSpec};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

/// `reconnect` closes its stream, reports progress, returns `"after the close"` (`"not closed"`
/// when its stream cannot be closed); `speak` reports progress, then returns `"spoke"` (its stream
/// ends normally).
fn registry() -> ToolRegistry {
    let registry = ToolRegistry::new();
    let reconnect = Handler::inline(|_args: Value, ctx: ToolContext| async move {
        let closed = ctx.close_stream();
        ctx.report_progress(1.0, Some(1.0), None);
        Ok(json!(if closed {
            "after the close"
        } else {
            "not closed"
        }))
    });
    registry
        .register_with(ToolSpec::new("reconnect"), reconnect)
        .unwrap();
    let speak = Handler::inline(|_args: Value, ctx: ToolContext| async move {
        ctx.report_progress(1.0, Some(1.0), None);
        Ok(json!("spoke"))
    });
    registry
        .register_with(ToolSpec::new("speak"), speak)
        .unwrap();
    registry
}

fn server() -> McpHttpServer {
    let config = McpHttpConfig {
        enable_prometheus: true,
        ..McpHttpConfig::default()
    };
    server_with(registry(), config)
}

fn call_request(session: &str, version: &str, tool: &str) -> Request<Body> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": tool, "arguments": {}, "_meta": {"progressToken": "t"}}});
    post_request(Some(session), Some(version), body.to_string())
}

/// The whole body as text (the stream must end).
async fn text_of(router: &Router, request: Request<Body>) -> (StatusCode, String) {
    let response = tokio::time::timeout(HANG_GUARD, router.clone().oneshot(request))
        .await
        .expect("hang guard")
        .unwrap();
    let status = response.status();
    let body = tokio::time::timeout(HANG_GUARD, response.into_body().collect())
        .await
        .expect("hang guard: the stream did not end")
        .unwrap()
        .to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

fn resume_request(session: &str, last_event_id: &str) -> Request<Body> {
    let mut request = sse_request(session);
    request
        .headers_mut()
        .insert("last-event-id", last_event_id.parse().unwrap());
    request
}

const PROGRESS: &str = r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1.0,"progressToken":"t","total":1.0}}"#;

fn result(text: &str) -> String {
    format!(
        r#"{{"id":1,"jsonrpc":"2.0","result":{{"content":[{{"text":"{text}","type":"text"}}],"isError":false}}}}"#
    )
}

async fn replay_counts(router: &Router) -> Vec<String> {
    let request = Request::get("/metrics").body(Body::empty()).unwrap();
    let (status, text) = text_of(router, request).await;
    assert_eq!(status, StatusCode::OK);
    text.lines()
        .filter(|line| line.starts_with("dcc_mcp_sse_replay_total{"))
        .map(str::to_owned)
        .collect()
}

/// The family's three series, in exposition order.
fn counts(replayed: u64, gap: u64, unknown: u64) -> Vec<String> {
    vec![
        format!("dcc_mcp_sse_replay_total{{outcome=\"gap\"}} {gap}"),
        format!("dcc_mcp_sse_replay_total{{outcome=\"replayed\"}} {replayed}"),
        format!("dcc_mcp_sse_replay_total{{outcome=\"unknown\"}} {unknown}"),
    ]
}

#[tokio::test]
async fn a_closed_post_stream_is_resumed_with_get_and_last_event_id() {
    let server = server();
    let router = server.router();
    let session = initialize_at(&router, "2025-11-25").await;
    assert_eq!(replay_counts(&router).await, counts(0, 0, 0));

    // The POST stream: the priming event, then the close (a `retry:`), and no result.
    let (status, posted) =
        text_of(&router, call_request(&session, "2025-11-25", "reconnect")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(posted, "id: p1-0\nretry: 1000\ndata: \n\nretry: 1000\n\n");

    // The rest, on a GET naming the priming event: the progress, the result, then the end.
    let (status, resumed) = text_of(&router, resume_request(&session, "p1-0")).await;
    assert_eq!(status, StatusCode::OK);
    let result = result("after the close");
    assert_eq!(
        resumed,
        format!(
            "id: p1-0\nretry: 1000\ndata: \n\n\
             event: message\nid: p1-1\ndata: {PROGRESS}\n\n\
             event: message\nid: p1-2\ndata: {result}\n\n"
        )
    );
    // After the progress: only the result again.
    let (_, again) = text_of(&router, resume_request(&session, "p1-1")).await;
    assert_eq!(
        again,
        format!("id: p1-1\nretry: 1000\ndata: \n\nevent: message\nid: p1-2\ndata: {result}\n\n")
    );
    assert_eq!(replay_counts(&router).await, counts(2, 0, 0));

    // Ahead of what the stream sent, or a stream this session never closed: 400, unknown.
    for id in ["p1-3", "p2-0"] {
        let (status, body) = text_of(&router, resume_request(&session, id)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{id}");
        let body: Value = serde_json::from_str(&body).unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!(
                "Bad Request: Last-Event-ID \"{id}\" names no stream"
            )),
            "{message}"
        );
    }
    assert_eq!(replay_counts(&router).await, counts(2, 0, 2));
}

#[tokio::test]
async fn a_post_stream_that_is_not_closed_is_numbered_and_ends_with_its_result() {
    let server = server();
    let router = server.router();
    let session = initialize_at(&router, "2025-11-25").await;
    let (_, posted) = text_of(&router, call_request(&session, "2025-11-25", "speak")).await;
    let result = result("spoke");
    assert_eq!(
        posted,
        format!(
            "id: p1-0\nretry: 1000\ndata: \n\n\
             event: message\nid: p1-1\ndata: {PROGRESS}\n\n\
             event: message\nid: p1-2\ndata: {result}\n\n"
        )
    );
    // A 2025-06-18 session: no priming, no ids, and the handler cannot close its stream.
    let older = initialize_at(&router, "2025-06-18").await;
    let (_, posted) = text_of(&router, call_request(&older, "2025-06-18", "speak")).await;
    assert_eq!(
        posted,
        format!("event: message\ndata: {PROGRESS}\n\nevent: message\ndata: {result}\n\n")
    );
    let (_, posted) = text_of(&router, call_request(&older, "2025-06-18", "reconnect")).await;
    let result = self::result("not closed");
    assert_eq!(
        posted,
        format!("event: message\ndata: {PROGRESS}\n\nevent: message\ndata: {result}\n\n")
    );
}

/// The session's own stream: a resume names a buffered point (replayed), a point some messages
/// after which fell out of the buffer (gap), or an id it never sent (unknown).
#[tokio::test]
async fn session_stream_resumes_are_counted_by_outcome() {
    let config = McpHttpConfig {
        enable_prometheus: true,
        // Room in the replay buffer (a quarter of the outbox) for one list_changed only.
        max_outbox_bytes: 4 * 100,
        max_notification_result_bytes: 4 * 100,
        ..McpHttpConfig::default()
    };
    let server = server_with(registry(), config);
    let router = server.router();
    let session = initialize_at(&router, "2025-11-25").await;
    let notifier = server.tools_list_notifier();
    let mut stream = router
        .clone()
        .oneshot(sse_request(&session))
        .await
        .unwrap()
        .into_body();
    for _ in 0..3 {
        assert_eq!(notifier.notify(), 1);
    }
    // The priming event and the three messages (ids 1 to 3); only id 3 is still buffered.
    let mut seen = String::new();
    while seen.matches("\n\n").count() < 4 {
        let frame = tokio::time::timeout(HANG_GUARD, stream.frame())
            .await
            .expect("hang guard")
            .unwrap()
            .unwrap();
        if let Ok(data) = frame.into_data() {
            seen.push_str(std::str::from_utf8(&data).unwrap());
        }
    }
    drop(stream);
    for id in ["3", "2", "1", "9", "not-an-id"] {
        let response = router
            .clone()
            .oneshot(resume_request(&session, id))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{id}");
    }
    assert_eq!(replay_counts(&router).await, counts(2, 1, 2));
}
