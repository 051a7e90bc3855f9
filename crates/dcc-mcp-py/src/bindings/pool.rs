//! Worker-thread tool handlers run on Python threads, never on the server's Rust threads.
//!
//! A server's blocking worker (a Rust thread) does not take the GIL: it queues the call here and
//! waits for its answer. Python threads of the server's own pool (`handler_loop.py`, daemon threads
//! named `dcc-mcp-handler`) take calls one at a time and call the handler *from Python code*, so the
//! handler runs on a stack of C and Python frames that CPython may end at interpreter exit (see
//! [`super::exit`]). The pool grows by one thread whenever a thread takes a call and no other is
//! idle, so it holds at most one idle thread more than the calls that ran at once; all of them exit
//! when the server stops.
//!
//! The cap on concurrent handlers is still the server's (`sync_concurrency`, `job_concurrency`):
//! each queued call holds one of the server's blocking workers until its answer arrives, or until
//! the pool closes (the server stopped, the interpreter exits), whichever comes first.

use std::collections::VecDeque;
use std::ffi::CString;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use serde_json::Value;

use dcc_mcp_http::{ToolContext, ToolError, ToolHandler};

use super::context::PyToolContext;
use super::exit::{self, Close, Section};
use super::handler::{self, Report};

/// The loop the pool's Python threads run.
const LOOP_SOURCE: &str = include_str!("handler_loop.py");

/// How often a server worker waiting for an answer checks whether the pool closed.
const ANSWER_POLL: Duration = Duration::from_millis(50);

/// How long a Python thread waits for a call before looking again whether the interpreter exits
/// (the exit hook also wakes it at once).
const IDLE_POLL: Duration = Duration::from_secs(1);

/// One call waiting for a Python thread.
struct Pending {
    tool: String,
    callable: Arc<Py<PyAny>>,
    pass_context: bool,
    report: Report,
    arguments: Value,
    context: ToolContext,
    reply: mpsc::SyncSender<Result<Value, ToolError>>,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Pending>,
    closed: bool,
    /// Python threads waiting in `next_call`.
    idle: usize,
    /// Python threads started and not yet exited.
    workers: usize,
}

/// The calls of one server waiting for, or running on, its Python threads.
#[derive(Default)]
pub(crate) struct Pool {
    state: Mutex<State>,
    ready: Condvar,
}

impl Close for Pool {
    fn close(&self) {
        Pool::close(self);
    }
}

impl Pool {
    /// A pool with no threads yet; [`start`] starts the first one.
    pub(crate) fn new() -> Arc<Self> {
        let pool = Arc::new(Self::default());
        exit::track(&pool);
        pool
    }

