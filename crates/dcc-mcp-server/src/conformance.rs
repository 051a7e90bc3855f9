//! `--conformance-fixtures`: the tools, resources and prompts the official MCP conformance suite
//! (`@modelcontextprotocol/conformance`) calls by name (`npx conformance list --server`), with the
//! results its scenarios expect. They exist so CI and anyone checking the server can run the suite
//! against the real binary; they are not useful tools.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use dcc_mcp_http::completion_providers::prefix_provider;
use dcc_mcp_http::protocol::base64;
use dcc_mcp_http::protocol::completion::Reference;
use dcc_mcp_http::protocol::content::{ContentBlock, ResourceContents, Role};
use dcc_mcp_http::protocol::prompts::{GetPromptResult, Prompt, PromptArgument, PromptMessage};
use dcc_mcp_http::protocol::resources::{Resource, ResourceTemplate};
use dcc_mcp_http::resource_registry::ResourceBody;
use dcc_mcp_http::{
    CallToolResult, Catalog, Handler, ToolContext, ToolError, ToolRegistry, ToolSpec,
};
use serde_json::{json, Value};

/// A 1×1 red PNG.
const PNG: [u8; 69] = [
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
    0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x08, 0xd7, 0x63, 0xf8, 0xcf, 0xc0, 0x00,
    0x00, 0x03, 0x01, 0x01, 0x00, 0x18, 0xdd, 0x8d, 0xb0, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e,
    0x44, 0xae, 0x42, 0x60, 0x82,
];

/// A WAV header with no samples (8 kHz, mono, 8-bit).
const WAV: [u8; 44] = [
    b'R', b'I', b'F', b'F', 36, 0, 0, 0, b'W', b'A', b'V', b'E', b'f', b'm', b't', b' ', 16, 0, 0,
    0, 1, 0, 1, 0, 0x40, 0x1f, 0, 0, 0x40, 0x1f, 0, 0, 1, 0, 8, 0, b'd', b'a', b't', b'a', 0, 0, 0,
    0,
];

fn png() -> String {
    base64::encode(&PNG)
}

fn blocks(content: Vec<ContentBlock>) -> Value {
    CallToolResult::new(content.iter().map(ContentBlock::to_value).collect()).into_value()
}

fn fixed(result: Value) -> Handler {
    Handler::inline(move |_args: Value, _ctx: ToolContext| std::future::ready(Ok(result.clone())))
}

fn no_args(name: &str, description: &str) -> ToolSpec {
    ToolSpec::new(name).description(description)
}

