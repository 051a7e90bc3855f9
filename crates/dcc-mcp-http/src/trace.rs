//! The W3C trace context of the request being served, for the exemplar of its tool call.
//!
//! Why a task-local: the trace id comes from the transport (the `traceparent` HTTP header of the
//! `POST /mcp` that carried the call) but is used by the `tools/call` record point several layers
//! down; scoping it around the request's future reaches the record point without threading a
//! parameter through every dispatcher. A `traceparent` in the call's `_meta` (MCP 2026-07-28) is
//! read where the params are parsed and passed explicitly to [`crate::record::Recorder::tool_call_traced`],
//! taking precedence over the header.

use axum::http::HeaderMap;
use dcc_mcp_telemetry::TraceId;
use std::future::Future;

tokio::task_local! {
    static TRACE: Option<TraceId>;
}

/// The trace id of the request's `traceparent` header, if it has a valid one.
pub(crate) fn from_headers(headers: &HeaderMap) -> Option<TraceId> {
    headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(TraceId::from_traceparent)
}

/// Runs `f` with `trace` as the current request's trace id.
pub(crate) async fn scope<F: Future>(trace: Option<TraceId>, f: F) -> F::Output {
    TRACE.scope(trace, f).await
}

/// The current request's trace id (`None` outside [`scope`] or without a valid header).
pub(crate) fn current() -> Option<TraceId> {
    TRACE.try_with(|t| *t).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_header_trace_is_current_inside_the_scope_only() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "traceparent",
            axum::http::HeaderValue::from_static(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
        );
        let id = from_headers(&headers);
        assert_eq!(
            id.map(|t| t.to_string()).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(scope(id, async { current() }).await, id);
        assert_eq!(current(), None);
        assert_eq!(from_headers(&HeaderMap::new()), None);
    }
}
