//! Handlers that talk back to their client, in the session era, against the real server and the
//! workspace's MCP client as the peer: log messages honouring `logging/setLevel`, elicitation and
//! sampling (inline and worker handlers), `roots/list`, the refusal when the client did not declare
//! a capability, the pending-request budget, and a request abandoned when its call times out; and
//! in 2026-07-28 the same handlers answered through InputRequiredResult rounds (sealed requestState,
//! -32021 without the capability, the requestState budget).
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(feature = "prometheus")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use dcc_mcp_client::{Callbacks, ClientConfig, McpClient};
use dcc_mcp_http::protocol::client_requests::{
    CreateMessageParams, ElicitResult, FormSchema, SamplingMessage,
};
use dcc_mcp_http::protocol::content::{ContentBlock, Role};
use dcc_mcp_http::protocol::logging::LoggingLevel;
use dcc_mcp_http::{
    Handler, InputRequest, McpHttpConfig, McpHttpServer, McpServerHandle, ToolContext,
    ToolRegistry, ToolSpec,
};
use serde_json::{json, Value};

/// Turns a hang into a failure; no assertion depends on it.
const HANG_GUARD: Duration = Duration::from_secs(30);

fn registry() -> ToolRegistry {
    let registry = ToolRegistry::new();
    let confirm = Handler::inline(|_args: Value, ctx: ToolContext| async move {
        let form = FormSchema::new()
            .field("ok", json!({"type": "boolean", "default": false}), true)
            .build();
        let answer: ElicitResult = ctx.elicit("Delete 1204 keyframes?", form).await?;
        Ok(json!(format!(
            "confirmed: {}",
            Value::Object(answer.content.unwrap_or_default())
        )))
    });
    registry
        .register_with(ToolSpec::new("confirm"), confirm)
        .unwrap();
    let ask_model = Handler::worker(|_args: Value, ctx: &ToolContext| {
        let params = CreateMessageParams {
            messages: vec![SamplingMessage {
                role: Role::User,
                content: ContentBlock::text("Name this shot"),
            }],
            max_tokens: 20,
            system_prompt: None,
        };
        let sampled = ctx.sample(&params).wait()?;
        Ok(json!(format!(
            "model {} said {}",
            sampled.model,
            serde_json::to_value(&sampled.content).unwrap()["text"]
        )))
    });
    registry
        .register_with(ToolSpec::new("ask_model"), ask_model)
        .unwrap();
    let roots = Handler::inline(|_args: Value, ctx: ToolContext| async move {
        let roots = ctx.list_roots().await?;
        Ok(json!(roots
            .roots
            .iter()
            .map(|root| root.uri.clone())
            .collect::<Vec<_>>()
            .join(",")))
    });
    registry
        .register_with(ToolSpec::new("roots"), roots)
        .unwrap();
    let twice = Handler::inline(|_args: Value, ctx: ToolContext| async move {
        let answers = ctx
            .ask_all(vec![InputRequest::list_roots(), InputRequest::list_roots()])
            .await?;
        Ok(json!(answers.len()))
    });
    registry
        .register_with(ToolSpec::new("twice"), twice)
        .unwrap();
    let chatty = Handler::worker(|_args: Value, ctx: &ToolContext| {
        ctx.log(LoggingLevel::Debug, json!("debug detail"));
        ctx.log(LoggingLevel::Info, json!("info detail"));
        ctx.log_as("scene", LoggingLevel::Warning, json!({"unsaved": 3}));
        ctx.log(LoggingLevel::Error, json!("last"));
        Ok(json!("logged"))
    });
    registry
        .register_with(ToolSpec::new("chatty"), chatty)
        .unwrap();
    registry
}

fn start(config: McpHttpConfig) -> McpServerHandle {
    let config = McpHttpConfig {
        port: 0,
        enable_prometheus: true,
        ..config
    };
    McpHttpServer::new(registry(), config)
        .unwrap()
        .start()
        .unwrap()
}

