//! Protocol-version negotiation: the `MCP-Protocol-Version` header and `initialize`'s
//! `protocolVersion`. Invariants: never a panic; what `negotiate` picks is supported; a version
//! `accept` takes round-trips through its wire string.
#![no_main]

use dcc_mcp_protocol::initialize::requested_version;
use dcc_mcp_protocol::version::{accept, negotiate, supported_version, ProtocolVersion};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    assert!(negotiate(text).is_supported());
    if let Ok(version) = accept(text) {
        assert_eq!(ProtocolVersion::parse(version.as_str()), Some(version));
    }
    if let Some(v) = supported_version(text) {
        assert_eq!(v, text);
    }
    if let Ok(params) = serde_json::from_str::<serde_json::Value>(text) {
        let _ = requested_version(Some(&params));
    }
});
