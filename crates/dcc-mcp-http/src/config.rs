//! Server configuration: one plain struct with safe defaults, validated once in
//! [`McpHttpServer::new`](crate::McpHttpServer::new) so that a bad value is reported before anything binds.

use std::fmt;
use std::time::Duration;

use crate::error::ConfigError;

/// Credentials for HTTP Basic authentication of the `/metrics` endpoint.
///
/// `Debug` never prints the password.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicAuth {
    /// The user name (must not contain `:`).
    pub username: String,
    /// The password (never logged).
    pub password: String,
}

impl BasicAuth {
    /// Credentials from a user name and a password.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
        }
    }
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuth")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Configuration of an [`McpHttpServer`](crate::McpHttpServer).
///
/// Build it with `McpHttpConfig { port: 0, ..Default::default() }`; every field has a safe default.
#[derive(Clone, Debug)]
pub struct McpHttpConfig {
    /// Interface to bind; `127.0.0.1` by default so the server is not reachable from other hosts.
    pub host: String,
    /// TCP port; `0` picks an ephemeral port (read it back from the handle).
    pub port: u16,
    /// `serverInfo.name` reported by `initialize`.
    pub server_name: String,
    /// `serverInfo.version` reported by `initialize`.
    pub server_version: String,
    /// Deadline for one synchronous `tools/call`; a call that exceeds it becomes an `isError` result.
    pub request_timeout: Duration,
    /// A session that sees no request (and has no open SSE stream) for this long is ended.
    pub session_ttl: Duration,
    /// A connection must deliver its request headers within this time, or it is closed.
    pub header_read_timeout: Duration,
    /// Graceful-shutdown deadline: after it, remaining connections are dropped.
    pub shutdown_timeout: Duration,
    /// Largest accepted request body; bigger bodies get `413 Payload Too Large`.
    pub max_body_bytes: usize,
    /// Most sessions alive at once. Past it, `initialize` first ends expired sessions and, if none
    /// expired, is refused with `503 Service Unavailable` and `Retry-After`, so a client calling
    /// `initialize` in a loop cannot grow memory without bound.
    pub max_sessions: usize,
    /// How many async jobs may wait for a worker; more are refused with "job queue full".
    pub job_queue_capacity: usize,
    /// How many async jobs run at the same time.
    pub job_concurrency: usize,
    /// Most blocking ([`Handler::Worker`](crate::Handler::Worker)) handlers of sync calls running at
    /// once. A handler that outlives `request_timeout` keeps its slot until it returns, so runaway
    /// handlers cannot take more threads than this.
    pub sync_concurrency: usize,
    /// How long a sync call waits for a free worker before it is answered "server busy" (an
    /// `isError` result, counted as `dcc_mcp_rejected_total{reason="busy"}`).
    pub sync_queue_wait: Duration,
    /// Runs [`Handler::MainThread`](crate::Handler::MainThread) tools: the host pumps it from its
    /// main thread. `None`: such tools answer an `isError` result saying no executor is configured.
    pub main_thread_executor: Option<crate::MainThreadExecutor>,
    /// Extra allowed `Origin` values (e.g. `https://studio.example`); `*` allows any origin.
    /// Localhost origins are always allowed when the server is bound to a loopback address.
    pub allowed_origins: Vec<String>,
    /// Serve Prometheus metrics at `GET /metrics` (needs the `prometheus` Cargo feature; ignored without it).
    pub enable_prometheus: bool,
    /// Optional Basic-auth credentials guarding `/metrics`.
    pub prometheus_basic_auth: Option<BasicAuth>,
}

impl Default for McpHttpConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: 8765,
            server_name: "dcc-mcp".to_owned(),
            server_version: env!("CARGO_PKG_VERSION").to_owned(),
            request_timeout: Duration::from_secs(30),
            session_ttl: Duration::from_secs(30 * 60),
            header_read_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(5),
            max_body_bytes: 4 * 1024 * 1024,
            max_sessions: 10_000,
            job_queue_capacity: 64,
            job_concurrency: 4,
            sync_concurrency: crate::dispatch::DEFAULT_SYNC_CONCURRENCY,
            sync_queue_wait: crate::dispatch::DEFAULT_SYNC_QUEUE_WAIT,
            main_thread_executor: None,
            allowed_origins: Vec::new(),
            enable_prometheus: false,
            prometheus_basic_auth: None,
        }
    }
}

