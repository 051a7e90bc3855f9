//! Label escaping in the exposition: a label value round-trips through the text format and
//! OpenMetrics, read back by an exposition parser (see `checks::metrics_labels`).
//! The invariants live in `fuzz/checks/mod.rs`, shared with the corpus replay test.
#![no_main]

#[path = "../checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::metrics_labels(data));
