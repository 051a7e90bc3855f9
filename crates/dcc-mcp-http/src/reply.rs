//! Writing JSON-RPC replies to bytes within the response budget, for both eras' `/mcp` handlers.
//!
//! Responses are written straight to bytes (`serde_json::to_writer`, no second tree or string) and
//! held to a byte budget while they are written: serialization stops at the budget, so an oversized
//! reply is never held whole.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// `value` as JSON, or `None` as soon as it would pass `limit` bytes: the writer refuses the write
/// that crosses the budget, so an oversized reply is never held whole.
pub(crate) fn to_vec_within(value: &Value, limit: usize) -> Option<Vec<u8>> {
    struct Bounded {
        bytes: Vec<u8>,
        limit: usize,
    }
    impl std::io::Write for Bounded {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            if self.bytes.len() + data.len() > self.limit {
                return Err(std::io::Error::other("over the response budget"));
            }
            self.bytes.extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut writer = Bounded {
        bytes: Vec::with_capacity(256.min(limit)),
        limit,
    };
    serde_json::to_writer(&mut writer, value).ok()?;
    Some(writer.bytes)
}

/// `status` with `body`, a serialized JSON value.
pub(crate) fn json_body(status: StatusCode, body: Vec<u8>) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        Body::from(body),
    )
        .into_response()
}
