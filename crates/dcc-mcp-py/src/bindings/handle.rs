//! `McpServerHandle`: a running server. Waiting and shutting down release the GIL so handlers can
//! finish; `wait()` wakes up regularly to let `Ctrl-C` through, on the calling thread (no helper
//! thread). Each of them is an exit [`Section`]: once the interpreter exits they neither release the
//! GIL nor wait on threads CPython may end.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use pyo3::prelude::*;

use dcc_mcp_http::McpServerHandle;

use super::errors::server_error;
use super::exit::{self, Section};
use super::pool::Pool;

/// How often `wait()` returns to Python to check for signals (`KeyboardInterrupt`).
const SIGNAL_POLL: Duration = Duration::from_millis(100);

/// A running server. `shutdown()` is idempotent; leaving a `with` block or dropping the handle
/// shuts the server down too.
#[pyclass(name = "McpServerHandle", module = "dcc_mcp_core._core", frozen)]
pub(crate) struct PyMcpServerHandle {
    /// `None` once shut down through this handle.
    inner: Mutex<Option<Arc<McpServerHandle>>>,
    /// The server's Python handler threads; closed once the server stopped.
    pool: Arc<Pool>,
    port: u16,
    bind_addr: String,
    mcp_url: String,
    metrics_url: String,
    /// The gateway discovery entry kept fresh while the server runs; removed first at shutdown.
    heartbeat: Mutex<Option<dcc_mcp_gateway::Heartbeat>>,
}

impl PyMcpServerHandle {
    pub(crate) fn new(handle: McpServerHandle, pool: Arc<Pool>) -> Self {
        let handle = Arc::new(handle);
        exit::track_server(&handle);
        Self {
            pool,
            port: handle.port(),
            bind_addr: handle.bind_addr(),
            mcp_url: handle.mcp_url(),
            metrics_url: handle.metrics_url(),
            inner: Mutex::new(Some(handle)),
            heartbeat: Mutex::new(None),
        }
    }

    /// The same handle, keeping `heartbeat` until shutdown.
    pub(crate) fn with_heartbeat(self, heartbeat: dcc_mcp_gateway::Heartbeat) -> Self {
        *self
            .heartbeat
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(heartbeat);
        self
    }

    /// The MCP endpoint URL.
    pub(crate) fn mcp_url_str(&self) -> &str {
        &self.mcp_url
    }

    /// Leave the discovery directory (so the gateway stops routing here) before stopping.
    fn leave(&self) {
        drop(
            self.heartbeat
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
    }

    fn current(&self) -> Option<Arc<McpServerHandle>> {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn take(&self) -> Option<Arc<McpServerHandle>> {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

impl Drop for PyMcpServerHandle {
    fn drop(&mut self) {
        self.leave();
        let Some(handle) = self.take() else {
            return;
        };
        // Shutting down waits for in-flight handlers, which need the GIL: release it meanwhile.
        // Without the GIL (the interpreter is gone) or once it exits on another thread, stop
        // without releasing it: no handler can run by then.
        let stopped = Python::try_attach(|py| {
            Section::enter(py).map(|_section| py.detach(|| handle.shutdown()))
        })
        .flatten();
        if stopped.is_none() {
            let _ = handle.shutdown();
        }
        self.pool.close();
    }
}

#[pymethods]
impl PyMcpServerHandle {
    /// The bound TCP port (the real one when the configuration asked for port 0).
    #[getter]
    fn port(&self) -> u16 {
        self.port
    }

    /// `"host:port"` the server is bound to.
    #[getter]
    fn bind_addr(&self) -> &str {
        &self.bind_addr
    }

    /// The MCP endpoint, e.g. `http://127.0.0.1:8765/mcp`.
    fn mcp_url(&self) -> &str {
        &self.mcp_url
    }

    /// The metrics endpoint, e.g. `http://127.0.0.1:8765/metrics` (404 without `prometheus`).
    fn metrics_url(&self) -> &str {
        &self.metrics_url
    }

    /// Whether the server is still serving (false after `shutdown()` or if it stopped on its own).
    #[getter]
    fn is_running(&self) -> bool {
        self.current().is_some_and(|h| !h.is_stopped())
    }

    /// Stops the server: stops accepting, lets in-flight requests finish within the configured
    /// `shutdown_timeout`, then returns. Calling it again does nothing.
    fn shutdown(&self, py: Python<'_>) -> PyResult<()> {
        if super::handler::running_server() == Some(self.pool.id()) {
            // It would wait for its own call to end: the host would freeze for shutdown_timeout.
            return Err(pyo3::exceptions::PyRuntimeError::new_err(
                "shutdown() was called from inside a main-thread handler of this server, and would \
                 wait for that handler to return: call it after the handler returns (for example \
                 from the host's next idle callback)",
            ));
        }
        self.leave();
        let Some(handle) = self.take() else {
            return Ok(());
        };
        let result = match Section::enter(py) {
            Some(_section) => py.detach(|| handle.shutdown()),
            // The interpreter exits: its hook has stopped every server already.
            None => handle.shutdown(),
        };
        self.pool.close();
        result.map_err(server_error)
    }

    /// Blocks until the server stops (or `timeout` seconds pass); returns whether it stopped.
    /// `wait(0)` only looks. `Ctrl-C` raises `KeyboardInterrupt` here.
    #[pyo3(signature = (timeout = None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let deadline = match timeout {
            Some(t) => Some(
                crate::convert::seconds_or_zero("timeout", t)
                    .map(|d| Instant::now() + d)
                    .map_err(super::errors::invalid_value)?,
            ),
            None => None,
        };
        let Some(handle) = self.current() else {
            return Ok(true);
        };
        loop {
            let slice = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()).min(SIGNAL_POLL),
                None => SIGNAL_POLL,
            };
            let stopped = match Section::enter(py) {
                Some(_section) => py.detach(|| handle.wait_timeout(slice)),
                // The interpreter exits (and its hook stopped the server): only look.
                None => return Ok(handle.is_stopped()),
            };
            if stopped {
                return Ok(true);
            }
            py.check_signals()?;
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(false);
            }
        }
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    #[pyo3(signature = (_exc_type = None, _exc = None, _tb = None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: Option<&Bound<'_, PyAny>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        self.shutdown(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        let state = if self.is_running() {
            "running"
        } else {
            "stopped"
        };
        format!("McpServerHandle(bind_addr='{}', {state})", self.bind_addr)
    }
}
