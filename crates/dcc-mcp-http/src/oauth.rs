//! `/mcp` as an OAuth 2.1 resource server (MCP authorization, 2025-11-25): the verdict on a bearer
//! JWT, the `WWW-Authenticate` challenges, and the RFC 9728 protected-resource metadata.
//!
//! Why here and not in `crate::bearer`: the bearer middleware owns the order of checks (throttle,
//! header, static tokens) and the counting; this module owns what OAuth adds on the wire:
//!
//! - a token is checked by `crate::jwt` against the keys of `crate::jwks`; a token with an unknown
//!   `kid` makes the cache re-read the keys once (bounded there) before it is refused;
//! - every challenge carries `resource_metadata="<origin>/.well-known/oauth-protected-resource<path>"`
//!   (RFC 9728 §5.1), the URL built from the configured resource (else the audience when it is a
//!   URL, else the request's `Host`);
//! - an invalid token: `401`, `error="invalid_token"` with an `error_description` naming the rule it
//!   broke; a valid token without a required scope: `403`, `error="insufficient_scope"` with
//!   `scope="<every required scope>"` (RFC 6750 §3.1);
//! - the metadata document is served at `/.well-known/oauth-protected-resource` and at its
//!   path-suffixed form for `/mcp`, without authentication.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HOST};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::jwks::JwksCache;
use crate::jwt::{TokenError, TokenRules};
use crate::oauth_config::OAuthConfig;

/// The RFC 9728 well-known path prefix.
pub(crate) const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// The outcome of checking one bearer token.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Signature, issuer, audience, lifetime and scopes all hold.
    Allowed,
    /// `401 invalid_token`.
    Invalid(TokenError),
    /// `403 insufficient_scope`: the token is valid but lacks these scopes.
    Forbidden,
    /// No signing key could be read at all: `503`.
    Unavailable,
}

/// The resource server: its rules, its key cache, its metadata.
pub(crate) struct OAuthGuard {
    config: OAuthConfig,
    rules: TokenRules,
    cache: JwksCache,
}

impl std::fmt::Debug for OAuthGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthGuard")
            .field("issuer", &self.config.issuer)
            .finish_non_exhaustive()
    }
}

impl OAuthGuard {
    /// The guard of a validated configuration.
    pub(crate) fn new(config: &OAuthConfig) -> Self {
        Self {
            rules: TokenRules {
                issuer: config.issuer.clone(),
                audience: config.audience.clone(),
                leeway_secs: config.leeway.as_secs(),
                required_scopes: config.required_scopes.clone(),
            },
            cache: JwksCache::new(config.jwks.clone(), config.jwks_refresh_interval),
            config: config.clone(),
        }
    }

    /// The verdict on `token` (the bytes of a well-formed `Bearer` header).
    pub(crate) async fn check(&self, token: &[u8]) -> Verdict {
        let Ok(token) = std::str::from_utf8(token) else {
            return Verdict::Invalid(TokenError::Malformed);
        };
        // Refuse what no key could ever accept (`alg: none`, HMAC, garbage) before reading keys.
        if let Err(e) = crate::jwt::header(token) {
            return Verdict::Invalid(e);
        }
        let Some(keys) = self.cache.keys().await else {
            return Verdict::Unavailable;
        };
        let mut outcome = crate::jwt::verify(token, &keys, &self.rules);
        if outcome == Err(TokenError::UnknownKey) {
            if let Some(newer) = self.cache.refreshed(&keys).await {
                outcome = crate::jwt::verify(token, &newer, &self.rules);
            }
        }
        match outcome {
            Ok(_) => Verdict::Allowed,
            Err(TokenError::InsufficientScope(_)) => Verdict::Forbidden,
            Err(e) => Verdict::Invalid(e),
        }
    }

    /// The scopes every token must grant.
    pub(crate) fn required_scopes(&self) -> &[String] {
        &self.config.required_scopes
    }

    /// The protected resource's URL for a request with these headers (`None` without a configured
    /// resource, a URL audience, or a usable `Host`).
    pub(crate) fn resource(&self, headers: &HeaderMap) -> Option<String> {
        if let Some(resource) = self.config.static_resource() {
            return Some(resource.to_owned());
        }
        let host = headers.get(HOST)?.to_str().ok()?;
        let usable = !host.is_empty()
            && host.len() <= 255
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
        usable.then(|| format!("http://{host}/mcp"))
    }

    /// The metadata document (RFC 9728 §2) for `resource`.
    fn metadata(&self, resource: &str) -> serde_json::Value {
        let mut doc = serde_json::json!({
            "resource": resource,
            "authorization_servers": [self.config.issuer],
            "bearer_methods_supported": ["header"],
        });
        if !self.config.required_scopes.is_empty() {
            doc["scopes_supported"] = serde_json::json!(self.config.required_scopes);
        }
        doc
    }
}

