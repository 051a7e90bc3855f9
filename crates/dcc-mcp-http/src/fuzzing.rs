//! The crate-private parsers of untrusted input, exposed for the `cargo fuzz` targets in `fuzz/`
//! (feature `fuzzing`; not a stable API, hidden from the docs).
//!
//! Why wrappers and not `pub` items: the parsers stay private to the crate in every normal build;
//! each wrapper here feeds one parser the bytes a client controls and returns plain data the target
//! can check invariants on.

use axum::http::HeaderValue;

/// `Authorization: Bearer …` (RFC 6750): the token bytes of a well-formed header, `None` when
/// missing or malformed. The invariant: a returned token is a `b64token`.
pub fn bearer(header: &[u8]) -> Option<Vec<u8>> {
    let value = HeaderValue::from_bytes(header).ok()?;
    match crate::bearer::parse_bearer(Some(&value)) {
        crate::bearer::Presented::Token(t) => Some(t.to_vec()),
        _ => None,
    }
}

/// `true` when `token` is an RFC 6750 `b64token` (the static-token file rule).
pub fn is_b64token(token: &str) -> bool {
    crate::credentials::is_b64token(token)
}

/// `Content-Type` check of `POST /mcp`.
pub fn is_json_media_type(header: &[u8]) -> bool {
    HeaderValue::from_bytes(header)
        .ok()
        .is_some_and(|v| crate::mcp::is_json_media_type(Some(&v)))
}

/// `Authorization: Basic …` of `/metrics` (RFC 7617): user and password bytes.
#[cfg(feature = "prometheus")]
pub fn basic(header: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    crate::metrics::parse_basic(&HeaderValue::from_bytes(header).ok()?)
}

/// The exposition format `/metrics` picks for an `Accept` header, as its content type.
#[cfg(feature = "prometheus")]
pub fn metrics_accept(accept: &str) -> &'static str {
    crate::metrics::negotiate(accept).content_type()
}

/// Whether `/metrics` gzips for an `Accept-Encoding` header.
#[cfg(feature = "prometheus")]
pub fn accepts_gzip(accept_encoding: &str) -> bool {
    crate::metrics::accepts_gzip(accept_encoding)
}

/// The keys of a JWKS document: how many are usable, or the parse error.
pub fn jwks(document: &[u8]) -> Result<usize, String> {
    crate::jwt::KeySet::parse(document).map(|k| k.len())
}

/// A JWT's header check (`alg` allowed, `kid`): `Ok(kid)` or the refusal's description.
pub fn jwt_header(token: &str) -> Result<Option<String>, &'static str> {
    crate::jwt::header(token)
        .map(|(_, kid)| kid)
        .map_err(|e| e.description())
}

/// A full check of `token` against the keys of `jwks` (issuer `https://issuer.test`, audience
/// `https://mcp.test/mcp`, scope `mcp:tools` required): `Ok(scopes)` or the refusal's description.
pub fn jwt_verify(jwks: &[u8], token: &str) -> Result<Vec<String>, &'static str> {
    let keys = crate::jwt::KeySet::parse(jwks).unwrap_or_default();
    let rules = crate::jwt::TokenRules {
        issuer: "https://issuer.test".into(),
        audience: "https://mcp.test/mcp".into(),
        leeway_secs: 60,
        required_scopes: vec!["mcp:tools".into()],
    };
    crate::jwt::verify(token, &keys, &rules).map_err(|e| e.description())
}

/// RFC 9728 §3.1 metadata URL of a resource URL.
pub fn metadata_url(resource: &str) -> String {
    crate::oauth::metadata_url(resource)
}

/// `Last-Event-ID` of a resuming `GET /mcp`, read the way the stream handler reads it (a header
/// value, as text, then the resume point it names): the event id of the session stream it names,
/// `None` when it names none (not one of ours, or a `POST` stream: [`post_stream_event`]).
pub fn last_event_id(header: &[u8]) -> Option<u64> {
    match resume_point(header)? {
        crate::replay::ResumePoint::Session(id) => Some(id),
        crate::replay::ResumePoint::Post { .. } => None,
    }
}

/// `Last-Event-ID` of a `GET /mcp` that resumes a `POST` stream (`p<stream>-<seen>`), read as the
/// stream handler reads it: `(stream, seen)`, `None` when the header names no `POST` stream.
pub fn post_stream_event(header: &[u8]) -> Option<(u64, u64)> {
    match resume_point(header)? {
        crate::replay::ResumePoint::Post { stream, seen } => Some((stream, seen)),
        crate::replay::ResumePoint::Session(_) => None,
    }
}

/// The event id of event `seen` of `POST` stream `stream`, as the server writes it.
pub fn post_event_id(stream: u64, seen: u64) -> String {
    crate::replay::post_event_id(stream, seen)
}

fn resume_point(header: &[u8]) -> Option<crate::replay::ResumePoint> {
    let value = HeaderValue::from_bytes(header).ok()?;
    crate::replay::parse_resume_point(value.to_str().ok()?)
}

/// Most messages a session's replay buffer keeps (the count bound of a resume).
pub const REPLAY_CAPACITY: usize = crate::replay::REPLAY_CAPACITY;

/// A resume from `last_seen` after a stream sent messages of the byte lengths `sent`, kept in a
/// replay buffer of `max_bytes`: the event ids replayed (in order) and the count reported lost.
pub fn resume(sent: &[usize], max_bytes: usize, last_seen: u64) -> (Vec<u64>, u64) {
    let mut buffer = crate::replay::ReplayBuffer::new(max_bytes);
    for &len in sent {
        buffer.record(&"x".repeat(len));
    }
    let resume = buffer.since(last_seen);
    (
        resume.messages.iter().map(|(id, _)| *id).collect(),
        resume.lost,
    )
}
