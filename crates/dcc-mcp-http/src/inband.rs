//! A session-era request answered on its POST's own SSE response (`text/event-stream`).
//!
//! Streamable HTTP lets a server answer a POSTed request with an SSE stream that carries the
//! request's notifications and server→client requests, then its response. Sent there, a call's
//! progress and log messages come before its result (on the session's `GET` stream they race it),
//! an elicitation reaches a client that never opened a `GET` stream, and the order is fixed.
//!
//! The switch is lazy, so plain calls keep their plain JSON answer: the request runs; when it ends
//! before it queued anything, the caller answers it with JSON as before. Its first queued message
//! turns the answer into SSE: that message, the ones after it, then the response, then the end of
//! the stream. The messages are queued on a store-less scope session, so the session's own outbox
//! budgets apply to them (a message past the budget is dropped and counted). The client still
//! POSTs its answers to server→client requests with the session's id.
//!
//! Only the client's `Accept: text/event-stream` and a method that may speak while it runs
//! (`tools/call`, a `prompts/get` that asks) lead here; everything else stays JSON.
//!
//! In a 2025-11-25 session the stream is resumable (SSE polling): it starts with a priming event
//! (event id `p<stream>-0`, the `retry:` delay, empty data) and numbers every event after it. A
//! handler may close it before its result ([`crate::ToolContext::close_stream`]); the call goes
//! on, what it sends from then on is parked on the session ([`crate::replay::ParkedStream`]), and
//! the client gets it with `GET /mcp` and `Last-Event-ID` ([`resume`]). A stream the client drops
//! ends the call, as before.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::response::Response;
use futures_util::stream::{self, Stream};
use serde_json::Value;

use crate::pump::{CallFuture, Pump, Step};
use crate::record::Channel;
use crate::replay::{post_event_id, ParkedStream, Rest};
use crate::service;
use crate::session::{Session, SessionHold};
use crate::sse_frames;
use crate::state::AppState;
use dcc_mcp_protocol::{methods, ProtocolVersion};

/// How a request's answer goes out.
pub(crate) enum Answer {
    /// It ended before it sent anything: answer with this JSON-RPC response as usual.
    Json(Value),
    /// It sent something first: the SSE response carrying its messages, then its response.
    Stream(Response),
}

/// True when the request may be answered in-band: the client accepts SSE and the method can send
/// messages while it runs.
pub(crate) fn wanted(headers: &HeaderMap, method: &str) -> bool {
    let may_speak = method == methods::TOOLS_CALL || method == dcc_mcp_protocol::prompts::GET;
    may_speak
        && headers
            .get_all(axum::http::header::ACCEPT)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .any(|value| value.contains("text/event-stream"))
}

/// The response as bytes within the response budget (an oversized one is replaced by its error).
pub(crate) type Encode = fn(&AppState, &Value) -> Vec<u8>;

/// The numbering of a resumable stream (2025-11-25).
struct Numbering {
    /// The session that keeps the stream's rest when it is closed early.
    session: Arc<Session>,
    /// The session's number for this stream.
    stream: u64,
    /// Events sent after the priming event.
    sent: u64,
    primed: bool,
}

struct Run {
    /// `None` once the stream was closed early and the call moved to its parked rest.
    pump: Option<Pump>,
    /// The first step, taken while deciding between JSON and SSE.
    first: Option<Step>,
    state: Arc<AppState>,
    encode: Encode,
    numbering: Option<Numbering>,
    retry: Duration,
}

/// Run request `id` of `session`; its messages are queued on a scope of its own.
pub(crate) async fn post(
    state: &Arc<AppState>,
    session: SessionHold,
    id: Value,
    method: String,
    params: Option<Value>,
    encode: Encode,
    retry: Duration,
) -> Answer {
    let scope = state.sessions.ephemeral(session.protocol_version());
    let resumable =
        ProtocolVersion::parse(session.protocol_version()) == Some(ProtocolVersion::V2025_11_25);
    if resumable {
        scope.make_resumable();
    }
    let owner: Arc<Session> = Arc::clone(&session);
    let call: CallFuture = {
        let state = Arc::clone(state);
        let scope = Arc::clone(&scope);
        Box::pin(async move {
            // The hold lives as long as the request runs.
            let session = session;
            service::request_in(&state, &session, Some(&scope), id, &method, params).await
        })
    };
    let mut pump = Pump::new(scope, call);
    // Decide: the first message (SSE) or the response with nothing before it (JSON).
    let first = match pump.next().await {
        Some(Step::Response(response)) => return Answer::Json(response),
        // The pump ends only after the response.
        None => return Answer::Json(Value::Null),
        Some(step) => step,
    };
    let numbering = resumable.then(|| Numbering {
        stream: owner.next_post_stream(),
        session: owner,
        sent: 0,
        primed: false,
    });
    let run = Run {
        pump: Some(pump),
        first: Some(first),
        state: Arc::clone(state),
        encode,
        numbering,
        retry,
    };
    Answer::Stream(sse_frames::response(frames(run)))
}

