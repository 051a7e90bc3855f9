//! Adapts a Python callable to a `dcc_mcp_http::ToolHandler`, and turns what a handler returned or
//! raised into the tool's outcome.
//!
//! Two places call handlers. Main-thread handlers ([`main_thread_handler`]) run on the host's main
//! thread inside `MainThreadExecutor.pump()`, which already holds the GIL. Worker-thread handlers
//! are called from Python code on the server's Python threads ([`super::pool`]); the server's own
//! Rust threads never take the GIL (see [`super::exit`] for why). Both share [`arguments`] and
//! [`outcome`]: a Python exception becomes a tool error carrying its message, and a result that is
//! not JSON is refused. A Rust panic while calling a main-thread handler is caught by the executor's
//! pump and becomes an error result; nothing here catches unwinds, so a forced unwind (CPython ending
//! a thread) is never stopped by a `catch_unwind` of ours.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde_json::Value;

use dcc_mcp_http::{ToolContext, ToolError, ToolHandler};

use super::context::PyToolContext;
use super::exit::Section;
use super::handlers::HandlerTable;
use super::json;

thread_local! {
    /// The server (its id) whose main-thread handler runs on this thread now, if any.
    static RUNNING_SERVER: Cell<Option<usize>> = const { Cell::new(None) };
    /// A `KeyboardInterrupt` a main-thread handler raised, for `pump()` to raise again.
    static INTERRUPT: RefCell<Option<PyErr>> = const { RefCell::new(None) };
}

/// The id of the server whose main-thread handler is running on this thread, if any.
pub(crate) fn running_server() -> Option<usize> {
    RUNNING_SERVER.with(Cell::get)
}

/// The `KeyboardInterrupt` raised by a main-thread handler during the last pump, if any.
pub(crate) fn take_interrupt() -> Option<PyErr> {
    INTERRUPT.with(|slot| slot.borrow_mut().take())
}

/// Wraps `callable` as the main-thread handler of tool `tool` of server `server` (an id): called as
/// `callable(arguments: dict)`, or as `callable(arguments, context)` when `pass_context` is set.
pub(crate) fn main_thread_handler(
    server: usize,
    tool: String,
    handlers: Arc<HandlerTable>,
    pass_context: bool,
) -> ToolHandler {
    Arc::new(move |arguments: Value, ctx: &ToolContext| {
        let ctx = pass_context.then_some(ctx);
        call(server, &tool, &handlers, &arguments, ctx)
    })
}

/// The error of a call whose handler the server no longer has (it was collected or closed).
pub(crate) fn removed(tool: &str) -> PyErr {
    pyo3::exceptions::PyRuntimeError::new_err(format!(
        "the handler of tool '{tool}' is gone: its server was closed or garbage-collected"
    ))
}

/// Restores the thread's running server when a handler call ends.
struct Running(Option<usize>);

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING_SERVER.with(|running| running.set(self.0));
    }
}

fn call(
    server: usize,
    tool: &str,
    handlers: &HandlerTable,
    arguments: &Value,
    ctx: Option<&ToolContext>,
) -> Result<Value, ToolError> {
    Python::try_attach(|py| {
        let Some(_section) = Section::enter(py) else {
            return Err(ToolError::from(format!(
                "tool '{tool}' was not run: the Python interpreter is exiting"
            )));
        };
        if INTERRUPT.with(|slot| slot.borrow().is_some()) {
            return Err(ToolError::from(format!(
                "tool '{tool}' was not run: the host's main thread was interrupted (KeyboardInterrupt)"
            )));
        }
        let Some(callable) = handlers.get(py, tool) else {
            return outcome(py, tool, Err(removed(tool)));
        };
        let _running = Running(RUNNING_SERVER.with(|running| running.replace(Some(server))));
        let args = arguments_or_error(py, arguments)?;
        let result = match ctx {
            Some(ctx) => {
                let ctx = Bound::new(py, PyToolContext::new(ctx.clone())).map_err(|err| {
                    ToolError::from(format!("cannot create the tool context: {err}"))
                })?;
                callable.bind(py).call1((args, ctx))
            }
            None => callable.bind(py).call1((args,)),
        };
        if let Err(err) = &result {
            if err.is_instance_of::<PyKeyboardInterrupt>(py) {
                INTERRUPT.with(|slot| *slot.borrow_mut() = Some(err.clone_ref(py)));
                return Err(ToolError::from(format!(
                    "tool '{tool}' was interrupted on the host's main thread (KeyboardInterrupt)"
                )));
            }
        }
        outcome(py, tool, result)
    })
    .unwrap_or_else(|| {
        Err(ToolError::from(
            "the Python interpreter is shutting down; the tool was not run",
        ))
    })
}

fn arguments_or_error<'py>(py: Python<'py>, value: &Value) -> Result<Bound<'py, PyAny>, ToolError> {
    arguments(py, value)
        .map_err(|e| ToolError::from(format!("cannot pass the arguments to Python: {e}")))
}

/// The arguments as the handler gets them: a new `dict` (`{}` for a call without arguments).
pub(crate) fn arguments<'py>(py: Python<'py>, arguments: &Value) -> PyResult<Bound<'py, PyAny>> {
    match arguments {
        Value::Null => Ok(PyDict::new(py).into_any()),
        other => json::to_python(py, other),
    }
}

/// The tool outcome of what the handler of `tool` returned (`Ok`) or raised (`Err`).
pub(crate) fn outcome(
    py: Python<'_>,
    tool: &str,
    result: PyResult<Bound<'_, PyAny>>,
) -> Result<Value, ToolError> {
    let result = result.map_err(|err| ToolError::from(exception_message(py, &err)))?;
    if result.hasattr("__await__").unwrap_or(false) {
        // An `async def` handler: close the coroutine so Python does not warn it was never awaited.
        let _ = result.call_method0("close");
        return Err(ToolError::from(format!(
            "the handler of tool '{tool}' returned an awaitable: handlers are plain functions \
             (they already run on a server thread); use `def`, not `async def`"
        )));
    }
    json::to_json(&result).map_err(|e| {
        ToolError::from(format!(
            "the handler of tool '{tool}' returned a value that is not JSON-serialisable: {e}"
        ))
    })
}

/// `"TypeName: message"`, or just the type name when the message is empty.
fn exception_message(py: Python<'_>, err: &PyErr) -> String {
    let type_name = err
        .get_type(py)
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "Exception".to_owned());
    let message = err
        .value(py)
        .str()
        .map(|s| s.to_string())
        .unwrap_or_default();
    if message.is_empty() {
        type_name
    } else {
        format!("{type_name}: {message}")
    }
}
