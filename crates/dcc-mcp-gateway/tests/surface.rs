//! The gateway's protocol surface beyond tools, against real in-process backends: resources,
//! templates, prompts and completion namespaced and proxied; a backend's list changes followed and
//! announced downstream; the gateway's own job tools callable. (The relay of a call's logging and
//! elicitation needs a backend that sends them on the call's response stream, as the official
//! Python SDK does: `tests/test_gateway_surface.py` tests it.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use dcc_mcp_client::{Callbacks, ClientConfig, McpClient};
use dcc_mcp_gateway::{BackendSpec, GatewayConfig};
use dcc_mcp_http::completion_providers::prefix_provider;
use dcc_mcp_http::protocol::completion::Reference;
use dcc_mcp_http::protocol::logging::LoggingLevel;
use dcc_mcp_http::protocol::prompts::{GetPromptResult, Prompt};
use dcc_mcp_http::protocol::resources::{Resource, ResourceTemplate};
use dcc_mcp_http::resource_registry::ResourceBody;
use dcc_mcp_http::{
    Catalog, Handler, McpHttpConfig, McpHttpServer, ToolContext, ToolError, ToolRegistry, ToolSpec,
    ToolsListNotifier,
};
use serde_json::{json, Value};

/// A backend with a catalog, tools `log` and `ask`, and its list notifier.
struct CatalogBackend {
    running: Running,
    catalog: Catalog,
    notifier: ToolsListNotifier,
}

fn prompt(name: &str) -> Prompt {
    serde_json::from_value(json!({
        "name": name,
        "description": format!("Prompt {name}"),
        "arguments": [{"name": "shot", "required": true}]
    }))
    .unwrap()
}

fn filled(text: String) -> Result<GetPromptResult, String> {
    serde_json::from_value(json!({
        "messages": [{"role": "user", "content": {"type": "text", "text": text}}]
    }))
    .map_err(|e| e.to_string())
}

fn catalog_backend(label: &str) -> CatalogBackend {
    let catalog = Catalog::default();
    let mut scene = Resource::new("scene://current", "current");
    scene.mime_type = Some("text/plain".into());
    let body = format!("scene of {label}");
    catalog
        .resources
        .add_fixed(scene, ResourceBody::Text(body))
        .unwrap();
    let template = ResourceTemplate {
        uri_template: "shot://{id}".into(),
        name: "shot".into(),
        title: None,
        description: None,
        mime_type: Some("text/plain".into()),
        annotations: None,
    };
    let owner = label.to_owned();
    catalog
        .resources
        .add_template(
            template,
            Arc::new(move |_, vars| Ok(ResourceBody::Text(format!("{owner} shot {}", vars["id"])))),
        )
        .unwrap();
    let owner = label.to_owned();
    catalog
        .prompts
        .add(
            prompt("render"),
            Arc::new(move |args| filled(format!("render {} on {owner}", args["shot"]))),
        )
        .unwrap();
    catalog.completions.add(
        Reference::Prompt {
            name: "render".into(),
        },
        "shot",
        prefix_provider(vec!["sh010".into(), "sh020".into(), "x".into()]),
    );
    let registry = ToolRegistry::new();
    registry
        .register_with(
            ToolSpec::new("log"),
            Handler::inline(|_: Value, ctx: ToolContext| async move {
                ctx.log(LoggingLevel::Info, json!("first"));
                ctx.log_as("backend", LoggingLevel::Warning, json!({"n": 2}));
                Ok(json!("logged"))
            }),
        )
        .unwrap();
    registry
        .register_with(
            ToolSpec::new("ask"),
            Handler::inline(|_: Value, ctx: ToolContext| async move {
                let schema = json!({
                    "type": "object",
                    "properties": {"name": {"type": "string"}},
                    "required": ["name"]
                });
                let answer = ctx.elicit("Your name?", schema).await?;
                let answer =
                    serde_json::to_value(answer).map_err(|e| ToolError::new(e.to_string()))?;
                Ok(json!(format!(
                    "hello {}",
                    answer["content"]["name"].as_str().unwrap_or("?")
                )))
            }),
        )
        .unwrap();
    let config = McpHttpConfig {
        port: 0,
        enable_prometheus: true,
        enable_process_metrics: false,
        tools_list_changed: true,
        catalog: catalog.clone(),
        ..Default::default()
    };
    let server = McpHttpServer::new(registry.clone(), config).unwrap();
    let notifier = server.tools_list_notifier();
    let handle = server.start().unwrap();
    CatalogBackend {
        running: Running { handle, registry },
        catalog,
        notifier,
    }
}

