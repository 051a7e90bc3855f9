//! Tool metadata and results beyond plain data: `title` and `annotations` in `tools/list`, handlers
//! that return a complete `CallToolResult` (images, audio), and schemas refused at registration.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::*;
use dcc_mcp_http::{
    CallToolResult, McpHttpConfig, RegistryError, ToolAnnotations, ToolRegistry, ToolSpec,
    CALL_TOOL_RESULT_KEY,
};
use serde_json::{json, Value};

fn listed(reply: &Value, name: &str) -> Value {
    reply["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|tool| tool["name"] == name)
        .cloned()
        .unwrap()
}

#[tokio::test]
async fn tools_list_carries_title_and_annotations() {
    let registry = ToolRegistry::new();
    registry
        .register(
            ToolSpec::new("delete_keys")
                .title("Delete all keys")
                .annotations(ToolAnnotations {
                    destructive_hint: Some(true),
                    read_only_hint: Some(false),
                    ..ToolAnnotations::default()
                }),
        )
        .unwrap();
    registry.register(ToolSpec::new("plain")).unwrap();
    let router = server_with(registry, McpHttpConfig::default()).router();
    let session = initialize(&router).await;
    let reply = post(
        &router,
        Some(&session),
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    )
    .await;
    assert_eq!(
        listed(&reply.body, "delete_keys"),
        json!({
            "name": "delete_keys", "title": "Delete all keys", "description": "",
            "inputSchema": {"type": "object"},
            "annotations": {"readOnlyHint": false, "destructiveHint": true}
        })
    );
    // Unset metadata stays out of the listing.
    assert_eq!(
        listed(&reply.body, "plain"),
        json!({"name": "plain", "description": "", "inputSchema": {"type": "object"}})
    );
}

#[tokio::test]
async fn a_call_tool_result_is_sent_as_is_and_the_same_shape_as_data_is_not() {
    let image = json!({"type": "image", "data": "iVBORw0KGgo=", "mimeType": "image/png"});
    let registry = ToolRegistry::new();
    let block = image.clone();
    registry
        .register_with_handler(
            ToolSpec::new("snapshot"),
            handler(move |_, _| Ok(CallToolResult::new(vec![block.clone()]).into_value())),
        )
        .unwrap();
    let shaped = json!({"content": [image.clone()], "isError": false});
    let data = shaped.clone();
    registry
        .register_with_handler(
            ToolSpec::new("looks_like_a_result"),
            handler(move |_, _| Ok(data.clone())),
        )
        .unwrap();
    registry
        .register_with_handler(
            ToolSpec::new("broken"),
            handler(|_, _| Ok(json!({CALL_TOOL_RESULT_KEY: {"content": "x"}}))),
        )
        .unwrap();
    let router = server_with(registry, McpHttpConfig::default()).router();
    let session = initialize(&router).await;

    let reply = call(&router, &session, "snapshot", json!({})).await;
    assert_eq!(
        reply["result"],
        json!({"content": [image], "isError": false})
    );
    let reply = call(&router, &session, "looks_like_a_result", json!({})).await;
    assert_eq!(reply["result"]["structuredContent"], shaped);
    assert_eq!(reply["result"]["content"][0]["type"], "text");
    let reply = call(&router, &session, "broken", json!({})).await;
    assert_eq!(
        reply["result"],
        json!({"content": [{"type": "text", "text": "tool 'broken' returned an invalid CallToolResult: \"content\" must be an array"}], "isError": true})
    );
}

#[tokio::test]
async fn a_call_tool_result_is_checked_against_the_output_schema() {
    let registry = ToolRegistry::new();
    let spec = ToolSpec::new("typed").output_schema(json!({
        "type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]
    }));
    registry
        .register_with_handler(
            spec,
            handler(|args, _| {
                let mut result = CallToolResult::new(vec![json!({"type": "text", "text": "n"})]);
                result.structured_content = args["n"].as_object().cloned();
                Ok(result.into_value())
            }),
        )
        .unwrap();
    let router = server_with(registry, McpHttpConfig::default()).router();
    let session = initialize(&router).await;
    let reply = call(&router, &session, "typed", json!({"n": {"n": 1}})).await;
    assert_eq!(reply["result"]["structuredContent"], json!({"n": 1}));
    assert_eq!(reply["result"]["isError"], false);
    let reply = call(&router, &session, "typed", json!({"n": {"n": "one"}})).await;
    assert_eq!(reply["result"]["isError"], true);
    let reply = call(&router, &session, "typed", json!({})).await;
    assert_eq!(
        reply["result"]["content"][0]["text"],
        "tool 'typed' has an outputSchema but returned a result without structuredContent"
    );
}

#[test]
fn a_schema_whose_root_is_not_an_object_schema_is_refused() {
    let registry = ToolRegistry::new();
    for (schema, found) in [
        (json!({}), "no \"type\""),
        (json!({"type": "string"}), "\"type\": \"string\""),
        (
            json!({"type": ["object", "null"]}),
            "\"type\": [\"object\",\"null\"]",
        ),
    ] {
        let err = registry
            .register(ToolSpec::new("bad").input_schema(schema.clone()))
            .unwrap_err();
        assert!(
            matches!(
                &err,
                RegistryError::InvalidSchema {
                    which: "inputSchema",
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "tool \"bad\" has an invalid inputSchema: the root of a tool schema must be an \
                 object schema ({{\"type\": \"object\", …}}), found {found}"
            )
        );
        let err = registry
            .register(ToolSpec::new("bad").output_schema(schema))
            .unwrap_err();
        assert!(matches!(
            &err,
            RegistryError::InvalidSchema {
                which: "outputSchema",
                ..
            }
        ));
    }
    // An object root that is not valid JSON Schema is refused by the compiler.
    let err = registry
        .register(
            ToolSpec::new("bad")
                .input_schema(json!({"type": "object", "properties": {"x": {"type": 5}}})),
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("tool \"bad\" has an invalid inputSchema: "),
        "{err}"
    );
    assert!(registry.is_empty());
}
