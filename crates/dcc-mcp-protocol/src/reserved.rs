//! Names the server keeps for itself: the built-in job tools and the label of unknown tools.
//!
//! They are protocol-level because both sides depend on them: a client calls `jobs.get` by name, and
//! a registry refuses a tool that would shadow one.

/// The tool label of calls naming no registered tool (`dcc_mcp_tool_calls_total{tool="<unknown>"}`);
/// reserved so that no tool's series merge with it.
pub const UNKNOWN_TOOL_NAME: &str = "<unknown>";

/// Prefix of the server's built-in job tools; reserved so a registered tool cannot shadow one.
pub const JOB_TOOL_PREFIX: &str = "jobs.";

/// `jobs.cancel {"jobId"}`: cancel a queued or running job of the session.
pub const JOBS_CANCEL: &str = "jobs.cancel";
/// `jobs.get {"jobId"}`: one job of the session, result included.
pub const JOBS_GET: &str = "jobs.get";
/// `jobs.list {}`: the session's jobs, results left out.
pub const JOBS_LIST: &str = "jobs.list";

/// The built-in job tools, sorted by name.
pub const JOB_TOOL_NAMES: [&str; 3] = [JOBS_CANCEL, JOBS_GET, JOBS_LIST];

/// Why `name` may not be registered as a tool, or `None` when it may.
pub fn reserved_reason(name: &str) -> Option<&'static str> {
    if name == UNKNOWN_TOOL_NAME {
        Some("it is the metrics label of calls to unknown tools")
    } else if name.starts_with(JOB_TOOL_PREFIX) {
        Some("the `jobs.` prefix belongs to the built-in job tools")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_names() {
        assert!(reserved_reason("<unknown>").is_some());
        assert!(reserved_reason("jobs.anything").is_some());
        assert!(JOB_TOOL_NAMES
            .iter()
            .all(|name| reserved_reason(name).is_some()));
        assert_eq!(reserved_reason("jobs"), None);
        assert_eq!(reserved_reason("echo"), None);
        let mut sorted = JOB_TOOL_NAMES;
        sorted.sort_unstable();
        assert_eq!(sorted, JOB_TOOL_NAMES);
    }
}
