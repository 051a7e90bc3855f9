//! Large bodies are parsed off the I/O workers: on a one-thread runtime, a small request sent after a
//! 1 MiB one is answered first, because the big one waits for the parse pool instead of parsing on
//! the only I/O thread. (Parsed in place, the big request would finish within its first poll, before
//! the small one is even looked at.) The hostile suite's `large_bodies` attack shows the same with
//! the real binary under a 4 MiB flood.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::sync::Mutex;

use axum::http::StatusCode;
use common::*;
use serde_json::json;

#[tokio::test(flavor = "current_thread")]
async fn a_small_request_is_answered_while_a_large_body_is_parsed() {
    let server = test_server();
    let router = server.router();
    let session = initialize(&router).await;
    let numbers = vec!["7"; 500_000].join(",");
    let big =
        format!(r#"{{"jsonrpc":"2.0","id":"big","method":"ping","params":{{"pad":[{numbers}]}}}}"#);
    assert!(big.len() > 1_000_000);
    let order = Mutex::new(Vec::new());
    let big_call = async {
        let reply = send(&router, post_request(Some(&session), None, big)).await;
        order.lock().unwrap().push("big");
        reply
    };
    let small_call = async {
        let ping = json!({"jsonrpc": "2.0", "id": "small", "method": "ping"});
        let reply = post(&router, Some(&session), ping).await;
        order.lock().unwrap().push("small");
        reply
    };
    // `join!` polls the big request first.
    let (big, small) = tokio::join!(big_call, small_call);
    assert_eq!(big.status, StatusCode::OK);
    assert_eq!(big.body["id"], "big");
    assert_eq!(big.body["result"], json!({}));
    assert_eq!(small.status, StatusCode::OK);
    assert_eq!(
        small.body,
        json!({"jsonrpc": "2.0", "id": "small", "result": {}})
    );
    assert_eq!(*order.lock().unwrap(), ["small", "big"]);
}

#[tokio::test(flavor = "current_thread")]
async fn small_bodies_are_parsed_in_place() {
    // Below the threshold nothing is handed off: the first request polled finishes first.
    let server = test_server();
    let router = server.router();
    let session = initialize(&router).await;
    let order = Mutex::new(Vec::new());
    let first = async {
        let pad = vec![7; 1000];
        let padded = json!({"jsonrpc": "2.0", "id": "f", "method": "ping", "params": {"pad": pad}});
        let reply = post(&router, Some(&session), padded).await;
        order.lock().unwrap().push("first");
        reply
    };
    let second = async {
        let ping = json!({"jsonrpc": "2.0", "id": "p", "method": "ping"});
        let reply = post(&router, Some(&session), ping).await;
        order.lock().unwrap().push("second");
        reply
    };
    let (first, _second) = tokio::join!(first, second);
    assert_eq!(first.body["result"], json!({}), "{}", first.raw);
    assert_eq!(*order.lock().unwrap(), ["first", "second"]);
}
