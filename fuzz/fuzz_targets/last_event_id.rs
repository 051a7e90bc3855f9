//! `Last-Event-ID` of a resuming `GET /mcp` stream and the replay it selects (input
//! `header\nlengths`). Invariants: never a panic; an id that parses is the header's decimal digits;
//! a resume replays consecutive ids after it, bounded, and replayed plus lost is what was missed.
//! The invariants live in `fuzz/checks/mod.rs`, shared with the corpus replay test.
#![no_main]

#[path = "../checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::last_event_id(data));
