//! The stateless era (2026-07-28) on the `/mcp` endpoint: which `POST` belongs to it, the routing
//! headers it must repeat, and how its answers travel.
//!
//! A `POST` with no `Mcp-Session-Id` is stateless when its `MCP-Protocol-Version` header names no
//! session-era version (or, for `initialize`, names the stateless one), when it is `server/discover`
//! or `subscriptions/listen`, or when its `_meta` names a protocol version; everything else keeps
//! the session era's rules ([`crate::mcp`]). A stateless request must repeat its method in
//! `Mcp-Method`, the tool or prompt name (resource URI) in `Mcp-Name`, and each argument its tool
//! marks `x-mcp-header` in `Mcp-Param-<suffix>` (plain, or `=?base64?…?=`); a mismatch is `400`
//! with `-32020`. Errors carry the request's id; `-32601` is `404`, the era's own errors
//! (`-32020`, `-32021`, `-32022`, and `_meta` problems) are `400`.
//!
//! Most answers are one JSON body. A `tools/call` that asked for progress (`_meta.progressToken`)
//! or log messages (`_meta` log level) is answered as an SSE stream: the notifications as they
//! come, then the result. `subscriptions/listen` is answered as a long-lived SSE stream:
//! `notifications/subscriptions/acknowledged` first, then the changes its filter asked for.

use std::borrow::Cow;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use serde_json::{json, Value};

use crate::pump::{CallFuture, Pump, Step};
use crate::record::{Channel, Rejection as Refusal};
use crate::reply::{json_body, to_vec_within};
use crate::request_context::RequestContext;
use crate::session::{Next, Session};
use crate::state::AppState;
use crate::stateless;
use dcc_mcp_protocol::headers::{
    METHOD_HEADER, NAME_HEADER, PROTOCOL_VERSION_HEADER, SESSION_ID_HEADER,
};
use dcc_mcp_protocol::jsonrpc::{self as protocol, Incoming, RpcError};
use dcc_mcp_protocol::stateless::{
    SubscriptionFilter, META_SUBSCRIPTION_ID_KEY, SUBSCRIPTIONS_ACKNOWLEDGED, SUBSCRIPTIONS_LISTEN,
};
use dcc_mcp_protocol::version::RESULT_TYPE_KEY as RESULT_TYPE;
use dcc_mcp_protocol::version::{supported_version, META_PROTOCOL_VERSION_KEY};
use dcc_mcp_protocol::{base64, codes, methods, prompts, resources, ProtocolVersion};

/// Interval of SSE keep-alive comments on stateless streams.
const SSE_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The prefix of the headers that repeat `x-mcp-header` arguments.
const PARAM_HEADER_PREFIX: &str = "mcp-param-";

fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// Whether a sessionless `POST` of `method` with `params` belongs to the stateless era.
pub(crate) fn is_stateless(headers: &HeaderMap, method: &str, params: Option<&Value>) -> bool {
    if headers.contains_key(SESSION_ID_HEADER) {
        return false;
    }
    let named_in_meta = || {
        params
            .and_then(|params| params.get("_meta"))
            .is_some_and(|meta| meta.get(META_PROTOCOL_VERSION_KEY).is_some())
    };
    if let Some(version) = headers.get(PROTOCOL_VERSION_HEADER) {
        let version = version.to_str().unwrap_or_default().trim();
        if method == methods::INITIALIZE {
            // A legacy client may name any version on initialize; only the stateless one (or a
            // stateless `_meta`) moves it to this era.
            return ProtocolVersion::parse(version)
                .is_some_and(|v| v.era() == dcc_mcp_protocol::Era::Stateless)
                || named_in_meta();
        }
        return supported_version(version).is_none();
    }
    method == methods::SERVER_DISCOVER || method == SUBSCRIPTIONS_LISTEN || named_in_meta()
}

/// Serve one stateless message.
pub(crate) async fn post(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    incoming: Incoming,
) -> Response {
    match incoming {
        Incoming::Request { id, method, params } => {
            request(state, headers, id, method, params).await
        }
        // Nothing outlives a stateless request, so no notification has anything to act on.
        Incoming::Notification { .. } | Incoming::Response { .. } => {
            StatusCode::ACCEPTED.into_response()
        }
    }
}

/// The HTTP status of a stateless error answer.
fn status_of(code: i64) -> StatusCode {
    match code {
        codes::METHOD_NOT_FOUND => StatusCode::NOT_FOUND,
        codes::HEADER_MISMATCH
        | codes::MISSING_CLIENT_CAPABILITY
        | codes::UNSUPPORTED_PROTOCOL_VERSION => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    }
}

