//! What a gateway is told: its static backends, the budgets each backend gets, how health is
//! probed, and where discovery and the Prometheus `file_sd` output live.

use std::path::PathBuf;
use std::time::Duration;

use crate::names::{check_backend_name, NameError};

/// One backend named on the command line (`--backend NAME=URL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendSpec {
    /// The namespace of its tools (`NAME__tool`) and its `backend` metric label.
    pub name: String,
    /// Its MCP endpoint, `http://host:port/mcp`.
    pub url: String,
    /// Its DCC type (`maya`, `blender`, …), when known.
    pub dcc_type: Option<String>,
}

/// Why a `NAME=URL` argument was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// No `=`.
    #[error("a backend is given as NAME=URL, got {0:?}")]
    Shape(String),
    /// A bad name.
    #[error(transparent)]
    Name(#[from] NameError),
    /// Not an `http://` URL.
    #[error("backend {name}: the URL must start with http:// (got {url:?})")]
    Url {
        /// The backend.
        name: String,
        /// The URL given.
        url: String,
    },
}

impl BackendSpec {
    /// Parse `NAME=URL`.
    pub fn parse(text: &str) -> Result<Self, SpecError> {
        let (name, url) = text
            .split_once('=')
            .ok_or_else(|| SpecError::Shape(text.to_owned()))?;
        Self::new(name.trim(), url.trim(), None)
    }

    /// A checked spec.
    pub fn new(name: &str, url: &str, dcc_type: Option<String>) -> Result<Self, SpecError> {
        check_backend_name(name)?;
        if !url.starts_with("http://") {
            return Err(SpecError::Url {
                name: name.to_owned(),
                url: url.to_owned(),
            });
        }
        Ok(Self {
            name: name.to_owned(),
            url: url.to_owned(),
            dcc_type,
        })
    }
}

/// Settings of a [`Gateway`](crate::Gateway).
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Backends that are always there (`--backend`).
    pub backends: Vec<BackendSpec>,
    /// Deadline of one proxied call to a backend; past it the caller gets an `isError` result and
    /// the backend `notifications/cancelled`.
    pub call_timeout: Duration,
    /// Most calls in flight to one backend, so one slow backend holds only its own slots.
    pub max_in_flight: usize,
    /// How long a call waits for a free slot of its backend's budget before it is answered "busy".
    pub queue_wait: Duration,
    /// Time between two health probes of one backend.
    pub probe_interval: Duration,
    /// Deadline of one probe (`ping`, or connect and `tools/list`).
    pub probe_timeout: Duration,
    /// Consecutive failures (probes, or calls that got no answer) after which a backend is down.
    pub failure_threshold: u32,
    /// Most backends at once (static plus discovered); bounds the `backend` metric label.
    pub max_backends: usize,
    /// Discovery directory: hosts join by writing an entry there (see [`crate::discovery`]).
    pub registry_dir: Option<PathBuf>,
    /// An entry whose heartbeat is older than this has expired.
    pub registry_ttl: Duration,
    /// How often the discovery directory is read.
    pub registry_poll: Duration,
    /// Where to write a Prometheus `file_sd` file of the live backends.
    pub file_sd_out: Option<PathBuf>,
    /// A key shared by the gateway's replicas (`--session-key-file`): session ids become tokens
    /// authenticated with it, so any replica serves any session (see [`crate::session_token`]).
    /// `None`: random ids, and a session is served by the replica that started it.
    pub session_key_file: Option<PathBuf>,
    /// How long a session token stays valid after `initialize`.
    pub session_token_max_age: Duration,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            backends: Vec::new(),
            call_timeout: Duration::from_secs(30),
            max_in_flight: 64,
            queue_wait: Duration::from_secs(5),
            probe_interval: Duration::from_secs(1),
            probe_timeout: Duration::from_secs(1),
            failure_threshold: 2,
            max_backends: 256,
            registry_dir: None,
            registry_ttl: Duration::from_secs(10),
            registry_poll: Duration::from_secs(1),
            file_sd_out: None,
            session_key_file: None,
            session_token_max_age: Duration::from_secs(24 * 3600),
        }
    }
}

/// A configuration that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayConfigError {
    /// Two backends with one name.
    #[error("backend {0} is named twice")]
    DuplicateBackend(String),
    /// More static backends than `max_backends`.
    #[error("{count} backends exceed max_backends = {max}")]
    TooManyBackends {
        /// Backends given.
        count: usize,
        /// The cap.
        max: usize,
    },
    /// A zero budget or deadline.
    #[error("{0} must be greater than zero")]
    Zero(&'static str),
}

impl GatewayConfig {
    /// Check the settings.
    pub fn validate(&self) -> Result<(), GatewayConfigError> {
        for (field, zero) in [
            ("call_timeout", self.call_timeout.is_zero()),
            ("max_in_flight", self.max_in_flight == 0),
            ("queue_wait", self.queue_wait.is_zero()),
            ("probe_interval", self.probe_interval.is_zero()),
            ("probe_timeout", self.probe_timeout.is_zero()),
            ("failure_threshold", self.failure_threshold == 0),
            ("max_backends", self.max_backends == 0),
            ("registry_ttl", self.registry_ttl.is_zero()),
            ("registry_poll", self.registry_poll.is_zero()),
            (
                "session_token_max_age",
                self.session_token_max_age.is_zero(),
            ),
        ] {
            if zero {
                return Err(GatewayConfigError::Zero(field));
            }
        }
        if self.backends.len() > self.max_backends {
            return Err(GatewayConfigError::TooManyBackends {
                count: self.backends.len(),
                max: self.max_backends,
            });
        }
        let mut names: Vec<&str> = self.backends.iter().map(|b| b.name.as_str()).collect();
        names.sort_unstable();
        if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(GatewayConfigError::DuplicateBackend(pair[0].to_owned()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_configs_validate() {
        let spec = BackendSpec::parse("maya-01=http://127.0.0.1:9000/mcp").unwrap();
        assert_eq!(spec.name, "maya-01");
        assert_eq!(spec.url, "http://127.0.0.1:9000/mcp");
        assert!(matches!(
            BackendSpec::parse("nourl"),
            Err(SpecError::Shape(_))
        ));
        assert!(matches!(
            BackendSpec::parse("a=https://x/mcp"),
            Err(SpecError::Url { .. })
        ));
        assert!(matches!(
            BackendSpec::parse("a__b=http://x/mcp"),
            Err(SpecError::Name(_))
        ));
        let mut config = GatewayConfig {
            backends: vec![spec.clone(), spec],
            ..GatewayConfig::default()
        };
        assert_eq!(
            config.validate(),
            Err(GatewayConfigError::DuplicateBackend("maya-01".into()))
        );
        config.backends.pop();
        assert_eq!(config.validate(), Ok(()));
        config.max_backends = 0;
        assert_eq!(
            config.validate(),
            Err(GatewayConfigError::Zero("max_backends"))
        );
    }
}
