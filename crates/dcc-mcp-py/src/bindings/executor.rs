//! `MainThreadExecutor`: a Python view of `dcc_mcp_http::MainThreadExecutor`, the bounded queue of
//! tool calls that a DCC host runs on its main thread by calling `pump()` from its idle or timer
//! callback (`maya.cmds`, `bpy` and `hou` must only be called from that thread).
//!
//! Every behaviour — the queue bound, refusing a call when it is full, never running a call whose
//! caller gave up, the wait metric — is the Rust executor's; this class only converts arguments.
//! `pump()` keeps the GIL: the handlers it runs are Python functions on this same thread, so
//! releasing the GIL between them would only add a GIL hand-off per call.

use pyo3::prelude::*;

use dcc_mcp_http::MainThreadExecutor;

use super::errors::{config_error, invalid_value};
use super::exit::Section;
use crate::convert;

/// Tool calls waiting for the host's main thread; `pump()` runs them on the calling thread.
#[pyclass(name = "MainThreadExecutor", module = "dcc_mcp_core._core", frozen)]
pub(crate) struct PyMainThreadExecutor {
    pub(crate) inner: MainThreadExecutor,
}

#[pymethods]
impl PyMainThreadExecutor {
    /// An executor holding at most `queue_depth` waiting calls (default 64); one more is refused at
    /// once with a "main thread busy" tool error. `ValueError` unless `queue_depth >= 1`.
    #[new]
    // The default is a literal so that `__text_signature__` (read by stubtest and IDEs) shows it.
    #[pyo3(signature = (queue_depth = 64))]
    fn new(queue_depth: i64) -> PyResult<Self> {
        let depth = convert::positive("queue_depth", queue_depth).map_err(invalid_value)?;
        let inner = MainThreadExecutor::new(depth).map_err(config_error)?;
        Ok(Self { inner })
    }

    /// Runs queued calls on this thread, oldest first, until `max_items` have run (default: no
    /// limit), `budget_ms` milliseconds have passed (default 10), or the queue is empty; returns how
    /// many ran. Never waits for work. The budget is checked before each call, so one call that has
    /// started runs to its end: keep main-thread handlers short. Calls whose client gave up (request
    /// timeout, cancellation, server stopped) are dropped here without running.
    #[pyo3(signature = (max_items = None, budget_ms = 10.0))]
    fn pump(&self, py: Python<'_>, max_items: Option<i64>, budget_ms: f64) -> PyResult<usize> {
        let max_items = match max_items {
            Some(n) => convert::positive("max_items", n).map_err(invalid_value)?,
            None => usize::MAX,
        };
        let budget = convert::milliseconds("budget_ms", budget_ms).map_err(invalid_value)?;
        // Once the interpreter exits, a pump on a thread CPython may end runs nothing (its hook
        // stopped every server, so nothing queued would run anyway).
        let Some(_section) = Section::enter(py) else {
            return Ok(0);
        };
        Ok(self.inner.pump(max_items, budget).ran)
    }

    /// The most calls that can wait at once.
    #[getter]
    fn queue_depth(&self) -> usize {
        self.inner.queue_depth()
    }

    /// Calls waiting now.
    #[getter]
    fn queued(&self) -> usize {
        self.inner.queued()
    }

    fn __repr__(&self) -> String {
        format!(
            "MainThreadExecutor(queue_depth={}, queued={})",
            self.inner.queue_depth(),
            self.inner.queued()
        )
    }
}