fn error_answer(status: StatusCode, id: Value, error: RpcError) -> Response {
    let body = protocol::error_response(id, error);
    json_body(status, serde_json::to_vec(&body).unwrap_or_default())
}

/// Serve one stateless request and count it (`dcc_mcp_requests_total`) once, at this one exit.
async fn request(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    id: Value,
    method: String,
    params: Option<Value>,
) -> Response {
    let (response, ok) = serve(state, headers, id, &method, params).await;
    state.recorder.request(&method, ok);
    response
}

/// The answer, and whether it is a result (a stream counts as one: it was opened).
async fn serve(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    id: Value,
    method: &str,
    mut params: Option<Value>,
) -> (Response, bool) {
    let context = match stateless::admit(
        header_text(headers, PROTOCOL_VERSION_HEADER),
        params.as_mut(),
    ) {
        Ok(context) => context,
        Err(error) => return (error_answer(StatusCode::BAD_REQUEST, id, error), false),
    };
    if let Err(error) = check_routing_headers(state, headers, method, params.as_ref()) {
        return (error_answer(StatusCode::BAD_REQUEST, id, error), false);
    }
    if method == SUBSCRIPTIONS_LISTEN {
        return listen(state, id, params.as_ref());
    }
    if method == methods::TOOLS_CALL && wants_stream(params.as_ref(), &context) {
        return (call_stream(state, id, params, context), true);
    }
    let scope = (method == methods::TOOLS_CALL).then(|| {
        state
            .sessions
            .ephemeral(ProtocolVersion::V2026_07_28.as_str())
    });
    let outcome = stateless::request(state, scope.as_ref(), context, &id, method, params).await;
    if let Some(scope) = scope {
        scope.end();
    }
    match outcome {
        Ok(result) => (reply(state, protocol::success(id, result)), true),
        Err(error) => (error_answer(status_of(error.code), id, error), false),
    }
}

/// `200` with one JSON-RPC response, replaced by a "response too large" error past the budget.
fn reply(state: &AppState, response: Value) -> Response {
    match serialize_within(state, &response) {
        Some(body) => json_body(StatusCode::OK, body),
        None => {
            let id = response.get("id").cloned().unwrap_or(Value::Null);
            let body = serde_json::to_vec(&too_large(state, id)).unwrap_or_default();
            json_body(StatusCode::OK, body)
        }
    }
}

fn serialize_within(state: &AppState, response: &Value) -> Option<Vec<u8>> {
    let body = to_vec_within(response, state.config.max_response_bytes);
    if body.is_none() {
        state.recorder.rejected(Refusal::ResponseTooLarge);
    }
    body
}

fn too_large(state: &AppState, id: Value) -> Value {
    protocol::error(
        id,
        codes::INTERNAL_ERROR,
        &format!(
            "response too large: it would exceed max_response_bytes ({} bytes); request less at once",
            state.config.max_response_bytes
        ),
    )
}

fn mismatch(message: String) -> RpcError {
    RpcError::new(
        codes::HEADER_MISMATCH,
        format!("Header mismatch: {message}"),
    )
}

/// `Mcp-Method`, `Mcp-Name` and `Mcp-Param-*` against the body (values compared after trimming
/// the optional whitespace HTTP allows around them; header names are case-insensitive).
fn check_routing_headers(
    state: &AppState,
    headers: &HeaderMap,
    method: &str,
    params: Option<&Value>,
) -> Result<(), RpcError> {
    match header_text(headers, METHOD_HEADER).map(str::trim) {
        None => return Err(mismatch("the Mcp-Method header is required".into())),
        Some(named) if named != method => {
            return Err(mismatch(format!(
                "Mcp-Method {named:?} differs from the body's method {method:?}"
            )))
        }
        Some(_) => {}
    }
    let name_key = match method {
        methods::TOOLS_CALL | prompts::GET => "name",
        resources::READ => "uri",
        _ => return Ok(()),
    };
    let Some(body_name) = params.and_then(|p| p.get(name_key)).and_then(Value::as_str) else {
        return Ok(());
    };
    match header_text(headers, NAME_HEADER).map(str::trim) {
        None => {
            return Err(mismatch(format!(
            "the Mcp-Name header is required for {method} (the body's {name_key} is {body_name:?})"
        )))
        }
        Some(named) if named != body_name => {
            return Err(mismatch(format!(
                "Mcp-Name {named:?} differs from the body's {name_key} {body_name:?}"
            )))
        }
        Some(_) => {}
    }
    if method == methods::TOOLS_CALL {
        check_param_headers(state, headers, body_name, params)?;
    }
    Ok(())
}

