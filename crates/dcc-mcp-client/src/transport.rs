//! The HTTP side: one hyper-util legacy `Client` (pooled keep-alive HTTP/1.1 connections, `TCP_NODELAY`)
//! and the three exchanges of Streamable HTTP on one endpoint: `POST` a message, `GET` the stream,
//! `DELETE` the session.
//!
//! This module knows headers and bodies, not JSON-RPC: it hands back the response head and body,
//! reads a JSON body within the size limit, and turns a non-success status into a
//! [`ClientError`] that carries the server's explanation.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use dcc_mcp_protocol::RpcError;

use crate::config::ClientConfig;
use crate::error::ClientError;

/// What a `POST` accepts: a JSON body or an SSE stream.
const ACCEPT_POST: &str = "application/json, text/event-stream";

/// How a response body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyKind {
    /// `application/json`: one JSON-RPC message (or a batch).
    Json,
    /// `text/event-stream`: messages as SSE events.
    EventStream,
    /// No body (`202 Accepted`, `204 No Content`) or an empty one.
    Empty,
}

/// The pooled HTTP client bound to one endpoint.
#[derive(Clone)]
pub(crate) struct Transport {
    client: Client<HttpConnector, Full<Bytes>>,
    uri: Uri,
    extra: Vec<(HeaderName, HeaderValue)>,
    max_body: usize,
}

impl Transport {
    /// A transport for `config.url` (only `http://`: TLS belongs to a proxy in front of the DCC host).
    pub(crate) fn new(config: &ClientConfig) -> Result<Self, ClientError> {
        let invalid = |reason: &str| ClientError::InvalidUrl {
            url: config.url.clone(),
            reason: reason.to_owned(),
        };
        let uri: Uri = config
            .url
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| invalid(&e.to_string()))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => {
                return Err(invalid(&format!(
                    "scheme {other:?} is not supported; use http://"
                )))
            }
            None => return Err(invalid("no scheme; use http://host:port/mcp")),
        }
        if uri.host().is_none() {
            return Err(invalid("no host"));
        }
        let mut extra = Vec::with_capacity(config.headers.len());
        for (name, value) in &config.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| invalid(&format!("bad header name {name:?}")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| invalid(&format!("bad value for header {name}")))?;
            extra.push((name, value));
        }
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(config.connect_timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(config.pool_idle_timeout)
            .pool_max_idle_per_host(config.pool_max_idle_per_host)
            .build(connector);
        Ok(Self {
            client,
            uri,
            extra,
            max_body: config.max_response_bytes,
        })
    }

    /// The largest body or SSE event accepted.
    pub(crate) fn max_body(&self) -> usize {
        self.max_body
    }

    fn request(
        &self,
        method: Method,
        headers: &[(HeaderName, HeaderValue)],
        body: Bytes,
    ) -> Result<Request<Full<Bytes>>, ClientError> {
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = method;
        *request.uri_mut() = self.uri.clone();
        let map = request.headers_mut();
        for (name, value) in self.extra.iter().chain(headers) {
            map.insert(name.clone(), value.clone());
        }
        Ok(request)
    }

    /// `POST` one JSON-RPC message (or batch) with `headers`; the response as it arrives.
    pub(crate) async fn post(
        &self,
        headers: &[(HeaderName, HeaderValue)],
        body: Bytes,
    ) -> Result<Response<Incoming>, ClientError> {
        let mut request = self.request(Method::POST, headers, body)?;
        let map = request.headers_mut();
        map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        map.insert(ACCEPT, HeaderValue::from_static(ACCEPT_POST));
        self.client
            .request(request)
            .await
            .map_err(ClientError::Connection)
    }

    /// `GET` the endpoint's SSE stream.
    pub(crate) async fn get_stream(
        &self,
        headers: &[(HeaderName, HeaderValue)],
    ) -> Result<Response<Incoming>, ClientError> {
        let mut request = self.request(Method::GET, headers, Bytes::new())?;
        request
            .headers_mut()
            .insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
        self.client
            .request(request)
            .await
            .map_err(ClientError::Connection)
    }

    /// `DELETE` the endpoint (ends the session named in `headers`); the response with its body read.
    pub(crate) async fn delete(
        &self,
        headers: &[(HeaderName, HeaderValue)],
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let request = self.request(Method::DELETE, headers, Bytes::new())?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(ClientError::Connection)?;
        let status = response.status();
        let body = self.read_body(response.into_body()).await?;
        Ok((status, body))
    }

    /// The whole body, within [`max_body`](Self::max_body).
    pub(crate) async fn read_body(&self, body: Incoming) -> Result<Bytes, ClientError> {
        match Limited::new(body, self.max_body).collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
                Err(ClientError::ResponseTooLarge {
                    limit: self.max_body,
                })
            }
            Err(error) => match error.downcast::<hyper::Error>() {
                Ok(error) => Err(ClientError::Body(*error)),
                Err(other) => Err(ClientError::Protocol(format!(
                    "the response body failed: {other}"
                ))),
            },
        }
    }
}

