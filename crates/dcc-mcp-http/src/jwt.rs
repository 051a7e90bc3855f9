//! JWT access tokens of an OAuth 2.1 authorization server: the key set (JWKS) and the checks of one
//! token against it.
//!
//! Why a module of its own, free of HTTP: the rules are the security boundary of `/mcp` and are
//! tested (and fuzzed) without a server. Signatures are verified by `jsonwebtoken` with its pure-Rust
//! RustCrypto backend; this module decides which keys and algorithms may be used and what the claims
//! must say:
//!
//! - only asymmetric algorithms (RSA PKCS#1 v1.5 and PSS, ECDSA P-256/P-384, Ed25519): `none` and the
//!   HMAC family are refused before any key is looked at, so a public key can never be used as an
//!   HMAC secret;
//! - the key is the one the header's `kid` names; a JWK that states an `alg` or a `use` other than
//!   `sig` is used only for that;
//! - `iss` must be the configured issuer, `aud` must hold the configured audience (RFC 8707), `exp`
//!   is required, `exp` and `nbf` are checked with a small leeway;
//! - the granted scopes are read from `scope` (a space-separated string, RFC 9068) or `scp` (a list),
//!   and every required scope must be among them.
//!
//! Nothing here logs a token or a claim.

use std::collections::HashSet;

use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// Most keys kept from one JWKS document (the rest are ignored).
pub(crate) const MAX_KEYS: usize = 64;
/// Longest token looked at, in bytes: anything longer is malformed without being decoded.
pub(crate) const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The algorithms a token may be signed with.
const ALLOWED: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// One usable key of the set.
struct Key {
    kid: Option<String>,
    /// The algorithm the JWK restricts the key to, if it names one.
    alg: Option<Algorithm>,
    key: DecodingKey,
}

/// The verification keys of an authorization server, from its JWKS document (RFC 7517).
#[derive(Default)]
pub(crate) struct KeySet {
    keys: Vec<Key>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeySet({} keys)", self.keys.len())
    }
}

#[derive(Deserialize)]
struct Document {
    keys: Vec<serde_json::Value>,
}

impl KeySet {
    /// The keys of a JWKS document. Keys this server cannot use (symmetric, encryption-only,
    /// unknown types, bad parameters) are skipped; only a document that is not a JWKS at all is an
    /// error. At most [`MAX_KEYS`] keys are kept.
    pub(crate) fn parse(document: &[u8]) -> Result<Self, String> {
        let doc: Document = serde_json::from_slice(document)
            .map_err(|e| format!("not a JWKS document ({{\"keys\": [...]}}): {e}"))?;
        let keys = doc
            .keys
            .into_iter()
            .filter_map(|value| serde_json::from_value::<Jwk>(value).ok())
            .filter(|jwk| !matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature))
            .filter_map(|jwk| {
                let alg = match jwk.common.key_algorithm {
                    Some(a) => Some(a.to_string().parse::<Algorithm>().ok()?),
                    None => None,
                };
                if alg.is_some_and(|a| !ALLOWED.contains(&a)) {
                    return None;
                }
                let key = DecodingKey::from_jwk(&jwk).ok()?;
                if matches!(key.family(), jsonwebtoken::AlgorithmFamily::Hmac) {
                    return None;
                }
                Some(Key {
                    kid: jwk.common.key_id,
                    alg,
                    key,
                })
            })
            .take(MAX_KEYS)
            .collect();
        Ok(Self { keys })
    }

    /// How many usable keys the set holds.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }
}

/// Why a token was refused. Each maps to `401` with `error="invalid_token"`, except
/// [`TokenError::InsufficientScope`] (`403`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenError {
    /// Not a compact JWS, or its header or claims are not JSON of the right shape.
    Malformed,
    /// `alg` is `none`, symmetric, or unknown.
    UnsupportedAlgorithm,
    /// No key of the set has the header's `kid` (or fits its algorithm).
    UnknownKey,
    /// The signature does not verify with the key.
    BadSignature,
    /// `exp` is in the past (beyond the leeway).
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
    /// `iss` is not the configured issuer.
    WrongIssuer,
    /// `aud` does not hold the configured audience.
    WrongAudience,
    /// A required claim (`exp`, `iss`, `aud`) is missing or has the wrong type.
    MissingClaim,
    /// The token is valid but lacks these required scopes.
    InsufficientScope(Vec<String>),
}

