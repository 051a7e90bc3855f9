//! Client cancellation of in-flight requests (`notifications/cancelled`).
//!
//! MCP lets a client cancel a request it no longer waits for. A cancellation for the id of a running
//! synchronous `tools/call` of the session cancels it through the session's in-flight registry (see
//! [`crate::inflight`]); with the `workflow` feature, when no such call runs, the job started by the
//! latest request of the session with that id is cancelled as `jobs.cancel` would. An id names one
//! call of one session: a running call (ids of in-flight requests are unique) or else the latest job,
//! never older jobs that reused the id nor calls of another session. The notification itself is always answered `202`: a notification gets no
//! response, so unknown or finished ids are ignored, as the spec allows.

use serde_json::Value;

use crate::session::Session;
use crate::state::AppState;
use dcc_mcp_protocol::jsonrpc::{is_valid_id, request_key};

/// Handle a `notifications/cancelled` of `session`: cancel the running call, and (with `workflow`)
/// the jobs, started by `params.requestId`. Malformed params are ignored.
pub(crate) fn handle(state: &AppState, session: &Session, params: Option<&Value>) {
    let Some(id) = params
        .and_then(|params| params.get("requestId"))
        .filter(|id| is_valid_id(id))
    else {
        tracing::debug!(session = %session.id(), "notifications/cancelled without a valid requestId; ignored");
        return;
    };
    let key = request_key(id);
    let call = session.in_flight().cancel(&key);
    #[cfg(feature = "workflow")]
    let job = !call && state.jobs.cancel_request(session, &key);
    #[cfg(not(feature = "workflow"))]
    let job = {
        let _ = state;
        false
    };
    tracing::debug!(session = %session.id(), request = %key, call, job, "client cancelled a request");
}
