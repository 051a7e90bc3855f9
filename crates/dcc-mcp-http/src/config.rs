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

/// Smallest accepted `max_response_bytes`: room for an `initialize` result and any error reply.
pub const MIN_RESPONSE_BYTES: usize = 4096;

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
    /// A session's `GET /mcp` stream that sent no message for this long is closed (5 min by
    /// default); the client reconnects with `Last-Event-ID` after the stream's `retry:` delay and
    /// gets what it missed (2025-11-25 polling). An idle stream costs a connection and a task.
    pub sse_idle_close: Duration,
    /// A new connection must deliver its first request headers within this time of connecting, and
    /// a later request its headers within this time of its first byte, or the connection is closed.
    /// Silence between requests is governed by `keep_alive_timeout` instead.
    pub header_read_timeout: Duration,
    /// Graceful-shutdown deadline: after it, remaining connections are dropped.
    pub shutdown_timeout: Duration,
    /// Largest accepted request body; bigger bodies get `413 Payload Too Large`.
    pub max_body_bytes: usize,
    /// Most sessions alive at once. Past it, `initialize` first ends expired sessions and, if none
    /// expired, is refused with `503 Service Unavailable` and `Retry-After`, so a client calling
    /// `initialize` in a loop cannot grow memory without bound.
    pub max_sessions: usize,
    /// Most sessions one client address may hold. Past it, `initialize` from that address evicts
    /// that address's least recently used idle session (or gets `503` when all of them are busy), so
    /// one client cannot take every session slot. The default equals `max_sessions` (no per-address
    /// limit): behind a gateway, and on loopback, every client shares one address.
    pub max_sessions_per_client: usize,
    /// Most JSON-RPC messages in one batch `POST`; a longer batch is refused whole with `400`
    /// (`-32600`) before any of it runs.
    pub max_batch_messages: usize,
    /// Most bytes of one response body. A batch response stops growing once the next reply would
    /// pass it: the remaining requests are not run and get a `-32603` "response too large" error. A
    /// single reply larger than this is replaced by that error.
    pub max_response_bytes: usize,
    /// Most open client connections. Past it, a new connection gets `503` with `Retry-After` and is
    /// closed at once, so a flood cannot take the file descriptors the host application shares.
    pub max_connections: usize,
    /// A keep-alive connection may stay silent this long between requests; then it is closed
    /// cleanly (no response, end of stream). Separate from `header_read_timeout`, which counts only
    /// from a request's first byte (or, for a new connection, from its accept).
    pub keep_alive_timeout: Duration,
    /// Most SSE streams (`GET /mcp`) open at once; one more gets `503` with `Retry-After`, counted
    /// as `dcc_mcp_rejected_total{reason="stream_limit"}`. Must be below `max_connections`, so
    /// requests and `/metrics` keep slots. `None` (default): half of `max_connections`.
    pub max_streams: Option<usize>,
    /// Most SSE streams one client address may hold; one more gets `503`, counted as
    /// `client_stream_limit`. `None` (default): half of the effective `max_streams`.
    pub max_streams_per_client: Option<usize>,
    /// Most open connections from one client address; one more gets `503` at once and is closed,
    /// counted as `client_connection_limit`. `None` (default): three quarters of `max_connections`.
    pub max_connections_per_client: Option<usize>,
    /// Most bytes of request bodies being read (and held by their requests) at once, across all
    /// connections; a body whose next bytes would pass it gets `503` and its connection closed,
    /// counted as `body_budget`. Must be at least `max_body_bytes`.
    pub max_body_bytes_in_flight: usize,
    /// Most bytes of notifications all session outboxes hold together; past it a new notification
    /// is dropped, counted as `outbox_budget` (the gauge `dcc_mcp_outbox_bytes` shows the total).
    /// Must be at least `max_outbox_bytes`.
    pub max_outbox_bytes_total: usize,
    /// A session that has never opened its `GET /mcp` stream this long after `initialize` stops
    /// buffering notifications: its outbox is emptied and further notifications are dropped,
    /// counted as `outbox_unattached`, until it opens one.
    pub outbox_unattached_timeout: Duration,
    /// The kernel send buffer (`SO_SNDBUF`) of a connection once it holds an SSE stream, so an
    /// unread stream pins at most about this much kernel memory (Linux doubles the value for its
    /// bookkeeping) instead of an autotuned several megabytes.
    pub stream_send_buffer_bytes: usize,
    /// Deadline for reading a whole request body once its headers arrived; a slower body gets `408`
    /// and its connection is closed.
    pub body_read_timeout: Duration,
    /// A write that makes no progress for this long (the client stopped reading, e.g. an SSE stream
    /// nobody drains) closes the connection.
    pub write_timeout: Duration,
    /// How many async jobs may wait for a worker; more are refused with "job queue full".
    pub job_queue_capacity: usize,
    /// How many async jobs run at the same time. One session never runs more than
    /// `job_concurrency - 1` of them at once (1 when this is 1), so it cannot take every worker.
    pub job_concurrency: usize,
    /// Most queued plus running jobs of one session; one more is refused with a "job quota" error
    /// result, so one session cannot fill the shared queue.
    pub max_jobs_per_session: usize,
    /// Optional deadline of a job, counted from its creation: a job still queued or running past it
    /// is cancelled and ends `failed` with "job deadline exceeded". `None`: no deadline.
    pub job_deadline: Option<Duration>,
    /// Largest result (or error message) of one job, in bytes of JSON; a larger one is discarded and
    /// the job ends `failed` with "job result too large".
    pub max_job_result_bytes: usize,
    /// Most finished jobs kept for `jobs.get` (count). Past it, or past `max_finished_job_bytes`, the
    /// oldest finished job of the session holding the most is forgotten.
    pub max_finished_jobs: usize,
    /// Most bytes of results and errors kept by finished jobs, across all sessions.
    pub max_finished_job_bytes: usize,
    /// A job-completion notification carries the result only up to this many bytes; a larger result
    /// is announced by id and status only (fetch it with `jobs.get`).
    pub max_notification_result_bytes: usize,
    /// Most bytes of notifications one session's outbox holds while no stream drains it; past it the
    /// oldest notifications are dropped (and counted in `dcc_mcp_rejected_total{reason="outbox_drop"}`).
    pub max_outbox_bytes: usize,
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
    /// With `enable_prometheus`, also export the standard `process_*` metrics of the hosting process
    /// (CPU seconds, resident and virtual memory, open and max file descriptors, start time). On by
    /// default. Linux only: on other platforms this is accepted and nothing is added.
    pub enable_process_metrics: bool,
    /// With `enable_prometheus`, give `dcc_mcp_tool_duration_seconds` native (sparse
    /// exponential) buckets besides its classic ladder, exposed in the protobuf format only. Off by
    /// default: Prometheus 2.42 with `--enable-feature=native-histograms` scrapes protobuf and then
    /// ignores a histogram's classic buckets, so turning this on changes what such a server stores.
    pub native_histograms: bool,
    /// Resources, prompts and completions served next to the tools (empty by default: then the
    /// `resources`, `prompts` and `completions` capabilities are not declared).
    pub catalog: crate::catalog::Catalog,
    /// Static bearer tokens accepted on `/mcp` (`Authorization: Bearer <token>`, compared in
    /// constant time). Empty by default: `/mcp` then needs no authentication. When set, a request
    /// without one of them gets `401` with `WWW-Authenticate: Bearer`. `/metrics` is not covered (it
    /// keeps `prometheus_basic_auth`).
    pub bearer_tokens: crate::credentials::BearerTokens,
    /// Declare `tools.listChanged: true` in `initialize`: the embedder tells sessions when the tool
    /// list changes ([`McpHttpServer::tools_list_notifier`](crate::McpHttpServer::tools_list_notifier);
    /// the gateway does, when a backend joins or leaves). Off by default.
    pub tools_list_changed: bool,
    /// `/mcp` as an OAuth 2.1 resource server: bearer JWT access tokens checked against an
    /// authorization server's keys, issuer, audience and required scopes, with RFC 9728 metadata at
    /// `/.well-known/oauth-protected-resource`. `None` by default. With static `bearer_tokens` too,
    /// either a static token or a valid JWT is accepted.
    pub oauth: Option<crate::oauth_config::OAuthConfig>,
    /// Most unanswered server→client requests (elicitation, sampling, `roots/list`) one session may
    /// have; one more is refused with an error the handler sees, counted as
    /// `dcc_mcp_rejected_total{reason="pending_client_requests"}`.
    pub max_pending_client_requests: usize,
    /// Handler log notifications (`notifications/message`) one session, or one 2026-07-28 request,
    /// may send per second (in bursts of as many); the rest are dropped, counted as
    /// `dcc_mcp_rejected_total{reason="log_rate"}`.
    pub max_log_messages_per_sec: u32,
    /// Largest 2026-07-28 `requestState`, in bytes, the server accepts from a retry or returns in an
    /// `InputRequiredResult`; past it the request is refused (`-32602`), counted as
    /// `dcc_mcp_rejected_total{reason="request_state_too_large"}`.
    pub max_request_state_bytes: usize,
    /// Worker threads of the server's tokio runtime, which parses requests, serves `/metrics` and
    /// writes responses (blocking handlers run on threads of their own). `None` (the default): one
    /// per CPU core, tokio's default. Inside a DCC the host owns the cores and the server's I/O is
    /// light, so an embedder picks a small number (the Python package defaults to 2).
    pub runtime_threads: Option<usize>,
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
            sse_idle_close: Duration::from_secs(5 * 60),
            header_read_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(5),
            max_body_bytes: 4 * 1024 * 1024,
            max_sessions: 10_000,
            max_sessions_per_client: 10_000,
            max_batch_messages: 256,
            max_response_bytes: 16 * 1024 * 1024,
            max_connections: 256,
            body_read_timeout: Duration::from_secs(30),
            keep_alive_timeout: crate::limits::DEFAULT_KEEP_ALIVE_TIMEOUT,
            max_streams: None,
            max_streams_per_client: None,
            max_connections_per_client: None,
            max_body_bytes_in_flight: crate::limits::DEFAULT_BODY_BYTES_IN_FLIGHT,
            max_outbox_bytes_total: crate::limits::DEFAULT_OUTBOX_BYTES_TOTAL,
            outbox_unattached_timeout: crate::limits::DEFAULT_OUTBOX_UNATTACHED_TIMEOUT,
            stream_send_buffer_bytes: crate::limits::DEFAULT_STREAM_SEND_BUFFER_BYTES,
            write_timeout: Duration::from_secs(30),
            job_queue_capacity: 64,
            job_concurrency: 4,
            max_jobs_per_session: 16,
            job_deadline: None,
            max_job_result_bytes: 4 * 1024 * 1024,
            max_finished_jobs: 1000,
            max_finished_job_bytes: 64 * 1024 * 1024,
            max_notification_result_bytes: 64 * 1024,
            max_outbox_bytes: crate::limits::DEFAULT_OUTBOX_BYTES,
            sync_concurrency: crate::limits::DEFAULT_SYNC_CONCURRENCY,
            sync_queue_wait: crate::limits::DEFAULT_SYNC_QUEUE_WAIT,
            main_thread_executor: None,
            allowed_origins: Vec::new(),
            enable_prometheus: false,
            prometheus_basic_auth: None,
            enable_process_metrics: true,
            native_histograms: false,
            catalog: crate::catalog::Catalog::default(),
            bearer_tokens: crate::credentials::BearerTokens::default(),
            tools_list_changed: false,
            oauth: None,
            max_pending_client_requests: crate::limits::DEFAULT_MAX_PENDING_CLIENT_REQUESTS,
            max_log_messages_per_sec: crate::limits::DEFAULT_MAX_LOG_MESSAGES_PER_SEC,
            max_request_state_bytes: crate::limits::DEFAULT_MAX_REQUEST_STATE_BYTES,
            runtime_threads: None,
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
            ("sse_idle_close", self.sse_idle_close),
            ("header_read_timeout", self.header_read_timeout),
            ("shutdown_timeout", self.shutdown_timeout),
            ("body_read_timeout", self.body_read_timeout),
            ("write_timeout", self.write_timeout),
            ("sync_queue_wait", self.sync_queue_wait),
            ("keep_alive_timeout", self.keep_alive_timeout),
            ("outbox_unattached_timeout", self.outbox_unattached_timeout),
        ] {
            if value.is_zero() {
                return Err(ConfigError::ZeroDuration { field });
            }
        }
        for (field, value) in [
            ("max_body_bytes", self.max_body_bytes),
            ("max_sessions", self.max_sessions),
            ("max_sessions_per_client", self.max_sessions_per_client),
            ("max_batch_messages", self.max_batch_messages),
            ("max_response_bytes", self.max_response_bytes),
            ("max_connections", self.max_connections),
            ("job_queue_capacity", self.job_queue_capacity),
            ("job_concurrency", self.job_concurrency),
            ("max_jobs_per_session", self.max_jobs_per_session),
            ("max_job_result_bytes", self.max_job_result_bytes),
            ("max_finished_jobs", self.max_finished_jobs),
            ("max_finished_job_bytes", self.max_finished_job_bytes),
            (
                "max_notification_result_bytes",
                self.max_notification_result_bytes,
            ),
            ("max_outbox_bytes", self.max_outbox_bytes),
            ("sync_concurrency", self.sync_concurrency),
            (
                "max_pending_client_requests",
                self.max_pending_client_requests,
            ),
            (
                "max_log_messages_per_sec",
                self.max_log_messages_per_sec as usize,
            ),
            ("max_request_state_bytes", self.max_request_state_bytes),
            ("runtime_threads", self.runtime_threads.unwrap_or(1)),
            ("max_streams", self.max_streams()),
            ("max_streams_per_client", self.max_streams_per_client()),
            (
                "max_connections_per_client",
                self.max_connections_per_client(),
            ),
            ("max_body_bytes_in_flight", self.max_body_bytes_in_flight),
            ("max_outbox_bytes_total", self.max_outbox_bytes_total),
            ("stream_send_buffer_bytes", self.stream_send_buffer_bytes),
        ] {
            if value == 0 {
                return Err(ConfigError::ZeroLimit { field });
            }
        }
        if self.max_response_bytes < MIN_RESPONSE_BYTES {
            return Err(ConfigError::LimitTooSmall {
                field: "max_response_bytes",
                min: MIN_RESPONSE_BYTES,
            });
        }
        if self.job_deadline.is_some_and(|deadline| deadline.is_zero()) {
            return Err(ConfigError::ZeroDuration {
                field: "job_deadline",
            });
        }
        for (smaller, smaller_value, larger, larger_value) in [
            (
                "max_job_result_bytes",
                self.max_job_result_bytes,
                "max_finished_job_bytes",
                self.max_finished_job_bytes,
            ),
            (
                "max_notification_result_bytes",
                self.max_notification_result_bytes,
                "max_outbox_bytes",
                self.max_outbox_bytes,
            ),
            (
                "max_body_bytes",
                self.max_body_bytes,
                "max_body_bytes_in_flight",
                self.max_body_bytes_in_flight,
            ),
            (
                "max_outbox_bytes",
                self.max_outbox_bytes,
                "max_outbox_bytes_total",
                self.max_outbox_bytes_total,
            ),
            (
                "max_streams_per_client",
                self.max_streams_per_client(),
                "max_streams",
                self.max_streams(),
            ),
            (
                "max_connections_per_client",
                self.max_connections_per_client(),
                "max_connections",
                self.max_connections,
            ),
        ] {
            if smaller_value > larger_value {
                return Err(ConfigError::BudgetOrder { smaller, larger });
            }
        }
        if self.max_streams() >= self.max_connections {
            return Err(ConfigError::StreamsNotBelowConnections);
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
        self.bearer_tokens.validate()?;
        if let Some(oauth) = &self.oauth {
            oauth.validate()?;
        }
        Ok(())
    }

    /// The effective `max_streams` (half of `max_connections` unless set).
    pub fn max_streams(&self) -> usize {
        self.max_streams.unwrap_or(self.max_connections / 2)
    }

    /// The effective `max_streams_per_client` (half of the effective `max_streams` unless set).
    pub fn max_streams_per_client(&self) -> usize {
        self.max_streams_per_client
            .unwrap_or_else(|| (self.max_streams() / 2).max(1))
    }

    /// The effective `max_connections_per_client` (three quarters of `max_connections` unless set).
    pub fn max_connections_per_client(&self) -> usize {
        self.max_connections_per_client
            .unwrap_or_else(|| self.max_connections - self.max_connections / 4)
    }

    /// The connection table's share of the configuration.
    pub(crate) fn conn_limits(&self) -> crate::conn_budget::ConnLimits {
        crate::conn_budget::ConnLimits {
            connections: self.max_connections,
            connections_per_client: self.max_connections_per_client(),
            streams: self.max_streams(),
            streams_per_client: self.max_streams_per_client(),
        }
    }

    /// What a session lets its handlers ask of the client.
    pub(crate) fn client_limits(&self) -> crate::limits::ClientLimits {
        crate::limits::ClientLimits {
            max_pending: self.max_pending_client_requests,
            log_rate: self.max_log_messages_per_sec,
        }
    }

    /// The job manager's share of the configuration.
    #[cfg_attr(not(feature = "workflow"), allow(dead_code))]
    pub(crate) fn job_limits(&self) -> crate::limits::JobLimits {
        crate::limits::JobLimits {
            queue_capacity: self.job_queue_capacity,
            concurrency: self.job_concurrency,
            per_session: self.max_jobs_per_session,
            deadline: self.job_deadline,
            result_bytes: self.max_job_result_bytes,
            finished_jobs: self.max_finished_jobs,
            finished_bytes: self.max_finished_job_bytes,
            notification_bytes: self.max_notification_result_bytes,
        }
    }

    /// Most blocking threads this server's handlers can hold at once: the sync-call workers plus the
    /// job workers (each job holds a `job_concurrency` permit while its handler runs), plus a margin.
    pub(crate) fn max_blocking_threads(&self) -> usize {
        let jobs = if cfg!(feature = "workflow") {
            self.job_concurrency
        } else {
            0
        };
        self.sync_concurrency
            .saturating_add(jobs)
            .saturating_add(crate::offload::OFFLOAD_THREADS)
            .saturating_add(4)
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
    fn runtime_threads_must_be_at_least_one() {
        let config = McpHttpConfig {
            runtime_threads: Some(0),
            ..Default::default()
        };
        assert_eq!(
            config.validate(),
            Err(ConfigError::ZeroLimit {
                field: "runtime_threads"
            })
        );
        for threads in [None, Some(1), Some(2)] {
            let config = McpHttpConfig {
                runtime_threads: threads,
                ..Default::default()
            };
            assert_eq!(config.validate(), Ok(()));
        }
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
    fn job_budgets_are_checked() {
        let config = McpHttpConfig {
            max_jobs_per_session: 0,
            ..Default::default()
        };
        assert_eq!(
            config.validate(),
            Err(ConfigError::ZeroLimit {
                field: "max_jobs_per_session"
            })
        );
        let config = McpHttpConfig {
            job_deadline: Some(Duration::ZERO),
            ..Default::default()
        };
        assert_eq!(
            config.validate(),
            Err(ConfigError::ZeroDuration {
                field: "job_deadline"
            })
        );
        let config = McpHttpConfig {
            max_job_result_bytes: 2048,
            max_finished_job_bytes: 1024,
            ..Default::default()
        };
        assert_eq!(
            config.validate().map_err(|error| error.to_string()),
            Err(
                "max_job_result_bytes is larger than max_finished_job_bytes: something that fits \
                 the first could never fit the second; lower max_job_result_bytes or raise \
                 max_finished_job_bytes"
                    .to_owned()
            )
        );
        let config = McpHttpConfig {
            max_notification_result_bytes: 10,
            max_outbox_bytes: 9,
            ..Default::default()
        };
        assert_eq!(
            config.validate(),
            Err(ConfigError::BudgetOrder {
                smaller: "max_notification_result_bytes",
                larger: "max_outbox_bytes"
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
