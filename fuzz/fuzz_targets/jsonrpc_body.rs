//! A `POST /mcp` body: the bounded batch parser, then the JSON-RPC envelope of every message.
//! Invariants: never a panic; a batch holds at most `LIMIT` messages; a body that serde_json parses
//! as a non-array parses as `Single` of the same value; every classified message is one of the
//! envelope kinds or an error response with a JSON-RPC 2.0 shape.
//! The invariants live in `fuzz/checks/mod.rs`, shared with the corpus replay test.
#![no_main]

#[path = "../checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::jsonrpc_body(data));