impl McpHttpConfig {
    /// Check every field; the error names the field and what to change.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.host.trim().is_empty() {
            return Err(ConfigError::EmptyHost);
        }
        if self.server_name.trim().is_empty() {
            return Err(ConfigError::EmptyServerName);
        }
        for (field, value) in [
            ("request_timeout", self.request_timeout),
            ("session_ttl", self.session_ttl),
            ("header_read_timeout", self.header_read_timeout),
            ("shutdown_timeout", self.shutdown_timeout),
            ("sync_queue_wait", self.sync_queue_wait),
        ] {
            if value.is_zero() {
                return Err(ConfigError::ZeroDuration { field });
            }
        }
        for (field, value) in [
            ("max_body_bytes", self.max_body_bytes),
            ("max_sessions", self.max_sessions),
            ("job_queue_capacity", self.job_queue_capacity),
            ("job_concurrency", self.job_concurrency),
            ("sync_concurrency", self.sync_concurrency),
        ] {
            if value == 0 {
                return Err(ConfigError::ZeroLimit { field });
            }
        }
        for origin in &self.allowed_origins {
            if origin != "*" && !(origin.starts_with("http://") || origin.starts_with("https://")) {
                return Err(ConfigError::InvalidOrigin {
                    origin: origin.clone(),
                });
            }
        }
        if let Some(auth) = &self.prometheus_basic_auth {
            if auth.username.is_empty() || auth.username.contains(':') {
                return Err(ConfigError::InvalidBasicAuthUser);
            }
            if auth.password.is_empty() {
                return Err(ConfigError::EmptyBasicAuthPassword);
            }
        }
        Ok(())
    }

    /// Most blocking threads this server's handlers can hold at once: the sync-call workers plus the
    /// job workers (each job holds a `job_concurrency` permit while its handler runs), plus a margin.
    pub(crate) fn max_blocking_threads(&self) -> usize {
        let jobs = if cfg!(feature = "workflow") {
            self.job_concurrency
        } else {
            0
        };
        self.sync_concurrency.saturating_add(jobs).saturating_add(4)
    }

    /// True when `host` names a loopback interface.
    pub(crate) fn binds_loopback(&self) -> bool {
        let host = self
            .host
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']');
        host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .map(|ip| ip.is_loopback())
                .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_debug_hides_password() {
        let config = McpHttpConfig {
            prometheus_basic_auth: Some(BasicAuth::new("scraper", "s3cret-pw")),
            ..Default::default()
        };
        assert!(config.validate().is_ok());
        let text = format!("{config:?}");
        assert!(!text.contains("s3cret-pw"));
        assert!(text.contains("scraper"));
    }

    #[test]
    fn rejects_zero_values() {
        let config = McpHttpConfig {
            job_concurrency: 0,
            ..Default::default()
        };
        assert_eq!(
            config.validate(),
            Err(ConfigError::ZeroLimit {
                field: "job_concurrency"
            })
        );
        let config = McpHttpConfig {
            max_sessions: 0,
            ..Default::default()
        };
        assert_eq!(
            config.validate(),
            Err(ConfigError::ZeroLimit {
                field: "max_sessions"
            })
        );
        let config = McpHttpConfig {
            request_timeout: Duration::ZERO,
            ..Default::default()
        };
        assert_eq!(
            config.validate(),
            Err(ConfigError::ZeroDuration {
                field: "request_timeout"
            })
        );
    }

    #[test]
    fn loopback_detection() {
        for host in ["127.0.0.1", "localhost", "::1", "[::1]"] {
            let config = McpHttpConfig {
                host: host.into(),
                ..Default::default()
            };
            assert!(config.binds_loopback(), "{host}");
        }
        let config = McpHttpConfig {
            host: "0.0.0.0".into(),
            ..Default::default()
        };
        assert!(!config.binds_loopback());
    }
}
