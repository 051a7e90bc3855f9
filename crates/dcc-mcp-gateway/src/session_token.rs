//! Session ids that any replica of the gateway can serve: the downstream `Mcp-Session-Id` is a
//! token, authenticated with HMAC-SHA256 under a key the replicas share (`--session-key-file`).
//!
//! Why a token and not a shared store: replicas behind a round-robin load balancer (haproxy, a
//! Kubernetes Service) see every session's requests spread over all of them. With a random id only
//! the replica that answered `initialize` knows the session and the others answer `404`. The
//! token carries what a replica needs to recreate the session lazily, on the first request it
//! sees: the negotiated protocol version, the client's declared capabilities, the issue time and a
//! random nonce (so two sessions never share an id).
//! Nothing upstream is in it: each replica holds one pooled upstream session per backend, shared
//! by all downstream sessions, so no downstream session owns an upstream session id (a backend
//! that restarts and forgets the replica's session is reconnected by the prober).
//!
//! The token is `g1.BASE64URL(JSON).BASE64URL(HMAC)`, visible ASCII as the transport requires. It
//! is authenticated, not encrypted: it holds no secret, only what the client itself sent. A token
//! older than `max_age`, or forged, or truncated, opens to nothing (the client gets `404` and
//! initializes again). Every outcome is counted in `dcc_mcp_gateway_session_tokens_total{outcome}`.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use dcc_mcp_http::{SessionClaims, SessionCodec};
use dcc_mcp_telemetry::{Counter, Registry, TelemetryError};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Map, Value};
use sha2::Sha256;

/// `dcc_mcp_gateway_session_tokens_total{outcome}`.
pub const SESSION_TOKENS: &str = "dcc_mcp_gateway_session_tokens_total";

/// Fewest bytes a key file must hold (after trimming surrounding whitespace).
pub const MIN_KEY_BYTES: usize = 32;

/// Most bytes a key file may hold.
const MAX_KEY_BYTES: usize = 4096;

/// Most bytes of the token's JSON body. Past it the capabilities are cut to their names (which is
/// what the server checks); a body still past it gets a random id that only this replica serves
/// (`outcome="oversized"`).
pub const MAX_CLAIMS_BYTES: usize = 1024;

/// Tolerated clock skew between replicas: a token issued up to this far in the future is valid.
const CLOCK_SKEW: Duration = Duration::from_secs(60);

const PREFIX: &str = "g1.";

type HmacSha256 = Hmac<Sha256>;

/// Why the key file was refused.
#[derive(Debug, thiserror::Error)]
pub enum SessionKeyError {
    /// The file could not be read.
    #[error("cannot read the session key file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Too short or too long.
    #[error(
        "the session key file {path} holds {len} bytes; it must hold {MIN_KEY_BYTES} to \
         {MAX_KEY_BYTES} (e.g. `head -c 32 /dev/urandom | base64 > FILE`)"
    )]
    Length {
        /// The file.
        path: PathBuf,
        /// Its length after trimming.
        len: usize,
    },
}

/// How a token was handled, the `outcome` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Minted,
    Resumed,
    Forged,
    Expired,
    Oversized,
}

impl Outcome {
    const ALL: [Outcome; 5] = [
        Self::Minted,
        Self::Resumed,
        Self::Forged,
        Self::Expired,
        Self::Oversized,
    ];

    fn as_label(self) -> &'static str {
        match self {
            Self::Minted => "minted",
            Self::Resumed => "resumed",
            Self::Forged => "forged",
            Self::Expired => "expired",
            Self::Oversized => "oversized",
        }
    }
}

/// The gateway's [`SessionCodec`]: mints and opens HMAC-authenticated session tokens.
pub struct SessionTokens {
    mac: HmacSha256,
    max_age: Duration,
    counters: [Counter; 5],
}

impl std::fmt::Debug for SessionTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionTokens")
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

/// Read a key file: its bytes with surrounding whitespace trimmed, [`MIN_KEY_BYTES`] or more.
pub fn read_key(path: &Path) -> Result<Vec<u8>, SessionKeyError> {
    let bytes = std::fs::read(path).map_err(|source| SessionKeyError::Read {
        path: path.to_owned(),
        source,
    })?;
    let key = bytes.trim_ascii();
    if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&key.len()) {
        return Err(SessionKeyError::Length {
            path: path.to_owned(),
            len: key.len(),
        });
    }
    Ok(key.to_vec())
}

impl SessionTokens {
    /// Tokens under `key`, valid for `max_age` after they are minted, counted in `registry`.
    pub fn new(key: &[u8], max_age: Duration, registry: &Registry) -> Result<Self, TelemetryError> {
        let family = registry.counter_family(
            SESSION_TOKENS,
            "Downstream session tokens, by outcome (minted, resumed by a replica that did not \
             start the session, refused as forged or expired, or too large to carry).",
            &["outcome"],
        )?;
        let mac = match <HmacSha256 as KeyInit>::new_from_slice(key) {
            Ok(mac) => mac,
            // HMAC accepts keys of every length; this arm is never taken.
            Err(_) => HmacSha256::new(&Default::default()),
        };
        Ok(Self {
            mac,
            max_age,
            counters: Outcome::ALL.map(|o| family.with_label_values(&[o.as_label()])),
        })
    }