/// How the body of `response` is framed (by `Content-Type`; no body for 202/204).
pub(crate) fn body_kind(response: &Response<Incoming>) -> Result<BodyKind, ClientError> {
    let status = response.status();
    if status == StatusCode::ACCEPTED || status == StatusCode::NO_CONTENT {
        return Ok(BodyKind::Empty);
    }
    let media = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|media| media.trim().to_ascii_lowercase());
    match media.as_deref() {
        Some("application/json") => Ok(BodyKind::Json),
        Some("text/event-stream") => Ok(BodyKind::EventStream),
        None => Ok(BodyKind::Empty),
        Some(other) => Err(ClientError::Protocol(format!(
            "the server answered HTTP {status} with Content-Type {other:?}; expected application/json or text/event-stream"
        ))),
    }
}

/// The error for a non-success response, from its status, `Retry-After` and body. A `404` to a
/// request that carried a session id is [`ClientError::SessionNotFound`].
pub(crate) fn status_error(
    status: StatusCode,
    retry_after: Option<u64>,
    body: &[u8],
    session_id: Option<&str>,
) -> ClientError {
    let error = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|mut value| value.get_mut("error").map(serde_json::Value::take))
        .map(RpcError::from_value);
    if status == StatusCode::NOT_FOUND {
        if let Some(session_id) = session_id {
            let message = match &error {
                Some(error) => error.message.clone(),
                None => text_excerpt(body),
            };
            return ClientError::SessionNotFound {
                session_id: session_id.to_owned(),
                message,
            };
        }
    }
    ClientError::Http {
        status: status.as_u16(),
        body: if error.is_some() {
            String::new()
        } else {
            text_excerpt(body)
        },
        error,
        retry_after,
    }
}

/// `Retry-After` in seconds, when the response has a numeric one.
pub(crate) fn retry_after(response: &Response<Incoming>) -> Option<u64> {
    response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse().ok())
}

/// The first KiB of a body as text.
fn text_excerpt(body: &[u8]) -> String {
    let cut = &body[..body.len().min(1024)];
    String::from_utf8_lossy(cut).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_with_a_host() {
        for (url, ok) in [
            ("http://127.0.0.1:8765/mcp", true),
            ("http://localhost/mcp", true),
            ("https://example.com/mcp", false),
            ("127.0.0.1:8765/mcp", false),
            ("not a url", false),
        ] {
            let result = Transport::new(&ClientConfig::new(url));
            assert_eq!(result.is_ok(), ok, "{url}");
            if let Err(error) = result {
                assert!(matches!(error, ClientError::InvalidUrl { .. }), "{error}");
            }
        }
        let bad_header = ClientConfig::new("http://h/mcp").header("bad name", "v");
        assert!(Transport::new(&bad_header).is_err());
    }

    #[test]
    fn status_errors_carry_the_servers_explanation() {
        let body =
            br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"Session not found"}}"#;
        match status_error(StatusCode::NOT_FOUND, None, body, Some("abc")) {
            ClientError::SessionNotFound {
                session_id,
                message,
            } => assert_eq!(
                (session_id.as_str(), message.as_str()),
                ("abc", "Session not found")
            ),
            other => panic!("{other}"),
        }
        let error = status_error(StatusCode::SERVICE_UNAVAILABLE, Some(5), body, None);
        assert_eq!(error.http_status(), Some(503));
        assert_eq!(error.rpc_code(), Some(-32001));
        assert!(matches!(
            error,
            ClientError::Http {
                retry_after: Some(5),
                ..
            }
        ));
        let error = status_error(StatusCode::FORBIDDEN, None, b"no", None);
        assert_eq!(error.to_string(), "the MCP server answered HTTP 403: no");
    }
}