impl TokenError {
    /// The `error_description` of the challenge: says what is wrong, never echoes the token.
    pub(crate) fn description(&self) -> &'static str {
        match self {
            Self::Malformed => "the token is not a well-formed JWT",
            Self::UnsupportedAlgorithm => "the token's signing algorithm is not accepted",
            Self::UnknownKey => "the token is signed with a key the issuer does not publish",
            Self::BadSignature => "the token's signature does not verify",
            Self::Expired => "the token has expired",
            Self::NotYetValid => "the token is not valid yet",
            Self::WrongIssuer => "the token was issued by another issuer",
            Self::WrongAudience => "the token was not issued for this resource",
            Self::MissingClaim => "the token lacks a required claim (exp, iss or aud)",
            Self::InsufficientScope(_) => "the token lacks a required scope",
        }
    }
}

/// What a token must satisfy besides its signature.
#[derive(Debug, Clone)]
pub(crate) struct TokenRules {
    /// The expected `iss`.
    pub(crate) issuer: String,
    /// The audience `aud` must hold.
    pub(crate) audience: String,
    /// Seconds of clock skew allowed on `exp` and `nbf`.
    pub(crate) leeway_secs: u64,
    /// Scopes every token must grant.
    pub(crate) required_scopes: Vec<String>,
}

/// The claims read after the signature verified (`exp`, `iss`, `aud` were checked by `jsonwebtoken`).
#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    scope: Option<serde_json::Value>,
    #[serde(default)]
    scp: Option<serde_json::Value>,
}

fn words(value: Option<&serde_json::Value>) -> Vec<&str> {
    match value {
        Some(serde_json::Value::String(s)) => s.split(' ').filter(|w| !w.is_empty()).collect(),
        Some(serde_json::Value::Array(items)) => items.iter().filter_map(|v| v.as_str()).collect(),
        _ => Vec::new(),
    }
}

/// The header's algorithm and `kid`, with the algorithm checked first: `alg: none` and HMAC are refused
/// here.
pub(crate) fn header(token: &str) -> Result<(Algorithm, Option<String>), TokenError> {
    if token.len() > MAX_TOKEN_BYTES || token.split('.').count() != 3 {
        return Err(TokenError::Malformed);
    }
    let first = token.split('.').next().unwrap_or_default();
    // `decode_header` fails on an algorithm it does not know (`none` among them): tell that apart
    // from a broken header.
    match jsonwebtoken::decode_header(token) {
        Ok(h) if ALLOWED.contains(&h.alg) => Ok((h.alg, h.kid)),
        Ok(_) => Err(TokenError::UnsupportedAlgorithm),
        Err(_) if header_names_an_alg(first) => Err(TokenError::UnsupportedAlgorithm),
        Err(_) => Err(TokenError::Malformed),
    }
}

/// `true` when the (base64url) header is a JSON object with a string `alg` (an algorithm that
/// `decode_header` does not know, such as `none`).
fn header_names_an_alg(encoded: &str) -> bool {
    use base64::Engine as _;
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded) else {
        return false;
    };
    serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .is_some_and(|v| v.get("alg").is_some_and(serde_json::Value::is_string))
}

