//! MCP protocol revisions, their eras, and version negotiation.
//!
//! A revision belongs to an [`Era`]: the session era (an `initialize` handshake opens a session named
//! by `Mcp-Session-Id`, the version travels in the `MCP-Protocol-Version` header) or the stateless era
//! of 2026-07-28 (no session, no `initialize`: each request names its version in
//! `_meta["io.modelcontextprotocol/protocolVersion"]`). [`SUPPORTED_PROTOCOL_VERSIONS`] lists what
//! this codebase speaks; a revision can be known here (parsed, named) before it is supported.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Session-era protocol versions spoken by this codebase (server and client), newest first: what
/// `initialize` negotiates and what the `MCP-Protocol-Version` header of a session may name.
pub const SUPPORTED_PROTOCOL_VERSIONS: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];

/// Stateless-era versions the server serves (each request names one in its `_meta`).
pub const STATELESS_PROTOCOL_VERSIONS: [&str; 1] = ["2026-07-28"];

/// Every version the server serves, newest first: `server/discover`'s `supportedVersions`.
pub const SERVED_PROTOCOL_VERSIONS: [&str; 4] = [
    STATELESS_PROTOCOL_VERSIONS[0],
    SUPPORTED_PROTOCOL_VERSIONS[0],
    SUPPORTED_PROTOCOL_VERSIONS[1],
    SUPPORTED_PROTOCOL_VERSIONS[2],
];

/// The version offered when a client asks for one that is not supported.
pub const LATEST_PROTOCOL_VERSION: &str = SUPPORTED_PROTOCOL_VERSIONS[0];

/// The only version that allows JSON-RPC batches.
pub const BATCH_PROTOCOL_VERSION: &str = "2025-03-26";

/// 2026-07-28: the `_meta` key carrying a request's protocol version.
pub const META_PROTOCOL_VERSION_KEY: &str = "io.modelcontextprotocol/protocolVersion";
/// 2026-07-28: the `_meta` key carrying a request's client capabilities.
pub const META_CLIENT_CAPABILITIES_KEY: &str = "io.modelcontextprotocol/clientCapabilities";
/// 2026-07-28: the result field naming what kind of result it is (`complete`, `input_required`, …).
pub const RESULT_TYPE_KEY: &str = "resultType";

/// How a revision carries state between requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Era {
    /// `initialize` opens a session; requests carry `Mcp-Session-Id` (2025-03-26 … 2025-11-25).
    Session,
    /// No session: each request is self-contained and names its version in `_meta` (2026-07-28).
    Stateless,
}

/// A protocol revision known to this crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProtocolVersion {
    /// `2025-03-26`: the first Streamable HTTP revision; the only one with JSON-RPC batches.
    V2025_03_26,
    /// `2025-06-18`: structured tool output, `MCP-Protocol-Version` header required.
    V2025_06_18,
    /// `2025-11-25`: the last session-era revision.
    V2025_11_25,
    /// `2026-07-28`: the stateless revision (served by the server next to the session era).
    V2026_07_28,
}

impl ProtocolVersion {
    /// Every known revision, newest first.
    pub const ALL: [ProtocolVersion; 4] = [
        ProtocolVersion::V2026_07_28,
        ProtocolVersion::V2025_11_25,
        ProtocolVersion::V2025_06_18,
        ProtocolVersion::V2025_03_26,
    ];

    /// The newest revision this codebase speaks.
    pub const LATEST: ProtocolVersion = ProtocolVersion::V2025_11_25;

    /// The date string used on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            ProtocolVersion::V2025_03_26 => "2025-03-26",
            ProtocolVersion::V2025_06_18 => "2025-06-18",
            ProtocolVersion::V2025_11_25 => "2025-11-25",
            ProtocolVersion::V2026_07_28 => "2026-07-28",
        }
    }

    /// The known revision named `text`, if any.
    pub fn parse(text: &str) -> Option<ProtocolVersion> {
        Self::ALL
            .into_iter()
            .find(|version| version.as_str() == text)
    }

    /// The era this revision belongs to.
    pub const fn era(self) -> Era {
        match self {
            ProtocolVersion::V2026_07_28 => Era::Stateless,
            _ => Era::Session,
        }
    }

    /// The stateless revision named `text` when the server serves it.
    pub fn stateless(text: &str) -> Option<ProtocolVersion> {
        Self::parse(text).filter(|version| {
            version.era() == Era::Stateless
                && STATELESS_PROTOCOL_VERSIONS.contains(&version.as_str())
        })
    }

    /// Whether this codebase speaks the revision in the session era (it is in
    /// [`SUPPORTED_PROTOCOL_VERSIONS`]).
    pub fn is_supported(self) -> bool {
        SUPPORTED_PROTOCOL_VERSIONS.contains(&self.as_str())
    }

    /// Whether a `POST` body may be a JSON-RPC batch under this revision.
    pub const fn allows_batches(self) -> bool {
        matches!(self, ProtocolVersion::V2025_03_26)
    }

    /// Whether tool results may carry `structuredContent` (2025-06-18 and later).
    pub fn has_structured_content(self) -> bool {
        self >= ProtocolVersion::V2025_06_18
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A version string that names no known revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownVersion(pub String);

impl fmt::Display for UnknownVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown MCP protocol version {:?}; known: {}",
            self.0,
            ProtocolVersion::ALL.map(ProtocolVersion::as_str).join(", ")
        )
    }
}

