//! The invariants of every fuzz target, one function per target, shared by the `cargo fuzz`
//! targets (`fuzz/fuzz_targets/*.rs`, libFuzzer) and by the corpus replay test that runs in
//! `./scripts/test.sh` on stable (`crates/dcc-mcp-http/tests/fuzz_corpus.rs`). Both include this file
//! with `#[path]`, so a target and its replay can never drift apart.
//!
//! Each function panics (an `assert!`) when an invariant breaks: libFuzzer keeps the input as a
//! crash, the replay test fails naming the input.

#![allow(dead_code)]

use dcc_mcp_http::fuzzing;
use dcc_mcp_http::uri_template::UriTemplate;
use dcc_mcp_protocol::body::{parse, Parsed};
use dcc_mcp_protocol::initialize::requested_version;
use dcc_mcp_protocol::jsonrpc::{classify, Incoming};
use dcc_mcp_protocol::version::{accept, negotiate, supported_version, ProtocolVersion};
use serde_json::Value;

/// The checks of one target: panics when an invariant breaks on the input.
pub(crate) type Check = fn(&[u8]);

/// Every target by name (the name of its `fuzz/corpus/<name>` directory).
pub(crate) const TARGETS: [(&str, Check); 7] = [
    ("jsonrpc_body", jsonrpc_body),
    ("protocol_version", protocol_version),
    ("uri_template", uri_template),
    ("auth_headers", auth_headers),
    ("jwt", jwt),
    ("metrics_labels", metrics_labels),
    ("last_event_id", last_event_id),
];

/// Most messages of a batch in [`jsonrpc_body`].
const BATCH_LIMIT: usize = 8;

/// A `POST /mcp` body: the bounded batch parser, then the JSON-RPC envelope of every message.
/// A batch holds at most `BATCH_LIMIT` messages; a body that serde_json parses as a non-array
/// parses as `Single` of the same value; every refused message gets a JSON-RPC 2.0 error.
pub(crate) fn jsonrpc_body(data: &[u8]) {
    let messages = match parse(data, BATCH_LIMIT) {
        Ok(Parsed::Single(value)) => {
            assert_eq!(
                serde_json::from_slice::<Value>(data).ok(),
                Some(value.clone())
            );
            vec![value]
        }
        Ok(Parsed::Batch(batch)) => {
            assert!(batch.len() <= BATCH_LIMIT);
            batch
        }
        Ok(Parsed::TooLarge) | Err(_) => return,
    };
    for message in messages {
        match classify(message) {
            Ok(
                Incoming::Request { .. }
                | Incoming::Notification { .. }
                | Incoming::Response { .. },
            ) => {}
            Err(reply) => {
                assert_eq!(reply["jsonrpc"], "2.0");
                assert!(reply["error"]["code"].is_i64());
            }
        }
    }
}

/// Protocol-version negotiation: what `negotiate` picks is supported; a version `accept` takes
/// round-trips through its wire string.
pub(crate) fn protocol_version(data: &[u8]) {
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
    if let Ok(params) = serde_json::from_str::<Value>(text) {
        let _ = requested_version(Some(&params));
    }
}

/// The resource URI-template matcher (input `template\nuri`): a parsed template keeps its source;
/// every matched variable is one of the template's.
pub(crate) fn uri_template(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (template, uri) = text.split_once('\n').unwrap_or((text, ""));
    let Ok(parsed) = UriTemplate::parse(template) else {
        return;
    };
    assert_eq!(parsed.as_str(), template);
    if let Some(values) = parsed.match_uri(uri) {
        let names: Vec<&str> = parsed.variables().collect();
        for name in values.keys() {
            assert!(names.contains(&name.as_str()), "{name} not in {names:?}");
        }
        let _ = parsed.expand(&values);
    }
}

/// The header parsers read before a client is authenticated: a Bearer token that parses is a
/// `b64token`; the RFC 9728 metadata URL always holds the well-known path.
pub(crate) fn auth_headers(data: &[u8]) {
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
}

/// A real P-256 public key (RFC 7515 A.3), so signature checks run on fuzzed tokens too.
const KEYS: &[u8] = br#"{"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1",
    "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#;

/// JWKS documents and JWT access tokens (input `jwks\ntoken`): nothing verifies against an empty
/// key set; a token the header check refuses is refused for the same reason whatever the keys.
pub(crate) fn jwt(data: &[u8]) {
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
}

/// Bytes of the replay buffer in [`last_event_id`]: small, so that fuzzed inputs reach the byte bound.
const REPLAY_BYTES: usize = 512;