/// Every argument the tool marks `x-mcp-header` and the body carries must be repeated, equal, in
/// its `Mcp-Param-<suffix>` header.
fn check_param_headers(
    state: &AppState,
    headers: &HeaderMap,
    tool: &str,
    params: Option<&Value>,
) -> Result<(), RpcError> {
    let Some(entry) = state.registry.entry(tool) else {
        return Ok(());
    };
    if entry.param_headers.is_empty() {
        return Ok(());
    }
    let arguments = params.and_then(|p| p.get("arguments"));
    for (argument, suffix) in &entry.param_headers {
        let body: Cow<'_, str> = match arguments.and_then(|a| a.get(argument)) {
            None | Some(Value::Null) => continue,
            Some(Value::String(text)) => Cow::Borrowed(text),
            Some(other) => Cow::Owned(other.to_string()),
        };
        let header = format!("{PARAM_HEADER_PREFIX}{suffix}");
        let Some(raw) = headers.get(header.as_str()) else {
            return Err(mismatch(format!(
                "the Mcp-Param-{suffix} header is required: argument {argument:?} is in the body"
            )));
        };
        let value = raw
            .to_str()
            .ok()
            .and_then(param_header_value)
            .ok_or_else(|| {
                mismatch(format!(
                    "Mcp-Param-{suffix} is not valid (bad base64 or characters)"
                ))
            })?;
        if value != body {
            return Err(mismatch(format!(
                "Mcp-Param-{suffix} differs from the body's argument {argument:?}"
            )));
        }
    }
    Ok(())
}

/// A `Mcp-Param-*` value: `=?base64?…?=` is strict base64 of UTF-8 text, anything else literal.
fn param_header_value(raw: &str) -> Option<Cow<'_, str>> {
    let raw = raw.trim();
    match raw
        .strip_prefix("=?base64?")
        .and_then(|rest| rest.strip_suffix("?="))
    {
        Some(encoded) => String::from_utf8(base64::decode(encoded)?)
            .ok()
            .map(Cow::Owned),
        None => Some(Cow::Borrowed(raw)),
    }
}

/// A `tools/call` is streamed when it asked for progress or for log messages.
fn wants_stream(params: Option<&Value>, context: &RequestContext) -> bool {
    context.log_level().is_some()
        || params
            .and_then(|p| p.get("_meta"))
            .is_some_and(|meta| meta.get("progressToken").is_some())
}

