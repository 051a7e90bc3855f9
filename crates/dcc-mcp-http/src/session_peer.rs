//! The session era's [`ClientPeer`]: a handler's log messages and requests go on its session's
//! stream, and the client's POSTed responses resume the waiting handler.
//!
//! When the call's POST is answered as SSE ([`crate::inband`]), its log messages and requests go
//! on that response instead, before the result; the client still POSTs its answers with the
//! session's id, so they are awaited on the session.
//!
//! One peer serves one `tools/call`, or one job (a job's requests go on the session's stream, since
//! its POST was answered when the job was accepted). It remembers the requests it sent, so when the call ends —
//! answered, timed out, cancelled by the client — whatever is still unanswered is abandoned: a
//! handler blocked on it wakes with an error and the client is told with `notifications/cancelled`.

use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;

use crate::error::ToolError;
use crate::peer::{unsupported, Asked, ClientPeer, InputRequest};
use crate::record::{ClientRequestKind, ClientRequestOutcome};
use crate::session::{SendRefused, Session};
use dcc_mcp_protocol::logging::LoggingLevel;

/// A call's link to its session's client.
pub(crate) struct SessionPeer {
    session: Arc<Session>,
    /// Where the call's messages are queued: the POST's in-band stream, or the session itself.
    out: Arc<Session>,
    /// Ids of the requests this call sent.
    sent: Mutex<Vec<String>>,
}

impl SessionPeer {
    /// The peer of one call of `session` whose messages go on `out` (the POST's in-band stream).
    pub(crate) fn routed(session: Arc<Session>, out: Arc<Session>) -> Self {
        Self {
            session,
            out,
            sent: Mutex::new(Vec::new()),
        }
    }

    /// The call ended: abandon its unanswered requests with `reason`.
    pub(crate) fn finish(&self, reason: &str) {
        let sent = std::mem::take(&mut *self.sent.lock().unwrap_or_else(PoisonError::into_inner));
        for id in sent {
            self.session.abandon(&id, reason);
        }
    }
}

impl ClientPeer for SessionPeer {
    fn log(&self, level: LoggingLevel, logger: Option<&str>, data: Value) {
        self.session.log_to(&self.out, level, logger, data);
    }

    fn supports(&self, kind: ClientRequestKind) -> bool {
        self.session.client_supports(kind.capability())
    }

    fn end_call(&self, reason: &str) {
        self.finish(reason);
    }

    fn close_stream(&self) -> bool {
        self.out.request_close()
    }

    fn ask(&self, requests: Vec<InputRequest>) -> Asked {
        if let Some(missing) = requests.iter().find(|request| !self.supports(request.kind)) {
            for request in &requests {
                self.session
                    .recorder()
                    .client_request(request.kind, ClientRequestOutcome::Unsupported);
            }
            return Asked::Ready(Err(unsupported(missing.kind)));
        }
        let mut slots = Vec::with_capacity(requests.len());
        for request in requests {
            match self
                .session
                .send_request_to(&self.out, request.kind, request.params)
            {
                Ok((id, slot)) => {
                    self.sent
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(id);
                    slots.push(slot);
                }
                Err(refused) => {
                    self.finish("another request of the same batch was refused");
                    return Asked::Ready(Err(refusal(&refused)));
                }
            }
        }
        Asked::Waiting(slots)
    }
}

fn refusal(refused: &SendRefused) -> ToolError {
    match refused {
        SendRefused::TooManyPending(limit) => ToolError::new(format!(
            "too many unanswered requests to the client (max_pending_client_requests = {limit}); \
             wait for an answer before asking again"
        )),
        SendRefused::Ended => ToolError::new("the session ended"),
    }
}
