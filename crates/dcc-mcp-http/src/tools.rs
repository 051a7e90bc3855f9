//! `tools/list` (cursor pagination) and `tools/call` (validation, execution, result mapping).
//!
//! [`call`] is the single `tools/call` wrapper: every call is recorded there exactly once, whatever
//! path (sync handler, job submission, built-in job tool) serves it.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Map, Value};

use crate::dispatch::Lane;
use crate::mrtr::{Ending, LogSink, Round, StatelessPeer};
use crate::peer::{Asked, ClientPeer, InputRequest};
use crate::record::CallStatus;
use crate::registry::{success_result, Execution, ProgressSink, ToolContext, ToolEntry, ToolSpec};
use crate::request_context::RequestContext;
use crate::session::Session;
use crate::session_peer::SessionPeer;
use crate::state::{AppState, BUILTIN_TOOLS};
use dcc_mcp_protocol::codes;
use dcc_mcp_protocol::jsonrpc::request_key;
use dcc_mcp_protocol::jsonrpc::{params_object, RpcError};
use dcc_mcp_protocol::logging::LoggingLevel;
use dcc_mcp_protocol::tools::{
    decode_cursor, encode_cursor, error_result, is_error_result, progress_params, ASYNC_META_KEY,
};
use dcc_mcp_protocol::Era;

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

/// `tools/call`: the one wrapper that records every call. `request` is the request's context when
/// it carried one (every 2026-07-28 request); a handler's refusal through it (a client capability
/// it needs and the client did not declare) replaces the result with that JSON-RPC error.
/// `inband` is the session-era POST's own SSE response ([`crate::inband`]): a synchronous call's
/// progress, log messages and requests go there, before its result, instead of on the session's
/// stream.
pub(crate) async fn call(
    state: &AppState,
    session: &Arc<Session>,
    inband: Option<&Arc<Session>>,
    request: Option<&Arc<RequestContext>>,
    id: &Value,
    params: Option<Value>,
) -> Result<Value, RpcError> {
    let started = Instant::now();
    let (tool, mut outcome) = invoke(state, session, inband, request, id, params).await;
    if let Some(refusal) = request.and_then(|request| request.take_refusal()) {
        outcome = Err(refusal);
    }
    let status = match &outcome {
        Ok(result) if !is_error_result(result) => CallStatus::Success,
        _ => CallStatus::Error,
    };
    state.recorder.tool_call_traced(
        tool.as_deref(),
        status,
        started.elapsed(),
        crate::trace::current(),
    );
    outcome
}

/// Serve one call; returns the tool name when it is a known tool (for the record point).
async fn invoke(
    state: &AppState,
    session: &Arc<Session>,
    inband: Option<&Arc<Session>>,
    request: Option<&Arc<RequestContext>>,
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
        if is_stateless(request) {
            return (
                Some(name.clone()),
                Ok(error_result(&no_jobs_without_a_session(&name))),
            );
        }
        let result = crate::job_tools::call(state, session, &name, &arguments);
        return (Some(name), Ok(result));
    }

    let Some(entry) = state.registry.entry(&name) else {
        let message = state.unknown_tool_message(&name);
        return (None, Err(RpcError::new(codes::INVALID_PARAMS, message)));
    };
    // A 2026-07-28 call may be the retry of an InputRequiredResult.
    let round = match request {
        Some(request) if request.era() == Era::Stateless => {
            let Some(key) = &state.state_key else {
                return (Some(name), Err(no_state_key()));
            };
            let params = Value::Object(params);
            match Round::from_params(
                key,
                Some(&params),
                &target(&name),
                state.config.max_request_state_bytes,
                &state.recorder,
            ) {
                Ok(round) => Some(round),
                Err(error) => return (Some(name), Err(error)),
            }
        }
        _ => None,
    };
    let call = Call {
        entry,
        arguments,
        request_key: request_key(id),
        progress_token,
        execution,
        request: request.cloned(),
        round,
        out: inband.cloned().unwrap_or_else(|| session.clone()),
    };
    let result = run_entry(state, session, call).await;
    (Some(name), result)
}

/// One validated-to-be-known `tools/call` of a registered tool.
struct Call {
    entry: Arc<ToolEntry>,
    arguments: Value,
    /// The request's id as an in-flight key, for `notifications/cancelled`.
    request_key: String,
    progress_token: Option<Value>,
    execution: Option<Execution>,
    request: Option<Arc<RequestContext>>,
    /// 2026-07-28: what the retry brought (`None` in the session era).
    round: Option<Round>,
    /// Where a synchronous call's messages are queued: the POST's in-band stream or the session.
    out: Arc<Session>,
}