    /// Identifies the server this pool belongs to (its address; stable while the server lives).
    pub(crate) fn id(self: &Arc<Self>) -> usize {
        Arc::as_ptr(self) as usize
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stops taking calls: queued calls are answered "not run" and every Python thread exits once
    /// its current handler returns. Idempotent.
    pub(crate) fn close(&self) {
        let dropped = {
            let mut state = self.lock();
            state.closed = true;
            std::mem::take(&mut state.queue)
        };
        self.ready.notify_all();
        // Dropping the replies answers the waiting server workers.
        drop(dropped);
    }

    fn is_closed(&self) -> bool {
        self.lock().closed
    }

    fn submit(&self, pending: Pending) -> Result<(), ToolError> {
        let mut state = self.lock();
        if state.closed {
            return Err(ToolError::from(format!(
                "tool '{}' was not run: the server is stopping",
                pending.tool
            )));
        }
        state.queue.push_back(pending);
        drop(state);
        self.ready.notify_one();
        Ok(())
    }

    /// The next call, waiting without the GIL; `None` once the pool closed or the interpreter exits.
    fn next(&self) -> Option<Pending> {
        let mut state = self.lock();
        state.idle += 1;
        let next = loop {
            if state.closed || exit::exiting() {
                break None;
            }
            if let Some(pending) = state.queue.pop_front() {
                break Some(pending);
            }
            state = self
                .ready
                .wait_timeout(state, IDLE_POLL)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        };
        state.idle -= 1;
        if next.is_none() {
            state.workers = state.workers.saturating_sub(1);
        }
        next
    }
}

/// The handler the server runs on its blocking worker: queue the call, wait for its answer.
pub(crate) fn worker_handler(
    pool: &Arc<Pool>,
    tool: String,
    callable: Py<PyAny>,
    pass_context: bool,
    report: Report,
) -> ToolHandler {
    let pool = pool.clone();
    let callable = Arc::new(callable);
    Arc::new(move |arguments: Value, context: &ToolContext| {
        let (reply, answer) = mpsc::sync_channel(1);
        pool.submit(Pending {
            tool: tool.clone(),
            callable: callable.clone(),
            pass_context,
            report,
            arguments,
            context: context.clone(),
            reply,
        })?;
        loop {
            match answer.recv_timeout(ANSWER_POLL) {
                Ok(outcome) => return outcome,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(ToolError::from(format!(
                        "tool '{tool}' was not run to its end: the server stopped or the \
                         interpreter is exiting"
                    )))
                }
                Err(mpsc::RecvTimeoutError::Timeout) if pool.is_closed() => {
                    return Err(ToolError::from(format!(
                        "tool '{tool}' did not finish before the server stopped"
                    )))
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
    })
}

/// `handler_loop.py`, loaded once.
pub(crate) fn loop_module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    let module = MODULE.get_or_try_init(py, || -> PyResult<Py<PyModule>> {
        let source = CString::new(LOOP_SOURCE)
            .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
        Ok(PyModule::from_code(
            py,
            &source,
            c"dcc_mcp_core/_handler_loop.py",
            c"dcc_mcp_core._handler_loop",
        )?
        .unbind())
    })?;
    Ok(module.bind(py))
}

/// Starts the pool's first Python thread (called by `McpHttpServer.start()`).
pub(crate) fn start(py: Python<'_>, pool: &Arc<Pool>) -> PyResult<()> {
    pool.lock().workers += 1;
    loop_module(py)?
        .getattr("start")?
        .call1((PyHandlerPool { pool: pool.clone() },))?;
    Ok(())
}

/// The pool as its Python threads see it.
#[pyclass(name = "_HandlerPool", module = "dcc_mcp_core._core", frozen)]
pub(crate) struct PyHandlerPool {
    pool: Arc<Pool>,
}

#[pymethods]
impl PyHandlerPool {
    /// The next call to run, or `None` when this thread should exit.
    fn next_call(&self, py: Python<'_>) -> Option<PyHandlerCall> {
        let section = Section::enter(py)?;
        let pending = py.detach(|| self.pool.next());
        drop(section);
        pending.map(|pending| PyHandlerCall {
            pending: Mutex::new(Some(pending)),
        })
    }

    /// Called by a thread that took a call: true (and counted) when it should start another thread
    /// because none is left waiting.
    fn need_worker(&self) -> bool {
        let mut state = self.pool.lock();
        if state.closed || state.idle > 0 {
            return false;
        }
        state.workers += 1;
        true
    }

    /// A thread counted by `need_worker` could not be started.
    fn worker_failed(&self) {
        let mut state = self.pool.lock();
        state.workers = state.workers.saturating_sub(1);
    }
}

/// One tool call taken by a Python thread: its handler, arguments and context, and where its
/// answer goes. Answering twice does nothing.
#[pyclass(name = "_HandlerCall", module = "dcc_mcp_core._core", frozen)]
pub(crate) struct PyHandlerCall {
    pending: Mutex<Option<Pending>>,
}

impl PyHandlerCall {
    fn with<R>(&self, f: impl FnOnce(&Pending) -> PyResult<R>) -> PyResult<R> {
        let pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        match pending.as_ref() {
            Some(pending) => f(pending),
            None => Err(pyo3::exceptions::PyRuntimeError::new_err(
                "this call was already answered",
            )),
        }
    }

    fn answer(&self, py: Python<'_>, outcome: PyResult<Bound<'_, PyAny>>) {
        let Some(pending) = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return;
        };
        // Formatting an exception may run Python code (`__str__`); once the interpreter exits, the
        // answer goes nowhere anyway.
        let Some(_section) = Section::enter(py) else {
            return;
        };
        let outcome = handler::outcome(py, &pending.tool, outcome, pending.report);
        let _ = pending.reply.send(outcome);
    }
}

#[pymethods]
impl PyHandlerCall {
    /// The Python handler.
    #[getter]
    fn handler(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.with(|p| Ok(p.callable.clone_ref(py)))
    }

    /// Whether the handler takes the `ToolContext` as its second argument.
    #[getter]
    fn pass_context(&self) -> PyResult<bool> {
        self.with(|p| Ok(p.pass_context))
    }

    /// The call's arguments as a new `dict`.
    #[getter]
    fn arguments<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.with(|p| handler::arguments(py, &p.arguments))
    }

    /// The call's `ToolContext`.
    #[getter]
    fn context(&self) -> PyResult<PyToolContext> {
        self.with(|p| Ok(PyToolContext::new(p.context.clone())))
    }

    /// Answer with the handler's return value.
    fn finish(&self, py: Python<'_>, result: Bound<'_, PyAny>) {
        self.answer(py, Ok(result));
    }

    /// Answer with the exception the handler raised.
    fn fail(&self, py: Python<'_>, exc: Bound<'_, PyAny>) {
        self.answer(py, Err(PyErr::from_value(exc)));
    }
}
