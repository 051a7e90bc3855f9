//! Protocol-version negotiation: the `MCP-Protocol-Version` header and `initialize`'s
//! `protocolVersion`. Invariants: never a panic; what `negotiate` picks is supported; a version
//! `accept` takes round-trips through its wire string.
//! The invariants live in `fuzz/checks/mod.rs`, shared with the corpus replay test.
#![no_main]

#[path = "../checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::protocol_version(data));
