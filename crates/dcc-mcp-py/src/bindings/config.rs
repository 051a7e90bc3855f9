//! `McpHttpConfig`: a Python view of `dcc_mcp_http::McpHttpConfig` with keyword defaults, checked
//! read/write properties and a `repr` that never shows the basic-auth password.

use pyo3::prelude::*;
use pyo3::types::PyTuple;

use dcc_mcp_http::{BearerTokens, McpHttpConfig};

use super::errors::{config_error, invalid_value};
use super::executor::PyMainThreadExecutor;
use super::oauth::{extract_oauth, oauth_to_dict};
use crate::convert::{self, py_repr_str};

/// Server options. Every setter checks its value and raises `ValueError` with the reason.
#[pyclass(name = "McpHttpConfig", module = "dcc_mcp_core._core")]
pub(crate) struct PyMcpHttpConfig {
    pub(crate) inner: McpHttpConfig,
    /// Python-only: a handler exception's result also carries its formatted traceback.
    pub(crate) include_traceback: bool,
    /// Python-only: the gateway discovery directory this server joins once bound (see `join.rs`).
    pub(crate) gateway: super::join::JoinOptions,
}

/// Reads `(user, password)` (a tuple or list of exactly two strings) or `None`.
fn extract_basic_auth(
    value: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<dcc_mcp_http::BasicAuth>> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    let shape_error = || {
        invalid_value(convert::InvalidValue(
            "prometheus_basic_auth must be None or a (username, password) tuple of two non-empty strings"
                .to_owned(),
        ))
    };
    if value.is_instance_of::<pyo3::types::PyString>() {
        return Err(shape_error());
    }
    let parts: Vec<String> = value.extract().map_err(|_| shape_error())?;
    let [user, password] = parts.as_slice() else {
        return Err(shape_error());
    };
    convert::basic_auth(user, password)
        .map(Some)
        .map_err(invalid_value)
}

impl PyMcpHttpConfig {
    /// Applies `change` to a copy, validates the copy with the server's own rules, and keeps it only
    /// when it is valid, so a failed assignment leaves the configuration unchanged.
    fn update(&mut self, change: impl FnOnce(&mut McpHttpConfig)) -> PyResult<()> {
        let mut candidate = self.inner.clone();
        change(&mut candidate);
        candidate.validate().map_err(config_error)?;
        self.inner = candidate;
        Ok(())
    }

    /// What `McpHttpConfig()` builds: the server's defaults with the Python default port 8765.
    pub(crate) fn default_config() -> McpHttpConfig {
        McpHttpConfig {
            port: DEFAULT_PORT,
            runtime_threads: Some(DEFAULT_RUNTIME_THREADS),
            ..McpHttpConfig::default()
        }
    }
}

/// The port `McpHttpConfig()` uses when none is given.
const DEFAULT_PORT: u16 = 8765;

/// The runtime threads `McpHttpConfig()` gives the server: a plug-in's server shares the machine
/// with the DCC, its handlers run on Python threads or the host's main thread, and the runtime
/// only does the I/O, which two threads carry (one per core would take 32 on a workstation).
const DEFAULT_RUNTIME_THREADS: usize = 2;

/// Reads `runtime_threads`: `None` (one per core) or a count of at least 1.
fn runtime_threads(value: Option<i64>) -> PyResult<Option<usize>> {
    value.map(|v| count("runtime_threads", v)).transpose()
}

fn secs(name: &str, value: f64) -> PyResult<std::time::Duration> {
    convert::seconds(name, value).map_err(invalid_value)
}

fn count(name: &str, value: i64) -> PyResult<usize> {
    convert::positive(name, value).map_err(invalid_value)
}

/// Reads `max_log_messages_per_sec`: at least 1, at most `u32::MAX`.
fn log_rate(value: i64) -> PyResult<u32> {
    let v = count("max_log_messages_per_sec", value)?;
    u32::try_from(v).map_err(|_| {
        pyo3::exceptions::PyValueError::new_err(format!(
            "max_log_messages_per_sec must be at most {}, got {v}",
            u32::MAX
        ))
    })
}

