//! The stateless era (2026-07-28) on `/mcp`, through the real router: admission by `_meta`, the
//! routing headers, result shapes, the era's error codes and statuses, streamed calls and
//! `subscriptions/listen`; and that the session era beside it is unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::Response;
use axum::Router;
use common::{read_sse, send, test_registry, HANG_GUARD};
use dcc_mcp_http::protocol::content::ContentBlock;
use dcc_mcp_http::protocol::prompts::{GetPromptResult, Prompt};
use dcc_mcp_http::protocol::resources::Resource;
use dcc_mcp_http::resource_registry::ResourceBody;
use dcc_mcp_http::{
    Catalog, Handler, McpHttpConfig, McpHttpServer, ToolContext, ToolRegistry, ToolSpec,
    PARAM_HEADER_KEYWORD,
};
use serde_json::{json, Value};
use tower::ServiceExt;

const V: &str = "2026-07-28";

fn meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": V,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
    })
}

struct Fixture {
    router: Router,
    registry: ToolRegistry,
    catalog: Catalog,
}

fn fixture() -> Fixture {
    let registry = test_registry();
    registry
        .register_with(
            ToolSpec::new("needs_sampling"),
            Handler::inline(|_args: Value, ctx: ToolContext| {
                std::future::ready(
                    ctx.require_client_capability("sampling")
                        .map(|()| json!("sampled")),
                )
            }),
        )
        .unwrap();
    registry
        .register_with(
            ToolSpec::new("region").input_schema(json!({
                "type": "object",
                "properties": {"region": {"type": "string", PARAM_HEADER_KEYWORD: "Region"}},
            })),
            Handler::inline(|args: Value, _ctx: ToolContext| {
                std::future::ready(Ok(args["region"].clone()))
            }),
        )
        .unwrap();
    let catalog = Catalog::with_subscription_budget(2);
    catalog
        .resources
        .add_fixed(
            Resource::new("test://a", "a"),
            ResourceBody::Text("alpha".into()),
        )
        .unwrap();
    let config = McpHttpConfig {
        port: 0,
        catalog: catalog.clone(),
        ..Default::default()
    };
    let server = McpHttpServer::new(registry.clone(), config).unwrap();
    Fixture {
        router: server.router(),
        registry,
        catalog,
    }
}

/// A stateless POST: `MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name` (from the body) and the
/// `_meta` keys as a conforming client sends them, then `extra` headers (replacing, or removing
/// with an empty value) on top.
fn stateless_request(
    id: Value,
    method: &str,
    params: Value,
    extra: &[(&str, &str)],
) -> Request<Body> {
    let mut params = params;
    if let Some(map) = params.as_object_mut() {
        let mut full = meta();
        if let Some(own) = map.get("_meta").and_then(Value::as_object) {
            for (key, value) in own {
                full[key] = value.clone();
            }
        }
        map.insert("_meta".into(), full);
    }
    let name = match method {
        "tools/call" | "prompts/get" => params["name"].as_str().map(str::to_owned),
        "resources/read" => params["uri"].as_str().map(str::to_owned),
        _ => None,
    };
    let mut headers: Vec<(String, String)> = vec![
        ("content-type".into(), "application/json".into()),
        (
            "accept".into(),
            "application/json, text/event-stream".into(),
        ),
        ("mcp-protocol-version".into(), V.into()),
        ("mcp-method".into(), method.into()),
    ];
    if let Some(name) = name {
        headers.push(("mcp-name".into(), name));
    }
    for (key, value) in extra {
        headers.retain(|(k, _)| !k.eq_ignore_ascii_case(key));
        if !value.is_empty() {
            headers.push(((*key).to_owned(), (*value).to_owned()));
        }
    }
    let mut builder = Request::post("/mcp");
    for (key, value) in headers {
        builder = builder.header(key, value);
    }
    let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    builder.body(Body::from(body.to_string())).unwrap()
}

async fn open(router: &Router, request: Request<Body>) -> Response {
    tokio::time::timeout(HANG_GUARD, router.clone().oneshot(request))
        .await
        .expect("hang guard")
        .unwrap()
}

