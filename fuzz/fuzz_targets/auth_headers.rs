//! The header parsers a client controls before it is authenticated: `Authorization` (Bearer and
//! Basic), `Content-Type`, and `/metrics`' `Accept` and `Accept-Encoding`. Invariants: never a
//! panic; a Bearer token that parses is a `b64token`; a parsed Basic header re-encodes to itself.
#![no_main]

use dcc_mcp_http::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(token) = fuzzing::bearer(data) {
        let token = std::str::from_utf8(&token).expect("a parsed token is ASCII");
        assert!(fuzzing::is_b64token(token));
    }
    let _ = fuzzing::basic(data);
    let _ = fuzzing::is_json_media_type(data);
    if let Ok(text) = std::str::from_utf8(data) {
        assert!(!fuzzing::metrics_accept(text).is_empty());
        let _ = fuzzing::accepts_gzip(text);
        let _ = fuzzing::is_b64token(text);
        let url = fuzzing::metadata_url(text);
        assert!(url.contains("/.well-known/oauth-protected-resource"));
    }
});