impl std::error::Error for UnknownVersion {}

impl FromStr for ProtocolVersion {
    type Err = UnknownVersion;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ProtocolVersion::parse(text).ok_or_else(|| UnknownVersion(text.to_owned()))
    }
}

impl Serialize for ProtocolVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ProtocolVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        ProtocolVersion::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(UnknownVersion(text.into_owned())))
    }
}

/// The supported version equal to `requested`, if any (as its `'static` wire string).
pub fn supported_version(requested: &str) -> Option<&'static str> {
    SUPPORTED_PROTOCOL_VERSIONS
        .iter()
        .copied()
        .find(|version| *version == requested)
}

/// Server side of `initialize`: the requested revision when it is supported, else the latest one
/// (the client then decides whether it can speak that).
pub fn negotiate(requested: &str) -> ProtocolVersion {
    ProtocolVersion::parse(requested)
        .filter(|version| version.is_supported() && version.era() == Era::Session)
        .unwrap_or(ProtocolVersion::LATEST)
}

/// Client side of `initialize`: accept the revision the server answered if this codebase speaks it.
pub fn accept(offered: &str) -> Result<ProtocolVersion, UnknownVersion> {
    ProtocolVersion::parse(offered)
        .filter(|version| version.is_supported())
        .ok_or_else(|| UnknownVersion(offered.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_lookup() {
        assert_eq!(supported_version("2025-06-18"), Some("2025-06-18"));
        assert_eq!(supported_version("2024-11-05"), None);
        assert_eq!(supported_version("2026-07-28"), None);
    }

    #[test]
    fn every_supported_string_is_a_known_session_revision() {
        for text in SUPPORTED_PROTOCOL_VERSIONS {
            let version = ProtocolVersion::parse(text).map(|v| (v.as_str(), v.era()));
            assert_eq!(version, Some((text, Era::Session)));
        }
        assert_eq!(ProtocolVersion::LATEST.as_str(), LATEST_PROTOCOL_VERSION);
        assert!(ProtocolVersion::V2025_03_26.allows_batches());
        assert_eq!(
            ProtocolVersion::ALL
                .iter()
                .filter(|v| v.allows_batches())
                .count(),
            1
        );
        assert_eq!(ProtocolVersion::V2026_07_28.era(), Era::Stateless);
        assert!(!ProtocolVersion::V2026_07_28.is_supported());
        assert_eq!(
            ProtocolVersion::stateless("2026-07-28"),
            Some(ProtocolVersion::V2026_07_28)
        );
        assert_eq!(ProtocolVersion::stateless("2025-11-25"), None);
        assert_eq!(SERVED_PROTOCOL_VERSIONS[0], "2026-07-28");
        let mut sorted = ProtocolVersion::ALL;
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(sorted, ProtocolVersion::ALL, "ALL is newest first");
    }

    #[test]
    fn negotiation_echoes_supported_and_offers_latest_otherwise() {
        assert_eq!(negotiate("2025-03-26"), ProtocolVersion::V2025_03_26);
        assert_eq!(negotiate("2024-11-05"), ProtocolVersion::LATEST);
        assert_eq!(negotiate("2026-07-28"), ProtocolVersion::LATEST);
        assert_eq!(accept("2025-06-18"), Ok(ProtocolVersion::V2025_06_18));
        assert!(accept("2026-07-28").is_err());
        assert!(accept("nope")
            .unwrap_err()
            .to_string()
            .contains("2025-11-25"));
    }

    #[test]
    fn serde_uses_the_date_string() {
        let text = serde_json::to_string(&ProtocolVersion::V2025_06_18).unwrap();
        assert_eq!(text, "\"2025-06-18\"");
        let back: ProtocolVersion = serde_json::from_str(&text).unwrap();
        assert_eq!(back, ProtocolVersion::V2025_06_18);
        assert!(serde_json::from_str::<ProtocolVersion>("\"1999-01-01\"").is_err());
    }
}
