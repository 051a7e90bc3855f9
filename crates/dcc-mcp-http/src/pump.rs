//! One request's messages, then its response: the loop behind every SSE answer to a `POST`.
//!
//! A request that may speak while it runs (a `tools/call`, a `prompts/get` that asks) is given a
//! store-less scope session; its handler queues notifications and server→client requests there.
//! A [`Pump`] hands them out in the order they were queued while the call runs, then the call's
//! response, then nothing. The session-era in-band answer ([`crate::inband`]) and the stateless
//! streamed `tools/call` ([`crate::stateless_http`]) both drive it, so the order and the wake-up
//! rules exist once: a message queued before the response always goes out before it.
//!
//! The scope ends (its outbox closes, its running calls learn nobody waits) when the pump is
//! dropped: when the answer's stream ends or its client goes away.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;

use crate::session::{Next, Session};

/// A request running on its scope; it resolves to the JSON-RPC response.
pub(crate) type CallFuture = Pin<Box<dyn Future<Output = Value> + Send>>;

/// What the answer sends next.
#[derive(Debug, PartialEq)]
pub(crate) enum Step {
    /// A message the handler queued (serialized JSON-RPC).
    Message(String),
    /// The handler asked to close the answer's stream before its response
    /// ([`crate::ToolContext::close_stream`]); the call goes on.
    Close,
    /// The call's JSON-RPC response: the last step.
    Response(Value),
}

/// A call and the messages it queues on its scope.
pub(crate) struct Pump {
    call: Option<CallFuture>,
    /// The response, held until the messages queued before it are handed out.
    done: Option<Value>,
    scope: Arc<Session>,
    generation: u64,
}

impl Drop for Pump {
    fn drop(&mut self) {
        self.scope.end();
    }
}

impl Pump {
    /// Pump `call`, whose messages are queued on `scope` (the pump drains the scope from now on).
    pub(crate) fn new(scope: Arc<Session>, call: CallFuture) -> Self {
        let generation = scope.attach_stream();
        Self {
            call: Some(call),
            done: None,
            scope,
            generation,
        }
    }

    /// The next step: queued messages in order (a close request in its place among them), then the
    /// response; `None` once the response was handed out. Waiting here is what runs the call.
    pub(crate) async fn next(&mut self) -> Option<Step> {
        loop {
            let scope = Arc::clone(&self.scope);
            // Created before looking, so a message queued in between still wakes the wait.
            let changed = scope.changed();
            // A close request waits for the messages queued before it (and only those).
            if scope.take_close_request() {
                return Some(Step::Close);
            }
            if let Next::Send(message) = scope.next_for(self.generation) {
                return Some(Step::Message(message));
            }
            if let Some(response) = self.done.take() {
                return Some(Step::Response(response));
            }
            // The call is gone only once its response was handed out (just above).
            let call = self.call.as_mut()?;
            tokio::select! {
                () = changed => {}
                response = call => {
                    self.call = None;
                    self.done = Some(response);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::record::Recorder;
    use crate::session::SessionStore;
    use serde_json::json;
    use std::time::Duration;

    fn scope() -> Arc<Session> {
        SessionStore::new(Duration::from_secs(60), 4, 4, Recorder::new()).ephemeral("2025-11-25")
    }

    #[tokio::test]
    async fn messages_queued_before_the_response_come_first_then_the_end() {
        let scope = scope();
        let queued = Arc::clone(&scope);
        let call: CallFuture = Box::pin(async move {
            queued.notify("notifications/message", json!({"n": 1}));
            tokio::task::yield_now().await;
            queued.notify("notifications/message", json!({"n": 2}));
            json!({"jsonrpc": "2.0", "id": 7, "result": {}})
        });
        let mut pump = Pump::new(scope, call);
        let mut steps = Vec::new();
        while let Some(step) = pump.next().await {
            steps.push(step);
        }
        assert_eq!(steps.len(), 3);
        let texts: Vec<Value> = steps[..2]
            .iter()
            .map(|step| match step {
                Step::Message(text) => serde_json::from_str(text).unwrap(),
                other => panic!("not a message: {other:?}"),
            })
            .collect();
        assert_eq!(texts[0]["params"]["n"], 1);
        assert_eq!(texts[1]["params"]["n"], 2);
        assert_eq!(
            steps[2],
            Step::Response(json!({"jsonrpc": "2.0", "id": 7, "result": {}}))
        );
    }

    #[tokio::test]
    async fn a_close_request_takes_its_place_among_the_messages_and_comes_once() {
        let scope = scope();
        scope.make_resumable();
        let asking = Arc::clone(&scope);
        let call: CallFuture = Box::pin(async move {
            asking.notify("before", json!({}));
            assert!(asking.request_close());
            asking.notify("after", json!({}));
            json!({"jsonrpc": "2.0", "id": 1, "result": {}})
        });
        let mut pump = Pump::new(scope, call);
        let method = |step: Option<Step>| match step {
            Some(Step::Message(text)) => serde_json::from_str::<Value>(&text).unwrap()["method"]
                .as_str()
                .unwrap()
                .to_owned(),
            other => panic!("not a message: {other:?}"),
        };
        assert_eq!(method(pump.next().await), "before");
        assert_eq!(pump.next().await, Some(Step::Close));
        assert_eq!(method(pump.next().await), "after");
        assert!(matches!(pump.next().await, Some(Step::Response(_))));
        assert_eq!(pump.next().await, None);
    }

    #[tokio::test]
    async fn a_scope_that_cannot_resume_refuses_to_close() {
        let scope = scope();
        assert!(!scope.request_close());
        let call: CallFuture = Box::pin(async { json!(null) });
        let mut pump = Pump::new(scope, call);
        assert_eq!(pump.next().await, Some(Step::Response(json!(null))));
        assert_eq!(pump.next().await, None);
    }
}
