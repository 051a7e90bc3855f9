//! SSE framing written by hand, for the streams that need a field order axum's `Event` cannot
//! write: the 2025-11-25 priming event is an event id with an *empty* `data:` line (so a client
//! parser dispatches it and remembers its id), which `Event::data("")` leaves out.
//!
//! The frames are byte for byte what axum writes for the same fields (`event: message`, `id:`,
//! `data:` lines, `retry:`), and the body sends the same keep-alive comment after the same quiet
//! interval, with the same `Content-Type` and `Cache-Control` headers.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream, StreamExt};

/// Interval of SSE keep-alive comments (reset by every frame).
pub(crate) const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The keep-alive comment axum sends (`Event::DEFAULT_KEEP_ALIVE`).
const KEEP_ALIVE_FRAME: &[u8] = b":\n\n";

/// A `message` event carrying `data` (JSON-RPC text), with an event id when given.
pub(crate) fn message(id: Option<&str>, data: &str) -> Bytes {
    let mut frame = String::with_capacity(data.len() + 40);
    frame.push_str("event: message\n");
    if let Some(id) = id {
        frame.push_str("id: ");
        frame.push_str(id);
        frame.push('\n');
    }
    // JSON text has no raw line breaks; should one come, it is split like axum splits it.
    for line in data.split(['\n', '\r']) {
        frame.push_str("data: ");
        frame.push_str(line);
        frame.push('\n');
    }
    frame.push('\n');
    Bytes::from(frame)
}

/// The priming event: the id to resume from, the reconnect delay, and empty data.
pub(crate) fn priming(id: &str, retry: Duration) -> Bytes {
    Bytes::from(format!(
        "id: {id}\nretry: {}\ndata: \n\n",
        retry.as_millis()
    ))
}

/// Only the reconnect delay: sent right before the server closes a stream it did not finish.
pub(crate) fn retry(retry: Duration) -> Bytes {
    Bytes::from(format!("retry: {}\n\n", retry.as_millis()))
}

/// A `text/event-stream` response sending `frames`, with a keep-alive comment after each quiet
/// [`KEEP_ALIVE`]; it ends when `frames` ends.
pub(crate) fn response<S>(frames: S) -> Response
where
    S: Stream<Item = Bytes> + Send + 'static,
{
    let frames = Box::pin(frames);
    let body = stream::unfold(frames, |mut frames| async move {
        tokio::select! {
            frame = frames.next() => frame.map(|frame| (Ok::<_, Infallible>(frame), frames)),
            () = tokio::time::sleep(KEEP_ALIVE) => {
                Some((Ok(Bytes::from_static(KEEP_ALIVE_FRAME)), frames))
            }
        }
    });
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use axum::response::sse::{Event, Sse};

    async fn axum_bytes(event: Event) -> Bytes {
        let response = Sse::new(stream::iter([Ok::<_, Infallible>(event)])).into_response();
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn message_frames_are_what_axum_writes_for_the_same_fields() {
        let plain = Event::default().event("message").data(r#"{"a":1}"#);
        assert_eq!(message(None, r#"{"a":1}"#), axum_bytes(plain).await);
        let numbered = Event::default().event("message").id("p1-2").data("{}");
        assert_eq!(message(Some("p1-2"), "{}"), axum_bytes(numbered).await);
        let delay = Event::default().retry(Duration::from_millis(250));
        assert_eq!(retry(Duration::from_millis(250)), axum_bytes(delay).await);
        assert_eq!(
            KEEP_ALIVE_FRAME,
            axum_bytes(Event::DEFAULT_KEEP_ALIVE).await
        );
    }

    #[test]
    fn the_priming_event_has_an_empty_data_line() {
        assert_eq!(
            &priming("p1-0", Duration::from_secs(1))[..],
            b"id: p1-0\nretry: 1000\ndata: \n\n"
        );
    }

    #[tokio::test]
    async fn the_body_sends_the_frames_then_ends() {
        let frames = stream::iter([message(None, "1"), message(None, "2")]);
        let response = response(frames);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/event-stream"
        );
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-cache");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(
            &body[..],
            b"event: message\ndata: 1\n\nevent: message\ndata: 2\n\n"
        );
    }
}