#[tokio::test]
async fn discover_needs_no_session_and_names_every_served_version() {
    let f = fixture();
    let reply = send(
        &f.router,
        stateless_request(json!(1), "server/discover", json!({}), &[]),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.raw);
    assert_eq!(reply.headers["content-type"], "application/json");
    assert!(reply.headers.get("mcp-session-id").is_none());
    let result = &reply.body["result"];
    assert_eq!(reply.body["id"], 1);
    assert_eq!(
        result["supportedVersions"],
        json!(["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"])
    );
    assert_eq!(result["resultType"], "complete");
    assert_eq!(result["ttlMs"], 0);
    assert_eq!(result["cacheScope"], "private");
    assert_eq!(
        result["capabilities"]["tools"],
        json!({"listChanged": true})
    );
    assert_eq!(
        result["capabilities"]["resources"],
        json!({"subscribe": true, "listChanged": true})
    );
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "dcc-mcp"
    );
}

#[tokio::test]
async fn admission_errors_carry_the_id_the_code_and_400() {
    let f = fixture();
    let cases: Vec<(Request<Body>, i64)> = vec![
        // No _meta keys at all.
        (
            {
                let body =
                    json!({"jsonrpc": "2.0", "id": 7, "method": "server/discover", "params": {}});
                Request::post("/mcp")
                    .header("content-type", "application/json")
                    .header("mcp-protocol-version", V)
                    .header("mcp-method", "server/discover")
                    .body(Body::from(body.to_string()))
                    .unwrap()
            },
            -32602,
        ),
        // _meta names another version than the header.
        (
            stateless_request(
                json!(7),
                "server/discover",
                json!({"_meta": {"io.modelcontextprotocol/protocolVersion": "v999"}}),
                &[],
            ),
            -32020,
        ),
        // Both name a version the server does not serve.
        (
            stateless_request(
                json!(7),
                "server/discover",
                json!({"_meta": {"io.modelcontextprotocol/protocolVersion": "v999"}}),
                &[("mcp-protocol-version", "v999")],
            ),
            -32022,
        ),
    ];
    for (request, code) in cases {
        let reply = send(&f.router, request).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.raw);
        assert_eq!(reply.body["id"], 7, "{}", reply.raw);
        assert_eq!(reply.body["error"]["code"], code, "{}", reply.raw);
    }
    let reply = send(
        &f.router,
        stateless_request(
            json!(8),
            "server/discover",
            json!({"_meta": {"io.modelcontextprotocol/protocolVersion": "v999"}}),
            &[("mcp-protocol-version", "v999")],
        ),
    )
    .await;
    assert_eq!(
        reply.body["error"]["data"],
        json!({"supported": ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"], "requested": "v999"})
    );
}

#[tokio::test]
async fn routing_headers_must_match_the_body() {
    let f = fixture();
    let list = |extra: &'static [(&'static str, &'static str)]| {
        stateless_request(json!(3), "tools/list", json!({}), extra)
    };
    let rejected = [
        list(&[("mcp-method", "prompts/list")]),
        list(&[("mcp-method", "")]),
        list(&[("mcp-method", "TOOLS/LIST")]),
        stateless_request(
            json!(3),
            "tools/call",
            json!({"name": "echo", "arguments": {"text": "x"}}),
            &[("mcp-name", "wrong")],
        ),
        stateless_request(
            json!(3),
            "tools/call",
            json!({"name": "echo", "arguments": {"text": "x"}}),
            &[("mcp-name", "")],
        ),
        stateless_request(
            json!(3),
            "resources/read",
            json!({"uri": "test://a"}),
            &[("mcp-name", "test://b")],
        ),
        // x-mcp-header arguments: missing header, bad padding, bad characters, another value.
        stateless_request(
            json!(3),
            "tools/call",
            json!({"name": "region", "arguments": {"region": "Hello"}}),
            &[],
        ),
        stateless_request(
            json!(3),
            "tools/call",
            json!({"name": "region", "arguments": {"region": "Hello"}}),
            &[("mcp-param-region", "=?base64?SGVsbG8?=")],
        ),
        stateless_request(
            json!(3),
            "tools/call",
            json!({"name": "region", "arguments": {"region": "Hello"}}),
            &[("mcp-param-region", "=?base64?SGVs!!!bG8=?=")],
        ),
        stateless_request(
            json!(3),
            "tools/call",
            json!({"name": "region", "arguments": {"region": "Hello"}}),
            &[("mcp-param-region", "Bye")],
        ),
    ];
    for request in rejected {
        let reply = send(&f.router, request).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.raw);
        assert_eq!(reply.body["error"]["code"], -32020, "{}", reply.raw);
        assert_eq!(reply.body["id"], 3);
    }
    let accepted = [
        list(&[("MCP-METHOD", "tools/list")]),
        list(&[("mcp-method", "  tools/list  ")]),
        stateless_request(
            json!(3),
            "tools/call",
            json!({"name": "echo", "arguments": {"text": "x"}}),
            &[("mcp-name", "  echo ")],
        ),
        stateless_request(
            json!(3),
            "tools/call",
            json!({"name": "region", "arguments": {"region": "Hello"}}),
            &[("Mcp-Param-Region", "=?base64?SGVsbG8=?=")],
        ),
        stateless_request(
            json!(3),
            "tools/call",
            json!({"name": "region", "arguments": {"region": "SGVsbG8="}}),
            &[("mcp-param-region", "SGVsbG8=")],
        ),
        stateless_request(
            json!(3),
            "tools/call",
            json!({"name": "region", "arguments": {}}),
            &[],
        ),
    ];
    for request in accepted {
        let reply = send(&f.router, request).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.raw);
        assert_eq!(
            reply.body["result"]["resultType"], "complete",
            "{}",
            reply.raw
        );
    }
}

