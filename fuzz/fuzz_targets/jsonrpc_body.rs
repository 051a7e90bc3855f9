//! A `POST /mcp` body: the bounded batch parser, then the JSON-RPC envelope of every message.
//! Invariants: never a panic; a batch holds at most `LIMIT` messages; a body that serde_json parses
//! as a non-array parses as `Single` of the same value; every classified message is one of the
//! envelope kinds or an error response with a JSON-RPC 2.0 shape.
#![no_main]

use dcc_mcp_protocol::body::{parse, Parsed};
use dcc_mcp_protocol::jsonrpc::{classify, Incoming};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const LIMIT: usize = 8;

fuzz_target!(|data: &[u8]| {
    let messages = match parse(data, LIMIT) {
        Ok(Parsed::Single(value)) => {
            assert_eq!(
                serde_json::from_slice::<Value>(data).ok(),
                Some(value.clone())
            );
            vec![value]
        }
        Ok(Parsed::Batch(batch)) => {
            assert!(batch.len() <= LIMIT);
            batch
        }
        Ok(Parsed::TooLarge) => return,
        Err(_) => return,
    };
    for message in messages {
        match classify(message) {
            Ok(
                Incoming::Request { .. }
                | Incoming::Notification { .. }
                | Incoming::Response { .. },
            ) => {}
            Err(reply) => {
                assert_eq!(reply["jsonrpc"], "2.0");
                assert!(reply["error"]["code"].is_i64());
            }
        }
    }
});