    fn count(&self, outcome: Outcome) {
        let index = Outcome::ALL.iter().position(|o| *o == outcome).unwrap_or(0);
        self.counters[index].inc();
    }

    fn tag(&self, body: &str) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(body.as_bytes());
        mac
    }

    /// The token for `claims`, issued at `now` (seconds since the epoch); `None` when the claims
    /// are too large or the OS has no randomness for the nonce.
    fn mint_at(&self, claims: &SessionClaims, now: u64) -> Option<String> {
        // The nonce makes every session's id its own, whatever its claims and issue second.
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).ok()?;
        let nonce = URL_SAFE_NO_PAD.encode(nonce);
        let mut body = json!({"v": claims.protocol_version, "iat": now, "n": nonce});
        if let Some(capabilities) = &claims.client_capabilities {
            body["c"] = capabilities.clone();
        }
        let mut text = body.to_string();
        if text.len() > MAX_CLAIMS_BYTES {
            if let Some(Value::Object(capabilities)) = &claims.client_capabilities {
                let names: Map<String, Value> = capabilities
                    .iter()
                    .filter(|(_, value)| value.is_object())
                    .map(|(name, _)| (name.clone(), json!({})))
                    .collect();
                body["c"] = Value::Object(names);
                text = body.to_string();
            }
        }
        if text.len() > MAX_CLAIMS_BYTES {
            self.count(Outcome::Oversized);
            return None;
        }
        let encoded = URL_SAFE_NO_PAD.encode(text);
        let tag = URL_SAFE_NO_PAD.encode(self.tag(&encoded).finalize().into_bytes());
        self.count(Outcome::Minted);
        Some(format!("{PREFIX}{encoded}.{tag}"))
    }

    /// The claims of `token` at `now`, when it is genuine and unexpired.
    fn open_at(&self, token: &str, now: u64) -> Option<SessionClaims> {
        let claims = self.verify(token, now);
        match &claims {
            Ok(_) => self.count(Outcome::Resumed),
            Err(outcome) => self.count(*outcome),
        }
        claims.ok()
    }

    fn verify(&self, token: &str, now: u64) -> Result<SessionClaims, Outcome> {
        let rest = token.strip_prefix(PREFIX).ok_or(Outcome::Forged)?;
        let (body, tag) = rest.split_once('.').ok_or(Outcome::Forged)?;
        // Bounded before any decoding: the body's base64 is 4/3 of its JSON.
        if body.len() > MAX_CLAIMS_BYTES * 4 / 3 + 4 {
            return Err(Outcome::Forged);
        }
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| Outcome::Forged)?;
        self.tag(body)
            .verify_slice(&tag)
            .map_err(|_| Outcome::Forged)?;
        let json = URL_SAFE_NO_PAD.decode(body).map_err(|_| Outcome::Forged)?;
        let value: Value = serde_json::from_slice(&json).map_err(|_| Outcome::Forged)?;
        let issued = value
            .get("iat")
            .and_then(Value::as_u64)
            .ok_or(Outcome::Forged)?;
        let age = now.saturating_sub(issued);
        if age > self.max_age.as_secs() || issued > now.saturating_add(CLOCK_SKEW.as_secs()) {
            return Err(Outcome::Expired);
        }
        let protocol_version = value
            .get("v")
            .and_then(Value::as_str)
            .ok_or(Outcome::Forged)?
            .to_owned();
        Ok(SessionClaims {
            protocol_version,
            client_capabilities: value.get("c").cloned(),
        })
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

impl SessionCodec for SessionTokens {
    fn mint(&self, claims: &SessionClaims) -> Option<String> {
        self.mint_at(claims, now_secs())
    }

