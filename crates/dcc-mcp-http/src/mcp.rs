//! The `/mcp` endpoint: transport rules of MCP Streamable HTTP (session era, 2025-03-26 … 2025-11-25).
//!
//! A sessionless `POST` of the stateless era (2026-07-28) is handed to [`crate::stateless_http`]
//! as soon as it is parsed; the rest of this module is the session era.
//!
//! `POST` carries JSON-RPC messages, `GET` opens the session's SSE stream, `DELETE` ends the session.
//! Transport-level rejections (host and origin, media type, body size and deadline, batch length,
//! session, protocol version) are decided here before any method runs; what the methods do is in
//! [`crate::service`]. Responses are written straight to bytes (`serde_json::to_writer`, no second
//! tree or string) and held to `max_response_bytes` while they are written: serialization stops at
//! the budget. Every request holds its session busy, so it is never evicted mid-request.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::body_budget::{BodyError, Reservation};
use crate::conn_budget::{ConnSlot, StreamRefused};
use crate::inband;
use crate::offload::OFFLOAD_BODY_BYTES;
use crate::origin::check_host_and_origin;
use crate::record::{Channel, Recorder, Rejection as Refusal, ReplayOutcome};
use crate::replay::{self, ResumePoint};
use crate::reply::{json_body, to_vec_within};
use crate::serve::ClientAddr;
use crate::service::{self, InitializeError};
use crate::session::{CreateError, NextEvent, Session, SessionHold};
use crate::state::AppState;
use crate::stateless_http;
use dcc_mcp_protocol::body::{self, Parsed};
use dcc_mcp_protocol::jsonrpc::{self as protocol, Incoming};
use dcc_mcp_protocol::version::supported_version;
use dcc_mcp_protocol::{codes, methods};
use dcc_mcp_protocol::{BATCH_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS};

use dcc_mcp_protocol::headers::{PROTOCOL_VERSION_HEADER, SESSION_ID_HEADER};

/// `Retry-After` (seconds) of an `initialize` refused because `max_sessions` sessions are alive.
pub const SESSIONS_FULL_RETRY_AFTER_SECS: u64 = 5;

/// Interval of SSE keep-alive comments.
const SSE_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The `retry:` delay of the session stream: how soon a client reconnects after the stream closed.
pub(crate) const SSE_RETRY: Duration = Duration::from_secs(1);

/// The SSE resumption header of a reconnecting `GET`.
const LAST_EVENT_ID_HEADER: &str = "last-event-id";

fn json_response(status: StatusCode, body: &Value) -> Response {
    // A `Value` always serializes (string keys only); an empty body would only hide a bug.
    json_body(status, serde_json::to_vec(body).unwrap_or_default())
}

/// A transport-level rejection: an HTTP status with a JSON-RPC error body (`id: null`).
struct Rejection {
    status: StatusCode,
    code: i64,
    message: String,
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        json_response(
            self.status,
            &protocol::error(Value::Null, self.code, &self.message),
        )
    }
}

fn rejection(status: StatusCode, code: i64, message: &str) -> Rejection {
    Rejection {
        status,
        code,
        message: message.to_owned(),
    }
}

fn reject(status: StatusCode, code: i64, message: &str) -> Response {
    rejection(status, code, message).into_response()
}

fn check_origin(state: &AppState, headers: &HeaderMap) -> Result<(), Rejection> {
    check_host_and_origin(&state.config, headers)
        .map_err(|message| rejection(StatusCode::FORBIDDEN, codes::SERVER_ERROR, message))
}

