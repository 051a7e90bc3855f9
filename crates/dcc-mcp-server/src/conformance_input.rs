//! The conformance fixtures that talk back to the client: log messages, elicitation, sampling,
//! `roots/list`, and a stream closed before its result (`test_reconnection`). Each is written once against the handler context and works in both MCP eras (a
//! request on the session's stream up to 2025-11-25, an `InputRequiredResult` in 2026-07-28).
//! Some run inline (`.await`), some on a worker thread (`.wait()`), so both paths are exercised.

use std::thread;
use std::time::Duration;

use dcc_mcp_http::protocol::client_requests::{
    boolean_field, enum_field, integer_field, legacy_titled_enum_field, multi_enum_field,
    number_field, string_field, titled_enum_field, titled_multi_enum_field, CreateMessageParams,
    CreateMessageResult, ElicitResult, FormSchema, ListRootsResult, SamplingMessage,
};
use std::sync::Arc;

use dcc_mcp_http::protocol::content::{ContentBlock, Role};
use dcc_mcp_http::protocol::logging::LoggingLevel;
use dcc_mcp_http::protocol::prompts::{GetPromptResult, Prompt, PromptMessage};
use dcc_mcp_http::Catalog;
use dcc_mcp_http::{
    ClientRequestKind, Handler, InputRequest, ToolContext, ToolError, ToolRegistry, ToolSpec,
};
use serde_json::{json, Value};

fn text_of(content: &ContentBlock) -> String {
    match serde_json::to_value(content) {
        Ok(value) => value["text"].as_str().unwrap_or_default().to_owned(),
        Err(_) => String::new(),
    }
}

fn elicited(result: &ElicitResult) -> String {
    let action = serde_json::to_value(result.action).unwrap_or(Value::Null);
    let content = result.content.clone().map_or(Value::Null, Value::Object);
    format!(
        "action={}, content={content}",
        action.as_str().unwrap_or_default()
    )
}

fn question(text: &str, max_tokens: u64) -> CreateMessageParams {
    CreateMessageParams {
        messages: vec![SamplingMessage {
            role: Role::User,
            content: ContentBlock::text(text),
        }],
        max_tokens,
        system_prompt: None,
    }
}

fn name_form() -> Value {
    FormSchema::new()
        .field("name", string_field(None), true)
        .build()
}