async fn run_entry(
    state: &AppState,
    session: &Arc<Session>,
    call: Call,
) -> Result<Value, RpcError> {
    let Call {
        entry,
        arguments,
        request_key,
        progress_token,
        execution,
        request,
        round,
        out,
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
        return Ok(error_result(&format!(
            "invalid arguments for tool '{name}': {}",
            violations.join("; ")
        )));
    }
    let Some(handler) = state.handler_for(name, &entry) else {
        return Ok(error_result(&format!("tool '{name}' has no handler yet")));
    };
    match execution.unwrap_or(entry.spec.execution) {
        Execution::Sync => {
            let in_flight = session.in_flight().register(request_key);
            let cancelled = in_flight.flag();
            let sink = progress_token.map(|token| {
                Arc::new(SessionProgress {
                    session: out.clone(),
                    token,
                }) as Arc<dyn ProgressSink>
            });
            let peer = match round {
                Some(round) => Peer::Stateless(Arc::new(StatelessPeer::new(
                    round,
                    request
                        .as_ref()
                        .and_then(|request| request.client_capabilities().cloned()),
                    request.as_ref().and_then(|request| request.log_level()),
                    Some(Box::new(ScopeLog(session.clone()))),
                    state.config.max_log_messages_per_sec,
                    state.recorder.clone(),
                ))),
                None => Peer::Session(Arc::new(SessionPeer::routed(session.clone(), out))),
            };
            let context = ToolContext::attached(name, cancelled.clone(), sink, request.clone())
                .with_peer(peer.client());
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
            match peer {
                Peer::Session(peer) => {
                    peer.finish(&format!(
                        "the call of tool '{name}' ended before the client answered"
                    ));
                    Ok(result)
                }
                Peer::Stateless(peer) => {
                    if let (Some(kind), Some(request)) = (peer.refused_capability(), &request) {
                        // The client did not declare what the handler asked for: -32021.
                        let _ = request.require_capability(kind.capability());
                    }
                    let Some(key) = &state.state_key else {
                        return Err(no_state_key());
                    };
                    match peer.finish(key, &target(name), state.config.max_request_state_bytes)? {
                        Ending::Complete => Ok(result),
                        Ending::InputRequired(input_required) => Ok(input_required),
                    }
                }
            }
        }
        #[cfg(feature = "workflow")]
        Execution::Async if is_stateless(request.as_ref()) => {
            Ok(error_result(&no_jobs_without_a_session(name)))
        }
        #[cfg(feature = "workflow")]
        Execution::Async => Ok(state.jobs.submit(
            entry.clone(),
            handler,
            arguments,
            session.clone(),
            crate::jobs::Origin {
                request_key,
                progress_token,
                peer: Some(Arc::new(SessionPeer::routed(session.clone(), session.clone()))),
            },
        )),
        #[cfg(not(feature = "workflow"))]
        Execution::Async => Ok(error_result(&format!(
            "a job was requested for tool '{name}', but this build has no job support (the `workflow` feature)"
        ))),
    }
}

/// The client peer of one sync call: the session's stream, or the 2026-07-28 rounds.
enum Peer {
    Session(Arc<SessionPeer>),
    Stateless(Arc<StatelessPeer>),
}

impl Peer {
    fn client(&self) -> Arc<dyn ClientPeer> {
        match self {
            Self::Session(peer) => peer.clone(),
            Self::Stateless(peer) => peer.clone(),
        }
    }
}

/// True for a 2026-07-28 request (no session).
#[cfg_attr(not(feature = "workflow"), allow(dead_code))]
fn is_stateless(request: Option<&Arc<RequestContext>>) -> bool {
    request.is_some_and(|request| request.era() == Era::Stateless)
}

/// Why a 2026-07-28 call cannot start or look at a job: a job belongs to the session that started
/// it (only that session polls it, hears its completion, and ending the session cancels it), and
/// the stateless revision has no session.
#[cfg_attr(not(feature = "workflow"), allow(dead_code))]
fn no_jobs_without_a_session(tool: &str) -> String {
    format!(
        "tool '{tool}' needs a job, and jobs need a session: under protocol version 2026-07-28 \
         there is none to own the job, poll it or hear its completion; call it in a session \
         (2025-11-25 or older), or without _meta \"{ASYNC_META_KEY}\" when the tool is not async"
    )
}

/// What a `requestState` of a call of `tool` is sealed for.
fn target(tool: &str) -> String {
    format!("tools/call:{tool}")
}

fn no_state_key() -> RpcError {
    RpcError::new(
        codes::INTERNAL_ERROR,
        "this server has no requestState key (the OS had no randomness at start)",
    )
}

/// A stateless call's log messages, on its request scope (drained by the POST's SSE response).
struct ScopeLog(Arc<Session>);

impl LogSink for ScopeLog {
    fn send(&self, params: Value) {
        self.0.notify(dcc_mcp_protocol::methods::MESSAGE, params);
    }
}

/// The context a catalog request (`resources/read`, `prompts/get`, …) of `session` gives its
/// readers: log messages and progress (under the `_meta.progressToken` of `params`) go to `inband`,
/// the POST's own SSE answer, or else to the session's stream; never cancelled. It asks the client
/// nothing and closes no stream ([`CatalogPeer`]).
pub(crate) fn catalog_context(
    session: &Arc<Session>,
    inband: Option<&Arc<Session>>,
    method: &str,
    params: &Option<Value>,
) -> ToolContext {
    let out = inband.cloned().unwrap_or_else(|| session.clone());
    let sink = params
        .as_ref()
        .and_then(|params| params.get("_meta"))
        .and_then(|meta| meta.get("progressToken"))
        .filter(|token| token.is_string() || token.is_number())
        .map(|token| {
            Arc::new(SessionProgress {
                session: out.clone(),
                token: token.clone(),
            }) as Arc<dyn ProgressSink>
        });
    ToolContext::attached(method, Arc::new(AtomicBool::new(false)), sink, None).with_peer(Arc::new(
        CatalogPeer(SessionPeer::routed(session.clone(), out)),
    ))
}

/// The client as a catalog reader sees it: log messages only. A reader runs inside the request's
/// synchronous catalog call, so it must not wait for the client's answer to a request of its own.
struct CatalogPeer(SessionPeer);

impl ClientPeer for CatalogPeer {
    fn log(&self, level: LoggingLevel, logger: Option<&str>, data: Value) {
        self.0.log(level, logger, data);
    }

    fn supports(&self, _kind: crate::record::ClientRequestKind) -> bool {
        false
    }

    fn ask(&self, _requests: Vec<InputRequest>) -> Asked {
        Asked::Ready(Err(crate::error::ToolError::new(
            "a resource read, prompt or completion cannot ask the client: ask from a tool",
        )))
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