/// The live session of this request and the protocol version in effect for it.
/// The session is held busy (never evicted) until the returned hold is dropped.
fn resolve_session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(SessionHold, &'static str), Rejection> {
    // The header is checked, but the session's negotiated version governs: a 2025-06-18 session
    // sending `2025-03-26` must not gain batches.
    match headers.get(PROTOCOL_VERSION_HEADER) {
        None => {}
        Some(value) => match value.to_str().ok().and_then(supported_version) {
            Some(_) => {}
            None => {
                let message = format!(
                    "Bad Request: unsupported MCP-Protocol-Version {:?}; supported: {}",
                    String::from_utf8_lossy(value.as_bytes()),
                    SUPPORTED_PROTOCOL_VERSIONS.join(", ")
                );
                return Err(rejection(
                    StatusCode::BAD_REQUEST,
                    codes::SERVER_ERROR,
                    &message,
                ));
            }
        },
    };
    let Some(id) = headers.get(SESSION_ID_HEADER) else {
        return Err(rejection(
            StatusCode::BAD_REQUEST,
            codes::SERVER_ERROR,
            "Bad Request: Mcp-Session-Id header is required (send initialize first)",
        ));
    };
    let session = id
        .to_str()
        .ok()
        .and_then(|id| state.sessions.get(id))
        .ok_or_else(|| {
            rejection(
                StatusCode::NOT_FOUND,
                codes::SESSION_NOT_FOUND,
                "Session not found: it ended or expired; send initialize to start a new one",
            )
        })?;
    let version = session.protocol_version();
    Ok((session, version))
}

async fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    slot: Option<&ConnSlot>,
) -> Result<(Bytes, Reservation), Response> {
    let limit = state.config.max_body_bytes;
    let deadline = state.config.body_read_timeout;
    match tokio::time::timeout(
        deadline,
        read_body_within(state, headers, body, limit, slot),
    )
    .await
    {
        Ok(read) => read.map_err(IntoResponse::into_response),
        Err(_elapsed) => {
            state.recorder.rejected(Refusal::BodyTimeout);
            let mut response = reject(
                StatusCode::REQUEST_TIMEOUT,
                codes::INVALID_REQUEST,
                &format!(
                    "Request Timeout: the request body did not arrive within {:.3} s (body_read_timeout)",
                    deadline.as_secs_f64()
                ),
            );
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            Err(response)
        }
    }
}

