//! Helpers shared by the integration tests: an app with test tools, and one-shot JSON-RPC requests.
#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use dcc_mcp_http::{McpHttpConfig, McpHttpServer, ToolContext, ToolError, ToolRegistry, ToolSpec};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

/// Turns a hang into a failure; no assertion depends on it.
pub const HANG_GUARD: Duration = Duration::from_secs(30);

pub fn handler(
    f: impl Fn(Value, &ToolContext) -> Result<Value, ToolError> + Send + Sync + 'static,
) -> dcc_mcp_http::ToolHandler {
    Arc::new(f)
}

/// A registry with `echo`, `add` (schema), `fail`, `panic`, `progress` (reports 3 steps).
pub fn test_registry() -> ToolRegistry {
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
                "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                "required": ["a", "b"]
            })),
            handler(|args, _| {
                Ok(json!({"sum": args["a"].as_i64().unwrap() + args["b"].as_i64().unwrap()}))
            }),
        )
        .unwrap();
    registry
        .register_with_handler(
            ToolSpec::new("fail"),
            handler(|_, _| Err("it failed".into())),
        )
        .unwrap();
    registry
        .register_with_handler(ToolSpec::new("panic"), handler(|_, _| panic!("boom")))
        .unwrap();
    register_progress(&registry);
    registry
}

/// Registers `progress`: reports 3 steps, then returns `"done"`.
pub fn register_progress(registry: &ToolRegistry) {
    registry
        .register_with_handler(
            ToolSpec::new("progress"),
            handler(|_, ctx| {
                for step in 1..=3 {
                    ctx.report_progress(f64::from(step), Some(3.0), Some("step"));
                }
                Ok(json!("done"))
            }),
        )
        .unwrap();
}

pub fn server_with(registry: ToolRegistry, config: McpHttpConfig) -> McpHttpServer {
    McpHttpServer::new(registry, config).unwrap()
}

pub fn test_server() -> McpHttpServer {
    server_with(
        test_registry(),
        McpHttpConfig {
            port: 0,
            ..Default::default()
        },
    )
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub raw: String,
}

pub async fn send(router: &Router, request: Request<Body>) -> Reply {
    let response = tokio::time::timeout(HANG_GUARD, router.clone().oneshot(request))
        .await
        .expect("hang guard")
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let raw = String::from_utf8(bytes.to_vec()).unwrap();
    let body = if raw.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&raw).unwrap()
    };
    Reply {
        status,
        headers,
        body,
        raw,
    }
}

pub fn post_request(
    session: Option<&str>,
    version: Option<&str>,
    body: impl Into<Body>,
) -> Request<Body> {
    let mut builder = Request::post("/mcp")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    if let Some(session) = session {
        builder = builder.header("mcp-session-id", session);
    }
    if let Some(version) = version {
        builder = builder.header("mcp-protocol-version", version);
    }
    builder.body(body.into()).unwrap()
}

/// A POST whose client accepts only `application/json`: what the request sends while it runs
/// (progress, log messages) goes on the session's GET stream instead of the POST's SSE response.
pub async fn post_json_only(router: &Router, session: &str, body: Value) -> Reply {
    let request = Request::post("/mcp")
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .header("mcp-session-id", session)
        .body(Body::from(body.to_string()))
        .unwrap();
    send(router, request).await
}

pub async fn post(router: &Router, session: Option<&str>, body: Value) -> Reply {
    send(router, post_request(session, None, body.to_string())).await
}

/// `initialize` at `version`; returns the session id.
pub async fn initialize_at(router: &Router, version: &str) -> String {
    let reply = post(
        router,
        None,
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}
        }}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.headers["mcp-session-id"].to_str().unwrap().to_owned()
}

pub async fn initialize(router: &Router) -> String {
    initialize_at(router, "2025-06-18").await
}

/// `tools/call` in `session`; returns the JSON-RPC response.
pub async fn call(router: &Router, session: &str, name: &str, arguments: Value) -> Value {
    let reply = post(
        router,
        Some(session),
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": arguments}}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.raw);
    reply.body
}

/// Reads SSE `data:` payloads from a streaming body until `count` messages arrived.
pub async fn read_sse(body: Body, count: usize) -> Vec<Value> {
    tokio::time::timeout(HANG_GUARD, read_sse_unbounded(body, count))
        .await
        .expect("hang guard: too few SSE messages")
}

/// [`read_sse`] that leaves the stream open for more (the messages of one read must not share a
/// frame with the next read's).
pub async fn read_sse_from(body: &mut Body, count: usize) -> Vec<Value> {
    tokio::time::timeout(HANG_GUARD, read_sse_on(body, count))
        .await
        .expect("hang guard: too few SSE messages")
}

async fn read_sse_unbounded(mut body: Body, count: usize) -> Vec<Value> {
    read_sse_on(&mut body, count).await
}

async fn read_sse_on(body: &mut Body, count: usize) -> Vec<Value> {
    let mut buffer = String::new();
    let mut messages = Vec::new();
    while messages.len() < count {
        let frame = body.frame().await.expect("stream ended early").unwrap();
        if let Ok(data) = frame.into_data() {
            buffer.push_str(std::str::from_utf8(&data).unwrap());
        }
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            for line in event.lines() {
                if let Some(data) = line.strip_prefix("data: ") {
                    messages.push(serde_json::from_str(data).unwrap());
                }
            }
        }
    }
    messages
}

pub fn sse_request(session: &str) -> Request<Body> {
    Request::get("/mcp")
        .header("accept", "text/event-stream")
        .header("mcp-session-id", session)
        .body(Body::empty())
        .unwrap()
}

/// The job id of an accepted async `tools/call` reply (fails on an error result).
pub fn job_id(reply: &Value) -> String {
    assert_eq!(reply["result"]["isError"], false, "{reply}");
    reply["result"]["structuredContent"]["jobId"]
        .as_str()
        .unwrap()
        .to_owned()
}
