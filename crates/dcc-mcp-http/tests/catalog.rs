//! Resources, prompts and completion over `/mcp`: capabilities declared by `initialize`, and each
//! method's answer through the real router, with a resource added after the server was built.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::*;
use dcc_mcp_http::completion_providers::prefix_provider;
use dcc_mcp_http::protocol::completion::Reference;
use dcc_mcp_http::protocol::content::{ContentBlock, Role};
use dcc_mcp_http::protocol::prompts::{GetPromptResult, Prompt, PromptMessage};
use dcc_mcp_http::protocol::resources::Resource;
use dcc_mcp_http::resource_registry::ResourceBody;
use dcc_mcp_http::{Catalog, McpHttpConfig};
use serde_json::json;

fn catalog() -> Catalog {
    let catalog = Catalog::default();
    let mut scene = Resource::new("maya://scene/current", "current scene");
    scene.mime_type = Some("application/json".into());
    catalog
        .resources
        .add_fixed(scene, ResourceBody::Text("{\"nodes\":3}".into()))
        .unwrap();
    catalog
        .prompts
        .add(
            Prompt {
                name: "cleanup".into(),
                title: None,
                description: Some("Clean up the scene".into()),
                arguments: vec![],
            },
            Arc::new(|_| {
                Ok(GetPromptResult {
                    description: None,
                    messages: vec![PromptMessage {
                        role: Role::User,
                        content: ContentBlock::text("Delete unused nodes."),
                    }],
                })
            }),
        )
        .unwrap();
    catalog.completions.add(
        Reference::Prompt {
            name: "cleanup".into(),
        },
        "scope",
        prefix_provider(vec!["all".into(), "selection".into()]),
    );
    catalog
}

#[tokio::test]
async fn catalog_methods_over_http() {
    let catalog = catalog();
    let server = server_with(
        test_registry(),
        McpHttpConfig {
            catalog: catalog.clone(),
            ..Default::default()
        },
    );
    let router = server.router();
    let reply = post(
        &router,
        None,
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}),
    )
    .await;
    assert_eq!(
        reply.body["result"]["capabilities"],
        json!({"tools": {"listChanged": false}, "logging": {},
               "resources": {"subscribe": true, "listChanged": true},
               "prompts": {"listChanged": true}, "completions": {}})
    );
    let session = initialize(&router).await;
    let reply = post(
        &router,
        Some(&session),
        json!({"jsonrpc": "2.0", "id": 2, "method": "resources/read", "params": {"uri": "maya://scene/current"}}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.body["result"],
        json!({"contents": [{"uri": "maya://scene/current", "mimeType": "application/json", "text": "{\"nodes\":3}"}]})
    );
    // Added after the server was built: served at once.
    catalog
        .resources
        .add_fixed(
            Resource::new("maya://render/settings", "render settings"),
            ResourceBody::Binary(vec![1, 2, 3]),
        )
        .unwrap();
    let reply = post(
        &router,
        Some(&session),
        json!({"jsonrpc": "2.0", "id": 3, "method": "resources/read", "params": {"uri": "maya://render/settings"}}),
    )
    .await;
    assert_eq!(
        reply.body["result"],
        json!({"contents": [{"uri": "maya://render/settings", "blob": "AQID"}]})
    );
    let reply = post(
        &router,
        Some(&session),
        json!({"jsonrpc": "2.0", "id": 4, "method": "resources/read", "params": {"uri": "maya://nothing"}}),
    )
    .await;
    assert_eq!(reply.body["error"]["code"], -32002);
    let reply = post(
        &router,
        Some(&session),
        json!({"jsonrpc": "2.0", "id": 5, "method": "prompts/get", "params": {"name": "cleanup"}}),
    )
    .await;
    assert_eq!(
        reply.body["result"],
        json!({"messages": [{"role": "user", "content": {"type": "text", "text": "Delete unused nodes."}}]})
    );
    let reply = post(
        &router,
        Some(&session),
        json!({"jsonrpc": "2.0", "id": 6, "method": "completion/complete", "params": {"ref": {"type": "ref/prompt", "name": "cleanup"}, "argument": {"name": "scope", "value": "se"}}}),
    )
    .await;
    assert_eq!(
        reply.body["result"],
        json!({"completion": {"values": ["selection"], "total": 1, "hasMore": false}})
    );
    let reply = post(
        &router,
        Some(&session),
        json!({"jsonrpc": "2.0", "id": 7, "method": "resources/subscribe", "params": {"uri": "maya://scene/current"}}),
    )
    .await;
    assert_eq!(reply.body["result"], json!({}));
    assert_eq!(
        catalog.subscriptions().subscribers("maya://scene/current"),
        [session]
    );
}

/// Session era: catalog changes reach the sessions' GET streams — list changes every session, an
/// update only the sessions subscribed to its URI. A tool registered later is announced only by the
/// embedder's notifier.
#[tokio::test]
async fn changes_reach_the_session_streams() {
    use tower::ServiceExt;
    let catalog = catalog();
    let registry = test_registry();
    let server = server_with(
        registry.clone(),
        McpHttpConfig {
            catalog: catalog.clone(),
            tools_list_changed: true,
            ..Default::default()
        },
    );
    let router = server.router();
    let subscribed = initialize(&router).await;
    let other = initialize(&router).await;
    let reply = post(
        &router,
        Some(&subscribed),
        json!({"jsonrpc": "2.0", "id": 1, "method": "resources/subscribe", "params": {"uri": "maya://scene/current"}}),
    )
    .await;
    assert_eq!(reply.body["result"], json!({}), "{}", reply.raw);
    let subscribed_stream = router
        .clone()
        .oneshot(sse_request(&subscribed))
        .await
        .unwrap();
    let other_stream = router.clone().oneshot(sse_request(&other)).await.unwrap();

    catalog.resources.notify_updated("maya://scene/current");
    catalog
        .resources
        .add_fixed(
            Resource::new("maya://selection", "selection"),
            ResourceBody::Text("[]".into()),
        )
        .unwrap();
    assert!(catalog.prompts.remove("cleanup"));
    registry
        .register_with_handler(
            dcc_mcp_http::ToolSpec::new("late"),
            handler(|_args, _ctx| Ok(json!("late"))),
        )
        .unwrap();
    assert_eq!(server.tools_list_notifier().notify(), 2);

    let updated = json!({"jsonrpc": "2.0", "method": "notifications/resources/updated",
                         "params": {"uri": "maya://scene/current"}});
    let resources =
        json!({"jsonrpc": "2.0", "method": "notifications/resources/list_changed", "params": {}});
    let prompts =
        json!({"jsonrpc": "2.0", "method": "notifications/prompts/list_changed", "params": {}});
    let tools =
        json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed", "params": {}});
    assert_eq!(
        read_sse(subscribed_stream.into_body(), 4).await,
        vec![updated, resources.clone(), prompts.clone(), tools.clone()]
    );
    assert_eq!(
        read_sse(other_stream.into_body(), 3).await,
        vec![resources, prompts, tools]
    );
}
