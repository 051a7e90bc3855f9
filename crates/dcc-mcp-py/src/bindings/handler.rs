//! Adapts a Python callable to a `dcc_mcp_http::ToolHandler`.
//!
//! The server calls handlers on its blocking worker threads, or — for tools registered with
//! `main_thread=True` — on the host's main thread inside `MainThreadExecutor.pump()`, which already
//! holds the GIL (taking it again there is free). The adapter takes the GIL only for the
//! call and the conversions around it, turns a Python exception into a tool error carrying its
//! message, refuses a result that is not JSON, and catches any Rust panic so that nothing unwinds
//! through the interpreter or kills the server's worker.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde_json::Value;

use dcc_mcp_http::{ToolContext, ToolError, ToolHandler};

use super::context::PyToolContext;
use super::json;

/// Wraps `callable` as the handler of tool `tool`: called as `callable(arguments: dict)`, or as
/// `callable(arguments, context)` when `pass_context` is set.
pub(crate) fn python_handler(tool: String, callable: Py<PyAny>, pass_context: bool) -> ToolHandler {
    Arc::new(move |arguments: Value, ctx: &ToolContext| {
        let ctx = pass_context.then_some(ctx);
        catch_unwind(AssertUnwindSafe(|| call(&tool, &callable, &arguments, ctx))).unwrap_or_else(
            |_| {
                Err(ToolError::from(format!(
                    "internal error while calling the Python handler of tool '{tool}'"
                )))
            },
        )
    })
}

fn call(
    tool: &str,
    callable: &Py<PyAny>,
    arguments: &Value,
    ctx: Option<&ToolContext>,
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
        .map_err(|err| ToolError::from(exception_message(py, &err)))?;
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
    })
    .unwrap_or_else(|| {
        Err(ToolError::from(
            "the Python interpreter is shutting down; the tool was not run",
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
