//! What a handler asks of its client — log messages and server→client requests (elicitation,
//! sampling, `roots/list`) — through one API for both MCP eras.
//!
//! A handler calls [`ToolContext::elicit`](crate::ToolContext::elicit) and friends; the context
//! forwards to a [`ClientPeer`], the port each era implements:
//! - the session era (2025-03-26 … 2025-11-25) sends a JSON-RPC request on the session's stream and
//!   waits for the client to POST the response (see `crate::session_peer`);
//! - 2026-07-28 answers from the retry's `inputResponses`, or records what is missing so the call
//!   returns an `InputRequiredResult` (see `crate::mrtr`).
//!
//! A [`Pending`] is both a future (`.await` it in an inline handler) and blockable
//! ([`Pending::wait`] in a worker or main-thread handler): the answer lands in a [`Slot`] that wakes
//! either kind of waiter.

use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::error::ToolError;
use crate::record::ClientRequestKind;
use dcc_mcp_protocol::client_requests::{CreateMessageParams, ElicitFormParams};
use dcc_mcp_protocol::logging::LoggingLevel;

/// One request a handler makes of its client.
#[derive(Debug, Clone, PartialEq)]
pub struct InputRequest {
    pub(crate) kind: ClientRequestKind,
    /// Its key in a 2026-07-28 `inputRequests` map (`None`: the framework numbers it).
    pub(crate) key: Option<String>,
    pub(crate) params: Value,
}

impl InputRequest {
    /// `elicitation/create` in form mode: `message` and a flat object schema (build it with
    /// [`FormSchema`](dcc_mcp_protocol::client_requests::FormSchema)).
    pub fn elicit(message: impl Into<String>, requested_schema: Value) -> Self {
        let params = ElicitFormParams {
            mode: None,
            message: message.into(),
            requested_schema,
        };
        Self {
            kind: ClientRequestKind::Elicitation,
            key: None,
            params: serde_json::to_value(params).unwrap_or_else(|_| json!({})),
        }
    }

    /// `sampling/createMessage`.
    pub fn sample(params: &CreateMessageParams) -> Self {
        Self {
            kind: ClientRequestKind::Sampling,
            key: None,
            params: serde_json::to_value(params).unwrap_or_else(|_| json!({})),
        }
    }

    /// `roots/list`.
    pub fn list_roots() -> Self {
        Self {
            kind: ClientRequestKind::Roots,
            key: None,
            params: json!({}),
        }
    }

    /// Name this request in a 2026-07-28 `inputRequests` map (ignored in the session era). Keys
    /// must be stable across retries: the retry's `inputResponses` are matched by key.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// What is asked.
    pub fn kind(&self) -> ClientRequestKind {
        self.kind
    }

    /// The request's params, as sent.
    pub fn params(&self) -> &Value {
        &self.params
    }
}

/// Where one answer lands: filled once, by the response, a refusal or the end of the call.
#[derive(Default)]
pub(crate) struct Slot {
    value: Mutex<Option<Result<Value, ToolError>>>,
    filled: Condvar,
    wake: tokio::sync::Notify,
}

impl Slot {
    /// Store the answer (the first one wins) and wake its waiter.
    pub(crate) fn fill(&self, answer: Result<Value, ToolError>) {
        let mut value = self.value.lock().unwrap_or_else(PoisonError::into_inner);
        if value.is_none() {
            *value = Some(answer);
        }
        drop(value);
        self.filled.notify_all();
        self.wake.notify_waiters();
        self.wake.notify_one();
    }