/// Register the suite's fixture tools.
pub(crate) fn register_tools(registry: &ToolRegistry) -> Result<(), String> {
    let mut tools: Vec<(ToolSpec, Handler)> = vec![
        (
            no_args("test_simple_text", "Returns a simple text"),
            fixed(blocks(vec![ContentBlock::text(
                "This is a simple text response for testing.",
            )])),
        ),
        (
            no_args("test_image_content", "Returns a 1x1 PNG"),
            fixed(blocks(vec![ContentBlock::image(png(), "image/png")])),
        ),
        (
            no_args("test_audio_content", "Returns an empty WAV"),
            fixed(blocks(vec![ContentBlock::audio(
                base64::encode(&WAV),
                "audio/wav",
            )])),
        ),
        (
            no_args("test_embedded_resource", "Returns an embedded resource"),
            fixed(blocks(vec![ContentBlock::resource(
                ResourceContents::text(
                    "test://embedded-resource",
                    Some("text/plain"),
                    "This is an embedded resource content.",
                ),
            )])),
        ),
        (
            no_args(
                "test_multiple_content_types",
                "Returns text, an image and a resource",
            ),
            fixed(blocks(vec![
                ContentBlock::text("Multiple content types test:"),
                ContentBlock::image(png(), "image/png"),
                ContentBlock::resource(ResourceContents::text(
                    "test://mixed-content-resource",
                    Some("application/json"),
                    json!({"test": "data", "value": 123}).to_string(),
                )),
            ])),
        ),
        (
            no_args("test_error_handling", "Always fails"),
            Handler::inline(|_args: Value, _ctx: ToolContext| {
                std::future::ready(Err(ToolError::new(
                    "This tool intentionally returns an error for testing",
                )))
            }),
        ),
        (
            no_args(
                "test_tool_with_progress",
                "Reports progress 0, 50, 100 of 100",
            ),
            Handler::worker(|_args: Value, ctx: &ToolContext| {
                for (step, progress) in [0.0, 50.0, 100.0].into_iter().enumerate() {
                    if step > 0 {
                        thread::sleep(Duration::from_millis(50));
                    }
                    ctx.report_progress(progress, Some(100.0), None);
                }
                // The reports go on the POST's own SSE response, before the result (both eras).
                Ok(json!("Progress reported: 0, 50, 100 of 100"))
            }),
        ),
    ];
    tools.push((
        ToolSpec::new("json_schema_2020_12_tool")
            .description("Tool with JSON Schema 2020-12 features")
            .input_schema(json_schema_2020_12()),
        fixed(json!("ok")),
    ));
    for (spec, handler) in tools {
        registry
            .register_with(spec, handler)
            .map_err(|error| error.to_string())?;
    }
    crate::conformance_input::register_tools(registry)
}

/// The input schema the `json-schema-2020-12` scenario looks for in `tools/list`, keyword for keyword.
fn json_schema_2020_12() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": {"address": {"$anchor": "addressDef", "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}}}},
        "properties": {
            "name": {"type": "string"},
            "address": {"$ref": "#/$defs/address"},
            "contactMethod": {"type": "string", "enum": ["phone", "email"]},
            "phone": {"type": "string"},
            "email": {"type": "string"}
        },
        "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
        "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
        "then": {"required": ["phone"]},
        "else": {"required": ["email"]},
        "additionalProperties": false
    })
}

fn resource(uri: &str, name: &str, description: &str, mime: &str) -> Resource {
    let mut resource = Resource::new(uri, name);
    resource.description = Some(description.into());
    resource.mime_type = Some(mime.into());
    resource
}

fn argument(name: &str, description: &str) -> PromptArgument {
    PromptArgument {
        name: name.into(),
        title: None,
        description: Some(description.into()),
        required: Some(true),
    }
}

fn prompt(name: &str, description: &str, arguments: Vec<PromptArgument>) -> Prompt {
    Prompt {
        name: name.into(),
        title: None,
        description: Some(description.into()),
        arguments,
    }
}

fn user(content: ContentBlock) -> PromptMessage {
    PromptMessage {
        role: Role::User,
        content,
    }
}

fn messages(messages: Vec<PromptMessage>) -> Result<GetPromptResult, String> {
    Ok(GetPromptResult {
        description: None,
        messages,
    })
}