fn answer_name(result: &ElicitResult) -> String {
    result
        .content
        .as_ref()
        .and_then(|content| content.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("stranger")
        .to_owned()
}

fn decode<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, ToolError> {
    serde_json::from_value(value).map_err(|error| ToolError::new(error.to_string()))
}

/// The session-era fixtures (2025-11-25 scenarios).
fn session_era() -> Vec<(ToolSpec, Handler)> {
    vec![
        (
            ToolSpec::new("test_reconnection").description(
                "Closes its POST's SSE stream before its result; the client resumes with GET and \
                 Last-Event-ID (SSE polling, SEP-1699)",
            ),
            Handler::inline(|_args: Value, ctx: ToolContext| async move {
                // The result goes out on the resumed stream, not on the POST's.
                ctx.close_stream();
                Ok(json!(
                    "Reconnection test completed: the result came on the resumed stream"
                ))
            }),
        ),
        (
            ToolSpec::new("test_tool_with_logging")
                .description("Sends three info log messages while it runs"),
            Handler::worker(|_args: Value, ctx: &ToolContext| {
                ctx.log(LoggingLevel::Info, json!("Tool execution started"));
                thread::sleep(Duration::from_millis(50));
                ctx.log(LoggingLevel::Info, json!("Tool processing data"));
                thread::sleep(Duration::from_millis(50));
                ctx.log(LoggingLevel::Info, json!("Tool execution completed"));
                Ok(json!("Tool with logging executed successfully"))
            }),
        ),
        (
            ToolSpec::new("test_sampling")
                .description("Asks the client's model to answer a prompt")
                .input_schema(json!({
                    "type": "object",
                    "properties": {"prompt": {"type": "string"}},
                    "required": ["prompt"]
                })),
            Handler::worker(|args: Value, ctx: &ToolContext| {
                let prompt = args["prompt"].as_str().unwrap_or_default();
                let sampled = ctx.sample(&question(prompt, 100)).wait()?;
                Ok(json!(format!(
                    "LLM response: {}",
                    text_of(&sampled.content)
                )))
            }),
        ),
        (
            ToolSpec::new("test_elicitation")
                .description("Asks the user for a username and an email")
                .input_schema(json!({
                    "type": "object",
                    "properties": {"message": {"type": "string"}},
                    "required": ["message"]
                })),
            Handler::inline(|args: Value, ctx: ToolContext| async move {
                let message = args["message"].as_str().unwrap_or_default().to_owned();
                let schema = json!({
                    "type": "object",
                    "properties": {
                        "username": {"type": "string", "description": "User's response"},
                        "email": {"type": "string", "description": "User's email address"}
                    },
                    "required": ["username", "email"]
                });
                let result = ctx.elicit(&message, schema).await?;
                Ok(json!(format!("User response: {}", elicited(&result))))
            }),
        ),
        (
            ToolSpec::new("test_elicitation_sep1034_defaults")
                .description("Elicits a form whose fields all have defaults (SEP-1034)"),
            Handler::inline(|_args: Value, ctx: ToolContext| async move {
                let schema = FormSchema::new()
                    .field("name", string_field(Some("John Doe")), false)
                    .field("age", integer_field(Some(30)), false)
                    .field("score", number_field(Some(95.5)), false)
                    .field(
                        "status",
                        enum_field(&["active", "inactive", "pending"], Some("active")),
                        false,
                    )
                    .field("verified", boolean_field(Some(true)), false)
                    .build();
                let result = ctx
                    .elicit(
                        "Please review and update the form fields with defaults",
                        schema,
                    )
                    .await?;
                Ok(json!(format!(
                    "Elicitation completed: {}",
                    elicited(&result)
                )))
            }),
        ),
        (
            ToolSpec::new("test_elicitation_sep1330_enums")
                .description("Elicits a form with the five enum variants (SEP-1330)"),
            Handler::worker(|_args: Value, ctx: &ToolContext| {
                let schema = FormSchema::new()
                    .field(
                        "untitledSingle",
                        enum_field(&["option1", "option2", "option3"], None),
                        false,
                    )
                    .field(
                        "titledSingle",
                        titled_enum_field(
                            &[
                                ("value1", "First Option"),
                                ("value2", "Second Option"),
                                ("value3", "Third Option"),
                            ],
                            None,
                        ),
                        false,
                    )
                    .field(
                        "legacyEnum",
                        legacy_titled_enum_field(
                            &["opt1", "opt2", "opt3"],
                            &["Option One", "Option Two", "Option Three"],
                        ),
                        false,
                    )
                    .field(
                        "untitledMulti",
                        multi_enum_field(&["option1", "option2", "option3"], None),
                        false,
                    )
                    .field(
                        "titledMulti",
                        titled_multi_enum_field(
                            &[
                                ("value1", "First Choice"),
                                ("value2", "Second Choice"),
                                ("value3", "Third Choice"),
                            ],
                            None,
                        ),
                        false,
                    )
                    .build();
                let result = ctx.elicit("Please select options", schema).wait()?;
                Ok(json!(format!(
                    "Elicitation completed: {}",
                    elicited(&result)
                )))
            }),
        ),
    ]
}

/// The multi round-trip fixtures (2026-07-28 `input-required-result-*` scenarios).
fn multi_round_trip() -> Vec<(ToolSpec, Handler)> {
    vec![
        (
            ToolSpec::new("test_input_required_result_elicitation")
                .description("Asks for the user's name, then greets them"),
            Handler::inline(|_args: Value, ctx: ToolContext| async move {
                let request =
                    InputRequest::elicit("What is your name?", name_form()).key("user_name");
                let answer: ElicitResult = ctx.ask_one(request).await?;
                Ok(json!(format!("Hello, {}!", answer_name(&answer))))
            }),
        ),
        (
            ToolSpec::new("test_input_required_result_sampling")
                .description("Asks the client's model a question"),
            Handler::worker(|_args: Value, ctx: &ToolContext| {
                let request =
                    InputRequest::sample(&question("What is the capital of France?", 100))
                        .key("capital_question");
                let answer: CreateMessageResult = ctx.ask_one(request).wait()?;
                Ok(json!(format!(
                    "The model said: {}",
                    text_of(&answer.content)
                )))
            }),
        ),
        (
            ToolSpec::new("test_input_required_result_list_roots")
                .description("Lists the client's roots"),
            Handler::inline(|_args: Value, ctx: ToolContext| async move {
                let request = InputRequest::list_roots().key("client_roots");
                let roots: ListRootsResult = ctx.ask_one(request).await?;
                let uris: Vec<&str> = roots.roots.iter().map(|root| root.uri.as_str()).collect();
                Ok(json!(format!("Client roots: {}", uris.join(", "))))
            }),
        ),
        (
            ToolSpec::new("test_input_required_result_request_state")
                .description("Asks for a confirmation, carried across the retry in requestState"),
            Handler::inline(|_args: Value, ctx: ToolContext| async move {
                let form = FormSchema::new()
                    .field("ok", boolean_field(None), true)
                    .build();
                let request = InputRequest::elicit("Please confirm", form).key("confirm");
                let answer: ElicitResult = ctx.ask_one(request).await?;
                Ok(json!(format!("state-ok: {}", elicited(&answer))))
            }),
        ),
        (
            ToolSpec::new("test_input_required_result_multiple_inputs")
                .description("Asks for a name, a sampled greeting and the roots at once"),
            Handler::inline(|_args: Value, ctx: ToolContext| async move {
                let answers = ctx
                    .ask_all(vec![
                        InputRequest::elicit("What is your name?", name_form()).key("user_name"),
                        InputRequest::sample(&question("Generate a greeting", 50)).key("greeting"),
                        InputRequest::list_roots().key("client_roots"),
                    ])
                    .await?;
                let mut answers = answers.into_iter();
                let name: ElicitResult = decode(answers.next().unwrap_or_default())?;
                let greeting: CreateMessageResult = decode(answers.next().unwrap_or_default())?;
                let roots: ListRootsResult = decode(answers.next().unwrap_or_default())?;
                Ok(json!(format!(
                    "{} {} ({} roots)",
                    text_of(&greeting.content),
                    answer_name(&name),
                    roots.roots.len()
                )))
            }),
        ),
        (
            ToolSpec::new("test_input_required_result_multi_round")
                .description("Asks two questions, one round each"),
            Handler::inline(|_args: Value, ctx: ToolContext| async move {
                let first: ElicitResult = ctx
                    .ask_one(
                        InputRequest::elicit("Step 1: What is your name?", name_form())
                            .key("step1"),
                    )
                    .await?;
                let color = FormSchema::new()
                    .field("color", string_field(None), true)
                    .build();
                let second: ElicitResult = ctx
                    .ask_one(
                        InputRequest::elicit("Step 2: What is your favorite color?", color)
                            .key("step2"),
                    )
                    .await?;
                let color = second
                    .content
                    .as_ref()
                    .and_then(|content| content.get("color"))
                    .and_then(Value::as_str)
                    .unwrap_or("none")
                    .to_owned();
                Ok(json!(format!("{} likes {color}", answer_name(&first))))
            }),
        ),
        (
            ToolSpec::new("test_input_required_result_tampered_state")
                .description("Asks for a confirmation; a tampered requestState is refused"),
            Handler::inline(|_args: Value, ctx: ToolContext| async move {
                let form = FormSchema::new()
                    .field("ok", boolean_field(None), true)
                    .build();
                let request = InputRequest::elicit("Please confirm", form).key("confirm");
                let answer: ElicitResult = ctx.ask_one(request).await?;
                Ok(json!(format!("confirmed: {}", elicited(&answer))))
            }),
        ),
        (
            ToolSpec::new("test_input_required_result_capabilities")
                .description("Asks only for what the client declared it supports"),
            Handler::inline(|_args: Value, ctx: ToolContext| async move {
                let mut requests = Vec::new();
                if ctx.client_supports(ClientRequestKind::Elicitation) {
                    requests.push(
                        InputRequest::elicit("What is your name?", name_form()).key("user_name"),
                    );
                }
                if ctx.client_supports(ClientRequestKind::Sampling) {
                    requests.push(
                        InputRequest::sample(&question("Generate a greeting", 50)).key("greeting"),
                    );
                }
                if requests.is_empty() {
                    return Ok(json!(
                        "The client supports neither elicitation nor sampling"
                    ));
                }
                let answers = ctx.ask_all(requests).await?;
                Ok(json!(format!("Got {} answers", answers.len())))
            }),
        ),
    ]
}

/// Register the prompt that asks the client first (2026-07-28 `input-required-result-non-tool-request`).
pub(crate) fn register_prompts(catalog: &Catalog) -> Result<(), String> {
    let form = FormSchema::new()
        .field("context", string_field(None), true)
        .build();
    let ask = InputRequest::elicit("What context should the prompt use?", form).key("user_context");
    catalog
        .prompts
        .add_asking(
            Prompt {
                name: "test_input_required_result_prompt".into(),
                title: None,
                description: Some("Asks the user for context, then fills the prompt".into()),
                arguments: Vec::new(),
            },
            vec![ask],
            Arc::new(|_args, answers| {
                let context = answers
                    .first()
                    .and_then(|answer| answer["content"]["context"].as_str())
                    .unwrap_or("none")
                    .to_owned();
                Ok(GetPromptResult {
                    description: None,
                    messages: vec![PromptMessage {
                        role: Role::User,
                        content: ContentBlock::text(format!("Use this context: {context}")),
                    }],
                })
            }),
        )
        .map_err(|error| error.to_string())
}

/// Register the fixtures that talk back to the client.
pub(crate) fn register_tools(registry: &ToolRegistry) -> Result<(), String> {
    for (spec, handler) in session_era().into_iter().chain(multi_round_trip()) {
        registry
            .register_with(spec, handler)
            .map_err(|error| error.to_string())?;
    }
    Ok(())
}
