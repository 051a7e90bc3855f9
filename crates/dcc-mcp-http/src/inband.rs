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

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use serde_json::Value;

use crate::record::Channel;
use crate::service;
use crate::session::{Next, Session, SessionHold};
use crate::state::AppState;
use dcc_mcp_protocol::methods;

/// Interval of SSE keep-alive comments on an in-band stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

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

type CallFuture = Pin<Box<dyn Future<Output = Value> + Send>>;

/// The response as bytes within the response budget (an oversized one is replaced by its error).
pub(crate) type Encode = fn(&AppState, &Value) -> Vec<u8>;

struct Run {
    call: Option<CallFuture>,
    /// The first message, taken while deciding between JSON and SSE.
    first: Option<String>,
    /// The response, held until the messages queued before it are sent.
    done: Option<Value>,
    scope: Arc<Session>,
    generation: u64,
    state: Arc<AppState>,
    encode: Encode,
}

impl Drop for Run {
    fn drop(&mut self) {
        self.scope.end();
    }
}

/// Run request `id` of `session`; its messages are queued on a scope of its own.
pub(crate) async fn post(
    state: &Arc<AppState>,
    session: SessionHold,
    id: Value,
    method: String,
    params: Option<Value>,
    encode: Encode,
) -> Answer {
    let scope = state.sessions.ephemeral(session.protocol_version());
    let generation = scope.attach_stream();
    let call: CallFuture = {
        let state = Arc::clone(state);
        let scope = Arc::clone(&scope);
        Box::pin(async move {
            // The hold lives as long as the request runs.
            let session = session;
            service::request_in(&state, &session, Some(&scope), id, &method, params).await
        })
    };
    let mut run = Run {
        call: Some(call),
        first: None,
        done: None,
        scope,
        generation,
        state: Arc::clone(state),
        encode,
    };
    // Decide: the first message (SSE) or the response with nothing before it (JSON).
    loop {
        let scope = Arc::clone(&run.scope);
        let changed = scope.changed();
        if let Next::Send(message) = scope.next_for(run.generation) {
            run.first = Some(message);
            break;
        }
        if let Some(response) = run.done.take() {
            return Answer::Json(response);
        }
        // The call is gone only once its response is in `done` (taken just above).
        let Some(call) = run.call.as_mut() else {
            return Answer::Json(Value::Null);
        };
        tokio::select! {
            () = changed => {}
            response = call => {
                run.call = None;
                run.done = Some(response);
            }
        }
    }
    Answer::Stream(
        Sse::new(events(run))
            .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
            .into_response(),
    )
}

fn message(data: String) -> Event {
    Event::default().event("message").data(data)
}

/// The messages in the order they were queued, then the response, then the end.
fn events(run: Run) -> impl futures_util::Stream<Item = Result<Event, Infallible>> + Send {
    stream::unfold(run, |mut run| async move {
        if let Some(first) = run.first.take() {
            run.state.recorder.notification_sent(Channel::Sse);
            return Some((Ok(message(first)), run));
        }
        loop {
            let scope = Arc::clone(&run.scope);
            let changed = scope.changed();
            if let Next::Send(queued) = scope.next_for(run.generation) {
                run.state.recorder.notification_sent(Channel::Sse);
                return Some((Ok(message(queued)), run));
            }
            if let Some(response) = run.done.take() {
                let body = (run.encode)(&run.state, &response);
                let text = String::from_utf8(body).unwrap_or_default();
                run.call = None;
                return Some((Ok(message(text)), run));
            }
            let call = run.call.as_mut()?;
            tokio::select! {
                () = changed => {}
                response = call => {
                    run.call = None;
                    run.done = Some(response);
                }
            }
        }
    })
}
