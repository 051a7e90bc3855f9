//! JWT access tokens and JWKS documents, as `/mcp` reads them before a client is authenticated:
//! input is `jwks\ntoken`. Invariants: never a panic; a token is never accepted by an empty key set
//! or when its header check fails; the header check refuses what it refuses for every key set.
#![no_main]

use dcc_mcp_http::fuzzing;
use libfuzzer_sys::fuzz_target;

/// A real P-256 public key (RFC 7515 A.3), so signature checks run on fuzzed tokens too.
const KEYS: &[u8] = br#"{"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1",
    "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let (jwks, rest) = data.split_at(split);
    let _ = fuzzing::jwks(jwks);
    let Ok(token) = std::str::from_utf8(rest.get(1..).unwrap_or_default()) else {
        return;
    };
    let header = fuzzing::jwt_header(token);
    assert!(fuzzing::jwt_verify(b"{\"keys\": []}", token).is_err());
    for keys in [jwks, KEYS] {
        let verdict = fuzzing::jwt_verify(keys, token);
        if let Err(refused) = header {
            assert_eq!(verdict, Err(refused));
        }
    }
});
