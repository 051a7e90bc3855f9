//! `MainThreadExecutor`: a Python view of `dcc_mcp_http::MainThreadExecutor`, the bounded queue of
//! tool calls that a DCC host runs on its main thread by calling `pump()` from its idle or timer
//! callback (`maya.cmds`, `bpy` and `hou` must only be called from that thread).
//!
//! Every behaviour — the queue bound, refusing a call when it is full, never running a call whose
//! caller gave up, the wait metric — is the Rust executor's; this class only converts arguments.
//! `pump()` keeps the GIL: the handlers it runs are Python functions on this same thread, so
//! releasing the GIL between them would only add a GIL hand-off per call. A `KeyboardInterrupt`
//! raised in a handler (Ctrl-C reaches the main thread) answers that call and is raised again by
//! `pump()`, so the host's script sees it.
//!
//! `on_pending` is called from a Python thread of the executor's own (`dcc-mcp-on-pending`): the
//! server thread that queues a call only wakes it, because the server's Rust threads never take the
//! GIL (see `exit.rs`).

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use pyo3::prelude::*;

use dcc_mcp_http::MainThreadExecutor;

use super::errors::{config_error, invalid_value};
use super::exit::{self, Close, Section};
use super::handler;
use super::pool;
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
    /// `on_pending()` is called (from a thread of the executor's own, never the main thread) each
    /// time the queue goes from empty to non-empty: hand it the host's "run soon on the main
    /// thread" call (`maya.utils.executeDeferred(executor.pump)`).
    #[new]
    // The default is a literal so that `__text_signature__` (read by stubtest and IDEs) shows it.
    #[pyo3(signature = (queue_depth = 64, *, on_pending = None))]
    fn new(
        py: Python<'_>,
        queue_depth: i64,
        on_pending: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let depth = convert::positive("queue_depth", queue_depth).map_err(invalid_value)?;
        let Some(callback) = on_pending else {
            let inner = MainThreadExecutor::new(depth).map_err(config_error)?;
            return Ok(Self { inner });
        };
        if !callback.is_callable() {
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "on_pending must be callable, got {}",
                callback.get_type().name()?
            )));
        }
        let notifier = Arc::new(Notifier::default());
        exit::track(&notifier);
        let hook = CloseOnDrop(notifier.clone());
        let inner = MainThreadExecutor::with_on_pending(depth, move || hook.0.notify())
            .map_err(config_error)?;
        let Some(_section) = Section::enter(py) else {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(
                "cannot start the on_pending thread: the Python interpreter is exiting",
            ));
        };
        pool::loop_module(py)?
            .getattr("start_notifier")?
            .call1((PyPendingWaiter { notifier }, callback))?;
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
        let ran = self.inner.pump(max_items, budget).ran;
        match handler::take_interrupt() {
            Some(interrupt) => Err(interrupt),
            None => Ok(ran),
        }
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

/// Wakes the `on_pending` thread.
#[derive(Default)]
struct Notifier {
    /// `(pending, closed)`.
    state: Mutex<(bool, bool)>,
    wake: Condvar,
}

/// How long the `on_pending` thread waits before looking again whether the interpreter exits (the
/// exit hook also wakes it at once).
const NOTIFIER_POLL: Duration = Duration::from_secs(1);

impl Notifier {
    fn notify(&self) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).0 = true;
        self.wake.notify_one();
    }

    /// True when the queue became non-empty since the last call; false once closed.
    fn wait(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if state.1 || exit::exiting() {
                return false;
            }
            if std::mem::take(&mut state.0) {
                return true;
            }
            state = self
                .wake
                .wait_timeout(state, NOTIFIER_POLL)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

impl Close for Notifier {
    fn close(&self) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).1 = true;
        self.wake.notify_all();
    }
}

/// Owned by the executor's hook: when the last clone of the executor is gone, so is the thread.
struct CloseOnDrop(Arc<Notifier>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// What the `on_pending` thread waits on.
#[pyclass(name = "_PendingWaiter", module = "dcc_mcp_core._core", frozen)]
struct PyPendingWaiter {
    notifier: Arc<Notifier>,
}

#[pymethods]
impl PyPendingWaiter {
    /// Blocks (GIL released) until the queue became non-empty (`True`) or the executor is gone or
    /// the interpreter exits (`False`).
    fn wait(&self, py: Python<'_>) -> bool {
        let Some(_section) = Section::enter(py) else {
            return false;
        };
        py.detach(|| self.notifier.wait())
    }
}
