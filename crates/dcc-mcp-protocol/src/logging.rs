//! Logging: `logging/setLevel` (session era), the per-request `_meta` log level (2026-07-28) and the
//! `notifications/message` a handler's log lines become.

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// 2026-07-28: the `_meta` key of a request's log level (no key: no log notifications).
pub const META_LOG_LEVEL_KEY: &str = "io.modelcontextprotocol/logLevel";

/// Syslog severities, least severe first, so `a >= b` means "`a` passes a filter set to `b`".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoggingLevel {
    /// Debug detail.
    Debug,
    /// Informational.
    Info,
    /// Normal but significant.
    Notice,
    /// Warning.
    Warning,
    /// Error.
    Error,
    /// Critical.
    Critical,
    /// Action must be taken at once.
    Alert,
    /// The system is unusable.
    Emergency,
}

impl LoggingLevel {
    /// Every level, least severe first.
    pub const ALL: [LoggingLevel; 8] = [
        LoggingLevel::Debug,
        LoggingLevel::Info,
        LoggingLevel::Notice,
        LoggingLevel::Warning,
        LoggingLevel::Error,
        LoggingLevel::Critical,
        LoggingLevel::Alert,
        LoggingLevel::Emergency,
    ];

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            LoggingLevel::Debug => "debug",
            LoggingLevel::Info => "info",
            LoggingLevel::Notice => "notice",
            LoggingLevel::Warning => "warning",
            LoggingLevel::Error => "error",
            LoggingLevel::Critical => "critical",
            LoggingLevel::Alert => "alert",
            LoggingLevel::Emergency => "emergency",
        }
    }
}

impl FromStr for LoggingLevel {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        Self::ALL
            .into_iter()
            .find(|level| level.as_str() == text)
            .ok_or(())
    }
}

/// `logging/setLevel` params.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetLevelParams {
    /// The least severe level the client wants.
    pub level: LoggingLevel,
}

/// `notifications/message` params.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggingMessageParams {
    /// Severity.
    pub level: LoggingLevel,
    /// Which logger, if named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logger: Option<String>,
    /// Any JSON: a string or an object.
    pub data: Value,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn levels_order_and_parse() {
        assert!(LoggingLevel::Error > LoggingLevel::Warning);
        assert!(LoggingLevel::Debug < LoggingLevel::Info);
        for level in LoggingLevel::ALL {
            assert_eq!(level.as_str().parse::<LoggingLevel>(), Ok(level));
            assert_eq!(serde_json::to_value(level).unwrap(), json!(level.as_str()));
        }
        assert_eq!("warn".parse::<LoggingLevel>(), Err(()));
        let params: SetLevelParams = serde_json::from_value(json!({"level": "notice"})).unwrap();
        assert_eq!(params.level, LoggingLevel::Notice);
        assert!(serde_json::from_value::<SetLevelParams>(json!({"level": "loud"})).is_err());
        let message = LoggingMessageParams {
            level: LoggingLevel::Info,
            logger: Some("dcc".into()),
            data: json!("started"),
        };
        assert_eq!(
            serde_json::to_value(&message).unwrap(),
            json!({"level": "info", "logger": "dcc", "data": "started"})
        );
    }
}