async fn read_body_within(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    slot: Option<&ConnSlot>,
) -> Result<(Bytes, Reservation), Response> {
    let too_large = || {
        reject(
            StatusCode::PAYLOAD_TOO_LARGE,
            codes::INVALID_REQUEST,
            &format!("Payload Too Large: the request body exceeds {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    match state.body_budget.read(body, limit, slot).await {
        Ok(read) => Ok(read),
        Err(BodyError::TooLarge) => Err(too_large()),
        Err(BodyError::OverBudget) => {
            state.recorder.rejected(Refusal::BodyBudget);
            let mut response = reject(
                StatusCode::SERVICE_UNAVAILABLE,
                codes::INVALID_REQUEST,
                &format!(
                    "Service Unavailable: the server is reading {} bytes of request bodies \
                     (max_body_bytes_in_flight); retry later",
                    state.body_budget.limit()
                ),
            );
            let headers = response.headers_mut();
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            Err(response)
        }
        Err(BodyError::Unreadable) => Err(reject(
            StatusCode::BAD_REQUEST,
            codes::INVALID_REQUEST,
            "Bad Request: the request body could not be read",
        )),
    }
}

/// `POST /mcp`: one JSON-RPC message, or a batch under 2025-03-26.
pub(crate) async fn post_message(
    State(state): State<Arc<AppState>>,
    client: Option<axum::Extension<ClientAddr>>,
    slot: Option<axum::Extension<Arc<ConnSlot>>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Err(response) = check_origin(&state, &headers) {
        return response.into_response();
    }
    if !is_json_media_type(headers.get(header::CONTENT_TYPE)) {
        return reject(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            codes::INVALID_REQUEST,
            "Unsupported Media Type: POST a JSON-RPC message with Content-Type: application/json",
        );
    }
    // The reservation holds the body's bytes in the global budget until the request is done.
    let (bytes, _reservation) =
        match read_body(&state, &headers, body, slot.as_ref().map(|s| s.0.as_ref())).await {
            Ok(read) => read,
            Err(response) => return response,
        };
    let limit = state.config.max_batch_messages;
    let parsed =
        if bytes.len() >= OFFLOAD_BODY_BYTES {
            // Large bodies are parsed on the bounded pool, so they never hold an I/O worker.
            match state.offload.run(move || body::parse(&bytes, limit)).await {
                Some(parsed) => parsed,
                None => return reject(
                    StatusCode::SERVICE_UNAVAILABLE,
                    codes::INTERNAL_ERROR,
                    "Service Unavailable: the request body could not be parsed (server stopping)",
                ),
            }
        } else {
            body::parse(&bytes, limit)
        };
    match parsed {
        Ok(Parsed::Single(single)) => {
            let trace = crate::trace::from_headers(&headers);
            crate::trace::scope(
                trace,
                post_single(&state, &headers, single, client.map(|c| c.0)),
            )
            .await
        }
        Ok(Parsed::Batch(batch)) => {
            let trace = crate::trace::from_headers(&headers);
            crate::trace::scope(trace, post_batch(&state, &headers, batch)).await
        }
        Ok(Parsed::TooLarge) => {
            state.recorder.rejected(Refusal::BatchTooLarge);
            reject(
                StatusCode::BAD_REQUEST,
                codes::INVALID_REQUEST,
                &format!(
                    "Invalid Request: a batch may hold at most {limit} messages (max_batch_messages); \
                     split it into smaller batches"
                ),
            )
        }
        Err(error) => reject(
            StatusCode::BAD_REQUEST,
            codes::PARSE_ERROR,
            &format!("Parse error: {error}"),
        ),
    }
}

/// True for `application/json`, optionally with parameters (`; charset=utf-8`); case-insensitive.
/// A missing header is not JSON.
pub(crate) fn is_json_media_type(value: Option<&HeaderValue>) -> bool {
    value
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media_type| media_type.trim().eq_ignore_ascii_case("application/json"))
}

/// The JSON-RPC reply for a request whose response would pass `max_response_bytes`.
fn response_too_large(state: &AppState, id: Value) -> Value {
    protocol::error(
        id,
        codes::INTERNAL_ERROR,
        &format!(
            "response too large: it would exceed max_response_bytes ({} bytes); request less at \
             once (smaller batches, paging)",
            state.config.max_response_bytes
        ),
    )
}

/// `200` with one JSON-RPC response, replaced by a "response too large" error past the budget.
fn reply(state: &AppState, response: Value) -> Response {
    json_body(StatusCode::OK, encode_within(state, &response))
}

/// One JSON-RPC response as bytes, replaced by a "response too large" error past the budget.
fn encode_within(state: &AppState, response: &Value) -> Vec<u8> {
    if let Some(body) = to_vec_within(response, state.config.max_response_bytes) {
        return body;
    }
    state.recorder.rejected(Refusal::ResponseTooLarge);
    let id = response.get("id").cloned().unwrap_or(Value::Null);
    serde_json::to_vec(&response_too_large(state, id)).unwrap_or_default()
}

async fn post_single(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    message: Value,
    client: Option<ClientAddr>,
) -> Response {
    let incoming = match protocol::classify(message) {
        Ok(incoming) => incoming,
        Err(error) => return json_response(StatusCode::BAD_REQUEST, &error),
    };
    if let Incoming::Request { method, params, .. } | Incoming::Notification { method, params } =
        &incoming
    {
        if stateless_http::is_stateless(headers, method, params.as_ref()) {
            return stateless_http::post(state, headers, incoming).await;
        }
    }
    if let Incoming::Request { id, method, params } = &incoming {
        if method == methods::INITIALIZE {
            return initialize(state, id.clone(), params.clone(), client);
        }
    }
    let (session, _version) = match resolve_session(state, headers) {
        Ok(resolved) => resolved,
        Err(response) => {
            if let Incoming::Request { method, .. } = &incoming {
                state.recorder.request(method, false);
            }
            return response.into_response();
        }
    };
    match incoming {
        Incoming::Request { id, method, params } if inband::wanted(headers, &method) => {
            match inband::post(state, session, id, method, params, encode_within, SSE_RETRY).await {
                inband::Answer::Json(response) => reply(state, response),
                inband::Answer::Stream(response) => response,
            }
        }
        Incoming::Request { id, method, params } => {
            let response = service::request(state, &session, id, &method, params).await;
            reply(state, response)
        }
        Incoming::Notification { method, params } => {
            service::notification(state, &session, &method, params.as_ref());
            StatusCode::ACCEPTED.into_response()
        }
        Incoming::Response { id, outcome } => {
            session.resolve(&id, outcome);
            StatusCode::ACCEPTED.into_response()
        }
    }
}

async fn post_batch(state: &AppState, headers: &HeaderMap, batch: Vec<Value>) -> Response {
    if batch.is_empty() {
        return reject(
            StatusCode::BAD_REQUEST,
            codes::INVALID_REQUEST,
            "Invalid Request: empty batch",
        );
    }
    let (session, version) = match resolve_session(state, headers) {
        Ok(resolved) => resolved,
        Err(response) => return response.into_response(),
    };
    if version != BATCH_PROTOCOL_VERSION {
        return reject(
            StatusCode::BAD_REQUEST,
            codes::INVALID_REQUEST,
            &format!("Invalid Request: JSON-RPC batches are only allowed with protocol version {BATCH_PROTOCOL_VERSION}"),
        );
    }
    // The response is serialized reply by reply, so its size is known while it grows: once the next
    // reply would pass `max_response_bytes`, no further request runs and each gets a short error.
    let budget = state.config.max_response_bytes;
    let mut body = vec![b'['];
    let mut replies = 0usize;
    let mut over_budget = false;
    for message in batch {
        let response = match protocol::classify(message) {
            Ok(Incoming::Request { id, method, .. }) if method == methods::INITIALIZE => {
                protocol::error(
                    id,
                    codes::INVALID_REQUEST,
                    "initialize must not be part of a batch",
                )
            }
            Ok(Incoming::Request { id, .. }) if over_budget => response_too_large(state, id),
            Ok(Incoming::Request { id, method, params }) => {
                service::request(state, &session, id, &method, params).await
            }
            Ok(Incoming::Notification { method, params }) => {
                service::notification(state, &session, &method, params.as_ref());
                continue;
            }
            Ok(Incoming::Response { id, outcome }) => {
                session.resolve(&id, outcome);
                continue;
            }
            Err(error) => error,
        };
        // Room for this reply, its separator and the closing bracket.
        let room = budget.saturating_sub(body.len() + 2);
        // Past the budget only short errors are left (requests no longer run).
        let within = match over_budget {
            true => serde_json::to_vec(&response).ok(),
            false => to_vec_within(&response, room),
        };
        let text = match within {
            Some(text) => text,
            None => {
                over_budget = true;
                state.recorder.rejected(Refusal::ResponseTooLarge);
                let id = response.get("id").cloned().unwrap_or(Value::Null);
                serde_json::to_vec(&response_too_large(state, id)).unwrap_or_default()
            }
        };
        if replies > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&text);
        replies += 1;
    }
    if replies == 0 {
        StatusCode::ACCEPTED.into_response()
    } else {
        body.push(b']');
        json_body(StatusCode::OK, body)
    }
}