/// RFC 9728 §3.1: the metadata URL of `resource` puts the well-known prefix between its authority
/// and its path (`https://h/mcp` → `https://h/.well-known/oauth-protected-resource/mcp`).
pub(crate) fn metadata_url(resource: &str) -> String {
    let (scheme, rest) = resource.split_once("://").unwrap_or(("http", resource));
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let path = path.trim_end_matches('/');
    format!("{scheme}://{authority}{METADATA_PATH}{path}")
}

/// The challenge parameters OAuth adds, in order: `resource_metadata`, then the error's.
pub(crate) fn challenge(
    guard: &OAuthGuard,
    headers: &HeaderMap,
    error: Option<(&str, &str)>,
    realm: &str,
) -> HeaderValue {
    let mut value = format!("Bearer realm=\"{realm}\"");
    if let Some(resource) = guard.resource(headers) {
        value.push_str(&format!(
            ", resource_metadata=\"{}\"",
            metadata_url(&resource)
        ));
    }
    if let Some((code, description)) = error {
        value.push_str(&format!(
            ", error=\"{code}\", error_description=\"{description}\""
        ));
        if code == "insufficient_scope" {
            value.push_str(&format!(
                ", scope=\"{}\"",
                guard.required_scopes().join(" ")
            ));
        }
    }
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
}

/// `GET /.well-known/oauth-protected-resource[/mcp]`: the metadata document, or `404` when the
/// resource URL cannot be told (no configured resource, no URL audience, no usable `Host`).
pub(crate) async fn protected_resource_metadata(
    State(guard): State<Arc<OAuthGuard>>,
    headers: HeaderMap,
) -> Response {
    match guard.resource(&headers) {
        Some(resource) => (
            StatusCode::OK,
            [
                (CONTENT_TYPE, HeaderValue::from_static("application/json")),
                (CACHE_CONTROL, HeaderValue::from_static("max-age=3600")),
            ],
            guard.metadata(&resource).to_string(),
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "404 Not Found: set the OAuth resource URL (or send a Host header)\n",
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth_config::JwksSource;

    fn guard(audience: &str) -> OAuthGuard {
        let mut c = OAuthConfig::new(
            "https://as.example",
            audience,
            JwksSource::File("/nonexistent".into()),
        );
        c.required_scopes = vec!["mcp:tools".into(), "mcp:read".into()];
        OAuthGuard::new(&c)
    }

    #[test]
    fn metadata_urls() {
        assert_eq!(
            metadata_url("https://h.example/mcp"),
            "https://h.example/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            metadata_url("http://127.0.0.1:8765"),
            "http://127.0.0.1:8765/.well-known/oauth-protected-resource"
        );
        assert_eq!(
            metadata_url("https://h/a/mcp/?x=1"),
            "https://h/.well-known/oauth-protected-resource/a/mcp"
        );
    }

    #[test]
    fn resources_and_challenges() {
        let mut headers = HeaderMap::new();
        let g = guard("mcp-api");
        assert_eq!(g.resource(&headers), None);
        headers.insert(HOST, HeaderValue::from_static("127.0.0.1:9"));
        assert_eq!(g.resource(&headers).unwrap(), "http://127.0.0.1:9/mcp");
        let mut evil = HeaderMap::new();
        evil.insert(HOST, HeaderValue::from_static("a\"b"));
        assert_eq!(g.resource(&evil), None);
        assert_eq!(
            challenge(&g, &headers, None, "r"),
            "Bearer realm=\"r\", resource_metadata=\"http://127.0.0.1:9/.well-known/oauth-protected-resource/mcp\""
        );
        let g = guard("https://m.example/mcp");
        assert_eq!(
            challenge(&g, &evil, Some(("insufficient_scope", "d")), "r"),
            "Bearer realm=\"r\", resource_metadata=\"https://m.example/.well-known/oauth-protected-resource/mcp\", \
             error=\"insufficient_scope\", error_description=\"d\", scope=\"mcp:tools mcp:read\""
        );
        assert_eq!(
            g.metadata("https://m.example/mcp"),
            serde_json::json!({"resource": "https://m.example/mcp",
                "authorization_servers": ["https://as.example"],
                "bearer_methods_supported": ["header"],
                "scopes_supported": ["mcp:tools", "mcp:read"]})
        );
    }

    #[tokio::test]
    async fn verdicts_without_keys() {
        let g = guard("a");
        assert_eq!(
            g.check(b"x.y").await,
            Verdict::Invalid(TokenError::Malformed)
        );
        // A well-formed RS256 token, but the key file does not exist.
        let token = "eyJhbGciOiJSUzI1NiJ9.e30.c2ln";
        assert_eq!(g.check(token.as_bytes()).await, Verdict::Unavailable);
    }
}
