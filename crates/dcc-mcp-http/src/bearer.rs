//! Bearer authentication of `/mcp` (RFC 6750) with static tokens or OAuth access tokens
//! (`crate::oauth`), and the throttle of failed logins.
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
//! each `429` is counted as `reason="auth_throttled"`. With OAuth, a token that is not a static one
//! is checked as a JWT: its `401` carries `resource_metadata` and an `error_description`; a valid
//! token missing a required scope gets `403` (`reason="auth_scope"`, not throttled: the token is
//! genuine, nobody is guessing); unreadable signing keys give `503` (`reason="auth_unavailable"`).
//! Nothing here logs a header or a token.

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
use crate::oauth::{OAuthGuard, Verdict};
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

/// What the middleware shares: the static-token guard, the OAuth guard (at least one of them),
/// the throttle, the recorder.
#[derive(Clone)]
pub(crate) struct BearerLayerState {
    guard: Option<Arc<BearerGuard>>,
    oauth: Option<Arc<OAuthGuard>>,
    throttle: Arc<LoginThrottle>,
    recorder: Recorder,
}

impl BearerLayerState {
    /// `None` when neither static tokens nor OAuth are configured (no authentication).
    pub(crate) fn new(
        guard: Option<BearerGuard>,
        oauth: Option<Arc<OAuthGuard>>,
        recorder: Recorder,
    ) -> Option<Self> {
        (guard.is_some() || oauth.is_some()).then(|| Self {
            guard: guard.map(Arc::new),
            oauth,
            throttle: Arc::new(LoginThrottle::default()),
            recorder,
        })
    }
}

fn challenge(error: Option<&str>) -> HeaderValue {
    let value = match error {
        None => format!("Bearer realm=\"{REALM}\""),
        Some(code) => format!("Bearer realm=\"{REALM}\", error=\"{code}\""),
    };
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
}

/// Why a request is refused, before it is answered.
enum Refusal {
    /// `401`: no token (`None`) or an invalid one (its description).
    Unauthorized(Option<&'static str>),
    /// `403 insufficient_scope` (OAuth only).
    Forbidden,
    /// `503`: the OAuth keys cannot be read.
    Unavailable,
}

/// Axum middleware: lets the request through only with one of the configured tokens or, with OAuth,
/// a valid access token.
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
    let refusal = match parse_bearer(request.headers().get(AUTHORIZATION)) {
        Presented::Token(token) if layer.guard.as_ref().is_some_and(|g| g.accepts(token)) => {
            return next.run(request).await
        }
        Presented::Token(token) => match &layer.oauth {
            Some(oauth) => match oauth.check(token).await {
                Verdict::Allowed => return next.run(request).await,
                Verdict::Invalid(e) => Refusal::Unauthorized(Some(e.description())),
                Verdict::Forbidden => Refusal::Forbidden,
                Verdict::Unavailable => Refusal::Unavailable,
            },
            None => Refusal::Unauthorized(Some("the token is not accepted")),
        },
        Presented::Missing => Refusal::Unauthorized(None),
        Presented::Malformed => {
            Refusal::Unauthorized(Some("the Authorization header is not Bearer <token>"))
        }
    };
    let headers = request.headers();
    match refusal {
        Refusal::Unauthorized(description) => {
            layer.throttle.failed(addr, now);
            layer.recorder.rejected(Rejection::Auth);
            let (header, body) = match &layer.oauth {
                None => (
                    challenge(description.map(|_| "invalid_token")),
                    "401 Unauthorized: /mcp needs a valid bearer token\n".to_owned(),
                ),
                Some(oauth) => (
                    crate::oauth::challenge(
                        oauth,
                        headers,
                        description.map(|d| ("invalid_token", d)),
                        REALM,
                    ),
                    format!(
                        "401 Unauthorized: /mcp needs a valid bearer token{}\n",
                        description.map(|d| format!(": {d}")).unwrap_or_default()
                    ),
                ),
            };
            (StatusCode::UNAUTHORIZED, [(WWW_AUTHENTICATE, header)], body).into_response()
        }
        Refusal::Forbidden => {
            layer.recorder.rejected(Rejection::AuthScope);
            let description = "the token lacks a required scope";
            let Some(oauth) = &layer.oauth else {
                return StatusCode::FORBIDDEN.into_response();
            };
            let header = crate::oauth::challenge(
                oauth,
                headers,
                Some(("insufficient_scope", description)),
                REALM,
            );
            let body = format!(
                "403 Forbidden: {description}; required: {}\n",
                oauth.required_scopes().join(" ")
            );
            (StatusCode::FORBIDDEN, [(WWW_AUTHENTICATE, header)], body).into_response()
        }
        Refusal::Unavailable => {
            layer.recorder.rejected(Rejection::AuthUnavailable);
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(RETRY_AFTER, HeaderValue::from(1u64))],
                "503 Service Unavailable: the authorization server's signing keys cannot be read; retry later\n",
            )
                .into_response()
        }
    }
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
