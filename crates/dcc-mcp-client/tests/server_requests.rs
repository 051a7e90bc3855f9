//! Server→client requests answered through the client's callbacks.
//!
//! `dcc-mcp-http` sends no server→client requests yet (elicitation and sampling are future work on
//! the server), so this test runs a small Streamable HTTP peer written to the spec over real
//! sockets with hyper: it answers `tools/call` with an SSE stream that first carries an
//! `elicitation/create` request, waits for the client to POST its answer, and then sends the call's
//! result, which repeats what the client answered. The assertions are on what crossed the wire.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use dcc_mcp_client::{Callbacks, ClientConfig, McpClient, RpcError};
use http_body_util::channel::Channel;
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use serde_json::{json, Value};
use tokio::sync::oneshot;

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// What the peer saw, and the waiter for the client's answer.
#[derive(Default)]
struct Peer {
    /// Every message POSTed to the peer, in order, with its `Mcp-Session-Id`.
    received: Mutex<Vec<(Option<String>, Value)>>,
    /// Completed with the client's answer to the elicitation.
    answer: Mutex<Option<oneshot::Sender<Value>>>,
}

fn full(status: u16, content_type: Option<&str>, body: String) -> Response<Body> {
    let mut builder = Response::builder().status(status);
    if let Some(content_type) = content_type {
        builder = builder.header("content-type", content_type);
    }
    builder.body(Full::new(Bytes::from(body)).boxed()).unwrap()
}

async fn serve(peer: Arc<Peer>, request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let session = request
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = request.into_body().collect().await.unwrap().to_bytes();
    if bytes.is_empty() {
        // GET (stream) and DELETE: no stream offered, sessions end silently.
        return Ok(full(405, None, String::new()));
    }
    let message: Value = serde_json::from_slice(&bytes).unwrap();
    peer.received
        .lock()
        .unwrap()
        .push((session, message.clone()));
    let id = message["id"].clone();
    match message["method"].as_str() {
        Some("initialize") => {
            let result = json!({"jsonrpc": "2.0", "id": id, "result": {
                "protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
                "serverInfo": {"name": "peer", "version": "1"}}});
            let mut response = full(200, Some("application/json"), result.to_string());
            response
                .headers_mut()
                .insert("mcp-session-id", "s-1".parse().unwrap());
            Ok(response)
        }
        Some("tools/call") => {
            let (answer_tx, answer_rx) = oneshot::channel();
            *peer.answer.lock().unwrap() = Some(answer_tx);
            let (mut events, body) = Channel::<Bytes, Infallible>::new(4);
            tokio::spawn(async move {
                let ask = json!({"jsonrpc": "2.0", "id": "elicit-1", "method": "elicitation/create",
                    "params": {"message": "Delete 1,204 keyframes?", "requestedSchema": {
                        "type": "object", "properties": {"confirm": {"type": "boolean"}}}}});
                let event = format!("event: message\ndata: {ask}\n\n");
                events.send(Frame::data(Bytes::from(event))).await.unwrap();
                let answer = answer_rx.await.unwrap();
                let result = json!({"jsonrpc": "2.0", "id": id, "result": {
                    "content": [{"type": "text", "text": answer.to_string()}], "isError": false}});
                let event = format!(": comment\n\nevent: message\ndata: {result}\n\n");
                events.send(Frame::data(Bytes::from(event))).await.unwrap();
            });
            Ok(Response::builder()
                .status(200)
                .header("content-type", "text/event-stream")
                .body(body.boxed())
                .unwrap())
        }
        _ if message.get("method").is_none() => {
            // A response to our request: hand it to the waiting call.
            if let Some(waiter) = peer.answer.lock().unwrap().take() {
                let _ = waiter.send(message);
            }
            Ok(full(202, None, String::new()))
        }
        _ => Ok(full(202, None, String::new())),
    }
}

async fn start(peer: Arc<Peer>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let peer = peer.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |r| serve(peer.clone(), r));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_elicitation_on_the_calls_sse_answer_is_answered_by_the_callback() {
    let peer = Arc::new(Peer::default());
    let url = start(peer.clone()).await;
    let asked = Arc::new(Mutex::new(None));
    let seen = asked.clone();
    let callbacks = Callbacks::new().on_elicit(move |params| {
        *seen.lock().unwrap() = Some(params);
        Box::pin(async { Ok(json!({"action": "accept", "content": {"confirm": true}})) })
    });
    let client = McpClient::connect_with(ClientConfig::new(url), callbacks);
    let client = tokio::time::timeout(Duration::from_secs(30), client)
        .await
        .unwrap()
        .unwrap();
    assert!(!client.has_stream(), "the peer answers GET with 405");
    let result = tokio::time::timeout(
        Duration::from_secs(30),
        client.call_tool("delete_keys", json!({})),
    )
    .await
    .expect("hang guard")
    .unwrap();

    // The handler saw the request's params; the client POSTed its answer under the request's id,
    // in the session; the call's result came after it on the same SSE stream.
    assert_eq!(
        asked.lock().unwrap().as_ref().unwrap()["message"],
        "Delete 1,204 keyframes?"
    );
    let answer = json!({"jsonrpc": "2.0", "id": "elicit-1",
        "result": {"action": "accept", "content": {"confirm": true}}});
    assert_eq!(result.text(), Some(answer.to_string().as_str()));
    let received = peer.received.lock().unwrap();
    let methods: Vec<Option<&str>> = received.iter().map(|(_, m)| m["method"].as_str()).collect();
    assert_eq!(
        methods,
        [
            Some("initialize"),
            Some("notifications/initialized"),
            Some("tools/call"),
            None
        ]
    );
    // The client declared the capability it has a callback for.
    assert_eq!(
        received[0].1["params"]["capabilities"],
        json!({"elicitation": {}})
    );
    assert_eq!(received[0].0, None);
    assert!(received[1..]
        .iter()
        .all(|(s, _)| s.as_deref() == Some("s-1")));
    assert_eq!(received[3].1, answer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_a_callback_is_refused_with_method_not_found() {
    let peer = Arc::new(Peer::default());
    let url = start(peer.clone()).await;
    let client = McpClient::connect(ClientConfig::new(url)).await.unwrap();
    let result = tokio::time::timeout(
        Duration::from_secs(30),
        client.call_tool("delete_keys", json!({})),
    )
    .await
    .expect("hang guard")
    .unwrap();
    let answer: Value = serde_json::from_str(result.text().unwrap()).unwrap();
    let error = RpcError::from_value(answer["error"].clone());
    assert_eq!(error.code, -32601);
    assert!(error.message.contains("elicitation/create"), "{error}");
    assert_eq!(answer["id"], "elicit-1");
}
