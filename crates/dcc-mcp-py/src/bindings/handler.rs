//! Adapts a Python callable to a `dcc_mcp_http::ToolHandler`, and turns what a handler returned or
//! raised into the tool's outcome.
//!
//! Two places call handlers. Main-thread handlers ([`main_thread_handler`]) run on the host's main
//! thread inside `MainThreadExecutor.pump()`, which already holds the GIL. Worker-thread handlers
//! are called from Python code on the server's Python threads ([`super::pool`]); the server's own
//! Rust threads never take the GIL (see [`super::exit`] for why). Both share [`arguments`] and
//! [`outcome`]: a Python exception becomes a tool error carrying its message, and a result that is
//! not JSON, or larger than the server's `max_response_bytes` (found out before the whole value is
//! converted), is refused. A handler exception is also logged with its traceback through Python's
//! `logging` (logger `dcc_mcp_core`), so it shows in the host's Script Editor or console; the
//! client's message carries its `raise … from` causes, and the traceback only with
//! `McpHttpConfig(include_traceback=True)` ([`Report`]). A Rust panic while calling a main-thread handler is caught by the executor's
//! pump and becomes an error result; nothing here catches unwinds, so a forced unwind (CPython ending
//! a thread) is never stopped by a `catch_unwind` of ours.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use serde_json::Value;

use dcc_mcp_http::{ToolContext, ToolError, ToolHandler};

use super::context::PyToolContext;
use super::exit::Section;
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

/// How a handler's outcome is reported: the result's size bound and the traceback for the client.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Report {
    /// A result whose JSON is larger than this is an error (the server's `max_response_bytes`).
    pub(crate) max_result_bytes: usize,
    /// An exception's error message also carries the formatted traceback.
    pub(crate) include_traceback: bool,
}

impl Report {
    /// No result bound of our own (the server's applies) and no traceback for the client.
    pub(crate) const DEFAULT: Self = Self {
        max_result_bytes: usize::MAX,
        include_traceback: false,
    };
}

/// Wraps `callable` as the main-thread handler of tool `tool` of server `server` (an id): called as
/// `callable(arguments: dict)`, or as `callable(arguments, context)` when `pass_context` is set.
pub(crate) fn main_thread_handler(
    server: usize,
    tool: String,
    callable: Py<PyAny>,
    pass_context: bool,
    report: Report,
) -> ToolHandler {
    Arc::new(move |arguments: Value, ctx: &ToolContext| {
        let ctx = pass_context.then_some(ctx);
        call(server, &tool, &callable, &arguments, ctx, report)
    })
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
    callable: &Py<PyAny>,
    arguments: &Value,
    ctx: Option<&ToolContext>,
    report: Report,
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
        outcome(py, tool, result, report)
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
    report: Report,
) -> Result<Value, ToolError> {
    let result = result.map_err(|err| {
        ToolError::from(report_exception(py, tool, &err, report.include_traceback))
    })?;
    if result.hasattr("__await__").unwrap_or(false) {
        // An `async def` handler: close the coroutine so Python does not warn it was never awaited.
        let _ = result.call_method0("close");
        return Err(ToolError::from(format!(
            "the handler of tool '{tool}' returned an awaitable: handlers are plain functions \
             (they already run on a server thread); use `def`, not `async def`"
        )));
    }
    json::to_json_bounded(&result, report.max_result_bytes).map_err(|e| {
        ToolError::from(if e.is_too_large() {
            format!("the result of tool '{tool}' was not sent: {e}")
        } else {
            format!(
                "the handler of tool '{tool}' returned a value that is not JSON-serialisable: {e}"
            )
        })
    })
}

/// Most `raise … from` causes named in the client's message.
const MAX_CAUSES: usize = 8;

/// Logs a handler exception with its traceback and returns the client's message:
/// `"Type: message"`, then `" (caused by Type: message)"` for each `raise … from` cause, and the
/// formatted traceback when `include_traceback`.
fn report_exception(py: Python<'_>, tool: &str, err: &PyErr, include_traceback: bool) -> String {
    let value = err.value(py);
    // Before 3.12 the traceback may live only in the error state: put it on the exception, where
    // `logging` and `traceback` look for it.
    if let Some(traceback) = err.traceback(py) {
        if value.getattr("__traceback__").is_ok_and(|tb| tb.is_none()) {
            let _ = value.setattr("__traceback__", traceback);
        }
    }
    let mut message = describe(value);
    let mut cause = value.getattr("__cause__").ok();
    for _ in 0..MAX_CAUSES {
        match cause {
            Some(c) if !c.is_none() => {
                message.push_str(&format!(" (caused by {})", describe(&c)));
                cause = c.getattr("__cause__").ok();
            }
            _ => break,
        }
    }
    log_exception(py, tool, value);
    if include_traceback {
        if let Ok(text) = format_traceback(py, value) {
            message.push_str("\n\n");
            message.push_str(text.trim_end());
        }
    }
    message
}

/// `"TypeName: message"`, or just the type name when the message is empty.
fn describe(exception: &Bound<'_, PyAny>) -> String {
    let type_name = exception
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "Exception".to_owned());
    let message = exception.str().map(|s| s.to_string()).unwrap_or_default();
    if message.is_empty() {
        type_name
    } else {
        format!("{type_name}: {message}")
    }
}

/// `logging.getLogger("dcc_mcp_core").error(…, exc_info=exception)`; a failure to log is ignored
/// (the client still gets the message).
fn log_exception(py: Python<'_>, tool: &str, exception: &Bound<'_, PyAny>) {
    let logged = (|| -> PyResult<()> {
        let logger = py
            .import("logging")?
            .call_method1("getLogger", ("dcc_mcp_core",))?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("exc_info", exception)?;
        logger.call_method(
            "error",
            ("tool %r raised an exception", tool),
            Some(&kwargs),
        )?;
        Ok(())
    })();
    if let Err(err) = logged {
        err.write_unraisable(py, None);
    }
}

/// `"".join(traceback.format_exception(type(e), e, e.__traceback__))`: the chain with its causes.
fn format_traceback(py: Python<'_>, exception: &Bound<'_, PyAny>) -> PyResult<String> {
    let lines = py.import("traceback")?.call_method1(
        "format_exception",
        (
            exception.get_type(),
            exception,
            exception.getattr("__traceback__")?,
        ),
    )?;
    PyString::new(py, "")
        .call_method1("join", (lines,))?
        .extract()
}