fn initialize(
    state: &AppState,
    id: Value,
    params: Option<Value>,
    client: Option<ClientAddr>,
) -> Response {
    let client = client.map(|client| client.0.ip());
    let (session, response) = match service::initialize(state, id.clone(), params.as_ref(), client)
    {
        Ok(opened) => opened,
        Err(InitializeError::InvalidParams(error)) => return json_response(StatusCode::OK, &error),
        Err(InitializeError::Store(CreateError::NoRandomness)) => {
            return reject(
                StatusCode::INTERNAL_SERVER_ERROR,
                codes::INTERNAL_ERROR,
                "cannot create a session id: no randomness available",
            )
        }
        Err(InitializeError::Store(CreateError::Full)) => {
            let message = format!(
                "Service Unavailable: too many sessions (max_sessions = {}) and every one is busy; \
                 end unused sessions with DELETE /mcp or retry later",
                state.sessions.max_sessions()
            );
            return sessions_full(state, id, &message);
        }
        Err(InitializeError::Store(CreateError::ClientFull)) => {
            let message = format!(
                "Service Unavailable: too many sessions from your address \
                 (max_sessions_per_client = {}) and every one is busy; end unused sessions with \
                 DELETE /mcp or retry later",
                state.sessions.max_per_client()
            );
            return sessions_full(state, id, &message);
        }
    };
    let mut response = json_response(StatusCode::OK, &response);
    if let Ok(value) = HeaderValue::from_str(session.id()) {
        response.headers_mut().insert(SESSION_ID_HEADER, value);
    }
    response
}

