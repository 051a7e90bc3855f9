//! HTTP Basic auth for `GET /metrics`.
//!
//! Why digests: `subtle`'s slice comparison is constant-time only for slices of equal length (it
//! returns early on a length mismatch, which would leak the expected length). Both the presented
//! and the expected user name and password are therefore hashed to fixed-length SHA-256 digests
//! first, and the digests are compared with [`ConstantTimeEq`]. The user and password results are
//! combined with a non-short-circuit `&` on [`subtle::Choice`], so a wrong user name costs the same
//! as a wrong password.
//!
//! Every failure mode (no header, another scheme, bad base64, no `:` separator, wrong credentials)
//! is the same `false`: the handler answers `401` for all of them, never `500`, and nothing here
//! logs the header or the credentials.

use axum::http::HeaderValue;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// The realm sent in `WWW-Authenticate` on a `401`.
pub(crate) const CHALLENGE: &str = "Basic realm=\"dcc-mcp metrics\"";

/// Expected credentials, kept only as SHA-256 digests.
pub(crate) struct BasicAuthGuard {
    user: [u8; 32],
    pass: [u8; 32],
}

impl std::fmt::Debug for BasicAuthGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Digests of a short password are guessable offline: do not print them either.
        f.write_str("BasicAuthGuard { .. }")
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

impl BasicAuthGuard {
    /// Guards the endpoint with `username` / `password`.
    pub(crate) fn new(username: &str, password: &str) -> Self {
        Self {
            user: digest(username.as_bytes()),
            pass: digest(password.as_bytes()),
        }
    }

    /// `true` when `authorization` carries exactly the expected credentials.
    pub(crate) fn verify(&self, authorization: Option<&HeaderValue>) -> bool {
        let Some((user, pass)) = authorization.and_then(parse_basic) else {
            return false;
        };
        let user_ok = digest(&user).ct_eq(&self.user);
        let pass_ok = digest(&pass).ct_eq(&self.pass);
        // `Choice & Choice` evaluates both sides: no short circuit.
        bool::from(user_ok & pass_ok)
    }
}

/// Splits `Basic <base64(user:pass)>` into user and password bytes (RFC 7617). The scheme is
/// case-insensitive; the password may itself contain `:`. `None` for anything malformed.
pub(crate) fn parse_basic(value: &HeaderValue) -> Option<(Vec<u8>, Vec<u8>)> {
    let raw = value.as_bytes();
    let scheme = raw.get(..6)?;
    if !scheme.eq_ignore_ascii_case(b"basic ") {
        return None;
    }
    let token = raw.get(6..)?.trim_ascii();
    if token.is_empty() {
        return None;
    }
    let mut decoded = base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    let pass = decoded.split_off(colon + 1);
    decoded.truncate(colon);
    Some((decoded, pass))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(s: &str) -> HeaderValue {
        HeaderValue::from_str(s).unwrap()
    }

    fn basic(user_pass: &str) -> HeaderValue {
        let token = base64::engine::general_purpose::STANDARD.encode(user_pass);
        header(&format!("Basic {token}"))
    }

    #[test]
    fn accepts_exact_credentials_only() {
        let guard = BasicAuthGuard::new("scraper", "change-me");
        assert!(guard.verify(Some(&basic("scraper:change-me"))));
        assert!(!guard.verify(Some(&basic("scraper:change-mE"))));
        assert!(!guard.verify(Some(&basic("Scraper:change-me"))));
        assert!(!guard.verify(Some(&basic("scraper:change-me "))));
        assert!(!guard.verify(Some(&basic("scraper:"))));
        assert!(!guard.verify(Some(&basic(":change-me"))));
        assert!(!guard.verify(None));
    }

    #[test]
    fn scheme_is_case_insensitive_and_password_may_hold_colons() {
        let guard = BasicAuthGuard::new("u", "a:b:c");
        let token = base64::engine::general_purpose::STANDARD.encode("u:a:b:c");
        assert!(guard.verify(Some(&header(&format!("bAsIc {token}")))));
        assert!(guard.verify(Some(&header(&format!("Basic   {token}  ")))));
    }

    #[test]
    fn malformed_headers_are_rejected() {
        let guard = BasicAuthGuard::new("u", "p");
        for bad in [
            "",
            "Basic",
            "Basic ",
            "Basic !!!!",
            "Basic dTpw=", // bad padding
            "Bearer dTpw",
            "BasicdTpw",
            "Digest username=\"u\"",
        ] {
            assert!(!guard.verify(Some(&header(bad))), "{bad:?}");
        }
        // No `:` in the decoded token.
        let token = base64::engine::general_purpose::STANDARD.encode("up");
        assert!(!guard.verify(Some(&header(&format!("Basic {token}")))));
        // Bytes that are not valid UTF-8 are just wrong credentials.
        let raw = HeaderValue::from_bytes(b"Basic \xff\xfe").unwrap();
        assert!(!guard.verify(Some(&raw)));
    }

    #[test]
    fn debug_hides_everything() {
        let guard = BasicAuthGuard::new("scraper", "change-me");
        assert_eq!(format!("{guard:?}"), "BasicAuthGuard { .. }");
    }
}
