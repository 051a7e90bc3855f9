//! The session's `GET` SSE stream: what the server sends outside any request's response
//! (progress of long calls, log messages, list changes, and its own requests).
//!
//! [`open`] makes the first `GET` and returns once the server accepted it (so a caller that
//! connects and then starts a call is sure to see that call's progress); a task then reads the
//! stream and routes every message through [`Inner::deliver`]. When the stream ends while the
//! client is open, the task opens it again after `stream_retry` (or the server's `retry:`), sending
//! `Last-Event-ID` when the server numbered its events. It stops for good when the client closes,
//! or when the server answers `404` (session gone) or `405` (no stream offered).

use std::sync::Arc;
use std::time::Duration;

use dcc_mcp_protocol::headers;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Response, StatusCode};

use crate::error::ClientError;
use crate::shared::Inner;
use crate::sse::SseParser;
use crate::transport;

/// What the first `GET` found.
pub(crate) enum Opened {
    /// The stream is open and being read.
    Reading(tokio::task::JoinHandle<()>),
    /// The server offers no stream (`405`).
    NotOffered,
}

/// `GET` the stream once; `Ok(None)` for `405`.
async fn get(
    inner: &Arc<Inner>,
    last_event_id: Option<&str>,
) -> Result<Option<Response<Incoming>>, ClientError> {
    let mut headers = inner.request_headers("GET", None);
    if let Some(value) = last_event_id.and_then(|id| HeaderValue::from_str(id).ok()) {
        headers.push((
            HeaderName::from_static(headers::LAST_EVENT_ID_HEADER),
            value,
        ));
    }
    let response = inner.transport.get_stream(&headers).await?;
    let status = response.status();
    if status == StatusCode::METHOD_NOT_ALLOWED {
        return Ok(None);
    }
    if !status.is_success() {
        let retry_after = transport::retry_after(&response);
        let body = inner.transport.read_body(response.into_body()).await?;
        let session = inner.session_id();
        return Err(transport::status_error(
            status,
            retry_after,
            &body,
            session.as_deref(),
        ));
    }
    if transport::body_kind(&response)? != transport::BodyKind::EventStream {
        return Err(ClientError::Protocol(format!(
            "GET answered HTTP {status} without Content-Type: text/event-stream"
        )));
    }
    Ok(Some(response))
}

/// Open the stream and start reading it.
pub(crate) async fn open(inner: &Arc<Inner>) -> Result<Opened, ClientError> {
    let Some(response) = get(inner, None).await? else {
        return Ok(Opened::NotOffered);
    };
    let task = tokio::spawn(run(Arc::clone(inner), response));
    Ok(Opened::Reading(task))
}

/// Read, and re-open, until the client closes or the server ends the session.
async fn run(inner: Arc<Inner>, first: Response<Incoming>) {
    let mut body = first.into_body();
    let mut last_event_id: Option<String> = None;
    let mut retry = inner.config.stream_retry;
    loop {
        read(&inner, body, &mut last_event_id, &mut retry).await;
        body = loop {
            tokio::select! {
                () = tokio::time::sleep(retry) => {}
                () = inner.closing.cancelled() => return,
            }
            match get(&inner, last_event_id.as_deref()).await {
                Ok(Some(response)) => break response.into_body(),
                Ok(None) => return,
                Err(ClientError::SessionNotFound { .. }) => {
                    tracing::debug!("the session ended; the GET stream stops");
                    return;
                }
                Err(error) => tracing::debug!(%error, "re-opening the GET stream failed; retrying"),
            }
        };
    }
}

/// Route the events of one stream body until it ends.
async fn read(
    inner: &Arc<Inner>,
    mut body: Incoming,
    last_event_id: &mut Option<String>,
    retry: &mut Duration,
) {
    let mut parser = SseParser::new();
    loop {
        let frame = tokio::select! {
            frame = body.frame() => frame,
            () = inner.closing.cancelled() => return,
        };
        let Some(Ok(frame)) = frame else { return };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        for event in parser.push(&data) {
            if let Some(id) = event.id {
                *last_event_id = Some(id);
            }
            if let Some(ms) = event.retry_ms {
                *retry = Duration::from_millis(ms);
            }
            if event.event != "message" || event.data.trim().is_empty() {
                continue;
            }
            match serde_json::from_str(&event.data) {
                Ok(message) => inner.deliver(message),
                Err(error) => tracing::debug!(%error, "a stream event that is not JSON; dropped"),
            }
        }
    }
}
