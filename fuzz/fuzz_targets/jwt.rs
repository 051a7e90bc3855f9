//! JWT access tokens and JWKS documents, as `/mcp` reads them before a client is authenticated:
//! input is `jwks\ntoken`. Invariants: never a panic; a token is never accepted by an empty key set
//! or when its header check fails; the header check refuses what it refuses for every key set.
//! The invariants live in `fuzz/checks/mod.rs`, shared with the corpus replay test.
#![no_main]

#[path = "../checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::jwt(data));
