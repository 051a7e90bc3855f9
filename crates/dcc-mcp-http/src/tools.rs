//! `tools/list` (cursor pagination) and `tools/call` (validation, execution, result mapping).
//!
//! [`call`] is the single `tools/call` wrapper: every call is recorded there exactly once, whatever
//! path (sync handler, job submission, built-in job tool) serves it.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Map, Value};

use crate::app::AppState;
use crate::cancel::request_key;
use crate::dispatch::Lane;
use crate::protocol::{self, codes, params_object, RpcError};
use crate::record::CallStatus;
use crate::registry::{Execution, ProgressSink, ToolContext, ToolEntry, ToolSpec};
use crate::session::Session;

/// Tools per `tools/list` page.
pub const TOOLS_PAGE_SIZE: usize = 100;

/// `tools/call` `_meta` key: `true` runs this call as a job even when the tool is declared sync.
pub const ASYNC_META_KEY: &str = "dcc-mcp/async";

/// Most schema violations listed in one validation error result.
const MAX_REPORTED_VIOLATIONS: usize = 5;

/// `tools/list`: one page, sorted by name; `nextCursor` names where the next page starts.
pub(crate) fn list(state: &AppState, params: Option<Value>) -> Result<Value, RpcError> {
    let params = params_object(params)?;
    let after = match params.get("cursor") {
        None | Some(Value::Null) => None,
        Some(Value::String(cursor)) => Some(
            decode_cursor(cursor)
                .ok_or_else(|| RpcError::new(codes::INVALID_PARAMS, "invalid cursor"))?,
        ),
        Some(_) => {
            return Err(RpcError::new(
                codes::INVALID_PARAMS,
                "cursor must be a string",
            ))
        }
    };
    let mut specs: Vec<ToolSpec> = state
        .registry
        .page_after(after.as_deref(), TOOLS_PAGE_SIZE + 1 + builtin_count())
        .into_iter()
        .filter(|spec| !is_builtin(&spec.name))
        .collect();
    #[cfg(feature = "workflow")]
    specs.extend(crate::jobs::builtin_specs().into_iter().filter(|spec| {
        after
            .as_deref()
            .is_none_or(|after| spec.name.as_str() > after)
    }));
    specs.sort_by(|a, b| a.name.cmp(&b.name));
    let next_cursor = if specs.len() > TOOLS_PAGE_SIZE {
        specs.truncate(TOOLS_PAGE_SIZE);
        specs.last().map(|spec| encode_cursor(&spec.name))
    } else {
        None
    };
    let tools: Vec<Value> = specs.iter().map(ToolSpec::to_wire).collect();
    let mut result = json!({ "tools": tools });
    if let (Some(cursor), Some(map)) = (next_cursor, result.as_object_mut()) {
        map.insert("nextCursor".into(), Value::String(cursor));
    }
    Ok(result)
}

fn builtin_count() -> usize {
    #[cfg(feature = "workflow")]
    return crate::jobs::BUILTIN_TOOL_NAMES.len();
    #[cfg(not(feature = "workflow"))]
    0
}

fn is_builtin(name: &str) -> bool {
    #[cfg(feature = "workflow")]
    return crate::jobs::BUILTIN_TOOL_NAMES.contains(&name);
    #[cfg(not(feature = "workflow"))]
    {
        let _ = name;
        false
    }
}

fn encode_cursor(name: &str) -> String {
    name.bytes().map(|byte| format!("{byte:02x}")).collect()
}

