//! The resource URI-template matcher (RFC 6570 subset): input is `template\nuri`. Invariants: never
//! a panic; a parsed template keeps its source; every matched variable is one of the template's; a
//! template expanded with the values it matched expands to the URI again when the match was exact.
//! The invariants live in `fuzz/checks/mod.rs`, shared with the corpus replay test.
#![no_main]

#[path = "../checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::uri_template(data));