#[pymethods]
impl PyMcpHttpConfig {
    /// Builds a configuration; `None` keeps the server's default for that option.
    #[new]
    #[pyo3(signature = (
        port = 8765,
        server_name = None,
        server_version = None,
        host = "127.0.0.1",
        enable_prometheus = false,
        prometheus_basic_auth = None,
        *,
        request_timeout = None,
        session_ttl = None,
        header_read_timeout = None,
        shutdown_timeout = None,
        max_body_bytes = None,
        max_sessions = None,
        max_sessions_per_client = None,
        max_batch_messages = None,
        max_response_bytes = None,
        max_connections = None,
        body_read_timeout = None,
        write_timeout = None,
        job_queue_capacity = None,
        job_concurrency = None,
        allowed_origins = None,
        max_jobs_per_session = None,
        job_deadline = None,
        max_job_result_bytes = None,
        max_finished_jobs = None,
        max_finished_job_bytes = None,
        max_notification_result_bytes = None,
        max_outbox_bytes = None,
        enable_process_metrics = true,
        sync_concurrency = None,
        sync_queue_wait = None,
        main_thread_executor = None,
        include_traceback = false,
        bearer_tokens = None,
        oauth = None,
        max_pending_client_requests = None,
        max_log_messages_per_sec = None,
        max_request_state_bytes = None,
        runtime_threads = 2,
        gateway_registry_dir = None,
        gateway_instance_name = None,
        gateway_dcc_type = None,
        native_histograms = false,
        max_streams = None,
        max_streams_per_client = None,
        max_connections_per_client = None,
        max_body_bytes_in_flight = None,
        max_outbox_bytes_total = None,
        stream_send_buffer_bytes = None,
        keep_alive_timeout = None,
        outbox_unattached_timeout = None,
        sse_idle_close = None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        port: i64,
        server_name: Option<&str>,
        server_version: Option<&str>,
        host: &str,
        enable_prometheus: bool,
        prometheus_basic_auth: Option<&Bound<'_, PyAny>>,
        request_timeout: Option<f64>,
        session_ttl: Option<f64>,
        header_read_timeout: Option<f64>,
        shutdown_timeout: Option<f64>,
        max_body_bytes: Option<i64>,
        max_sessions: Option<i64>,
        max_sessions_per_client: Option<i64>,
        max_batch_messages: Option<i64>,
        max_response_bytes: Option<i64>,
        max_connections: Option<i64>,
        body_read_timeout: Option<f64>,
        write_timeout: Option<f64>,
        job_queue_capacity: Option<i64>,
        job_concurrency: Option<i64>,
        allowed_origins: Option<Vec<String>>,
        max_jobs_per_session: Option<i64>,
        job_deadline: Option<f64>,
        max_job_result_bytes: Option<i64>,
        max_finished_jobs: Option<i64>,
        max_finished_job_bytes: Option<i64>,
        max_notification_result_bytes: Option<i64>,
        max_outbox_bytes: Option<i64>,
        enable_process_metrics: bool,
        sync_concurrency: Option<i64>,
        sync_queue_wait: Option<f64>,
        main_thread_executor: Option<PyRef<'_, PyMainThreadExecutor>>,
        include_traceback: bool,
        bearer_tokens: Option<Vec<String>>,
        oauth: Option<&Bound<'_, PyAny>>,
        max_pending_client_requests: Option<i64>,
        max_log_messages_per_sec: Option<i64>,
        max_request_state_bytes: Option<i64>,
        runtime_threads: Option<i64>,
        gateway_registry_dir: Option<std::path::PathBuf>,
        gateway_instance_name: Option<String>,
        gateway_dcc_type: Option<String>,
        native_histograms: bool,
        max_streams: Option<i64>,
        max_streams_per_client: Option<i64>,
        max_connections_per_client: Option<i64>,
        max_body_bytes_in_flight: Option<i64>,
        max_outbox_bytes_total: Option<i64>,
        stream_send_buffer_bytes: Option<i64>,
        keep_alive_timeout: Option<f64>,
        outbox_unattached_timeout: Option<f64>,
        sse_idle_close: Option<f64>,
    ) -> PyResult<Self> {
        let mut inner = McpHttpConfig {
            port: convert::port(port).map_err(invalid_value)?,
            host: host.to_owned(),
            enable_prometheus,
            prometheus_basic_auth: extract_basic_auth(prometheus_basic_auth)?,
            enable_process_metrics,
            native_histograms,
            bearer_tokens: BearerTokens::new(bearer_tokens.unwrap_or_default()),
            oauth: extract_oauth(oauth)?,
            runtime_threads: self::runtime_threads(runtime_threads)?,
            ..McpHttpConfig::default()
        };
        if let Some(name) = server_name {
            inner.server_name = name.to_owned();
        }
        if let Some(version) = server_version {
            inner.server_version = version.to_owned();
        }
        if let Some(v) = request_timeout {
            inner.request_timeout = secs("request_timeout", v)?;
        }
        if let Some(v) = session_ttl {
            inner.session_ttl = secs("session_ttl", v)?;
        }
        if let Some(v) = header_read_timeout {
            inner.header_read_timeout = secs("header_read_timeout", v)?;
        }
        if let Some(v) = shutdown_timeout {
            inner.shutdown_timeout = secs("shutdown_timeout", v)?;
        }
        if let Some(v) = max_body_bytes {
            inner.max_body_bytes = count("max_body_bytes", v)?;
        }
        if let Some(v) = max_sessions {
            inner.max_sessions = count("max_sessions", v)?;
        }
        if let Some(v) = max_sessions_per_client {
            inner.max_sessions_per_client = count("max_sessions_per_client", v)?;
        }
        if let Some(v) = max_batch_messages {
            inner.max_batch_messages = count("max_batch_messages", v)?;
        }
        if let Some(v) = max_response_bytes {
            inner.max_response_bytes = count("max_response_bytes", v)?;
        }
        if let Some(v) = max_connections {
            inner.max_connections = count("max_connections", v)?;
        }
        if let Some(v) = body_read_timeout {
            inner.body_read_timeout = secs("body_read_timeout", v)?;
        }
        if let Some(v) = write_timeout {
            inner.write_timeout = secs("write_timeout", v)?;
        }
        if let Some(v) = job_queue_capacity {
            inner.job_queue_capacity = count("job_queue_capacity", v)?;
        }
        if let Some(v) = job_concurrency {
            inner.job_concurrency = count("job_concurrency", v)?;
        }
        if let Some(v) = allowed_origins {
            inner.allowed_origins = v;
        }
        if let Some(v) = job_deadline {
            inner.job_deadline = Some(secs("job_deadline", v)?);
        }
        for (name, value, field) in [
            (
                "max_jobs_per_session",
                max_jobs_per_session,
                &mut inner.max_jobs_per_session,
            ),
            (
                "max_job_result_bytes",
                max_job_result_bytes,
                &mut inner.max_job_result_bytes,
            ),
            (
                "max_finished_jobs",
                max_finished_jobs,
                &mut inner.max_finished_jobs,
            ),
            (
                "max_finished_job_bytes",
                max_finished_job_bytes,
                &mut inner.max_finished_job_bytes,
            ),
            (
                "max_notification_result_bytes",
                max_notification_result_bytes,
                &mut inner.max_notification_result_bytes,
            ),
            (
                "max_outbox_bytes",
                max_outbox_bytes,
                &mut inner.max_outbox_bytes,
            ),
            (
                "max_pending_client_requests",
                max_pending_client_requests,
                &mut inner.max_pending_client_requests,
            ),
            (
                "max_request_state_bytes",
                max_request_state_bytes,
                &mut inner.max_request_state_bytes,
            ),
        ] {
            if let Some(v) = value {
                *field = count(name, v)?;
            }
        }
        if let Some(v) = sync_concurrency {
            inner.sync_concurrency = count("sync_concurrency", v)?;
        }
        for (name, value, field) in [
            ("max_streams", max_streams, &mut inner.max_streams),
            (
                "max_streams_per_client",
                max_streams_per_client,
                &mut inner.max_streams_per_client,
            ),
            (
                "max_connections_per_client",
                max_connections_per_client,
                &mut inner.max_connections_per_client,
            ),
        ] {
            if let Some(v) = value {
                *field = Some(count(name, v)?);
            }
        }
        for (name, value, field) in [
            (
                "max_body_bytes_in_flight",
                max_body_bytes_in_flight,
                &mut inner.max_body_bytes_in_flight,
            ),
            (
                "max_outbox_bytes_total",
                max_outbox_bytes_total,
                &mut inner.max_outbox_bytes_total,
            ),
            (
                "stream_send_buffer_bytes",
                stream_send_buffer_bytes,
                &mut inner.stream_send_buffer_bytes,
            ),
        ] {
            if let Some(v) = value {
                *field = count(name, v)?;
            }
        }
        for (name, value, field) in [
            (
                "keep_alive_timeout",
                keep_alive_timeout,
                &mut inner.keep_alive_timeout,
            ),
            (
                "outbox_unattached_timeout",
                outbox_unattached_timeout,
                &mut inner.outbox_unattached_timeout,
            ),
            ("sse_idle_close", sse_idle_close, &mut inner.sse_idle_close),
        ] {
            if let Some(v) = value {
                *field = secs(name, v)?;
            }
        }
        if let Some(v) = max_log_messages_per_sec {
            inner.max_log_messages_per_sec = log_rate(v)?;
        }
        if let Some(v) = sync_queue_wait {
            inner.sync_queue_wait = secs("sync_queue_wait", v)?;
        }
        inner.main_thread_executor = main_thread_executor.map(|e| e.inner.clone());
        inner.validate().map_err(config_error)?;
        let gateway = super::join::JoinOptions {
            dir: gateway_registry_dir,
            name: gateway_instance_name,
            dcc_type: gateway_dcc_type,
        };
        if gateway.dir.is_some() {
            gateway.resolve(&inner.server_name)?;
        }
        Ok(Self {
            inner,
            include_traceback,
            gateway,
        })
    }

    /// Address to bind (default `"127.0.0.1"`).
    #[getter]
    fn host(&self) -> &str {
        &self.inner.host
    }
    #[setter]
    fn set_host(&mut self, value: &str) -> PyResult<()> {
        self.update(|c| c.host = value.to_owned())
    }

    /// TCP port (default 8765; 0 picks a free port).
    #[getter]
    fn port(&self) -> u16 {
        self.inner.port
    }
    #[setter]
    fn set_port(&mut self, value: i64) -> PyResult<()> {
        let port = convert::port(value).map_err(invalid_value)?;
        self.update(|c| c.port = port)
    }

    /// `serverInfo.name` reported to MCP clients.
    #[getter]
    fn server_name(&self) -> &str {
        &self.inner.server_name
    }
    #[setter]
    fn set_server_name(&mut self, value: &str) -> PyResult<()> {
        self.update(|c| c.server_name = value.to_owned())
    }

    /// `serverInfo.version` reported to MCP clients.
    #[getter]
    fn server_version(&self) -> &str {
        &self.inner.server_version
    }
    #[setter]
    fn set_server_version(&mut self, value: &str) -> PyResult<()> {
        self.update(|c| c.server_version = value.to_owned())
    }

    /// Serve `GET /metrics` (needs the `prometheus` feature; accepted and ignored without it).
    #[getter]
    fn enable_prometheus(&self) -> bool {
        self.inner.enable_prometheus
    }
    #[setter]
    fn set_enable_prometheus(&mut self, value: bool) {
        self.inner.enable_prometheus = value;
    }

    /// With `enable_prometheus`, also export the hosting process's `process_*` metrics (default
    /// `True`; Linux only, accepted and without effect on other platforms).
    #[getter]
    fn enable_process_metrics(&self) -> bool {
        self.inner.enable_process_metrics
    }
    #[setter]
    fn set_enable_process_metrics(&mut self, value: bool) {
        self.inner.enable_process_metrics = value;
    }

    /// With `enable_prometheus`, the tool-duration histograms also carry native (sparse
    /// exponential) buckets in the protobuf exposition (default `False`; see `docs/metrics.md`).
    #[getter]
    fn native_histograms(&self) -> bool {
        self.inner.native_histograms
    }
    #[setter]
    fn set_native_histograms(&mut self, value: bool) {
        self.inner.native_histograms = value;
    }

    /// A handler exception's `isError` result also carries the formatted Python traceback (default
    /// `False`: the client gets `"Type: message"` and its causes; the traceback is always logged on
    /// the host through the `dcc_mcp_core` logger).
    #[getter]
    fn include_traceback(&self) -> bool {
        self.include_traceback
    }
    #[setter]
    fn set_include_traceback(&mut self, value: bool) {
        self.include_traceback = value;
    }

    /// The gateway discovery directory this server joins once bound (its real URL, so `port=0`
    /// works), or `None`. The entry is removed at shutdown.
    #[getter]
    fn gateway_registry_dir(&self) -> Option<String> {
        self.gateway
            .dir
            .as_ref()
            .map(|dir| dir.to_string_lossy().into_owned())
    }

    /// The name the server joins under (its tools become `NAME__tool`); `None`: `server_name`.
    #[getter]
    fn gateway_instance_name(&self) -> Option<String> {
        self.gateway.name.clone()
    }

    /// The DCC type written in the discovery entry (`maya`, `blender`, …), or `None`.
    #[getter]
    fn gateway_dcc_type(&self) -> Option<String> {
        self.gateway.dcc_type.clone()
    }

    /// `(username, password)` required by `/metrics`, or `None` for an open endpoint.
    #[getter]
    fn prometheus_basic_auth<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        self.inner
            .prometheus_basic_auth
            .as_ref()
            .map(|a| PyTuple::new(py, [a.username.as_str(), a.password.as_str()]))
            .transpose()
    }
    #[setter]
    fn set_prometheus_basic_auth(&mut self, value: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let auth = extract_basic_auth(value)?;
        self.update(|c| c.prometheus_basic_auth = auth)
    }

    /// Seconds a synchronous tool call may run before it is answered with an error.
    #[getter]
    fn request_timeout(&self) -> f64 {
        self.inner.request_timeout.as_secs_f64()
    }
    #[setter]
    fn set_request_timeout(&mut self, value: f64) -> PyResult<()> {
        let v = secs("request_timeout", value)?;
        self.update(|c| c.request_timeout = v)
    }

    /// Seconds an idle MCP session lives.
    #[getter]
    fn session_ttl(&self) -> f64 {
        self.inner.session_ttl.as_secs_f64()
    }
    #[setter]
    fn set_session_ttl(&mut self, value: f64) -> PyResult<()> {
        let v = secs("session_ttl", value)?;
        self.update(|c| c.session_ttl = v)
    }

    /// Seconds a client may take to send request headers (also applies to idle new connections).
    #[getter]
    fn header_read_timeout(&self) -> f64 {
        self.inner.header_read_timeout.as_secs_f64()
    }
    #[setter]
    fn set_header_read_timeout(&mut self, value: f64) -> PyResult<()> {
        let v = secs("header_read_timeout", value)?;
        self.update(|c| c.header_read_timeout = v)
    }

    /// Seconds `shutdown()` waits for in-flight requests before closing them.
    #[getter]
    fn shutdown_timeout(&self) -> f64 {
        self.inner.shutdown_timeout.as_secs_f64()
    }
    #[setter]
    fn set_shutdown_timeout(&mut self, value: f64) -> PyResult<()> {
        let v = secs("shutdown_timeout", value)?;
        self.update(|c| c.shutdown_timeout = v)
    }

    /// Largest accepted request body in bytes.
    #[getter]
    fn max_body_bytes(&self) -> usize {
        self.inner.max_body_bytes
    }
    #[setter]
    fn set_max_body_bytes(&mut self, value: i64) -> PyResult<()> {
        let v = count("max_body_bytes", value)?;
        self.update(|c| c.max_body_bytes = v)
    }

    /// Most MCP sessions alive at once; past it `initialize` ends expired sessions, then evicts the
    /// least recently used idle one, and is refused with `503` only when every session is busy.
    #[getter]
    fn max_sessions(&self) -> usize {
        self.inner.max_sessions
    }
    #[setter]
    fn set_max_sessions(&mut self, value: i64) -> PyResult<()> {
        let v = count("max_sessions", value)?;
        self.update(|c| c.max_sessions = v)
    }

    /// Most sessions one client address may hold; past it that address's least recently used idle
    /// session is evicted (`503` when all of them are busy).
    #[getter]
    fn max_sessions_per_client(&self) -> usize {
        self.inner.max_sessions_per_client
    }
    #[setter]
    fn set_max_sessions_per_client(&mut self, value: i64) -> PyResult<()> {
        let v = count("max_sessions_per_client", value)?;
        self.update(|c| c.max_sessions_per_client = v)
    }

    /// Most JSON-RPC messages in one batch `POST`; longer batches get `400`.
    #[getter]
    fn max_batch_messages(&self) -> usize {
        self.inner.max_batch_messages
    }
    #[setter]
    fn set_max_batch_messages(&mut self, value: i64) -> PyResult<()> {
        let v = count("max_batch_messages", value)?;
        self.update(|c| c.max_batch_messages = v)
    }

    /// Most bytes of one response body; past it the remaining requests of a batch get a
    /// "response too large" error (at least 4096).
    #[getter]
    fn max_response_bytes(&self) -> usize {
        self.inner.max_response_bytes
    }
    #[setter]
    fn set_max_response_bytes(&mut self, value: i64) -> PyResult<()> {
        let v = count("max_response_bytes", value)?;
        self.update(|c| c.max_response_bytes = v)
    }

    /// Most open client connections; past it a new connection gets `503` and is closed.
    #[getter]
    fn max_connections(&self) -> usize {
        self.inner.max_connections
    }
    #[setter]
    fn set_max_connections(&mut self, value: i64) -> PyResult<()> {
        let v = count("max_connections", value)?;
        self.update(|c| c.max_connections = v)
    }

    /// Most SSE streams open at once (default: half of `max_connections`; must be below it).
    #[getter]
    fn max_streams(&self) -> usize {
        self.inner.max_streams()
    }
    #[setter]
    fn set_max_streams(&mut self, value: i64) -> PyResult<()> {
        let v = count("max_streams", value)?;
        self.update(|c| c.max_streams = Some(v))
    }

    /// Most SSE streams one client address may hold (default: half of `max_streams`).
    #[getter]
    fn max_streams_per_client(&self) -> usize {
        self.inner.max_streams_per_client()
    }
    #[setter]
    fn set_max_streams_per_client(&mut self, value: i64) -> PyResult<()> {
        let v = count("max_streams_per_client", value)?;
        self.update(|c| c.max_streams_per_client = Some(v))
    }

    /// Most open connections from one client address (default: 3/4 of `max_connections`).
    #[getter]
    fn max_connections_per_client(&self) -> usize {
        self.inner.max_connections_per_client()
    }
    #[setter]
    fn set_max_connections_per_client(&mut self, value: i64) -> PyResult<()> {
        let v = count("max_connections_per_client", value)?;
        self.update(|c| c.max_connections_per_client = Some(v))
    }

    /// Most bytes of request bodies being read at once, across all connections (default 64 MiB).
    #[getter]
    fn max_body_bytes_in_flight(&self) -> usize {
        self.inner.max_body_bytes_in_flight
    }
    #[setter]
    fn set_max_body_bytes_in_flight(&mut self, value: i64) -> PyResult<()> {
        let v = count("max_body_bytes_in_flight", value)?;
        self.update(|c| c.max_body_bytes_in_flight = v)
    }

    /// Most bytes of notifications all session outboxes hold together (default 64 MiB).
    #[getter]
    fn max_outbox_bytes_total(&self) -> usize {
        self.inner.max_outbox_bytes_total
    }
    #[setter]
    fn set_max_outbox_bytes_total(&mut self, value: i64) -> PyResult<()> {
        let v = count("max_outbox_bytes_total", value)?;
        self.update(|c| c.max_outbox_bytes_total = v)
    }

    /// Seconds a session that never opened its stream keeps buffering notifications (default 30).
    #[getter]
    fn outbox_unattached_timeout(&self) -> f64 {
        self.inner.outbox_unattached_timeout.as_secs_f64()
    }
    #[setter]
    fn set_outbox_unattached_timeout(&mut self, value: f64) -> PyResult<()> {
        let v = secs("outbox_unattached_timeout", value)?;
        self.update(|c| c.outbox_unattached_timeout = v)
    }

    /// `SO_SNDBUF` of a connection holding an SSE stream, in bytes (default 64 KiB).
    #[getter]
    fn stream_send_buffer_bytes(&self) -> usize {
        self.inner.stream_send_buffer_bytes
    }
    #[setter]
    fn set_stream_send_buffer_bytes(&mut self, value: i64) -> PyResult<()> {
        let v = count("stream_send_buffer_bytes", value)?;
        self.update(|c| c.stream_send_buffer_bytes = v)
    }

    /// Seconds a keep-alive connection may stay silent between requests (default 60).
    #[getter]
    fn keep_alive_timeout(&self) -> f64 {
        self.inner.keep_alive_timeout.as_secs_f64()
    }
    #[setter]
    fn set_keep_alive_timeout(&mut self, value: f64) -> PyResult<()> {
        let v = secs("keep_alive_timeout", value)?;
        self.update(|c| c.keep_alive_timeout = v)
    }

    /// Seconds a session's `GET` stream may send nothing before it is closed (default 300); the
    /// client reconnects with `Last-Event-ID` and gets what it missed.
    #[getter]
    fn sse_idle_close(&self) -> f64 {
        self.inner.sse_idle_close.as_secs_f64()
    }
    #[setter]
    fn set_sse_idle_close(&mut self, value: f64) -> PyResult<()> {
        let v = secs("sse_idle_close", value)?;
        self.update(|c| c.sse_idle_close = v)
    }

    /// Seconds to read a whole request body once its headers arrived; slower bodies get `408`.
    #[getter]
    fn body_read_timeout(&self) -> f64 {
        self.inner.body_read_timeout.as_secs_f64()
    }
    #[setter]
    fn set_body_read_timeout(&mut self, value: f64) -> PyResult<()> {
        let v = secs("body_read_timeout", value)?;
        self.update(|c| c.body_read_timeout = v)
    }

    /// Seconds a write may make no progress (client not reading) before the connection is closed.
    #[getter]
    fn write_timeout(&self) -> f64 {
        self.inner.write_timeout.as_secs_f64()
    }
    #[setter]
    fn set_write_timeout(&mut self, value: f64) -> PyResult<()> {
        let v = secs("write_timeout", value)?;
        self.update(|c| c.write_timeout = v)
    }

    /// Long-running jobs that may wait in the queue; one more is refused (`queue_full`).
    #[getter]
    fn job_queue_capacity(&self) -> usize {
        self.inner.job_queue_capacity
    }
    #[setter]
    fn set_job_queue_capacity(&mut self, value: i64) -> PyResult<()> {
        let v = count("job_queue_capacity", value)?;
        self.update(|c| c.job_queue_capacity = v)
    }

    /// Long-running jobs executing at once.
    #[getter]
    fn job_concurrency(&self) -> usize {
        self.inner.job_concurrency
    }
    #[setter]
    fn set_job_concurrency(&mut self, value: i64) -> PyResult<()> {
        let v = count("job_concurrency", value)?;
        self.update(|c| c.job_concurrency = v)
    }

    /// Queued plus running jobs of one session; one more is refused with a "job quota" error.
    #[getter]
    fn max_jobs_per_session(&self) -> usize {
        self.inner.max_jobs_per_session
    }
    #[setter]
    fn set_max_jobs_per_session(&mut self, value: i64) -> PyResult<()> {
        let v = count("max_jobs_per_session", value)?;
        self.update(|c| c.max_jobs_per_session = v)
    }

    /// Seconds after its creation at which a queued or running job is cancelled; `None`: no deadline.
    #[getter]
    fn job_deadline(&self) -> Option<f64> {
        self.inner.job_deadline.map(|d| d.as_secs_f64())
    }
    #[setter]
    fn set_job_deadline(&mut self, value: Option<f64>) -> PyResult<()> {
        let v = value.map(|v| secs("job_deadline", v)).transpose()?;
        self.update(|c| c.job_deadline = v)
    }

    /// Largest job result (or error message) kept, in bytes; a larger one fails the job.
    #[getter]
    fn max_job_result_bytes(&self) -> usize {
        self.inner.max_job_result_bytes
    }
    #[setter]
    fn set_max_job_result_bytes(&mut self, value: i64) -> PyResult<()> {
        let v = count("max_job_result_bytes", value)?;
        self.update(|c| c.max_job_result_bytes = v)
    }

    /// Finished jobs kept for `jobs.get`.
    #[getter]
    fn max_finished_jobs(&self) -> usize {
        self.inner.max_finished_jobs
    }
    #[setter]
    fn set_max_finished_jobs(&mut self, value: i64) -> PyResult<()> {
        let v = count("max_finished_jobs", value)?;
        self.update(|c| c.max_finished_jobs = v)
    }

    /// Bytes of results and errors kept by finished jobs, across all sessions.
    #[getter]
    fn max_finished_job_bytes(&self) -> usize {
        self.inner.max_finished_job_bytes
    }
    #[setter]
    fn set_max_finished_job_bytes(&mut self, value: i64) -> PyResult<()> {
        let v = count("max_finished_job_bytes", value)?;
        self.update(|c| c.max_finished_job_bytes = v)
    }

    /// Largest result a job-completion notification carries, in bytes.
    #[getter]
    fn max_notification_result_bytes(&self) -> usize {
        self.inner.max_notification_result_bytes
    }
    #[setter]
    fn set_max_notification_result_bytes(&mut self, value: i64) -> PyResult<()> {
        let v = count("max_notification_result_bytes", value)?;
        self.update(|c| c.max_notification_result_bytes = v)
    }

    /// Bytes of notifications one session buffers for its SSE stream; the oldest are dropped past it.
    #[getter]
    fn max_outbox_bytes(&self) -> usize {
        self.inner.max_outbox_bytes
    }
    #[setter]
    fn set_max_outbox_bytes(&mut self, value: i64) -> PyResult<()> {
        let v = count("max_outbox_bytes", value)?;
        self.update(|c| c.max_outbox_bytes = v)
    }

    /// Unanswered requests to the client (elicitation, sampling, roots) one session may have.
    #[getter]
    fn max_pending_client_requests(&self) -> usize {
        self.inner.max_pending_client_requests
    }
    #[setter]
    fn set_max_pending_client_requests(&mut self, value: i64) -> PyResult<()> {
        let v = count("max_pending_client_requests", value)?;
        self.update(|c| c.max_pending_client_requests = v)
    }

    /// Handler log messages per second one session (or one 2026-07-28 request) may send.
    #[getter]
    fn max_log_messages_per_sec(&self) -> u32 {
        self.inner.max_log_messages_per_sec
    }
    #[setter]
    fn set_max_log_messages_per_sec(&mut self, value: i64) -> PyResult<()> {
        let v = log_rate(value)?;
        self.update(|c| c.max_log_messages_per_sec = v)
    }

    /// Largest 2026-07-28 `requestState` accepted or returned, in bytes.
    #[getter]
    fn max_request_state_bytes(&self) -> usize {
        self.inner.max_request_state_bytes
    }
    #[setter]
    fn set_max_request_state_bytes(&mut self, value: i64) -> PyResult<()> {
        let v = count("max_request_state_bytes", value)?;
        self.update(|c| c.max_request_state_bytes = v)
    }

    /// Worker threads of the server's tokio runtime (the I/O: parsing, `/metrics`, responses);
    /// `None`: one per CPU core. Default 2.
    #[getter]
    fn runtime_threads(&self) -> Option<usize> {
        self.inner.runtime_threads
    }
    #[setter]
    fn set_runtime_threads(&mut self, value: Option<i64>) -> PyResult<()> {
        let v = self::runtime_threads(value)?;
        self.update(|c| c.runtime_threads = v)
    }

    /// Static bearer tokens `/mcp` requires (`Authorization: Bearer <token>`); empty: no authentication.
    #[getter]
    fn bearer_tokens(&self) -> Vec<String> {
        self.inner.bearer_tokens.tokens().to_vec()
    }
    #[setter]
    fn set_bearer_tokens(&mut self, value: Vec<String>) -> PyResult<()> {
        self.update(|c| c.bearer_tokens = BearerTokens::new(value))
    }

    /// `/mcp` as an OAuth 2.1 resource server: a dict (`issuer`, `jwks`, `audience`,
    /// `required_scopes`, `resource`, `leeway`, `jwks_refresh_interval`) or `None`.
    #[getter]
    fn oauth<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, pyo3::types::PyDict>>> {
        self.inner
            .oauth
            .as_ref()
            .map(|c| oauth_to_dict(py, c))
            .transpose()
    }
    #[setter]
    fn set_oauth(&mut self, value: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let oauth = extract_oauth(value)?;
        self.update(|c| c.oauth = oauth)
    }

    /// Extra `Origin` values allowed besides localhost (which is allowed when bound to loopback).
    #[getter]
    fn allowed_origins(&self) -> Vec<String> {
        self.inner.allowed_origins.clone()
    }
    #[setter]
    fn set_allowed_origins(&mut self, value: Vec<String>) -> PyResult<()> {
        self.update(|c| c.allowed_origins = value)
    }

    /// Blocking (worker) handlers of sync calls running at once (default 32).
    #[getter]
    fn sync_concurrency(&self) -> usize {
        self.inner.sync_concurrency
    }
    #[setter]
    fn set_sync_concurrency(&mut self, value: i64) -> PyResult<()> {
        let v = count("sync_concurrency", value)?;
        self.update(|c| c.sync_concurrency = v)
    }

    /// Seconds a sync call waits for a free worker before it gets a "server busy" error (default 1).
    #[getter]
    fn sync_queue_wait(&self) -> f64 {
        self.inner.sync_queue_wait.as_secs_f64()
    }
    #[setter]
    fn set_sync_queue_wait(&mut self, value: f64) -> PyResult<()> {
        let v = secs("sync_queue_wait", value)?;
        self.update(|c| c.sync_queue_wait = v)
    }

    /// The executor that runs main-thread handlers, or `None`. The returned object shares the queue
    /// of the one assigned: pumping either runs the same calls.
    #[getter]
    fn main_thread_executor(&self) -> Option<PyMainThreadExecutor> {
        self.inner
            .main_thread_executor
            .clone()
            .map(|inner| PyMainThreadExecutor { inner })
    }
    #[setter]
    fn set_main_thread_executor(&mut self, value: Option<PyRef<'_, PyMainThreadExecutor>>) {
        self.inner.main_thread_executor = value.map(|e| e.inner.clone());
    }

    fn __repr__(&self) -> String {
        let c = &self.inner;
        let auth = match &c.prometheus_basic_auth {
            Some(a) => format!("({}, '********')", py_repr_str(&a.username)),
            None => "None".to_owned(),
        };
        let origins: Vec<String> = c.allowed_origins.iter().map(|o| py_repr_str(o)).collect();
        format!(
            "McpHttpConfig(host={}, port={}, server_name={}, server_version={}, \
             enable_prometheus={}, prometheus_basic_auth={}, request_timeout={:?}, session_ttl={:?}, \
             header_read_timeout={:?}, shutdown_timeout={:?}, max_body_bytes={}, max_sessions={}, \
             max_sessions_per_client={}, max_batch_messages={}, max_response_bytes={}, \
             max_connections={}, body_read_timeout={:?}, write_timeout={:?}, \
             job_queue_capacity={}, job_concurrency={}, max_jobs_per_session={}, job_deadline={}, \
             max_job_result_bytes={}, max_finished_jobs={}, max_finished_job_bytes={}, \
             max_notification_result_bytes={}, max_outbox_bytes={}, allowed_origins=[{}], \
             bearer_tokens=<{} redacted>, oauth={}, enable_process_metrics={}, sync_concurrency={}, sync_queue_wait={:?}, \
             main_thread_executor={}, include_traceback={}, native_histograms={}, \
             gateway_registry_dir={}, gateway_instance_name={}, gateway_dcc_type={}, max_streams={}, \
             max_streams_per_client={}, max_connections_per_client={}, max_body_bytes_in_flight={}, \
             max_outbox_bytes_total={}, outbox_unattached_timeout={:?}, stream_send_buffer_bytes={}, \
             keep_alive_timeout={:?}, sse_idle_close={:?}, max_pending_client_requests={}, \
             max_log_messages_per_sec={}, max_request_state_bytes={}, runtime_threads={})",
            py_repr_str(&c.host),
            c.port,
            py_repr_str(&c.server_name),
            py_repr_str(&c.server_version),
            if c.enable_prometheus { "True" } else { "False" },
            auth,
            c.request_timeout.as_secs_f64(),
            c.session_ttl.as_secs_f64(),
            c.header_read_timeout.as_secs_f64(),
            c.shutdown_timeout.as_secs_f64(),
            c.max_body_bytes,
            c.max_sessions,
            c.max_sessions_per_client,
            c.max_batch_messages,
            c.max_response_bytes,
            c.max_connections,
            c.body_read_timeout.as_secs_f64(),
            c.write_timeout.as_secs_f64(),
            c.job_queue_capacity,
            c.job_concurrency,
            c.max_jobs_per_session,
            c.job_deadline
                .map_or_else(|| "None".to_owned(), |d| format!("{:?}", d.as_secs_f64())),
            c.max_job_result_bytes,
            c.max_finished_jobs,
            c.max_finished_job_bytes,
            c.max_notification_result_bytes,
            c.max_outbox_bytes,
            origins.join(", "),
            c.bearer_tokens.tokens().len(),
            match &c.oauth {
                Some(o) => format!("{{issuer: {}}}", py_repr_str(&o.issuer)),
                None => "None".to_owned(),
            },
            if c.enable_process_metrics { "True" } else { "False" },
            c.sync_concurrency,
            c.sync_queue_wait.as_secs_f64(),
            match &c.main_thread_executor {
                Some(e) => format!("MainThreadExecutor(queue_depth={})", e.queue_depth()),
                None => "None".to_owned(),
            },
            if self.include_traceback {
                "True"
            } else {
                "False"
            },
            if c.native_histograms { "True" } else { "False" },
            repr_opt(&self.gateway_registry_dir()),
            repr_opt(&self.gateway.name),
            repr_opt(&self.gateway.dcc_type),
            c.max_streams(),
            c.max_streams_per_client(),
            c.max_connections_per_client(),
            c.max_body_bytes_in_flight,
            c.max_outbox_bytes_total,
            c.outbox_unattached_timeout.as_secs_f64(),
            c.stream_send_buffer_bytes,
            c.keep_alive_timeout.as_secs_f64(),
            c.sse_idle_close.as_secs_f64(),
            c.max_pending_client_requests,
            c.max_log_messages_per_sec,
            c.max_request_state_bytes,
            c.runtime_threads
                .map_or_else(|| "None".to_owned(), |n| n.to_string()),
        )
    }
}

/// `repr()` of an optional string: `None` or its quoted form.
fn repr_opt(value: &Option<String>) -> String {
    value
        .as_deref()
        .map_or_else(|| "None".to_owned(), py_repr_str)
}
