//! Bearer authentication of `/mcp` (RFC 6750) with static tokens, and the throttle of failed logins.
//!
//! Why digests: `subtle`'s slice comparison is constant-time only for slices of equal length, so
//! the presented token and every configured token are hashed to SHA-256 digests first and the
//! digests are compared with [`ConstantTimeEq`]. Every configured token is compared (the results are
//! OR-ed as [`subtle::Choice`], no early exit), so the time taken says neither which token matched
//! nor how long any token is.
//!
//! Order of checks for a request: the throttle (an address whose failed logins are used up gets
//! `429` with `Retry-After` before its header is even read), then the `Authorization` header. A
//! missing header gets `401` with a bare `WWW-Authenticate: Bearer` challenge; a malformed or wrong
//! one gets `401` with `error="invalid_token"` (RFC 6750 §3.1). Each `401` is counted as
//! `dcc_mcp_rejected_total{reason="auth"}` and takes a token from the address's throttle bucket;
//! each `429` is counted as `reason="auth_throttled"`. Nothing here logs a header or a token.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest as _, Sha256};
use subtle::{Choice, ConstantTimeEq as _};

use crate::credentials::BearerTokens;
use crate::record::{Recorder, Rejection};
use crate::serve::ClientAddr;
use crate::throttle::LoginThrottle;

/// The realm named in every challenge.
const REALM: &str = "dcc-mcp";

/// Expected tokens, kept only as SHA-256 digests.
pub(crate) struct BearerGuard {
    digests: Vec<[u8; 32]>,
}

impl std::fmt::Debug for BearerGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerGuard { .. }")
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

impl BearerGuard {
    /// A guard accepting exactly `tokens`; `None` when there are none (no authentication).
    pub(crate) fn new(tokens: &BearerTokens) -> Option<Self> {
        (!tokens.is_empty()).then(|| Self {
            digests: tokens
                .tokens()
                .iter()
                .map(|t| digest(t.as_bytes()))
                .collect(),
        })
    }

    /// `true` when `token` is one of the configured tokens (constant time in the token's content).
    pub(crate) fn accepts(&self, token: &[u8]) -> bool {
        let presented = digest(token);
        let found = self
            .digests
            .iter()
            .fold(Choice::from(0), |acc, d| acc | presented.ct_eq(d));
        bool::from(found)
    }
}

/// What an `Authorization` header holds, for a bearer check.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Presented<'a> {
    /// No `Authorization` header.
    Missing,
    /// A header that is not `Bearer <b64token>` (another scheme, empty, bad characters).
    Malformed,
    /// The token of a well-formed `Bearer` header.
    Token(&'a [u8]),
}

/// Reads `Bearer <token>` (RFC 6750 §2.1): the scheme is case-insensitive, one or more spaces
/// separate it from the token, surrounding whitespace is ignored, the token must be a `b64token`.
pub(crate) fn parse_bearer(value: Option<&HeaderValue>) -> Presented<'_> {
    let Some(value) = value else {
        return Presented::Missing;
    };
    let raw = value.as_bytes().trim_ascii();
    let Some((scheme, rest)) = raw.split_at_checked(7) else {
        return Presented::Malformed;
    };
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return Presented::Malformed;
    }
    let token = rest.trim_ascii();
    match std::str::from_utf8(token) {
        Ok(text) if crate::credentials::is_b64token(text) => Presented::Token(token),
        _ => Presented::Malformed,
    }
}

/// What the middleware shares: the guard, the throttle, the recorder.
#[derive(Clone)]
pub(crate) struct BearerLayerState {
    guard: Arc<BearerGuard>,
    throttle: Arc<LoginThrottle>,
    recorder: Recorder,
}

impl BearerLayerState {
    pub(crate) fn new(guard: BearerGuard, recorder: Recorder) -> Self {
        Self {
            guard: Arc::new(guard),
            throttle: Arc::new(LoginThrottle::default()),
            recorder,
        }
    }
}

fn challenge(error: Option<&str>) -> HeaderValue {
    let value = match error {
        None => format!("Bearer realm=\"{REALM}\""),
        Some(code) => format!("Bearer realm=\"{REALM}\", error=\"{code}\""),
    };
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
}

/// Axum middleware: lets the request through only with one of the configured tokens.
pub(crate) async fn require_bearer(
    State(layer): State<BearerLayerState>,
    request: Request,
    next: Next,
) -> Response {
    let addr: Option<IpAddr> = request.extensions().get::<ClientAddr>().map(|c| c.0.ip());
    let now = Instant::now();
    if let Err(wait) = layer.throttle.check(addr, now) {
        layer.recorder.rejected(Rejection::AuthThrottled);
        let secs = wait.as_secs().max(1);
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(RETRY_AFTER, HeaderValue::from(secs))],
            "429 Too Many Requests: too many failed logins from this address; retry later\n",
        )
            .into_response();
    }
    let error = match parse_bearer(request.headers().get(AUTHORIZATION)) {
        Presented::Token(token) if layer.guard.accepts(token) => return next.run(request).await,
        Presented::Missing => None,
        Presented::Token(_) | Presented::Malformed => Some("invalid_token"),
    };
    layer.throttle.failed(addr, now);
    layer.recorder.rejected(Rejection::Auth);
    (
        StatusCode::UNAUTHORIZED,
        [(WWW_AUTHENTICATE, challenge(error))],
        "401 Unauthorized: /mcp needs a valid bearer token\n",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(s: &str) -> HeaderValue {
        HeaderValue::from_str(s).unwrap()
    }

    #[test]
    fn parses_bearer_headers() {
        assert_eq!(parse_bearer(None), Presented::Missing);
        let h = header("Bearer abc.DEF-1_~+/==");
        assert_eq!(parse_bearer(Some(&h)), Presented::Token(b"abc.DEF-1_~+/=="));
        let h = header("bEaReR    tok  ");
        assert_eq!(parse_bearer(Some(&h)), Presented::Token(b"tok"));
        for bad in [
            "",
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Bearer a=b",
            "Basic dTpw",
            "Bearerabc",
            "Bearer \"abc\"",
        ] {
            assert_eq!(
                parse_bearer(Some(&header(bad))),
                Presented::Malformed,
                "{bad:?}"
            );
        }
        let raw = HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap();
        assert_eq!(parse_bearer(Some(&raw)), Presented::Malformed);
    }

    #[test]
    fn guard_accepts_configured_tokens_only() {
        assert!(BearerGuard::new(&BearerTokens::default()).is_none());
        let guard = BearerGuard::new(&BearerTokens::new(["first", "second-token"])).unwrap();
        assert!(guard.accepts(b"first"));
        assert!(guard.accepts(b"second-token"));
        for wrong in [&b"firs"[..], b"first ", b"First", b"second-tokenx", b""] {
            assert!(!guard.accepts(wrong), "{wrong:?}");
        }
        assert_eq!(format!("{guard:?}"), "BearerGuard { .. }");
    }

    #[test]
    fn challenges() {
        assert_eq!(challenge(None), "Bearer realm=\"dcc-mcp\"");
        assert_eq!(
            challenge(Some("invalid_token")),
            "Bearer realm=\"dcc-mcp\", error=\"invalid_token\""
        );
    }
}