/// `Last-Event-ID` of a resuming `GET /mcp` (input `header\nlengths`, each byte after the first
/// newline, times 4, the length of one message the stream sent). An id that parses is the header's
/// plain decimal digits (blanks around them aside) and round-trips through its decimal form;
/// anything else is refused. A resume from it replays at most `REPLAY_CAPACITY` ascending ids after
/// it, skipping only messages too large to keep, ending at the last one sent when that fits, and
/// replayed plus lost is exactly what was sent after it.
pub(crate) fn last_event_id(data: &[u8]) {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let (header, rest) = data.split_at(split);
    let parsed = fuzzing::last_event_id(header);
    let text = std::str::from_utf8(header)
        .ok()
        .map(|t| t.trim_matches([' ', '\t']));
    match (parsed, text) {
        (Some(id), Some(digits)) => {
            assert!(!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
            assert_eq!(digits.parse::<u64>().ok(), Some(id));
            assert_eq!(fuzzing::last_event_id(id.to_string().as_bytes()), Some(id));
        }
        (Some(id), None) => panic!("{id} parsed from a header that is not text"),
        (None, Some(digits))
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) =>
        {
            // Digits alone are refused only past u64.
            assert!(digits.parse::<u64>().is_err(), "{digits:?} refused");
        }
        (None, _) => {}
    }
    // A POST stream's id is `p<stream>-<seen>` in plain digits, and round-trips.
    if let Some((stream, seen)) = fuzzing::post_stream_event(header) {
        assert!(parsed.is_none());
        let text = text.unwrap_or_default().trim_matches([' ', '\t']);
        let (s, n) = text
            .strip_prefix('p')
            .and_then(|rest| rest.split_once('-'))
            .unwrap_or_else(|| panic!("{text:?} is not p<stream>-<seen>"));
        for digits in [s, n] {
            assert!(!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
        }
        assert_eq!(
            (s.parse::<u64>().ok(), n.parse::<u64>().ok()),
            (Some(stream), Some(seen))
        );
        let written = fuzzing::post_event_id(stream, seen);
        assert_eq!(
            fuzzing::post_stream_event(written.as_bytes()),
            Some((stream, seen))
        );
    }
    let sent: Vec<usize> = rest.iter().skip(1).map(|&b| usize::from(b) * 4).collect();
    let total = sent.len() as u64;
    let last_seen = parsed.unwrap_or(0);
    let (ids, lost) = fuzzing::resume(&sent, REPLAY_BYTES, last_seen);
    assert!(ids.len() <= fuzzing::REPLAY_CAPACITY);
    assert_eq!(ids.len() as u64 + lost, total.saturating_sub(last_seen));
    // Ascending ids after the client's; the only holes are messages too large to keep.
    for pair in ids.windows(2) {
        assert!(pair[0] < pair[1], "{ids:?}");
        for hole in pair[0] + 1..pair[1] {
            assert!(
                sent[hole as usize - 1] > REPLAY_BYTES,
                "{hole} missing from {ids:?}"
            );
        }
    }
    if let Some(first) = ids.first() {
        assert!(*first > last_seen, "{ids:?} after {last_seen}");
    }
    // The newest message is replayed whenever it was missed and fits the buffer.
    if total > last_seen && sent.last().is_some_and(|&len| len <= REPLAY_BYTES) {
        assert_eq!(ids.last(), Some(&total), "{ids:?}");
    }
}

/// Label escaping in the exposition (input: one label value, UTF-8): the value written by the
/// text format 0.0.4 and by OpenMetrics reads back to itself through an exposition parser, and the
/// sample stays on one line.
pub(crate) fn metrics_labels(data: &[u8]) {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    let registry = dcc_mcp_telemetry::Registry::new();
    let Ok(family) = registry.counter_family("fuzz_total", "Fuzzed label values.", &["value"])
    else {
        panic!("a valid family registers");
    };
    family.with_label_values(&[value]).inc();
    let mut text = Vec::new();
    registry.encode_text(&mut text);
    let mut open = Vec::new();
    registry.encode_openmetrics(&mut open);
    for exposition in [text, open] {
        let exposition = std::str::from_utf8(&exposition).expect("the exposition is UTF-8");
        let samples: Vec<&str> = exposition
            .lines()
            .filter(|line| line.starts_with("fuzz_total{"))
            .collect();
        assert_eq!(samples.len(), 1, "one sample line: {exposition:?}");
        let parsed = parse_label_value(samples[0], "fuzz_total{value=\"");
        assert_eq!(parsed.as_deref(), Some(value), "{:?}", samples[0]);
    }
}

/// The exposition parser's reading of the first label value of `line` after `prefix`, up to its
/// closing quote, with the escapes of the text format (`\\`, `\"`, `\n`); `None` for a bad escape,
/// a missing closing quote, or anything but `} <value>` after it.
pub(crate) fn parse_label_value(line: &str, prefix: &str) -> Option<String> {
    let rest = line.strip_prefix(prefix)?;
    let mut value = String::new();
    let mut chars = rest.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '\\' => match chars.next()?.1 {
                '\\' => value.push('\\'),
                '"' => value.push('"'),
                'n' => value.push('\n'),
                _ => return None,
            },
            '"' => {
                let tail = &rest[at + 1..];
                return tail.starts_with("} ").then_some(value);
            }
            '\n' => return None,
            c => value.push(c),
        }
    }
    None
}