    fn open(&self, id: &str) -> Option<SessionClaims> {
        self.open_at(id, now_secs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NOW: u64 = 1_800_000_000;

    fn tokens(key: &[u8], registry: &Registry) -> SessionTokens {
        SessionTokens::new(key, Duration::from_secs(3600), registry).unwrap()
    }

    fn claims(capabilities: Option<Value>) -> SessionClaims {
        SessionClaims {
            protocol_version: "2025-06-18".into(),
            client_capabilities: capabilities,
        }
    }

    fn counts(registry: &Registry) -> Vec<String> {
        let mut out = Vec::new();
        registry.encode_text(&mut out);
        String::from_utf8(out)
            .unwrap()
            .lines()
            .filter(|line| line.starts_with(SESSION_TOKENS))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn a_token_minted_by_one_replica_opens_on_another_with_the_same_key() {
        let (ra, rb) = (Registry::new(), Registry::new());
        let (a, b) = (tokens(KEY, &ra), tokens(KEY, &rb));
        let caps = json!({"elicitation": {"form": {}}, "sampling": {}});
        let token = a.mint_at(&claims(Some(caps.clone())), NOW).unwrap();
        assert!(token.starts_with("g1."));
        assert!(token.bytes().all(|b| (0x21..=0x7e).contains(&b)));
        assert_eq!(b.open_at(&token, NOW + 10), Some(claims(Some(caps))));
        let none = a.mint_at(&claims(None), NOW).unwrap();
        assert_ne!(none, a.mint_at(&claims(None), NOW).unwrap());
        assert_eq!(b.open_at(&none, NOW), Some(claims(None)));
        assert_eq!(
            counts(&rb),
            [
                "dcc_mcp_gateway_session_tokens_total{outcome=\"expired\"} 0",
                "dcc_mcp_gateway_session_tokens_total{outcome=\"forged\"} 0",
                "dcc_mcp_gateway_session_tokens_total{outcome=\"minted\"} 0",
                "dcc_mcp_gateway_session_tokens_total{outcome=\"oversized\"} 0",
                "dcc_mcp_gateway_session_tokens_total{outcome=\"resumed\"} 2",
            ]
        );
    }

    #[test]
    fn forged_tampered_other_key_and_expired_tokens_open_to_nothing() {
        let registry = Registry::new();
        let a = tokens(KEY, &registry);
        let other = tokens(b"another key that is 32 bytes lon", &Registry::new());
        let token = a.mint_at(&claims(None), NOW).unwrap();
        let foreign = other.mint_at(&claims(None), NOW).unwrap();
        assert_eq!(a.open_at(&foreign, NOW), None);
        // A body edited to claim another version keeps the old tag.
        let (body, tag) = token["g1.".len()..].split_once('.').unwrap();
        let edited = URL_SAFE_NO_PAD.encode(
            String::from_utf8(URL_SAFE_NO_PAD.decode(body).unwrap())
                .unwrap()
                .replace("2025-06-18", "2025-11-25"),
        );
        assert_eq!(a.open_at(&format!("g1.{edited}.{tag}"), NOW), None);
        assert_eq!(a.open_at(&token[..token.len() - 2], NOW), None);
        assert_eq!(a.open_at("0123456789abcdef0123456789abcdef", NOW), None);
        assert_eq!(a.open_at(&"g1.".repeat(2000), NOW), None);
        // One hour of life: a second past it, or issued too far ahead of this replica's clock.
        assert!(a.open_at(&token, NOW + 3600).is_some());
        assert_eq!(a.open_at(&token, NOW + 3601), None);
        assert_eq!(a.open_at(&token, NOW - 61), None);
        let lines = counts(&registry);
        assert_eq!(
            lines,
            [
                "dcc_mcp_gateway_session_tokens_total{outcome=\"expired\"} 2",
                "dcc_mcp_gateway_session_tokens_total{outcome=\"forged\"} 5",
                "dcc_mcp_gateway_session_tokens_total{outcome=\"minted\"} 1",
                "dcc_mcp_gateway_session_tokens_total{outcome=\"oversized\"} 0",
                "dcc_mcp_gateway_session_tokens_total{outcome=\"resumed\"} 1",
            ]
        );
    }

    #[test]
    fn large_capabilities_are_cut_to_their_names_and_huge_ones_get_no_token() {
        let registry = Registry::new();
        let a = tokens(KEY, &registry);
        let big = json!({"sampling": {"x": "y".repeat(2000)}, "roots": {"listChanged": true}});
        let token = a.mint_at(&claims(Some(big)), NOW).unwrap();
        assert_eq!(
            a.open_at(&token, NOW).unwrap().client_capabilities,
            Some(json!({"sampling": {}, "roots": {}}))
        );
        let many: Map<String, Value> = (0..200).map(|i| (format!("cap{i}"), json!({}))).collect();
        assert_eq!(a.mint_at(&claims(Some(Value::Object(many))), NOW), None);
        assert!(counts(&registry)
            .contains(&"dcc_mcp_gateway_session_tokens_total{outcome=\"oversized\"} 1".into()));
    }

    #[test]
    fn key_files_are_trimmed_and_held_to_their_length_bounds() {
        let dir = std::env::temp_dir().join(format!("dcc-mcp-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good");
        std::fs::write(&good, [KEY, b"\n"].concat()).unwrap();
        assert_eq!(read_key(&good).unwrap(), KEY);
        let short = dir.join("short");
        std::fs::write(&short, b"  short key \n").unwrap();
        assert!(matches!(
            read_key(&short),
            Err(SessionKeyError::Length { len: 9, .. })
        ));
        assert!(matches!(
            read_key(&dir.join("missing")),
            Err(SessionKeyError::Read { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