/// `503` + `Retry-After` for an `initialize` that found every session slot busy, with a JSON-RPC
/// error for the request.
///
/// A status (not a `200` JSON-RPC error) lets proxies and plain HTTP clients see the overload; MCP
/// clients read the JSON-RPC error in the body of a non-2xx JSON response and show its message.
fn sessions_full(state: &AppState, id: Value, message: &str) -> Response {
    state.recorder.rejected(Refusal::TooManySessions);
    let mut response = json_response(
        StatusCode::SERVICE_UNAVAILABLE,
        &protocol::error(id, codes::SERVER_ERROR, message),
    );
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(SESSIONS_FULL_RETRY_AFTER_SECS),
    );
    response
}

/// `GET /mcp`: the session's server→client SSE stream.
pub(crate) async fn get_stream(
    State(state): State<Arc<AppState>>,
    method: Method,
    slot: Option<axum::Extension<Arc<ConnSlot>>>,
    headers: HeaderMap,
) -> Response {
    if method == Method::HEAD {
        // axum routes HEAD to the GET handler; a HEAD must not take over the session's stream.
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, HeaderValue::from_static("GET, POST, DELETE"))],
        )
            .into_response();
    }
    if let Err(response) = check_origin(&state, &headers) {
        return response.into_response();
    }
    let accepts_sse = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.contains("text/event-stream"));
    if !accepts_sse {
        return reject(
            StatusCode::NOT_ACCEPTABLE,
            codes::SERVER_ERROR,
            "Not Acceptable: GET /mcp needs Accept: text/event-stream",
        );
    }
    let (session, _version) = match resolve_session(&state, &headers) {
        Ok(resolved) => resolved,
        Err(response) => return response.into_response(),
    };
    // The stream's slot within `max_streams` and `max_streams_per_client` (see `conn_budget`).
    let slot = match slot
        .map(|slot| state.conns.open_stream(&slot.0))
        .transpose()
    {
        Ok(slot) => slot,
        Err(refused) => return streams_full(&state, refused),
    };
    // `None`: no header; `Some(None)`: a header naming no event this server sends.
    let resume_point = headers
        .get(LAST_EVENT_ID_HEADER)
        .map(|value| value.to_str().ok().and_then(replay::parse_resume_point));
    let last_event_id = match resume_point {
        Some(Some(ResumePoint::Post { stream, seen })) => {
            return resume_post_stream(&state, &session, stream, seen, slot);
        }
        Some(Some(ResumePoint::Session(last))) => Some(last),
        Some(None) => {
            state.recorder.sse_replay(ReplayOutcome::Unknown);
            None
        }
        None => None,
    };
    let attached = session.attach_numbered_stream(last_event_id);
    let mut replayed = std::collections::VecDeque::new();
    // A resumed stream primes with the client's own resume point, so a reconnect right after the
    // priming event asks for the replay again.
    let resume_from = match last_event_id {
        Some(last) if attached.resume.is_some() => last.min(attached.last_id),
        _ => attached.last_id,
    };
    if let (Some(last), Some(resume)) = (last_event_id, attached.resume.as_ref()) {
        let outcome = if last > attached.last_id {
            ReplayOutcome::Unknown
        } else if resume.lost > 0 {
            ReplayOutcome::Gap
        } else {
            ReplayOutcome::Replayed
        };
        state.recorder.sse_replay(outcome);
    }
    if let Some(resume) = attached.resume {
        if resume.lost > 0 {
            tracing::warn!(
                session = %session.id(),
                lost = resume.lost,
                "a resumed stream asked for messages that are no longer buffered"
            );
        }
        replayed.extend(resume.messages);
    }
    // The priming event: the id to resume from and the reconnect delay, no data (not dispatched).
    let prime = Event::default()
        .id(resume_from.to_string())
        .retry(SSE_RETRY);
    let stream = event_stream(StreamState {
        _slot: slot,
        guard: StreamGuard(Arc::clone(&session)),
        generation: attached.generation,
        shutdown: state.shutdown.clone(),
        recorder: state.recorder.clone(),
        prime: Some(prime),
        replayed,
        idle_close: state.config.sse_idle_close,
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(SSE_KEEP_ALIVE))
        .into_response()
}

