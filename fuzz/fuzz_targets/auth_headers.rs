//! The header parsers a client controls before it is authenticated: `Authorization` (Bearer and
//! Basic), `Content-Type`, and `/metrics`' `Accept` and `Accept-Encoding`. Invariants: never a
//! panic; a Bearer token that parses is a `b64token`; a parsed Basic header re-encodes to itself.
//! The invariants live in `fuzz/checks/mod.rs`, shared with the corpus replay test.
#![no_main]

#[path = "../checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::auth_headers(data));