/// Checks `token` against `keys` and `rules`; `Ok` with the granted scopes.
pub(crate) fn verify(
    token: &str,
    keys: &KeySet,
    rules: &TokenRules,
) -> Result<Vec<String>, TokenError> {
    let (alg, kid) = header(token)?;
    let candidates: Vec<&Key> = keys
        .keys
        .iter()
        .filter(|k| match (&kid, &k.kid) {
            (Some(wanted), Some(have)) => wanted == have,
            (Some(_), None) => false,
            (None, _) => true,
        })
        .filter(|k| k.alg.is_none_or(|a| a == alg) && fits(alg, &k.key))
        .collect();
    if candidates.is_empty() {
        return Err(TokenError::UnknownKey);
    }
    let mut validation = Validation::new(alg);
    validation.algorithms = vec![alg];
    validation.leeway = rules.leeway_secs;
    validation.validate_nbf = true;
    validation.set_issuer(&[&rules.issuer]);
    validation.set_audience(&[&rules.audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    let mut last = TokenError::BadSignature;
    for key in candidates {
        match jsonwebtoken::decode::<Claims>(token, &key.key, &validation) {
            Ok(data) => return granted(&data.claims, rules),
            Err(e) => {
                last = map_error(e.kind());
                if last != TokenError::BadSignature {
                    return Err(last);
                }
            }
        }
    }
    Err(last)
}

fn fits(alg: Algorithm, key: &DecodingKey) -> bool {
    alg.family() == key.family()
}

fn granted(claims: &Claims, rules: &TokenRules) -> Result<Vec<String>, TokenError> {
    let mut scopes: HashSet<&str> = words(claims.scope.as_ref()).into_iter().collect();
    scopes.extend(words(claims.scp.as_ref()));
    let missing: Vec<String> = rules
        .required_scopes
        .iter()
        .filter(|s| !scopes.contains(s.as_str()))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(TokenError::InsufficientScope(missing));
    }
    let mut out: Vec<String> = scopes.into_iter().map(str::to_owned).collect();
    out.sort();
    Ok(out)
}

fn map_error(kind: &jsonwebtoken::errors::ErrorKind) -> TokenError {
    use jsonwebtoken::errors::ErrorKind as K;
    match kind {
        K::InvalidSignature | K::InvalidEcdsaKey | K::InvalidRsaKey(_) | K::InvalidEddsaKey => {
            TokenError::BadSignature
        }
        K::ExpiredSignature => TokenError::Expired,
        K::ImmatureSignature => TokenError::NotYetValid,
        K::InvalidIssuer => TokenError::WrongIssuer,
        K::InvalidAudience => TokenError::WrongAudience,
        K::MissingRequiredClaim(_) | K::InvalidClaimFormat(_) => TokenError::MissingClaim,
        K::InvalidAlgorithm | K::MissingAlgorithm | K::InvalidAlgorithmName => {
            TokenError::UnsupportedAlgorithm
        }
        _ => TokenError::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> TokenRules {
        TokenRules {
            issuer: "https://issuer.example".into(),
            audience: "https://mcp.example/mcp".into(),
            leeway_secs: 30,
            required_scopes: vec!["mcp:tools".into()],
        }
    }

    fn b64(s: &str) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn jwks_documents() {
        assert!(KeySet::parse(b"[]").is_err());
        assert!(KeySet::parse(b"{}").is_err());
        assert_eq!(KeySet::parse(br#"{"keys": []}"#).unwrap().len(), 0);
        // A symmetric key, an encryption key and garbage are skipped, not fatal.
        let doc = br#"{"keys": [
            {"kty": "oct", "k": "c2VjcmV0", "kid": "h"},
            {"kty": "EC", "crv": "P-256", "use": "enc", "kid": "e",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "EC", "crv": "P-256", "kid": "s",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "nope"}, 7
        ]}"#;
        let set = KeySet::parse(doc).unwrap();
        assert_eq!(set.len(), 1);
        assert_eq!(format!("{set:?}"), "KeySet(1 keys)");
    }

    #[test]
    fn headers() {
        let none = format!("{}.{}.", b64(r#"{"alg":"none"}"#), b64("{}"));
        assert_eq!(header(&none), Err(TokenError::UnsupportedAlgorithm));
        let hs = format!("{}.{}.c2ln", b64(r#"{"alg":"HS256"}"#), b64("{}"));
        assert_eq!(header(&hs), Err(TokenError::UnsupportedAlgorithm));
        let rs = format!(
            "{}.{}.c2ln",
            b64(r#"{"alg":"RS256","kid":"k1"}"#),
            b64("{}")
        );
        assert_eq!(header(&rs), Ok((Algorithm::RS256, Some("k1".into()))));
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            "!!.e30.",
            &"a".repeat(MAX_TOKEN_BYTES + 1),
        ] {
            assert_eq!(header(bad), Err(TokenError::Malformed), "{bad:.20}");
        }
        // `alg: none` never reaches a key: refused even with an empty set.
        assert_eq!(
            verify(&none, &KeySet::default(), &rules()),
            Err(TokenError::UnsupportedAlgorithm)
        );
        assert_eq!(
            verify(&rs, &KeySet::default(), &rules()),
            Err(TokenError::UnknownKey)
        );
    }

    #[test]
    fn scopes_from_scope_and_scp() {
        let r = rules();
        let c: Claims = serde_json::from_str(r#"{"scope": "a mcp:tools  b"}"#).unwrap();
        assert_eq!(granted(&c, &r).unwrap(), ["a", "b", "mcp:tools"]);
        let c: Claims = serde_json::from_str(r#"{"scp": ["mcp:tools"]}"#).unwrap();
        assert_eq!(granted(&c, &r).unwrap(), ["mcp:tools"]);
        let c: Claims = serde_json::from_str(r#"{"scope": "mcp:tool"}"#).unwrap();
        assert_eq!(
            granted(&c, &r),
            Err(TokenError::InsufficientScope(vec!["mcp:tools".into()]))
        );
        let c: Claims = serde_json::from_str(r#"{"scope": 5}"#).unwrap();
        assert!(granted(&c, &r).is_err());
    }
}