/// `GET /mcp` with `Last-Event-ID: p<stream>-<seen>`: the rest of a `POST` stream its handler
/// closed early ([`inband::resume`]); `400` when the session no longer keeps that stream.
fn resume_post_stream(
    state: &Arc<AppState>,
    session: &Session,
    stream: u64,
    seen: u64,
    slot: Option<crate::conn_budget::StreamGuard>,
) -> Response {
    let found = session
        .parked_post_stream(stream)
        .and_then(|parked| parked.after(seen).map(|rest| (parked, rest)));
    let Some((parked, rest)) = found else {
        state.recorder.sse_replay(ReplayOutcome::Unknown);
        let message = format!(
            "Bad Request: Last-Event-ID {:?} names no stream this session can resume (a closed \
             POST stream is kept until {} newer ones were closed, or the session ends)",
            replay::post_event_id(stream, seen),
            replay::PARKED_STREAMS
        );
        return reject(StatusCode::BAD_REQUEST, codes::SERVER_ERROR, &message);
    };
    let outcome = match rest.resume.lost {
        0 => ReplayOutcome::Replayed,
        _ => ReplayOutcome::Gap,
    };
    state.recorder.sse_replay(outcome);
    inband::resume(state, parked, stream, seen, rest, SSE_RETRY, slot)
}

/// `503` + `Retry-After` for a `GET /mcp` past `max_streams` or `max_streams_per_client`.
fn streams_full(state: &AppState, refused: StreamRefused) -> Response {
    let (reason, message) = match refused {
        StreamRefused::Streams => (
            Refusal::StreamLimit,
            format!(
                "Service Unavailable: too many open streams (max_streams = {}); retry later",
                state.config.max_streams()
            ),
        ),
        StreamRefused::ClientStreams => (
            Refusal::ClientStreamLimit,
            format!(
                "Service Unavailable: too many open streams from your address \
                 (max_streams_per_client = {}); close one or retry later",
                state.config.max_streams_per_client()
            ),
        ),
    };
    state.recorder.rejected(reason);
    let mut response = reject(
        StatusCode::SERVICE_UNAVAILABLE,
        codes::SERVER_ERROR,
        &message,
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// Detaches the stream from its session however the stream ends.
struct StreamGuard(Arc<Session>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.detach_stream();
    }
}

struct StreamState {
    /// Counts the stream in the connection table while it lasts.
    _slot: Option<crate::conn_budget::StreamGuard>,
    guard: StreamGuard,
    generation: u64,
    shutdown: CancellationToken,
    recorder: Recorder,
    /// Sent first: the event id to resume from and the `retry:` delay.
    prime: Option<Event>,
    /// Resumed with `Last-Event-ID`: the buffered messages the client missed, sent next.
    replayed: std::collections::VecDeque<(u64, String)>,
    /// The stream is closed after this long with nothing to send.
    idle_close: Duration,
}

fn numbered(id: u64, message: String) -> Event {
    Event::default()
        .event("message")
        .id(id.to_string())
        .data(message)
}

/// The session's stream: the priming event, what a resume replays, then the session's messages as
/// they come, each with its event id; it ends when the session ends, another stream takes over, the
/// server stops, or nothing was sent for `idle_close` (the client then reconnects).
fn event_stream(state: StreamState) -> impl Stream<Item = Result<Event, Infallible>> + Send {
    stream::unfold(state, |mut state| async move {
        if let Some(prime) = state.prime.take() {
            return Some((Ok(prime), state));
        }
        if let Some((id, message)) = state.replayed.pop_front() {
            state.recorder.notification_sent(Channel::Sse);
            return Some((Ok(numbered(id, message)), state));
        }
        let session = state.guard.0.clone();
        let idle = tokio::time::sleep(state.idle_close);
        tokio::pin!(idle);
        loop {
            let changed = session.changed();
            match session.next_event(state.generation) {
                NextEvent::Send(id, message) => {
                    state.recorder.notification_sent(Channel::Sse);
                    return Some((Ok(numbered(id, message)), state));
                }
                NextEvent::End => return None,
                NextEvent::Wait => {}
            }
            tokio::select! {
                () = changed => {}
                () = &mut idle => return None,
                () = state.shutdown.cancelled() => return None,
            }
        }
    })
}

/// `DELETE /mcp`: end the session (`204`).
pub(crate) async fn delete_session(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = check_origin(&state, &headers) {
        return response.into_response();
    }
    match resolve_session(&state, &headers) {
        Ok((session, _version)) => {
            state.sessions.delete(session.id());
            StatusCode::NO_CONTENT.into_response()
        }
        Err(response) => response.into_response(),
    }
}
