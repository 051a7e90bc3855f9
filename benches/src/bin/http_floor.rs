//! `http-floor`: the cheapest server that still does the work of an MCP `tools/call echo`, so the
//! end-to-end benchmark can say how far `dcc-mcp-server` is from what the machine needs.
//!
//! It runs hyper's HTTP/1.1 connection on the runtime `dcc-mcp-server` uses (a multi-thread tokio
//! runtime with the default worker count, i.e. one per core, keep-alive on, `TCP_NODELAY`, hyper's
//! header-read timer), reads the whole request body, parses it as a JSON-RPC request with
//! `serde_json`, and writes an MCP-shaped reply with `serde_json`:
//!
//! - `initialize` gets a result and an `Mcp-Session-Id` (the same id for everyone: nothing is kept);
//! - a notification (no `id`) gets `202 Accepted`;
//! - `tools/call` answers `{"content":[{"type":"text","text":<arguments.text>}],"isError":false}`,
//!   the reply `dcc-mcp-server --demo-tools` gives for `echo`;
//! - anything else gets a JSON-RPC error.
//!
//! There is no session table, no origin check, no registry, no schema validation and no metrics:
//! the difference between this and our server is what those cost. `scripts/bench.sh` runs it in the
//! same rounds as our server, driven by the same `loadgen`, and reports the ratio of CPU per call.
//!
//! ```text
//! http-floor --port 18765
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{header, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Command-line options.
#[derive(Debug, Parser)]
#[command(
    name = "http-floor",
    about = "hyper + serde_json floor of an MCP tools/call"
)]
struct Args {
    /// Interface to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// TCP port.
    #[arg(long, default_value_t = 18765)]
    port: u16,
    /// Tokio worker threads (0: tokio's default, one per core, as `dcc-mcp-server` uses).
    #[arg(long, default_value_t = 0)]
    workers: usize,
}

/// The fixed session id handed out on `initialize`.
const SESSION_ID: &str = "00000000000000000000000000000001";

/// An incoming JSON-RPC message. `id` stays raw (it is echoed back as it came).
#[derive(Deserialize)]
struct RpcRequest<'a> {
    jsonrpc: &'a str,
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    method: &'a str,
    #[serde(default)]
    params: Option<CallParams>,
}

/// The parameters of a `tools/call` (other methods' parameters parse into the same shape: every
/// field is optional).
#[derive(Deserialize, Default)]
struct CallParams {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A JSON-RPC success.
#[derive(Serialize)]
struct RpcResult<'a, R> {
    jsonrpc: &'static str,
    id: &'a RawValue,
    result: R,
}

/// A JSON-RPC error.
#[derive(Serialize)]
struct RpcFailure<'a> {
    jsonrpc: &'static str,
    id: Option<&'a RawValue>,
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: i64,
    message: &'a str,
}

/// A `CallToolResult` with one text item.
#[derive(Serialize)]
struct CallResult<'a> {
    content: [TextContent<'a>; 1],
    #[serde(rename = "isError")]
    is_error: bool,
}

#[derive(Serialize)]
struct TextContent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: &'a str,
}

/// The `initialize` result.
#[derive(Serialize)]
struct InitializeResult<'a> {
    #[serde(rename = "protocolVersion")]
    protocol_version: &'a str,
    capabilities: serde_json::Value,
    #[serde(rename = "serverInfo")]
    server_info: ServerInfo,
}

#[derive(Serialize)]
struct ServerInfo {
    name: &'static str,
    version: &'static str,
}

fn respond(status: StatusCode, body: Vec<u8>, session: bool) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if status != StatusCode::ACCEPTED {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        );
    }
    if session {
        response.headers_mut().insert(
            "mcp-session-id",
            header::HeaderValue::from_static(SESSION_ID),
        );
    }
    response
}

fn failure(id: Option<&RawValue>, code: i64, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::to_vec(&RpcFailure {
        jsonrpc: "2.0",
        id,
        error: ErrorBody { code, message },
    })
    .unwrap_or_default();
    respond(StatusCode::OK, body, false)
}

/// One JSON-RPC message in, one reply out.
fn answer(body: &[u8]) -> Response<Full<Bytes>> {
    let request: RpcRequest<'_> = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(_) => return failure(None, -32700, "Parse error"),
    };
    if request.jsonrpc != "2.0" {
        return failure(request.id, -32600, "\"jsonrpc\" must be \"2.0\"");
    }
    let Some(id) = request.id else {
        return respond(StatusCode::ACCEPTED, Vec::new(), false);
    };
    let params = request.params.unwrap_or_default();
    let (body, session) = match request.method {
        "tools/call" => {
            let text = params
                .arguments
                .as_ref()
                .and_then(|arguments| arguments.get("text"))
                .and_then(serde_json::Value::as_str);
            let (Some("echo"), Some(text)) = (params.name.as_deref(), text) else {
                return failure(Some(id), -32602, "only echo with a text argument");
            };
            let result = CallResult {
                content: [TextContent { kind: "text", text }],
                is_error: false,
            };
            (
                serde_json::to_vec(&RpcResult {
                    jsonrpc: "2.0",
                    id,
                    result,
                }),
                false,
            )
        }
        "initialize" => {
            let result = InitializeResult {
                protocol_version: "2025-06-18",
                capabilities: serde_json::json!({"tools": {"listChanged": false}}),
                server_info: ServerInfo {
                    name: "http-floor",
                    version: env!("CARGO_PKG_VERSION"),
                },
            };
            (
                serde_json::to_vec(&RpcResult {
                    jsonrpc: "2.0",
                    id,
                    result,
                }),
                true,
            )
        }
        _ => return failure(Some(id), -32601, "Method not found"),
    };
    match body {
        Ok(body) => respond(StatusCode::OK, body, session),
        Err(_) => failure(Some(id), -32603, "Internal error"),
    }
}

async fn handle(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match request.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Ok(respond(StatusCode::BAD_REQUEST, Vec::new(), false)),
    };
    Ok(answer(&body))
}

async fn serve(addr: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .keep_alive(true);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let connection = builder.serve_connection(TokioIo::new(stream), service_fn(handle));
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if args.workers > 0 {
        runtime.worker_threads(args.workers);
    }
    let addr = match format!("{}:{}", args.host, args.port).parse::<SocketAddr>() {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("http-floor: bad address: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.build().and_then(|rt| rt.block_on(serve(addr))) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("http-floor: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(response: Response<Full<Bytes>>) -> (StatusCode, String) {
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn echo_is_answered_like_the_demo_server() {
        let (status, body) = body_of(answer(
            br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}"#,
        ))
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            r#"{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"hello"}],"isError":false}}"#
        );
    }

    #[tokio::test]
    async fn initialize_notifications_and_errors() {
        let response = answer(br#"{"jsonrpc":"2.0","id":"a","method":"initialize","params":{}}"#);
        assert_eq!(response.headers()["mcp-session-id"], SESSION_ID);
        let (_, body) = body_of(response).await;
        assert!(
            body.starts_with(
                r#"{"jsonrpc":"2.0","id":"a","result":{"protocolVersion":"2025-06-18""#
            ),
            "{body}"
        );
        let (status, body) = body_of(answer(
            br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        ))
        .await;
        assert_eq!((status, body.as_str()), (StatusCode::ACCEPTED, ""));
        let (_, body) = body_of(answer(b"{nope")).await;
        assert_eq!(
            body,
            r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}"#
        );
        let (_, body) = body_of(answer(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)).await;
        assert_eq!(
            body,
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found"}}"#
        );
    }
}