#[tokio::test]
async fn results_carry_result_type_and_caching_hints() {
    let f = fixture();
    let call = send(
        &f.router,
        stateless_request(
            json!("c"),
            "tools/call",
            json!({"name": "echo", "arguments": {"text": "hi"}}),
            &[],
        ),
    )
    .await;
    assert_eq!(call.status, StatusCode::OK);
    assert_eq!(
        call.body,
        json!({"jsonrpc": "2.0", "id": "c", "result": {
            "content": [{"type": "text", "text": "hi"}], "isError": false, "resultType": "complete"
        }})
    );
    let mut orders = Vec::new();
    for _ in 0..2 {
        let list = send(
            &f.router,
            stateless_request(json!(1), "tools/list", json!({}), &[]),
        )
        .await;
        let result = &list.body["result"];
        assert_eq!(
            (
                &result["resultType"],
                &result["ttlMs"],
                &result["cacheScope"]
            ),
            (&json!("complete"), &json!(0), &json!("private"))
        );
        let names: Vec<String> = result["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|tool| tool["name"].as_str().unwrap().to_owned())
            .collect();
        orders.push(names);
    }
    assert_eq!(orders[0], orders[1]);
    let mut sorted = orders[0].clone();
    sorted.sort();
    assert_eq!(orders[0], sorted, "tools/list is sorted by name");
    for (method, params) in [
        ("resources/list", json!({})),
        ("resources/templates/list", json!({})),
        ("resources/read", json!({"uri": "test://a"})),
        ("prompts/list", json!({})),
    ] {
        let reply = send(&f.router, stateless_request(json!(2), method, params, &[])).await;
        assert_eq!(reply.status, StatusCode::OK, "{method}: {}", reply.raw);
        let result = &reply.body["result"];
        assert_eq!(result["resultType"], "complete", "{method}");
        assert_eq!(result["ttlMs"], 0, "{method}");
        assert_eq!(result["cacheScope"], "private", "{method}");
    }
}

#[tokio::test]
async fn era_errors_unknown_resource_removed_methods_and_capabilities() {
    let f = fixture();
    let missing = send(
        &f.router,
        stateless_request(
            json!(4),
            "resources/read",
            json!({"uri": "test://none"}),
            &[],
        ),
    )
    .await;
    assert_eq!(missing.status, StatusCode::OK);
    assert_eq!(missing.body["error"]["code"], -32602);
    assert_eq!(missing.body["error"]["data"], json!({"uri": "test://none"}));
    for method in [
        "initialize",
        "ping",
        "logging/setLevel",
        "resources/subscribe",
        "resources/unsubscribe",
        "unknown/method",
    ] {
        let reply = send(
            &f.router,
            stateless_request(json!(5), method, json!({}), &[]),
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{method}: {}",
            reply.raw
        );
        assert_eq!(reply.body["error"]["code"], -32601, "{method}");
        assert_eq!(reply.body["id"], 5, "{method}");
    }
    let refused = send(
        &f.router,
        stateless_request(
            json!(6),
            "tools/call",
            json!({"name": "needs_sampling"}),
            &[],
        ),
    )
    .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.raw);
    assert_eq!(refused.body["id"], 6);
    assert_eq!(refused.body["error"]["code"], -32021);
    assert_eq!(
        refused.body["error"]["data"],
        json!({"requiredCapabilities": {"sampling": {}}})
    );
    let declared = send(
        &f.router,
        stateless_request(
            json!(6),
            "tools/call",
            json!({"name": "needs_sampling", "_meta": {"io.modelcontextprotocol/clientCapabilities": {"sampling": {}}}}),
            &[],
        ),
    )
    .await;
    assert_eq!(declared.status, StatusCode::OK);
    assert_eq!(declared.body["result"]["content"][0]["text"], "sampled");
}