async fn connect(handle: &McpServerHandle, callbacks: Callbacks) -> McpClient {
    tokio::time::timeout(
        HANG_GUARD,
        McpClient::connect_with(ClientConfig::new(handle.mcp_url()), callbacks),
    )
    .await
    .expect("hang guard")
    .unwrap()
}

async fn call(client: &McpClient, tool: &str) -> (bool, String) {
    let result = tokio::time::timeout(HANG_GUARD, client.call_tool(tool, json!({})))
        .await
        .expect("hang guard")
        .unwrap();
    (
        result.is_error(),
        result.text().unwrap_or_default().to_owned(),
    )
}

fn answering() -> (Callbacks, Arc<Mutex<Vec<Value>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (elicited, sampled) = (seen.clone(), seen.clone());
    let callbacks = Callbacks::new()
        .on_elicit(move |params| {
            elicited.lock().unwrap().push(params);
            Box::pin(async { Ok(json!({"action": "accept", "content": {"ok": true}})) })
        })
        .on_sampling(move |params| {
            sampled.lock().unwrap().push(params);
            Box::pin(async {
                Ok(
                    json!({"role": "assistant", "content": {"type": "text", "text": "Shot 12"},
                          "model": "m1", "stopReason": "endTurn"}),
                )
            })
        })
        .on_roots(|_params| {
            Box::pin(async { Ok(json!({"roots": [{"uri": "file:///proj", "name": "proj"}]})) })
        });
    (callbacks, seen)
}

async fn metrics(handle: &McpServerHandle) -> String {
    let url = handle.metrics_url();
    let address = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        write!(
            stream,
            "GET /metrics HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        text
    })
    .await
    .unwrap()
}

fn sample_line(text: &str, series: &str) -> Option<String> {
    text.lines()
        .find(|line| line.starts_with(series))
        .map(|line| line[series.len()..].trim().to_owned())
}

