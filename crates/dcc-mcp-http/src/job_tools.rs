//! The built-in job tools (`jobs.list`, `jobs.get`, `jobs.cancel`) as `tools/call` targets.
//!
//! Part of the MCP service: it maps a call's arguments onto the job manager of the domain and the
//! answer onto a tool result. Compiled only with the `workflow` feature (gated at the `mod` line).

use std::sync::Arc;

use serde_json::{json, Value};

use crate::session::Session;
use crate::state::AppState;
use dcc_mcp_protocol::reserved;
use dcc_mcp_protocol::tools::{error_result, value_result};

/// Serve a built-in job tool (`jobs.list`, `jobs.get`, `jobs.cancel`) of `session`.
pub(crate) fn call(
    state: &AppState,
    session: &Arc<Session>,
    name: &str,
    arguments: &Value,
) -> Value {
    if name == reserved::JOBS_LIST {
        let list = state.jobs.list_of(session);
        return value_result(json!({ "jobs": list }));
    }
    let Some(id) = arguments.get("jobId").and_then(Value::as_str) else {
        return error_result(&format!("{name} needs a string argument \"jobId\""));
    };
    match state
        .jobs
        .get_of(session, id, name == reserved::JOBS_CANCEL)
    {
        Some(job) => value_result(job),
        None => error_result(&format!(
            "unknown job id {id:?} (jobs are visible only to the session that started them, \
             and finished jobs are forgotten past max_finished_jobs or max_finished_job_bytes)"
        )),
    }
}