#[tokio::test]
async fn a_call_asking_for_progress_is_streamed_then_answered() {
    let f = fixture();
    let response = open(
        &f.router,
        stateless_request(
            json!(9),
            "tools/call",
            json!({"name": "progress", "_meta": {"progressToken": "p", "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}),
            &[],
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let messages = read_sse(response.into_body(), 4).await;
    let progress: Vec<&Value> = messages[..3]
        .iter()
        .map(|m| &m["params"]["progress"])
        .collect();
    assert_eq!(progress, [&json!(1.0), &json!(2.0), &json!(3.0)]);
    assert!(messages[..3]
        .iter()
        .all(|m| m["method"] == "notifications/progress" && m["params"]["progressToken"] == "p"));
    assert_eq!(messages[3]["id"], 9);
    assert_eq!(messages[3]["result"]["resultType"], "complete");
    assert_eq!(messages[3]["result"]["content"][0]["text"], "done");
}

fn prompt(name: &str) -> Prompt {
    Prompt {
        name: name.into(),
        title: None,
        description: None,
        arguments: vec![],
    }
}

fn empty_prompt() -> dcc_mcp_http::prompt_registry::PromptHandler {
    Arc::new(|_args| {
        Ok(GetPromptResult {
            description: None,
            messages: vec![dcc_mcp_http::protocol::prompts::PromptMessage {
                role: dcc_mcp_http::protocol::content::Role::User,
                content: ContentBlock::text("x"),
            }],
        })
    })
}

#[tokio::test]
async fn listen_acknowledges_then_delivers_only_what_its_filter_asked_for() {
    let f = fixture();
    let tools = open(
        &f.router,
        stateless_request(
            json!("L1"),
            "subscriptions/listen",
            json!({"notifications": {"toolsListChanged": true}}),
            &[],
        ),
    )
    .await;
    assert_eq!(tools.status(), StatusCode::OK);
    assert_eq!(tools.headers()["content-type"], "text/event-stream");
    let prompts = open(
        &f.router,
        stateless_request(
            json!(2),
            "subscriptions/listen",
            json!({"notifications": {"promptsListChanged": true, "resourceSubscriptions": ["test://a"]}}),
            &[],
        ),
    )
    .await;
    f.registry
        .register_with_handler(ToolSpec::new("late"), common::handler(|_, _| Ok(json!(1))))
        .unwrap();
    f.catalog.resources.notify_updated("test://other");
    f.catalog.prompts.add(prompt("p"), empty_prompt()).unwrap();
    f.catalog.resources.notify_updated("test://a");

    let seen = read_sse(tools.into_body(), 2).await;
    assert_eq!(
        seen,
        [
            json!({"jsonrpc": "2.0", "method": "notifications/subscriptions/acknowledged", "params": {
                "notifications": {"toolsListChanged": true},
                "_meta": {"io.modelcontextprotocol/subscriptionId": "L1"}}}),
            json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed", "params": {
                "_meta": {"io.modelcontextprotocol/subscriptionId": "L1"}}}),
        ]
    );
    // The prompt stream heard no tool change and no update of a URI it did not name.
    let seen = read_sse(prompts.into_body(), 3).await;
    let methods: Vec<&str> = seen.iter().map(|m| m["method"].as_str().unwrap()).collect();
    assert_eq!(
        methods,
        [
            "notifications/subscriptions/acknowledged",
            "notifications/prompts/list_changed",
            "notifications/resources/updated"
        ]
    );
    assert_eq!(seen[2]["params"]["uri"], "test://a");
    assert!(seen
        .iter()
        .all(|m| m["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == 2));
}

#[tokio::test]
async fn listen_is_held_to_the_subscription_budget() {
    let f = fixture();
    let reply = send(
        &f.router,
        stateless_request(
            json!(1),
            "subscriptions/listen",
            json!({"notifications": {"resourceSubscriptions": ["test://a", "test://b", "test://c"]}}),
            &[],
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.raw);
    assert_eq!(reply.body["error"]["code"], -32602);
    assert_eq!(
        reply.body["error"]["data"],
        json!({"max": 2, "requested": 3})
    );
    let reply = send(
        &f.router,
        stateless_request(json!(1), "subscriptions/listen", json!({}), &[]),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["error"]["code"], -32602);
}

#[tokio::test]
async fn the_session_era_beside_it_is_unchanged() {
    let f = fixture();
    // initialize without a version header, or with a session-era one, opens a session.
    for header in [None, Some("2025-06-18"), Some("2024-11-05")] {
        let mut builder = Request::post("/mcp").header("content-type", "application/json");
        if let Some(header) = header {
            builder = builder.header("mcp-protocol-version", header);
        }
        let body = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
        let reply = send(
            &f.router,
            builder.body(Body::from(body.to_string())).unwrap(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{header:?}: {}", reply.raw);
        assert!(reply.headers.get("mcp-session-id").is_some());
        assert!(reply.body["result"].get("resultType").is_none());
    }
    // A session-era request without its session is refused as before.
    let reply = send(
        &f.router,
        common::post_request(
            None,
            Some("2025-06-18"),
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string(),
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["error"]["code"], -32000);
    // Within a session, results have no stateless fields and an unknown resource is -32002.
    let session = common::initialize(&f.router).await;
    let list = common::post(
        &f.router,
        Some(&session),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    )
    .await;
    assert!(list.body["result"].get("resultType").is_none());
    assert!(list.body["result"].get("ttlMs").is_none());
    let missing = common::post(
        &f.router,
        Some(&session),
        json!({"jsonrpc": "2.0", "id": 3, "method": "resources/read", "params": {"uri": "test://none"}}),
    )
    .await;
    assert_eq!(missing.body["error"]["code"], -32002);
    let discover = common::post(
        &f.router,
        Some(&session),
        json!({"jsonrpc": "2.0", "id": 4, "method": "server/discover"}),
    )
    .await;
    assert_eq!(discover.body["error"]["code"], -32601);
}

/// Jobs need a session: under 2026-07-28 an async call and the job tools answer a tool error that
/// says so, and no job is started.
#[cfg(feature = "workflow")]
#[tokio::test]
async fn jobs_are_refused_without_a_session() {
    let f = fixture();
    f.registry
        .register_with(
            ToolSpec::new("render").execution(dcc_mcp_http::Execution::Async),
            Handler::inline(|_args: Value, _ctx: ToolContext| {
                std::future::ready(Ok(json!("rendered")))
            }),
        )
        .unwrap();
    let refusal = |tool: &str| {
        format!(
            "tool '{tool}' needs a job, and jobs need a session: under protocol version 2026-07-28 \
             there is none to own the job, poll it or hear its completion; call it in a session \
             (2025-11-25 or older), or without _meta \"dcc-mcp/async\" when the tool is not async"
        )
    };
    for (tool, params) in [
        ("render", json!({"name": "render", "arguments": {}})),
        (
            "echo",
            json!({"name": "echo", "arguments": {"text": "x"}, "_meta": {"dcc-mcp/async": true}}),
        ),
        ("jobs.list", json!({"name": "jobs.list", "arguments": {}})),
        (
            "jobs.get",
            json!({"name": "jobs.get", "arguments": {"jobId": "j"}}),
        ),
    ] {
        let reply = send(
            &f.router,
            stateless_request(json!(1), "tools/call", params, &[]),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.raw);
        assert_eq!(
            reply.body["result"]["content"],
            json!([{"type": "text", "text": refusal(tool)}]),
            "{tool}"
        );
        assert_eq!(reply.body["result"]["isError"], true);
    }
}
