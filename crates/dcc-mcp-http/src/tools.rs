//! `tools/list` (cursor pagination) and `tools/call` (validation, execution, result mapping).
//!
//! [`call`] is the single `tools/call` wrapper: every call is recorded there exactly once, whatever
//! path (sync handler, job submission, built-in job tool) serves it.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Map, Value};

use crate::dispatch::Lane;
use crate::peer::ClientPeer;
use crate::record::CallStatus;
use crate::registry::{success_result, Execution, ProgressSink, ToolContext, ToolEntry, ToolSpec};
use crate::session::Session;
use crate::session_peer::SessionPeer;
use crate::state::{AppState, BUILTIN_TOOLS};
use dcc_mcp_protocol::codes;
use dcc_mcp_protocol::jsonrpc::request_key;
use dcc_mcp_protocol::jsonrpc::{params_object, RpcError};
use dcc_mcp_protocol::tools::{
    decode_cursor, encode_cursor, error_result, is_error_result, progress_params, ASYNC_META_KEY,
};

/// Tools per `tools/list` page.
pub const TOOLS_PAGE_SIZE: usize = 100;

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
    BUILTIN_TOOLS.len()
}

fn is_builtin(name: &str) -> bool {
    BUILTIN_TOOLS.contains(&name)
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
        Ok(result) if !is_error_result(result) => CallStatus::Success,
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
        let result = crate::job_tools::call(state, session, &name, &arguments);
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
            let peer = Arc::new(SessionPeer::new(session.clone()));
            let context = ToolContext::attached(name, cancelled.clone(), sink)
                .with_peer(peer.clone() as Arc<dyn ClientPeer>);
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
            peer.finish(&format!(
                "the call of tool '{name}' ended before the client answered"
            ));
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

/// Progress of a sync call, sent to the session's stream under the client's progress token.
struct SessionProgress {
    session: Arc<Session>,
    token: Value,
}

impl ProgressSink for SessionProgress {
    fn report(&self, progress: f64, total: Option<f64>, message: Option<&str>) {
        self.session.notify(
            dcc_mcp_protocol::methods::PROGRESS,
            progress_params(&self.token, progress, total, message),
        );
    }
}