/// The suite's fixture resources, templates, prompts and completions.
pub(crate) fn catalog() -> Result<Catalog, String> {
    let catalog = Catalog::default();
    let resources = &catalog.resources;
    let text = |text: &str| ResourceBody::Text(text.to_owned());
    resources
        .add_fixed(
            resource(
                "test://static-text",
                "static-text",
                "A static text resource",
                "text/plain",
            ),
            text("This is the content of the static text resource."),
        )
        .and_then(|()| {
            resources.add_fixed(
                resource(
                    "test://static-binary",
                    "static-binary",
                    "A 1x1 PNG",
                    "image/png",
                ),
                ResourceBody::Binary(PNG.to_vec()),
            )
        })
        .and_then(|()| {
            resources.add_fixed(
                resource(
                    "test://watched-resource",
                    "watched-resource",
                    "A resource to subscribe to",
                    "text/plain",
                ),
                text("Watched resource content."),
            )
        })
        .and_then(|()| {
            resources.add_template(
                ResourceTemplate {
                    uri_template: "test://template/{id}/data".into(),
                    name: "template".into(),
                    title: None,
                    description: Some("Data for an id".into()),
                    mime_type: Some("application/json".into()),
                    annotations: None,
                },
                Arc::new(|_uri, vars| {
                    let id = vars.get("id").cloned().unwrap_or_default();
                    let data = format!("Data for ID: {id}");
                    Ok(ResourceBody::Text(
                        json!({"id": id, "templateTest": true, "data": data}).to_string(),
                    ))
                }),
            )
        })
        .map_err(|error| error.to_string())?;

    let prompts = &catalog.prompts;
    prompts
        .add(
            prompt("test_simple_prompt", "A prompt without arguments", vec![]),
            Arc::new(|_| {
                messages(vec![user(ContentBlock::text(
                    "This is a simple prompt for testing.",
                ))])
            }),
        )
        .and_then(|()| {
            prompts.add(
                prompt(
                    "test_prompt_with_arguments",
                    "A prompt with two arguments",
                    vec![
                        argument("arg1", "First test argument"),
                        argument("arg2", "Second test argument"),
                    ],
                ),
                Arc::new(|args| {
                    let get = |name: &str| args.get(name).map_or("", String::as_str);
                    messages(vec![user(ContentBlock::text(format!(
                        "Prompt with arguments: arg1='{}', arg2='{}'",
                        get("arg1"),
                        get("arg2")
                    )))])
                }),
            )
        })
        .and_then(|()| {
            prompts.add(
                prompt(
                    "test_prompt_with_embedded_resource",
                    "A prompt embedding a resource",
                    vec![argument("resourceUri", "URI of the resource to embed")],
                ),
                Arc::new(|args| {
                    let uri = args.get("resourceUri").cloned().unwrap_or_default();
                    messages(vec![
                        user(ContentBlock::resource(ResourceContents::text(
                            uri,
                            Some("text/plain"),
                            "Embedded resource content for testing.",
                        ))),
                        user(ContentBlock::text(
                            "Please process the embedded resource above.",
                        )),
                    ])
                }),
            )
        })
        .and_then(|()| {
            prompts.add(
                prompt("test_prompt_with_image", "A prompt with an image", vec![]),
                Arc::new(|_| {
                    messages(vec![
                        user(ContentBlock::image(png(), "image/png")),
                        user(ContentBlock::text("Please analyze the image above.")),
                    ])
                }),
            )
        })
        .map_err(|error| error.to_string())?;

    catalog.completions.add(
        Reference::Prompt {
            name: "test_prompt_with_arguments".into(),
        },
        "arg1",
        prefix_provider(
            ["paris", "park", "party", "test", "testing"]
                .map(String::from)
                .to_vec(),
        ),
    );
    catalog.completions.add(
        Reference::Resource {
            uri: "test://template/{id}/data".into(),
        },
        "id",
        prefix_provider(["123", "124", "200"].map(String::from).to_vec()),
    );
    crate::conformance_input::register_prompts(&catalog)?;
    Ok(catalog)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_register_and_read() {
        let registry = ToolRegistry::new();
        register_tools(&registry).unwrap();
        let catalog = catalog().unwrap();
        let read = catalog
            .handle(
                "s",
                "resources/read",
                Some(&json!({"uri": "test://template/123/data"})),
            )
            .unwrap()
            .unwrap();
        assert_eq!(
            read["contents"][0]["text"],
            json!("{\"data\":\"Data for ID: 123\",\"id\":\"123\",\"templateTest\":true}")
        );
        let binary = catalog
            .handle(
                "s",
                "resources/read",
                Some(&json!({"uri": "test://static-binary"})),
            )
            .unwrap()
            .unwrap();
        assert!(binary["contents"][0]["blob"]
            .as_str()
            .unwrap()
            .starts_with("iVBORw0KGgo"));
    }
}