/// A `tools/call` answered as SSE: its notifications as they come, then its response.
fn call_stream(
    state: &Arc<AppState>,
    id: Value,
    params: Option<Value>,
    context: RequestContext,
) -> Response {
    let scope = state
        .sessions
        .ephemeral(ProtocolVersion::V2026_07_28.as_str());
    let call: CallFuture = {
        let state = Arc::clone(state);
        let scope = Arc::clone(&scope);
        Box::pin(async move {
            let outcome = stateless::request(
                &state,
                Some(&scope),
                context,
                &id,
                methods::TOOLS_CALL,
                params,
            )
            .await;
            match outcome {
                Ok(result) => protocol::success(id, result),
                Err(error) => protocol::error_response(id, error),
            }
        })
    };
    let run = (Pump::new(scope, call), Arc::clone(state));
    let stream = stream::unfold(run, |(mut pump, state)| async move {
        let text = loop {
            match pump.next().await? {
                Step::Message(message) => {
                    state.recorder.notification_sent(Channel::Sse);
                    break message;
                }
                Step::Response(response) => {
                    let body = serialize_within(&state, &response).unwrap_or_else(|| {
                        let id = response.get("id").cloned().unwrap_or(Value::Null);
                        serde_json::to_vec(&too_large(&state, id)).unwrap_or_default()
                    });
                    break String::from_utf8(body).unwrap_or_default();
                }
                // A stateless scope is not resumable: it never asks to close.
                Step::Close => {}
            }
        };
        let event = Event::default().event("message").data(text);
        Some((Ok::<_, Infallible>(event), (pump, state)))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(SSE_KEEP_ALIVE))
        .into_response()
}

struct ListenStream {
    scope: Arc<Session>,
    generation: u64,
    state: Arc<AppState>,
    id: Value,
    _guard: crate::listen::ListenGuard,
    ended: bool,
}

impl Drop for ListenStream {
    fn drop(&mut self) {
        self.scope.end();
    }
}

/// `subscriptions/listen`: acknowledge the filter, then stream what it asked for until the client
/// goes away or the server stops (then the listen request's result closes the stream).
fn listen(state: &Arc<AppState>, id: Value, params: Option<&Value>) -> (Response, bool) {
    let filter = match params.and_then(|p| p.get("notifications")) {
        Some(filter) => match serde_json::from_value::<SubscriptionFilter>(filter.clone()) {
            Ok(filter) => filter,
            Err(error) => {
                let error = RpcError::new(
                    codes::INVALID_PARAMS,
                    format!("Invalid params: notifications: {error}"),
                );
                return (error_answer(StatusCode::BAD_REQUEST, id, error), false);
            }
        },
        None => {
            let error = RpcError::new(
                codes::INVALID_PARAMS,
                "Invalid params: subscriptions/listen needs a \"notifications\" filter",
            );
            return (error_answer(StatusCode::BAD_REQUEST, id, error), false);
        }
    };
    let budget = state.config.catalog.subscriptions().max_per_session();
    let asked = filter.resource_subscriptions.as_ref().map_or(0, Vec::len);
    if asked > budget {
        state.recorder.rejected(Refusal::SubscriptionLimit);
        let error = RpcError::new(
            codes::INVALID_PARAMS,
            format!(
                "subscription budget reached: a listen stream may subscribe to at most {budget} \
                 resources (max_subscriptions_per_session); this one asked for {asked}"
            ),
        )
        .with_data(json!({"max": budget, "requested": asked}));
        return (error_answer(StatusCode::BAD_REQUEST, id, error), false);
    }
    let scope = state
        .sessions
        .ephemeral(ProtocolVersion::V2026_07_28.as_str());
    let generation = scope.attach_stream();
    // Queued before the listener is registered, so it is the stream's first message.
    scope.notify(
        SUBSCRIPTIONS_ACKNOWLEDGED,
        json!({"notifications": filter, "_meta": {META_SUBSCRIPTION_ID_KEY: id}}),
    );
    let guard = state.listen.add(id.clone(), filter, Arc::clone(&scope));
    let stream = stream::unfold(
        ListenStream {
            scope,
            generation,
            state: Arc::clone(state),
            id,
            _guard: guard,
            ended: false,
        },
        |mut run| async move {
            if run.ended {
                return None;
            }
            let scope = Arc::clone(&run.scope);
            loop {
                let changed = scope.changed();
                match run.scope.next_for(run.generation) {
                    Next::Send(message) => {
                        run.state.recorder.notification_sent(Channel::Sse);
                        return Some((
                            Ok::<_, Infallible>(Event::default().event("message").data(message)),
                            run,
                        ));
                    }
                    Next::End => return None,
                    Next::Wait => {}
                }
                tokio::select! {
                    () = changed => {}
                    () = run.state.shutdown.cancelled() => {
                        run.ended = true;
                        let result = json!({
                            RESULT_TYPE: "complete",
                            "_meta": {META_SUBSCRIPTION_ID_KEY: run.id},
                        });
                        let text = protocol::success(run.id.clone(), result).to_string();
                        return Some((Ok(Event::default().event("message").data(text)), run));
                    }
                }
            }
        },
    );
    let response = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(SSE_KEEP_ALIVE))
        .into_response();
    (response, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn param_header_values_decode_strictly() {
        assert_eq!(
            param_header_value(" =?base64?SGVsbG8=?= ").as_deref(),
            Some("Hello")
        );
        assert_eq!(param_header_value("=?base64?SGVsbG8?="), None);
        assert_eq!(param_header_value("=?base64?SGVs!!!bG8=?="), None);
        assert_eq!(param_header_value("SGVsbG8=").as_deref(), Some("SGVsbG8="));
        assert_eq!(
            param_header_value("=?base64?SGVsbG8=").as_deref(),
            Some("=?base64?SGVsbG8=")
        );
    }

    #[test]
    fn error_statuses() {
        assert_eq!(status_of(codes::METHOD_NOT_FOUND), StatusCode::NOT_FOUND);
        assert_eq!(status_of(codes::HEADER_MISMATCH), StatusCode::BAD_REQUEST);
        assert_eq!(
            status_of(codes::MISSING_CLIENT_CAPABILITY),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status_of(codes::UNSUPPORTED_PROTOCOL_VERSION),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(status_of(codes::INVALID_PARAMS), StatusCode::OK);
    }
}