/// The priming event (resumable streams), the messages in the order they were queued, then the
/// response, then the end; or, when the handler closes the stream, a `retry:` and the end.
fn frames(run: Run) -> impl Stream<Item = Bytes> + Send {
    stream::unfold(run, |mut run| async move {
        if let Some(numbering) = run.numbering.as_mut().filter(|n| !n.primed) {
            numbering.primed = true;
            let id = post_event_id(numbering.stream, 0);
            return Some((sse_frames::priming(&id, run.retry), run));
        }
        loop {
            let step = match run.first.take() {
                Some(step) => step,
                None => run.pump.as_mut()?.next().await?,
            };
            let text = match step {
                Step::Message(message) => {
                    run.state.recorder.notification_sent(Channel::Sse);
                    message
                }
                Step::Response(response) => {
                    let body = (run.encode)(&run.state, &response);
                    String::from_utf8(body).unwrap_or_default()
                }
                Step::Close => match (run.numbering.as_ref(), run.pump.take()) {
                    (Some(numbering), Some(pump)) => {
                        let parked = numbering
                            .session
                            .park_post_stream(numbering.stream, numbering.sent);
                        tokio::spawn(finish_parked(
                            pump,
                            parked,
                            Arc::clone(&numbering.session),
                            Arc::clone(&run.state),
                            run.encode,
                        ));
                        return Some((sse_frames::retry(run.retry), run));
                    }
                    // Only a resumable scope accepts a close request.
                    (_, pump) => {
                        run.pump = pump;
                        continue;
                    }
                },
            };
            let id = run.numbering.as_mut().map(|numbering| {
                numbering.sent += 1;
                post_event_id(numbering.stream, numbering.sent)
            });
            return Some((sse_frames::message(id.as_deref(), &text), run));
        }
    })
}

/// The rest of a closed stream: run the call to its end, keeping what it sends for a resume.
/// It stops early when the session ends or the server stops.
async fn finish_parked(
    mut pump: Pump,
    parked: Arc<ParkedStream>,
    session: Arc<Session>,
    state: Arc<AppState>,
    encode: Encode,
) {
    loop {
        let step = tokio::select! {
            step = pump.next() => step,
            () = session.ended() => None,
            () = state.shutdown.cancelled() => None,
        };
        match step {
            Some(Step::Message(message)) => parked.record(&message),
            Some(Step::Response(response)) => {
                let body = encode(&state, &response);
                parked.respond(&String::from_utf8(body).unwrap_or_default());
            }
            Some(Step::Close) => {}
            None => break,
        }
    }
    parked.finish();
}

/// `GET /mcp` with `Last-Event-ID: p<stream>-<seen>`: the rest of that closed `POST` stream after
/// event `seen` (replayed first, then as the call sends it), then the end. `rest` is what was
/// buffered when the `GET` came.
pub(crate) fn resume(
    state: &Arc<AppState>,
    parked: Arc<ParkedStream>,
    stream: u64,
    seen: u64,
    rest: Rest,
    retry: Duration,
    slot: Option<crate::conn_budget::StreamGuard>,
) -> Response {
    struct Resumed {
        parked: Arc<ParkedStream>,
        stream: u64,
        /// The last event id sent on this `GET`.
        last: u64,
        pending: std::collections::VecDeque<(u64, String)>,
        response_id: Option<u64>,
        primed: bool,
        state: Arc<AppState>,
        _slot: Option<crate::conn_budget::StreamGuard>,
    }
    let resumed = Resumed {
        parked,
        stream,
        last: seen,
        pending: rest.resume.messages.into(),
        response_id: rest.response_id,
        primed: false,
        state: Arc::clone(state),
        _slot: slot,
    };
    let frames = stream::unfold(resumed, move |mut run| async move {
        if !run.primed {
            run.primed = true;
            let id = post_event_id(run.stream, run.last);
            return Some((sse_frames::priming(&id, retry), run));
        }
        loop {
            if let Some((id, message)) = run.pending.pop_front() {
                run.last = id;
                if run.response_id != Some(id) {
                    run.state.recorder.notification_sent(Channel::Sse);
                }
                let id = post_event_id(run.stream, id);
                return Some((sse_frames::message(Some(&id), &message), run));
            }
            let parked = Arc::clone(&run.parked);
            let changed = parked.changed();
            let rest = parked.after(run.last)?;
            run.response_id = rest.response_id;
            if !rest.resume.messages.is_empty() {
                run.pending.extend(rest.resume.messages);
                continue;
            }
            if rest.done {
                return None;
            }
            tokio::select! {
                () = changed => {}
                () = run.state.shutdown.cancelled() => return None,
            }
        }
    });
    sse_frames::response(frames)
}