#[tokio::test]
async fn elicitation_sampling_and_roots_resume_the_handler() {
    let handle = start(McpHttpConfig::default());
    let (callbacks, seen) = answering();
    let client = connect(&handle, callbacks).await;

    assert_eq!(
        call(&client, "confirm").await,
        (false, r#"confirmed: {"ok":true}"#.to_owned())
    );
    assert_eq!(
        call(&client, "ask_model").await,
        (false, r#"model m1 said "Shot 12""#.to_owned())
    );
    assert_eq!(
        call(&client, "roots").await,
        (false, "file:///proj".to_owned())
    );
    {
        let seen = seen.lock().unwrap();
        assert_eq!(
            seen[0],
            json!({"message": "Delete 1204 keyframes?", "requestedSchema": {"type": "object",
                   "properties": {"ok": {"type": "boolean", "default": false}}, "required": ["ok"]}})
        );
        assert_eq!(seen[1]["maxTokens"], 20);
        assert_eq!(seen.len(), 2);
    }
    let text = metrics(&handle).await;
    for (kind, outcome, count) in [
        ("elicitation", "answered", "1"),
        ("sampling", "answered", "1"),
        ("roots", "answered", "1"),
        ("elicitation", "unsupported", "0"),
        ("roots", "abandoned", "0"),
    ] {
        let series =
            format!("dcc_mcp_client_requests_total{{kind=\"{kind}\",outcome=\"{outcome}\"}}");
        assert_eq!(
            sample_line(&text, &series).as_deref(),
            Some(count),
            "{series}"
        );
    }
    client.close().await.unwrap();
    handle.shutdown().unwrap();
}

#[tokio::test]
async fn a_capability_the_client_did_not_declare_is_refused_cleanly() {
    let handle = start(McpHttpConfig::default());
    let client = connect(&handle, Callbacks::new()).await;
    assert_eq!(
        call(&client, "confirm").await,
        (
            true,
            "the client does not support elicitation/create: it did not declare the \"elicitation\" capability"
                .to_owned()
        )
    );
    let text = metrics(&handle).await;
    assert_eq!(
        sample_line(
            &text,
            "dcc_mcp_client_requests_total{kind=\"elicitation\",outcome=\"unsupported\"}"
        )
        .as_deref(),
        Some("1")
    );
    client.close().await.unwrap();
    handle.shutdown().unwrap();
}

#[tokio::test]
async fn the_pending_request_budget_refuses_with_a_clear_error() {
    let handle = start(McpHttpConfig {
        max_pending_client_requests: 1,
        ..Default::default()
    });
    let (callbacks, _) = answering();
    let client = connect(&handle, callbacks).await;
    assert_eq!(
        call(&client, "twice").await,
        (
            true,
            "too many unanswered requests to the client (max_pending_client_requests = 1); wait \
             for an answer before asking again"
                .to_owned()
        )
    );
    // One request is fine.
    assert_eq!(
        call(&client, "roots").await,
        (false, "file:///proj".to_owned())
    );
    let text = metrics(&handle).await;
    assert_eq!(
        sample_line(
            &text,
            "dcc_mcp_rejected_total{reason=\"pending_client_requests\"}"
        )
        .as_deref(),
        Some("1")
    );
    // The first of the pair was sent, then abandoned with its batch.
    assert_eq!(
        sample_line(
            &text,
            "dcc_mcp_client_requests_total{kind=\"roots\",outcome=\"abandoned\"}"
        )
        .as_deref(),
        Some("1")
    );
    client.close().await.unwrap();
    handle.shutdown().unwrap();
}

#[tokio::test]
async fn an_unanswered_request_is_abandoned_when_its_call_times_out() {
    let handle = start(McpHttpConfig {
        request_timeout: Duration::from_millis(500),
        ..Default::default()
    });
    let cancelled = Arc::new(Mutex::new(Vec::new()));
    let seen = cancelled.clone();
    let callbacks = Callbacks::new()
        .on_elicit(|_params| Box::pin(std::future::pending()))
        .on_notification(move |method, params| {
            if method == "notifications/cancelled" {
                seen.lock().unwrap().push(params.clone());
            }
        });
    let client = connect(&handle, callbacks).await;
    assert_eq!(
        call(&client, "confirm").await,
        (
            true,
            "tool 'confirm' timed out after 0.500 s (request_timeout)".to_owned()
        )
    );
    let deadline = tokio::time::Instant::now() + HANG_GUARD;
    while cancelled.lock().unwrap().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no notifications/cancelled"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        cancelled.lock().unwrap()[0],
        json!({"requestId": "dcc-s2c-1",
               "reason": "the call of tool 'confirm' ended before the client answered"})
    );
    let text = metrics(&handle).await;
    assert_eq!(
        sample_line(
            &text,
            "dcc_mcp_client_requests_total{kind=\"elicitation\",outcome=\"abandoned\"}"
        )
        .as_deref(),
        Some("1")
    );
    drop(client);
    handle.shutdown().unwrap();
}

#[tokio::test]
async fn log_messages_honour_the_level_the_client_set() {
    let handle = start(McpHttpConfig::default());
    let logs = Arc::new(Mutex::new(Vec::new()));
    let seen = logs.clone();
    let callbacks = Callbacks::new().on_notification(move |method, params| {
        if method == "notifications/message" {
            seen.lock().unwrap().push(params.clone());
        }
    });
    let client = connect(&handle, callbacks).await;
    client
        .request("logging/setLevel", json!({"level": "warning"}))
        .await
        .unwrap();
    let refused = client
        .request("logging/setLevel", json!({"level": "loud"}))
        .await
        .unwrap_err();
    assert_eq!(refused.rpc_code(), Some(-32602));
    assert_eq!(call(&client, "chatty").await, (false, "logged".to_owned()));
    // The stream keeps order: once the last message is in, every earlier one is too.
    let deadline = tokio::time::Instant::now() + HANG_GUARD;
    while logs.lock().unwrap().last().map(|last| last["data"].clone()) != Some(json!("last")) {
        assert!(tokio::time::Instant::now() < deadline, "no log messages");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        *logs.lock().unwrap(),
        vec![
            json!({"level": "warning", "logger": "scene", "data": {"unsaved": 3}}),
            json!({"level": "error", "data": "last"}),
        ]
    );
    client.close().await.unwrap();
    handle.shutdown().unwrap();
}

// ---------------------------------------------------------------------------------------------
// 2026-07-28: the same handlers, answered through InputRequiredResult rounds.

async fn stateless(handle: &McpServerHandle, callbacks: Callbacks) -> McpClient {
    let config = ClientConfig::new(handle.mcp_url()).mode(dcc_mcp_client::ProtocolMode::Stateless);
    tokio::time::timeout(HANG_GUARD, McpClient::connect_with(config, callbacks))
        .await
        .expect("hang guard")
        .unwrap()
}

async fn request(client: &McpClient, params: Value) -> Result<Value, dcc_mcp_client::ClientError> {
    tokio::time::timeout(HANG_GUARD, client.request("tools/call", params))
        .await
        .expect("hang guard")
}

fn rpc_message(error: &dcc_mcp_client::ClientError) -> String {
    match error {
        dcc_mcp_client::ClientError::Rpc(error) => error.message.clone(),
        other => panic!("not a JSON-RPC error: {other}"),
    }
}

#[tokio::test]
async fn a_stateless_call_asks_with_input_required_and_resumes_on_the_retry() {
    let handle = start(McpHttpConfig::default());
    let (callbacks, _) = answering();
    let client = stateless(&handle, callbacks).await;

    let first = request(&client, json!({"name": "confirm", "arguments": {}}))
        .await
        .unwrap();
    assert_eq!(first["resultType"], "input_required");
    assert_eq!(
        first["inputRequests"],
        json!({"input_1": {"method": "elicitation/create", "params": {
            "message": "Delete 1204 keyframes?",
            "requestedSchema": {"type": "object",
                "properties": {"ok": {"type": "boolean", "default": false}}, "required": ["ok"]}}}})
    );
    let state = first["requestState"].as_str().unwrap().to_owned();

    let accepted = json!({"input_1": {"action": "accept", "content": {"ok": true}}});
    let done = request(
        &client,
        json!({"name": "confirm", "arguments": {}, "inputResponses": accepted, "requestState": state}),
    )
    .await
    .unwrap();
    assert_eq!(done["resultType"], "complete");
    assert_eq!(done["content"][0]["text"], r#"confirmed: {"ok":true}"#);
    assert_eq!(done["isError"], false);

    // A modified state, a state of another tool, and malformed responses are -32602.
    let tampered = request(
        &client,
        json!({"name": "confirm", "arguments": {}, "inputResponses": accepted,
               "requestState": format!("{state}-TAMPERED")}),
    )
    .await
    .unwrap_err();
    assert_eq!(tampered.rpc_code(), Some(-32602));
    assert_eq!(
        rpc_message(&tampered),
        "requestState failed its integrity check (it was not issued by this server, or it was modified)"
    );
    let replayed = request(
        &client,
        json!({"name": "roots", "arguments": {}, "requestState": state}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        rpc_message(&replayed),
        "requestState was issued for another request, not tools/call:roots"
    );
    let malformed = request(
        &client,
        json!({"name": "confirm", "arguments": {}, "inputResponses": {"input_1": 12345}}),
    )
    .await
    .unwrap_err();
    assert_eq!(malformed.rpc_code(), Some(-32602));

    let text = metrics(&handle).await;
    for (outcome, count) in [("input_required", "1"), ("input_response", "1")] {
        let series =
            format!("dcc_mcp_client_requests_total{{kind=\"elicitation\",outcome=\"{outcome}\"}}");
        assert_eq!(
            sample_line(&text, &series).as_deref(),
            Some(count),
            "{series}"
        );
    }
    client.close().await.unwrap();
    handle.shutdown().unwrap();
}

#[tokio::test]
async fn a_stateless_ask_without_the_capability_is_minus_32021() {
    let handle = start(McpHttpConfig::default());
    let client = stateless(&handle, Callbacks::new()).await;
    let refused = request(&client, json!({"name": "confirm", "arguments": {}}))
        .await
        .unwrap_err();
    assert_eq!(refused.rpc_code(), Some(-32021));
    client.close().await.unwrap();
    handle.shutdown().unwrap();
}

#[tokio::test]
async fn a_request_state_over_its_budget_is_refused_both_ways() {
    let handle = start(McpHttpConfig {
        max_request_state_bytes: 64,
        ..Default::default()
    });
    let (callbacks, _) = answering();
    let client = stateless(&handle, callbacks).await;
    let sealed = request(&client, json!({"name": "confirm", "arguments": {}}))
        .await
        .unwrap_err();
    assert_eq!(sealed.rpc_code(), Some(-32603));
    assert!(
        rpc_message(&sealed).ends_with("over max_request_state_bytes (64)"),
        "{sealed}"
    );
    let sent = request(
        &client,
        json!({"name": "confirm", "arguments": {}, "requestState": "x".repeat(65)}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        rpc_message(&sent),
        "requestState is 65 bytes, over max_request_state_bytes (64)"
    );
    let text = metrics(&handle).await;
    assert_eq!(
        sample_line(
            &text,
            "dcc_mcp_rejected_total{reason=\"request_state_too_large\"}"
        )
        .as_deref(),
        Some("2")
    );
    client.close().await.unwrap();
    handle.shutdown().unwrap();
}

// ---------------------------------------------------------------------------------------------
// A prompt that asks the client first, in both eras.

fn asking_catalog() -> dcc_mcp_http::Catalog {
    use dcc_mcp_http::protocol::prompts::{GetPromptResult, Prompt, PromptMessage};
    let catalog = dcc_mcp_http::Catalog::default();
    let form = FormSchema::new()
        .field("ok", json!({"type": "boolean", "default": false}), true)
        .build();
    catalog
        .prompts
        .add_asking(
            Prompt {
                name: "cleanup".into(),
                title: None,
                description: None,
                arguments: Vec::new(),
            },
            vec![InputRequest::elicit("Clean up the scene?", form).key("ok")],
            Arc::new(|_args, answers| {
                Ok(GetPromptResult {
                    description: None,
                    messages: vec![PromptMessage {
                        role: Role::User,
                        content: ContentBlock::text(format!("answers: {}", json!(answers))),
                    }],
                })
            }),
        )
        .unwrap();
    catalog
}

#[tokio::test]
async fn a_prompt_that_asks_first_is_filled_with_the_answers_in_both_eras() {
    let handle = start(McpHttpConfig {
        catalog: asking_catalog(),
        ..Default::default()
    });
    let (callbacks, seen) = answering();
    let session = connect(&handle, callbacks).await;
    let filled = session
        .request("prompts/get", json!({"name": "cleanup"}))
        .await
        .unwrap();
    assert_eq!(
        filled["messages"][0]["content"]["text"],
        r#"answers: [{"action":"accept","content":{"ok":true}}]"#
    );
    assert_eq!(seen.lock().unwrap()[0]["message"], "Clean up the scene?");
    session.close().await.unwrap();

    let (callbacks, _) = answering();
    let client = stateless(&handle, callbacks).await;
    let first = client
        .request("prompts/get", json!({"name": "cleanup"}))
        .await
        .unwrap();
    assert_eq!(first["resultType"], "input_required");
    assert_eq!(first["inputRequests"]["ok"]["method"], "elicitation/create");
    let retry = json!({"name": "cleanup", "requestState": first["requestState"],
                       "inputResponses": {"ok": {"action": "decline"}}});
    let filled = client.request("prompts/get", retry).await.unwrap();
    assert_eq!(filled["resultType"], "complete");
    assert_eq!(
        filled["messages"][0]["content"]["text"],
        r#"answers: [{"action":"decline"}]"#
    );
    client.close().await.unwrap();
    handle.shutdown().unwrap();
}
