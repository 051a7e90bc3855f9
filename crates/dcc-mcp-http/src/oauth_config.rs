//! The OAuth 2.1 resource-server configuration of `/mcp` (MCP authorization, 2025-11-25).
//!
//! Why a type of its own: the binary's flags, the Python binding and Rust callers fill in the same
//! value, and its rules (what a JWKS location may be, what a scope may hold) are checked in one place
//! before anything binds. Checking a token is `crate::jwt`'s job; fetching the keys is
//! `crate::jwks`'s; answering on the wire is `crate::oauth`'s.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::ConfigError;

/// Default clock-skew allowance on `exp` and `nbf`.
pub const DEFAULT_OAUTH_LEEWAY: Duration = Duration::from_secs(60);
/// Default shortest time between two fetches of the JWKS for a token with an unknown `kid`.
pub const DEFAULT_JWKS_REFRESH_INTERVAL: Duration = Duration::from_secs(60);

/// Where the authorization server's signing keys (a JWKS document, RFC 7517) are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// A local file, re-read on an unknown `kid` (at most once per refresh interval).
    File(PathBuf),
    /// An `http://` URL, fetched on first use and again on an unknown `kid` (at most once per refresh
    /// interval) and once the cached copy is an hour old.
    Url(String),
}

impl JwksSource {
    /// A location from text: a string starting with `http://` or `https://` is a URL, anything else
    /// a file path.
    pub fn parse(text: &str) -> Self {
        let lower = text.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            Self::Url(text.to_owned())
        } else {
            Self::File(PathBuf::from(text))
        }
    }
}

/// `/mcp` as an OAuth 2.1 resource server: bearer JWT access tokens from `issuer`, for `audience`,
/// signed with a key of `jwks`, granting every scope of `required_scopes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthConfig {
    /// The authorization server's issuer identifier: every token's `iss` must equal it; listed in the
    /// protected-resource metadata as `authorization_servers`.
    pub issuer: String,
    /// The audience every token's `aud` must hold (RFC 8707: usually this server's `/mcp` URL).
    pub audience: String,
    /// Where the verification keys are read from.
    pub jwks: JwksSource,
    /// Scopes every token must grant; a valid token lacking one gets `403` `insufficient_scope`.
    pub required_scopes: Vec<String>,
    /// The public URL of `/mcp` named in the protected-resource metadata (`resource`) and in the
    /// `resource_metadata` challenge parameter. `None`: the audience when it is an `http(s)` URL,
    /// otherwise `http://<Host header>/mcp`.
    pub resource: Option<String>,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
    /// Shortest time between two key fetches caused by tokens with an unknown `kid`.
    pub jwks_refresh_interval: Duration,
}

impl OAuthConfig {
    /// A configuration with the default leeway and refresh interval, no required scope, and the
    /// resource URL derived from the audience.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>, jwks: JwksSource) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            jwks,
            required_scopes: Vec::new(),
            resource: None,
            leeway: DEFAULT_OAUTH_LEEWAY,
            jwks_refresh_interval: DEFAULT_JWKS_REFRESH_INTERVAL,
        }
    }

    /// The `resource` URL when it is known without a request: the configured one, else the audience
    /// when it is an `http(s)` URL.
    pub(crate) fn static_resource(&self) -> Option<&str> {
        self.resource.as_deref().or_else(|| {
            let lower = self.audience.to_ascii_lowercase();
            (lower.starts_with("https://") || lower.starts_with("http://"))
                .then_some(self.audience.as_str())
        })
    }

    /// Every field must be usable: the error names the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |field: &'static str, why: &str| {
            Err(ConfigError::InvalidOAuth {
                field,
                why: why.to_owned(),
            })
        };
        if self.issuer.trim().is_empty() {
            return bad("issuer", "is empty");
        }
        if self.audience.trim().is_empty() {
            return bad("audience", "is empty");
        }
        match &self.jwks {
            JwksSource::File(path) if path.as_os_str().is_empty() => {
                return bad("jwks", "is an empty path")
            }
            JwksSource::File(_) => {}
            JwksSource::Url(url) => {
                if url.to_ascii_lowercase().starts_with("https://") {
                    return bad(
                        "jwks",
                        "is an https:// URL: this build fetches keys over http:// only (no TLS stack); \
                         keep the JWKS in a file that a job refreshes, or serve it on loopback",
                    );
                }
                let authority = url["http://".len()..]
                    .split(['/', '?'])
                    .next()
                    .unwrap_or("");
                if authority.is_empty() || authority.bytes().any(|b| !b.is_ascii_graphic()) {
                    return bad("jwks", "is not a URL with a host");
                }
            }
        }
        for scope in &self.required_scopes {
            if scope.is_empty()
                || !scope
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
            {
                return bad(
                    "required_scopes",
                    "holds an empty scope or one with spaces, quotes or backslashes (RFC 6749 §3.3)",
                );
            }
        }
        if let Some(resource) = &self.resource {
            let lower = resource.to_ascii_lowercase();
            if !(lower.starts_with("https://") || lower.starts_with("http://"))
                || resource.contains('#')
                || resource.bytes().any(|b| !b.is_ascii_graphic() || b == b'"')
            {
                return bad(
                    "resource",
                    "must be an http(s) URL without a fragment or quotes",
                );
            }
        }
        if self.jwks_refresh_interval.is_zero() {
            return bad("jwks_refresh_interval", "is zero");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> OAuthConfig {
        OAuthConfig::new(
            "https://as.example",
            "https://mcp.example/mcp",
            JwksSource::parse("/etc/jwks.json"),
        )
    }

    #[test]
    fn sources() {
        assert_eq!(
            JwksSource::parse("HTTP://a/k"),
            JwksSource::Url("HTTP://a/k".into())
        );
        assert_eq!(
            JwksSource::parse("keys.json"),
            JwksSource::File("keys.json".into())
        );
    }

    #[test]
    fn validation() {
        assert!(config().validate().is_ok());
        assert_eq!(config().static_resource(), Some("https://mcp.example/mcp"));
        let mut c = config();
        c.audience = "mcp-api".into();
        assert_eq!(c.static_resource(), None);
        type Change = Box<dyn Fn(&mut OAuthConfig)>;
        let cases: Vec<(&str, Change)> = vec![
            ("issuer", Box::new(|c| c.issuer = " ".into())),
            ("audience", Box::new(|c| c.audience = String::new())),
            (
                "jwks",
                Box::new(|c| c.jwks = JwksSource::Url("https://as/jwks".into())),
            ),
            (
                "jwks",
                Box::new(|c| c.jwks = JwksSource::Url("http://".into())),
            ),
            ("jwks", Box::new(|c| c.jwks = JwksSource::File("".into()))),
            (
                "required_scopes",
                Box::new(|c| c.required_scopes = vec!["a b".into()]),
            ),
            (
                "required_scopes",
                Box::new(|c| c.required_scopes = vec!["a\"".into()]),
            ),
            (
                "resource",
                Box::new(|c| c.resource = Some("ftp://x".into())),
            ),
            (
                "jwks_refresh_interval",
                Box::new(|c| c.jwks_refresh_interval = Duration::ZERO),
            ),
        ];
        for (field, change) in cases {
            let mut c = config();
            change(&mut c);
            match c.validate() {
                Err(ConfigError::InvalidOAuth { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }
}