    fn take(&self) -> Option<Result<Value, ToolError>> {
        self.value
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    async fn wait_async(&self) -> Result<Value, ToolError> {
        loop {
            let woken = self.wake.notified();
            if let Some(answer) = self.take() {
                return answer;
            }
            woken.await;
        }
    }

    fn wait_blocking(&self) -> Result<Value, ToolError> {
        let mut value = self.value.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(answer) = value.take() {
                return answer;
            }
            value = self
                .filled
                .wait(value)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// What a peer made of a handler's requests.
pub(crate) enum Asked {
    /// Settled at once: the answers in order, or why there are none.
    Ready(Result<Vec<Value>, ToolError>),
    /// Sent: one slot per request, in order; each is filled by the answer or by the end of the call.
    Waiting(Vec<Arc<Slot>>),
}

/// The port an era implements: where a handler's log messages and requests go.
pub(crate) trait ClientPeer: Send + Sync {
    /// Send `notifications/message` if the client's level and the log budget allow it.
    fn log(&self, level: LoggingLevel, logger: Option<&str>, data: Value);
    /// True when the client declared the capability `kind` needs.
    fn supports(&self, kind: ClientRequestKind) -> bool;
    /// Ask the client; every request of the batch is answered, or none is.
    fn ask(&self, requests: Vec<InputRequest>) -> Asked;
    /// The call or job this peer serves ended: abandon its unanswered requests with `reason`
    /// (a waiting handler wakes with it). Nothing to do for a peer that sends no requests.
    #[cfg_attr(not(feature = "workflow"), allow(dead_code))]
    fn end_call(&self, _reason: &str) {}
    /// Close the SSE answer that carries this call's messages before the response (the client
    /// resumes it); false when there is none that can be resumed.
    fn close_stream(&self) -> bool {
        false
    }
}

/// A client's answer on its way, decoded as `T`. `.await` it in an inline handler; call
/// [`wait`](Self::wait) in a worker or main-thread handler. Either way it resolves when the client
/// answers, refuses, or the call ends (timeout, cancellation, session end).
#[must_use = "a Pending does nothing until it is awaited or waited on"]
pub struct Pending<T> {
    asked: Asked,
    decode: fn(Vec<Value>) -> Result<T, ToolError>,
    _answer: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for Pending<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending").finish_non_exhaustive()
    }
}

impl<T: Send + 'static> Pending<T> {
    pub(crate) fn new(asked: Asked, decode: fn(Vec<Value>) -> Result<T, ToolError>) -> Self {
        Self {
            asked,
            decode,
            _answer: PhantomData,
        }
    }

    /// Block this thread until the answer is in (worker and main-thread handlers).
    pub fn wait(self) -> Result<T, ToolError> {
        let answers = match self.asked {
            Asked::Ready(answers) => answers?,
            Asked::Waiting(slots) => slots
                .iter()
                .map(|slot| slot.wait_blocking())
                .collect::<Result<Vec<_>, _>>()?,
        };
        (self.decode)(answers)
    }
}

impl<T: Send + 'static> IntoFuture for Pending<T> {
    type Output = Result<T, ToolError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<T, ToolError>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let answers = match self.asked {
                Asked::Ready(answers) => answers?,
                Asked::Waiting(slots) => {
                    let mut answers = Vec::with_capacity(slots.len());
                    for slot in &slots {
                        answers.push(slot.wait_async().await?);
                    }
                    answers
                }
            };
            (self.decode)(answers)
        })
    }
}

/// The error a handler sees when the client did not declare the capability.
pub(crate) fn unsupported(kind: ClientRequestKind) -> ToolError {
    ToolError::new(format!(
        "the client does not support {}: it did not declare the \"{}\" capability",
        kind.method(),
        kind.capability()
    ))
}

/// The single answer of a one-request batch, decoded as `T`.
pub(crate) fn decode_one<T: DeserializeOwned>(answers: Vec<Value>) -> Result<T, ToolError> {
    let Some(answer) = answers.into_iter().next() else {
        return Err(ToolError::new("the client sent no answer"));
    };
    serde_json::from_value(answer)
        .map_err(|error| ToolError::new(format!("the client's answer is malformed: {error}")))
}

/// Every answer, as sent.
pub(crate) fn decode_all(answers: Vec<Value>) -> Result<Vec<Value>, ToolError> {
    Ok(answers)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use dcc_mcp_protocol::client_requests::ElicitResult;

    #[tokio::test]
    async fn a_slot_wakes_an_async_and_a_blocking_waiter() {
        let slot = Arc::new(Slot::default());
        let pending: Pending<ElicitResult> =
            Pending::new(Asked::Waiting(vec![slot.clone()]), decode_one);
        let filler = slot.clone();
        tokio::spawn(async move {
            tokio::task::yield_now().await;
            filler.fill(Ok(json!({"action": "decline"})));
        });
        let answer = pending.await.unwrap();
        assert_eq!(answer.content, None);

        let slot = Arc::new(Slot::default());
        let pending: Pending<Vec<Value>> =
            Pending::new(Asked::Waiting(vec![slot.clone()]), decode_all);
        let waiter = std::thread::spawn(move || pending.wait());
        slot.fill(Err(ToolError::new("the call ended")));
        slot.fill(Ok(json!(1)));
        assert_eq!(
            waiter.join().unwrap(),
            Err(ToolError::new("the call ended"))
        );
    }

    #[test]
    fn a_malformed_answer_is_an_error() {
        let pending: Pending<ElicitResult> =
            Pending::new(Asked::Ready(Ok(vec![json!({"action": 5})])), decode_one);
        let error = pending.wait().unwrap_err();
        assert!(error
            .message()
            .starts_with("the client's answer is malformed"));
    }
}
