//! `--conformance-fixtures`, the part for the stateless revision (2026-07-28): the diagnostic tools
//! the suite's `server-stateless` and `http-custom-header-server-validation` scenarios call by name.
//!
//! - `test_missing_capability` needs the `sampling` client capability (a client that did not
//!   declare it gets `-32021`);
//! - `test_logging_tool` and `test_streaming_elicitation` answer plainly (the suite checks that no
//!   log message and no server request appear on the stream);
//! - `test_trigger_tool_change` and `test_trigger_prompt_change` change the tool and prompt lists,
//!   so `subscriptions/listen` streams hear of it;
//! - `test_custom_header` has an argument marked `x-mcp-header`, repeated in `Mcp-Param-Region`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use dcc_mcp_http::protocol::content::ContentBlock;
use dcc_mcp_http::protocol::prompts::{GetPromptResult, Prompt};
use dcc_mcp_http::{
    CallToolResult, Catalog, Handler, ToolContext, ToolRegistry, ToolSpec, PARAM_HEADER_KEYWORD,
};
use serde_json::{json, Value};

/// The tool `test_trigger_tool_change` adds and removes in turn.
const TOGGLED_TOOL: &str = "test_toggled_tool";
/// The prompt `test_trigger_prompt_change` adds and removes in turn.
const TOGGLED_PROMPT: &str = "test_toggled_prompt";

fn text(message: &str) -> Value {
    CallToolResult::new(vec![ContentBlock::text(message).to_value()]).into_value()
}

fn says(message: &'static str) -> Handler {
    Handler::inline(move |_args: Value, _ctx: ToolContext| std::future::ready(Ok(text(message))))
}

/// Register the stateless diagnostic tools; `catalog` is the catalog the server will serve.
pub(crate) fn register_tools(registry: &ToolRegistry, catalog: &Catalog) -> Result<(), String> {
    let tools = [
        (
            ToolSpec::new("test_missing_capability")
                .description("Needs the sampling client capability"),
            Handler::inline(|_args: Value, ctx: ToolContext| {
                std::future::ready(
                    ctx.require_client_capability("sampling")
                        .map(|()| text("the client declared sampling")),
                )
            }),
        ),
        (
            ToolSpec::new("test_logging_tool").description("Logs only at the requested level"),
            says("logging tool ran"),
        ),
        (
            ToolSpec::new("test_streaming_elicitation")
                .description("Answers on its response stream, sending no server request"),
            says("streaming tool ran"),
        ),
        (
            ToolSpec::new("test_custom_header")
                .description("Echoes an argument the client repeats in Mcp-Param-Region")
                .input_schema(json!({
                    "type": "object",
                    "properties": {"region": {"type": "string", PARAM_HEADER_KEYWORD: "Region"}},
                    "required": ["region"],
                })),
            Handler::inline(|args: Value, _ctx: ToolContext| {
                let region = args["region"].as_str().unwrap_or_default().to_owned();
                std::future::ready(Ok(text(&format!("region {region}"))))
            }),
        ),
    ];
    for (spec, handler) in tools {
        registry
            .register_with(spec, handler)
            .map_err(|error| error.to_string())?;
    }
    let toggled = Arc::new(AtomicBool::new(false));
    let tools = registry.clone();
    registry
        .register_with(
            ToolSpec::new("test_trigger_tool_change").description("Adds or removes a tool"),
            Handler::inline(move |_args: Value, _ctx: ToolContext| {
                let outcome = if toggled.fetch_xor(true, Ordering::AcqRel) {
                    tools.unregister(TOGGLED_TOOL);
                    Ok(text("removed a tool"))
                } else {
                    tools
                        .register_with(
                            ToolSpec::new(TOGGLED_TOOL).description("Comes and goes"),
                            says("toggled"),
                        )
                        .map(|()| text("added a tool"))
                        .map_err(|error| error.to_string().into())
                };
                std::future::ready(outcome)
            }),
        )
        .map_err(|error| error.to_string())?;
    let prompts = catalog.prompts.clone();
    registry
        .register_with(
            ToolSpec::new("test_trigger_prompt_change").description("Adds or removes a prompt"),
            Handler::inline(move |_args: Value, _ctx: ToolContext| {
                let outcome = if prompts.remove(TOGGLED_PROMPT) {
                    Ok(text("removed a prompt"))
                } else {
                    let prompt = Prompt {
                        name: TOGGLED_PROMPT.into(),
                        title: None,
                        description: Some("Comes and goes".into()),
                        arguments: vec![],
                    };
                    prompts
                        .add(
                            prompt,
                            Arc::new(|_args| {
                                Ok(GetPromptResult {
                                    description: None,
                                    messages: vec![],
                                })
                            }),
                        )
                        .map(|()| text("added a prompt"))
                        .map_err(|error| error.to_string().into())
                };
                std::future::ready(outcome)
            }),
        )
        .map_err(|error| error.to_string())
}
