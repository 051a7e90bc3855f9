//! Adapts a Python callable to a `dcc_mcp_http::ToolHandler`.
//!
//! The server calls handlers on its blocking worker threads, or — for tools registered with
//! `main_thread=True` — on the host's main thread inside `MainThreadExecutor.pump()`, which already
//! holds the GIL (taking it again there is free). The adapter takes the GIL only for the
//! call and the conversions around it, turns a Python exception into a tool error carrying its
//! message (and its `raise … from` causes), refuses a result that is not JSON or larger than the
//! server's `max_response_bytes` (found out before the whole value is converted), and catches any
//! Rust panic so that nothing unwinds through the interpreter or kills the server's worker.
//!
//! A handler exception is also logged with its traceback through Python's `logging` (logger
//! `dcc_mcp_core`), so it shows in the host's Script Editor or console; the client's message carries
//! the traceback only with `McpHttpConfig(include_traceback=True)`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use serde_json::Value;

use dcc_mcp_http::{ToolContext, ToolError, ToolHandler};

use super::context::PyToolContext;
use super::json;

/// How a Python handler is called and how its outcome is reported.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HandlerOptions {
    /// Call `callable(arguments, context)` rather than `callable(arguments)`.
    pub(crate) pass_context: bool,
    /// A result whose JSON is larger than this is an error (the server's `max_response_bytes`).
    pub(crate) max_result_bytes: usize,
    /// An exception's error message also carries the formatted traceback.
    pub(crate) include_traceback: bool,
}

impl HandlerOptions {
    /// `pass_context` with no result bound and no traceback for the client.
    pub(crate) fn new(pass_context: bool) -> Self {
        Self {
            pass_context,
            max_result_bytes: usize::MAX,
            include_traceback: false,
        }
    }
}

/// Wraps `callable` as the handler of tool `tool`: called as `callable(arguments: dict)`, or as
/// `callable(arguments, context)` when `options.pass_context` is set.
pub(crate) fn python_handler(
    tool: String,
    callable: Py<PyAny>,
    options: HandlerOptions,
) -> ToolHandler {
    Arc::new(move |arguments: Value, ctx: &ToolContext| {
        let ctx = options.pass_context.then_some(ctx);
        catch_unwind(AssertUnwindSafe(|| {
            call(&tool, &callable, &arguments, ctx, options)
        }))
        .unwrap_or_else(|_| {
            Err(ToolError::from(format!(
                "internal error while calling the Python handler of tool '{tool}'"
            )))
        })
    })
}

fn call(
    tool: &str,
    callable: &Py<PyAny>,
    arguments: &Value,
    ctx: Option<&ToolContext>,
    options: HandlerOptions,
) -> Result<Value, ToolError> {
    Python::try_attach(|py| {
        let args = match arguments {
            Value::Null => PyDict::new(py).into_any(),
            other => json::to_python(py, other).map_err(|e| {
                ToolError::from(format!("cannot pass the arguments to Python: {e}"))
            })?,
        };
        let result = match ctx {
            Some(ctx) => {
                let ctx = Bound::new(py, PyToolContext::new(ctx.clone())).map_err(|err| {
                    ToolError::from(format!("cannot create the tool context: {err}"))
                })?;
                callable.bind(py).call1((args, ctx))
            }
            None => callable.bind(py).call1((args,)),
        }
        .map_err(|err| ToolError::from(report_exception(py, tool, &err, options.include_traceback)))?;
        if result.hasattr("__await__").unwrap_or(false) {
            // An `async def` handler: close the coroutine so Python does not warn it was never awaited.
            let _ = result.call_method0("close");
            return Err(ToolError::from(format!(
                "the handler of tool '{tool}' returned an awaitable: handlers are plain functions \
                 (they already run on a server thread); use `def`, not `async def`"
            )));
        }
        json::to_json_bounded(&result, options.max_result_bytes).map_err(|e| {
            ToolError::from(if e.is_too_large() {
                format!("the result of tool '{tool}' was not sent: {e}")
            } else {
                format!(
                    "the handler of tool '{tool}' returned a value that is not JSON-serialisable: {e}"
                )
            })
        })
    })
    .unwrap_or_else(|| {
        Err(ToolError::from(
            "the Python interpreter is shutting down; the tool was not run",
        ))
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