fn decode_cursor(cursor: &str) -> Option<String> {
    if cursor.len() % 2 != 0 {
        return None;
    }
    let bytes = (0..cursor.len())
        .step_by(2)
        .map(|i| {
            cursor
                .get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

/// `tools/call`: the one wrapper that records every call.
pub(crate) async fn call(
    state: &AppState,
    session: &Arc<Session>,
    id: &Value,
    params: Option<Value>,
) -> Result<Value, RpcError> {
    let started = Instant::now();
    let (tool, outcome) = invoke(state, session, id, params).await;
    let status = match &outcome {
        Ok(result) if result.get("isError") != Some(&Value::Bool(true)) => CallStatus::Success,
        _ => CallStatus::Error,
    };
    state
        .recorder
        .tool_call(tool.as_deref(), status, started.elapsed());
    outcome
}

/// Serve one call; returns the tool name when it is a known tool (for the record point).
async fn invoke(
    state: &AppState,
    session: &Arc<Session>,
    id: &Value,
    params: Option<Value>,
) -> (Option<String>, Result<Value, RpcError>) {
    let mut params = match params_object(params) {
        Ok(params) => params,
        Err(error) => return (None, Err(error)),
    };
    let name = match params.remove("name") {
        Some(Value::String(name)) => name,
        _ => {
            return (
                None,
                Err(RpcError::new(
                    codes::INVALID_PARAMS,
                    "tools/call needs a string \"name\"",
                )),
            )
        }
    };
    let arguments = match params.remove("arguments") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(arguments @ Value::Object(_)) => arguments,
        Some(_) => {
            return (
                None,
                Err(RpcError::new(
                    codes::INVALID_PARAMS,
                    "\"arguments\" must be an object",
                )),
            )
        }
    };
    let meta = params.get("_meta");
    let progress_token = meta
        .and_then(|meta| meta.get("progressToken"))
        .filter(|token| token.is_string() || token.is_number())
        .cloned();
    let execution = match meta.and_then(|meta| meta.get(ASYNC_META_KEY)) {
        Some(Value::Bool(true)) => Some(Execution::Async),
        _ => None,
    };

    #[cfg(feature = "workflow")]
    if is_builtin(&name) {
        let result = crate::jobs::call_builtin(state, session, &name, &arguments);
        return (Some(name), Ok(result));
    }

    let Some(entry) = state.registry.entry(&name) else {
        let message = format!("Unknown tool: {name}");
        return (None, Err(RpcError::new(codes::INVALID_PARAMS, message)));
    };
    let call = Call {
        entry,
        arguments,
        request_key: request_key(id),
        progress_token,
        execution,
    };
    let result = run_entry(state, session, call).await;
    (Some(name), Ok(result))
}

/// One validated-to-be-known `tools/call` of a registered tool.
struct Call {
    entry: Arc<ToolEntry>,
    arguments: Value,
    /// The request's id as an in-flight key, for `notifications/cancelled`.
    request_key: String,
    progress_token: Option<Value>,
    execution: Option<Execution>,
}

async fn run_entry(state: &AppState, session: &Arc<Session>, call: Call) -> Value {
    let Call {
        entry,
        arguments,
        request_key,
        progress_token,
        execution,
    } = call;
    let name = entry.spec.name.as_str();
    let violations: Vec<String> = entry
        .input_validator
        .iter_errors(&arguments)
        .take(MAX_REPORTED_VIOLATIONS)
        .map(|error| {
            let path = error.instance_path().to_string();
            if path.is_empty() {
                error.to_string()
            } else {
                format!("{path}: {error}")
            }
        })
        .collect();
    if !violations.is_empty() {
        return error_result(&format!(
            "invalid arguments for tool '{name}': {}",
            violations.join("; ")
        ));
    }
    let Some(handler) = state.handler_for(name, &entry) else {
        return error_result(&format!("tool '{name}' has no handler yet"));
    };
    match execution.unwrap_or(entry.spec.execution) {
        Execution::Sync => {
            let in_flight = session.in_flight().register(request_key);
            let cancelled = in_flight.flag();
            let sink = progress_token.map(|token| {
                Arc::new(SessionProgress {
                    session: session.clone(),
                    token,
                }) as Arc<dyn ProgressSink>
            });
            let context = ToolContext::attached(name, cancelled.clone(), sink);
            let timeout = state.config.request_timeout;
            let run = tokio::time::timeout(
                timeout,
                state.dispatch.run(&handler, arguments, context, Lane::Call),
            );
            // Biased: a client's cancellation wins over the handler's reaction to it, so the answer
            // names the cancellation, whichever woke first.
            let result = tokio::select! {
                biased;
                () = in_flight.cancelled() => error_result(&format!(
                    "tool '{name}' was cancelled by the client (notifications/cancelled)"
                )),
                outcome = run => match outcome {
                    Ok(Ok(value)) => success_result(&entry, value),
                    Ok(Err(message)) => error_result(&message),
                    Err(_elapsed) => {
                        cancelled.store(true, std::sync::atomic::Ordering::Relaxed);
                        error_result(&format!(
                            "tool '{name}' timed out after {:.3} s (request_timeout)",
                            timeout.as_secs_f64()
                        ))
                    }
                },
            };
            in_flight.finish();
            result
        }
        #[cfg(feature = "workflow")]
        Execution::Async => state.jobs.submit(
            entry.clone(),
            handler,
            arguments,
            session.clone(),
            crate::jobs::Origin {
                request_key,
                progress_token,
            },
        ),
        #[cfg(not(feature = "workflow"))]
        Execution::Async => error_result(&format!(
            "a job was requested for tool '{name}', but this build has no job support (the `workflow` feature)"
        )),
    }
}

/// An `isError: true` result with one text item.
pub(crate) fn error_result(message: &str) -> Value {
    text_result(message.to_owned(), true)
}

/// `{"content": [{"type": "text", "text": …}], "isError": …}`, the text moved in.
fn text_result(text: String, is_error: bool) -> Value {
    let item = protocol::object([("type", "text".into()), ("text", Value::String(text))]);
    protocol::object([
        ("content", Value::Array(vec![item])),
        ("isError", is_error.into()),
    ])
}

/// A successful result: strings become text; other values become their JSON text, and objects are
/// also `structuredContent`. A value that breaks the tool's `outputSchema` becomes an error result.
pub(crate) fn success_result(entry: &ToolEntry, value: Value) -> Value {
    if let (Some(validator), false) = (&entry.output_validator, value.is_string()) {
        if let Some(error) = validator.iter_errors(&value).next() {
            return error_result(&format!(
                "tool '{}' returned output that does not match its outputSchema: {error}",
                entry.spec.name
            ));
        }
    }
    value_result(value)
}

/// Map a handler value to a result (no schema check).
pub(crate) fn value_result(value: Value) -> Value {
    match value {
        Value::String(text) => text_result(text, false),
        other => {
            let mut result = text_result(other.to_string(), false);
            if let (true, Some(map)) = (other.is_object(), result.as_object_mut()) {
                map.insert("structuredContent".into(), other);
            }
            result
        }
    }
}

/// Progress of a sync call, sent to the session's stream under the client's progress token.
struct SessionProgress {
    session: Arc<Session>,
    token: Value,
}

impl ProgressSink for SessionProgress {
    fn report(&self, progress: f64, total: Option<f64>, message: Option<&str>) {
        self.session.notify(
            "notifications/progress",
            progress_params(&self.token, progress, total, message),
        );
    }
}

/// `notifications/progress` params.
pub(crate) fn progress_params(
    token: &Value,
    progress: f64,
    total: Option<f64>,
    message: Option<&str>,
) -> Value {
    let mut params = json!({"progressToken": token, "progress": progress});
    if let Some(map) = params.as_object_mut() {
        if let Some(total) = total {
            map.insert("total".into(), json!(total));
        }
        if let Some(message) = message {
            map.insert("message".into(), json!(message));
        }
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_unicode() {
        for name in ["a", "résumé.导出", "quote\"back\\slash"] {
            assert_eq!(decode_cursor(&encode_cursor(name)).as_deref(), Some(name));
        }
        assert_eq!(decode_cursor("zz"), None);
        assert_eq!(decode_cursor("abc"), None);
        assert_eq!(decode_cursor("ff"), None);
    }

    #[test]
    fn value_mapping() {
        assert_eq!(
            value_result(json!("hi")),
            json!({"content": [{"type": "text", "text": "hi"}], "isError": false})
        );
        assert_eq!(
            value_result(json!(3)),
            json!({"content": [{"type": "text", "text": "3"}], "isError": false})
        );
        assert_eq!(
            value_result(json!({"sum": 3})),
            json!({"content": [{"type": "text", "text": "{\"sum\":3}"}], "isError": false, "structuredContent": {"sum": 3}})
        );
        assert_eq!(
            error_result("no \"x\"").to_string(),
            r#"{"content":[{"text":"no \"x\"","type":"text"}],"isError":true}"#
        );
    }
}