/// Poll `done` until it holds, without blocking the client's runtime (fails after the hang guard).
async fn settle(what: &str, mut done: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(start.elapsed() < HANG_GUARD, "timed out waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn config(backends: &[(&str, &Running)]) -> GatewayConfig {
    GatewayConfig {
        backends: backends
            .iter()
            .map(|(name, b)| BackendSpec::new(name, &b.url(), None).unwrap())
            .collect(),
        ..GatewayConfig::default()
    }
}

fn field(items: &Value, list: &str, key: &str) -> Vec<String> {
    items[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i[key].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn resources_templates_prompts_and_completion_are_namespaced_and_proxied() {
    let a = catalog_backend("a");
    let b = catalog_backend("b");
    let gw = gateway(config(&[("b", &b.running), ("a", &a.running)]), 2);
    let rt = runtime();
    rt.block_on(async {
        let client = McpClient::connect(ClientConfig::new(gw.url())).await.unwrap();
        let caps = &client.server_info()["capabilities"];
        assert_eq!(caps["resources"], json!({"listChanged": true}));
        assert_eq!(caps["prompts"], json!({"listChanged": true}));
        assert_eq!(caps["completions"], json!({}));

        let list = client.request("resources/list", json!({})).await.unwrap();
        assert_eq!(
            list,
            json!({"resources": [
                {"uri": "mcp-gateway://a/scene://current", "name": "current", "mimeType": "text/plain"},
                {"uri": "mcp-gateway://b/scene://current", "name": "current", "mimeType": "text/plain"},
            ]})
        );
        let templates = client
            .request("resources/templates/list", json!({}))
            .await
            .unwrap();
        assert_eq!(
            field(&templates, "resourceTemplates", "uriTemplate"),
            ["mcp-gateway://a/shot://{id}", "mcp-gateway://b/shot://{id}"]
        );
        let read = client
            .request("resources/read", json!({"uri": "mcp-gateway://b/scene://current"}))
            .await
            .unwrap();
        assert_eq!(
            read,
            json!({"contents": [{"uri": "mcp-gateway://b/scene://current", "mimeType": "text/plain", "text": "scene of b"}]})
        );
        let read = client
            .request("resources/read", json!({"uri": "mcp-gateway://a/shot://sh010"}))
            .await
            .unwrap();
        assert_eq!(read["contents"][0]["text"], "a shot sh010");
        assert_eq!(read["contents"][0]["uri"], "mcp-gateway://a/shot://sh010");
        // A URI the owner does not know: the owner's error, unchanged.
        let missing = client
            .request("resources/read", json!({"uri": "mcp-gateway://a/scene://none"}))
            .await
            .unwrap_err();
        assert_eq!(missing.rpc_code(), Some(-32002));
        let nobody = client
            .request("resources/read", json!({"uri": "mcp-gateway://zz/scene://current"}))
            .await
            .unwrap_err();
        assert_eq!(nobody.rpc_code(), Some(-32002));

        let prompts = client.request("prompts/list", json!({})).await.unwrap();
        assert_eq!(field(&prompts, "prompts", "name"), ["a__render", "b__render"]);
        assert_eq!(prompts["prompts"][0]["arguments"], json!([{"name": "shot", "required": true}]));
        let got = client
            .request("prompts/get", json!({"name": "b__render", "arguments": {"shot": "sh020"}}))
            .await
            .unwrap();
        assert_eq!(got["messages"][0]["content"]["text"], "render sh020 on b");
        let completed = client
            .request(
                "completion/complete",
                json!({"ref": {"type": "ref/prompt", "name": "a__render"},
                       "argument": {"name": "shot", "value": "sh"}}),
            )
            .await
            .unwrap();
        assert_eq!(
            completed,
            json!({"completion": {"values": ["sh010", "sh020"], "total": 2, "hasMore": false}})
        );
        let refused = client
            .request("resources/subscribe", json!({"uri": "mcp-gateway://a/scene://current"}))
            .await
            .unwrap_err();
        assert_eq!(refused.rpc_code(), Some(-32602));

        // The gateway's own job tools are listed and callable.
        let jobs = client.call_tool("jobs.list", json!({})).await.unwrap();
        assert!(!jobs.is_error(), "{:?}", jobs.into_value());
    });
    gw.shutdown();
}

#[test]
fn backend_list_changes_are_followed_and_announced() {
    let a = catalog_backend("a");
    let gw = gateway(config(&[("a", &a.running)]), 1);
    let rt = runtime();
    rt.block_on(async {
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = seen.clone();
        let handler = Callbacks::new().on_notification(move |method, _| {
            sink.lock().unwrap().push(method.to_owned());
        });
        let client = McpClient::connect_with(ClientConfig::new(gw.url()), handler)
            .await
            .unwrap();

        // A prompt added at the backend, announced there: it appears at the gateway, announced.
        a.catalog
            .prompts
            .add(prompt("light"), Arc::new(|_| filled("light".into())))
            .unwrap();
        assert_eq!(a.notifier.notify_catalog(false), 1);
        let count = |method: &str| seen.lock().unwrap().iter().filter(|m| *m == method).count();
        settle("prompts/list_changed", || {
            count("notifications/prompts/list_changed") == 1
        })
        .await;
        let prompts = client.request("prompts/list", json!({})).await.unwrap();
        assert_eq!(
            field(&prompts, "prompts", "name"),
            ["a__light", "a__render"]
        );

        // A tool added and announced: listed as a__new, and callable.
        a.running
            .registry
            .register_with(
                ToolSpec::new("new"),
                Handler::inline(|_: Value, _: ToolContext| std::future::ready(Ok(json!("new!")))),
            )
            .unwrap();
        assert_eq!(a.notifier.notify(), 1);
        settle("tools/list_changed", || {
            count("notifications/tools/list_changed") == 1
        })
        .await;
        let names: Vec<String> = client
            .list_all_tools()
            .await
            .unwrap()
            .iter()
            .filter_map(|t| t["name"].as_str().map(str::to_owned))
            .filter(|n| n.starts_with("a__") && !n.starts_with("a__jobs."))
            .collect();
        assert_eq!(names, ["a__ask", "a__log", "a__new"]);
        let result = client.call_tool("a__new", json!({})).await.unwrap();
        assert_eq!(result.text(), Some("new!"));

        // A resource removed: announced once; nothing else was.
        assert!(a.catalog.resources.remove("scene://current"));
        assert_eq!(a.notifier.notify_catalog(true), 1);
        settle("resources/list_changed", || {
            count("notifications/resources/list_changed") == 1
        })
        .await;
        let list = client.request("resources/list", json!({})).await.unwrap();
        assert_eq!(list, json!({"resources": []}));
        assert_eq!(count("notifications/prompts/list_changed"), 1);
        assert_eq!(count("notifications/tools/list_changed"), 1);
    });
    gw.shutdown();
}

fn tools_of(tools: &[Value]) -> Vec<String> {
    tools
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .filter(|n| n.contains("__") && !n.contains("__jobs."))
        .collect()
}

#[test]
fn per_backend_and_per_dcc_type_endpoints_serve_their_subset() {
    let a = catalog_backend("a");
    let b = catalog_backend("b");
    let c = backend(&["echo"], 0);
    let spec = |name: &str, url: String, dcc: &str| {
        BackendSpec::new(name, &url, Some(dcc.to_owned())).unwrap()
    };
    let config = GatewayConfig {
        backends: vec![
            spec("a", a.running.url(), "maya"),
            spec("b", b.running.url(), "maya"),
            spec("c", c.url(), "blender"),
        ],
        ..GatewayConfig::default()
    };
    let gw = gateway(config, 3);
    let base = gw.url();
    let rt = runtime();
    rt.block_on(async {
        let connect = |path: &str| {
            let url = format!("{base}{path}");
            async move { McpClient::connect(ClientConfig::new(url)).await.unwrap() }
        };
        let all = connect("").await;
        let only_a = connect("/a").await;
        let maya = connect("/dcc/maya").await;
        let blender = connect("/dcc/blender").await;
        assert_eq!(
            tools_of(&all.list_all_tools().await.unwrap()),
            ["a__ask", "a__log", "b__ask", "b__log", "c__echo"]
        );
        assert_eq!(
            tools_of(&only_a.list_all_tools().await.unwrap()),
            ["a__ask", "a__log"]
        );
        assert_eq!(
            tools_of(&maya.list_all_tools().await.unwrap()),
            ["a__ask", "a__log", "b__ask", "b__log"]
        );
        assert_eq!(
            tools_of(&blender.list_all_tools().await.unwrap()),
            ["c__echo"]
        );
        let echoed = blender
            .call_tool("c__echo", json!({"text": "via blender"}))
            .await
            .unwrap();
        assert_eq!(echoed.text(), Some("via blender"));
        // A tool outside the view is not there.
        let outside = only_a.call_tool("b__log", json!({})).await.unwrap_err();
        assert_eq!(outside.rpc_code(), Some(-32602));

        let resources = only_a.request("resources/list", json!({})).await.unwrap();
        assert_eq!(
            field(&resources, "resources", "uri"),
            ["mcp-gateway://a/scene://current"]
        );
        let prompts = maya.request("prompts/list", json!({})).await.unwrap();
        assert_eq!(
            field(&prompts, "prompts", "name"),
            ["a__render", "b__render"]
        );
        let read = only_a
            .request(
                "resources/read",
                json!({"uri": "mcp-gateway://b/scene://current"}),
            )
            .await
            .unwrap_err();
        assert_eq!(read.rpc_code(), Some(-32002));
        let none = blender.request("prompts/list", json!({})).await.unwrap();
        assert_eq!(none, json!({"prompts": []}));
    });
    assert_eq!(http_get(gw.server.port(), "/mcp/zz").0, 404);
    assert_eq!(http_get(gw.server.port(), "/mcp/dcc/houdini").0, 404);
    gw.shutdown();
}

#[test]
fn the_views_take_the_gateways_bearer_tokens() {
    let a = backend(&["echo"], 0);
    let config = GatewayConfig {
        backends: vec![BackendSpec::new("a", &a.url(), None).unwrap()],
        ..GatewayConfig::default()
    };
    let server_config = dcc_mcp_gateway::Gateway::server_config(
        McpHttpConfig {
            port: 0,
            bearer_tokens: dcc_mcp_http::BearerTokens::new(["s3cret"]),
            ..Default::default()
        },
        &config,
    );
    let mut server = McpHttpServer::new(ToolRegistry::new(), server_config).unwrap();
    let mut gateway = dcc_mcp_gateway::Gateway::attach(config, &mut server).unwrap();
    let handle = server.start().unwrap();
    gateway.start().unwrap();
    let view = format!("{}/a", handle.mcp_url());
    wait_for("a up", || {
        http_get(handle.local_addr().port(), "/health")
            .1
            .contains("\"backends_up\":1")
    });
    let rt = runtime();
    rt.block_on(async {
        let refused = McpClient::connect(ClientConfig::new(view.clone()))
            .await
            .unwrap_err();
        assert!(
            matches!(
                refused,
                dcc_mcp_client::ClientError::Http { status: 401, .. }
            ),
            "{refused:?}"
        );
        let mut config = ClientConfig::new(view);
        config
            .headers
            .push(("authorization".into(), "Bearer s3cret".into()));
        let client = McpClient::connect(config).await.unwrap();
        let echoed = client
            .call_tool("a__echo", json!({"text": "authorized"}))
            .await
            .unwrap();
        assert_eq!(echoed.text(), Some("authorized"));
    });
    gateway.shutdown();
    handle.shutdown().unwrap();
}
