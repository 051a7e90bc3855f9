//! A panic in the server's own request handling becomes a `500` JSON-RPC "Internal error" response.
//!
//! Tool handlers already run under `spawn_blocking`, where a panic becomes an `isError` result. A
//! panic anywhere else on the request path (routing, the `/mcp` or `/metrics` handlers) would
//! unwind the connection task: hyper drops that connection and the client sees a reset with no
//! answer. tower-http's `CatchPanicLayer` wraps the whole router instead, so the client gets a
//! well-formed JSON-RPC error (`-32603`, no internal details: the panic message goes to the log
//! only), the connection stays usable, and the server keeps serving. Every shared structure uses
//! poison-tolerant locks, so state a panic left behind stays usable too.

use std::any::Any;

use axum::body::Body;
use axum::http::{header, HeaderValue, Response, StatusCode};
use tower_http::catch_panic::CatchPanicLayer;

use dcc_mcp_protocol::codes;
use dcc_mcp_protocol::jsonrpc as protocol;

/// The message of the `500` body; deliberately generic.
pub(crate) const INTERNAL_ERROR_MESSAGE: &str = "Internal error";

/// The response handler of [`layer`].
type PanicHandler = fn(Box<dyn Any + Send + 'static>) -> Response<Body>;

/// The layer that turns a panic while handling a request into [`panic_response`].
pub(crate) fn layer() -> CatchPanicLayer<PanicHandler> {
    CatchPanicLayer::custom(panic_response as PanicHandler)
}

/// Log the panic, and answer `500` with `{"jsonrpc":"2.0","id":null,"error":{"code":-32603,…}}`.
fn panic_response(payload: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let detail = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("non-string panic payload");
    tracing::error!(panic = detail, "request handler panicked; answered 500");
    let body = protocol::error(
        serde_json::Value::Null,
        codes::INTERNAL_ERROR,
        INTERNAL_ERROR_MESSAGE,
    );
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Path of the route that panics on purpose; it exists only in this crate's unit tests, so the
/// tests exercise the layer exactly as [`build_router`](crate::app::build_router) installs it.
#[cfg(test)]
pub(crate) const TEST_PANIC_PATH: &str = "/__test/panic";

/// Add the panicking test route (unit tests only).
#[cfg(test)]
pub(crate) fn with_test_route<S: Clone + Send + Sync + 'static>(
    router: axum::Router<S>,
) -> axum::Router<S> {
    async fn panics() -> StatusCode {
        panic!("secret internal detail")
    }
    router.route(TEST_PANIC_PATH, axum::routing::get(panics))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    use axum::http::Request;
    use http_body_util::BodyExt;
    use serde_json::{json, Value};
    use tower::ServiceExt;

    use super::*;
    use crate::{McpHttpConfig, McpHttpServer, ToolRegistry};

    const EXPECTED_BODY: &str =
        r#"{"error":{"code":-32603,"message":"Internal error"},"id":null,"jsonrpc":"2.0"}"#;

    fn server() -> McpHttpServer {
        McpHttpServer::new(
            ToolRegistry::new(),
            McpHttpConfig {
                port: 0,
                ..Default::default()
            },
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_panicking_route_of_the_real_router_answers_500_json_rpc() {
        let router = server().router();
        let response = router
            .clone()
            .oneshot(Request::get(TEST_PANIC_PATH).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = std::str::from_utf8(&bytes).unwrap();
        assert_eq!(text, EXPECTED_BODY);
        assert!(!text.contains("secret"));

        // The same router keeps serving.
        let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18"}});
        let response = router
            .oneshot(
                Request::post("/mcp")
                    .header("content-type", "application/json")
                    .body(Body::from(initialize.to_string()))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    /// Reads one `content-length` response from a keep-alive connection: (status, head, body).
    fn read_response(stream: &mut TcpStream) -> (u16, String, String) {
        let mut buffer = Vec::new();
        let mut byte = [0u8; 1];
        while !buffer.ends_with(b"\r\n\r\n") {
            assert_eq!(stream.read(&mut byte).unwrap(), 1, "connection closed");
            buffer.push(byte[0]);
        }
        let head = String::from_utf8(buffer).unwrap();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length: "))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let mut body = vec![0u8; length];
        stream.read_exact(&mut body).unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, head, String::from_utf8(body).unwrap())
    }

    #[test]
    fn the_connection_survives_a_panic_over_a_real_socket() {
        let server = server();
        let handle = server.start().unwrap();
        let mut stream = TcpStream::connect(handle.local_addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let host = handle.bind_addr();

        let panic_request = format!("GET {TEST_PANIC_PATH} HTTP/1.1\r\nhost: {host}\r\n\r\n");
        stream.write_all(panic_request.as_bytes()).unwrap();
        let (status, head, body) = read_response(&mut stream);
        assert_eq!(status, 500);
        assert!(head.contains("content-type: application/json"), "{head}");
        assert_eq!(body, EXPECTED_BODY);

        // Same keep-alive connection: the server answers the next request normally.
        let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18"}})
        .to_string();
        let request = format!(
            "POST /mcp HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n\
             content-length: {}\r\n\r\n{initialize}",
            initialize.len()
        );
        stream.write_all(request.as_bytes()).unwrap();
        let (status, _head, body) = read_response(&mut stream);
        assert_eq!(status, 200);
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["result"]["protocolVersion"], "2025-06-18");
        handle.shutdown().unwrap();
    }
}
