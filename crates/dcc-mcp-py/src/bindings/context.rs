//! `ToolContext`: what a handler registered with `pass_context=True` gets besides its arguments —
//! progress reporting, cancellation, log messages to the client, requests to it (elicitation,
//! sampling, roots) and closing the call's SSE answer early (`close_stream`), straight from
//! `dcc_mcp_http::ToolContext`.
//!
//! A request blocks the calling Python thread with the GIL released (`Python::detach`) until the
//! client answers, so other handlers keep running meanwhile. A refusal or an ended call raises
//! `RuntimeError` with the server's message; in 2026-07-28 the first run of a handler raises it too
//! (the call then returns an `InputRequiredResult` and the handler runs again on the retry), so
//! let it propagate.

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use serde_json::{json, Value};

use dcc_mcp_http::protocol::logging::LoggingLevel;
use dcc_mcp_http::{ClientRequestKind, InputRequest, Pending, ToolContext, ToolError};

use super::json::{to_json, to_python};

fn json_arg(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Value> {
    to_json(value).map_err(|error| PyValueError::new_err(format!("{what} is not JSON: {error}")))
}

fn kind_of(name: &str) -> PyResult<ClientRequestKind> {
    match name {
        "elicitation" => Ok(ClientRequestKind::Elicitation),
        "sampling" => Ok(ClientRequestKind::Sampling),
        "roots" => Ok(ClientRequestKind::Roots),
        other => Err(PyValueError::new_err(format!(
            "unknown capability {other:?}: use \"elicitation\", \"sampling\" or \"roots\""
        ))),
    }
}

/// Wait for `pending` with the GIL released; its answer as Python, or `RuntimeError`.
fn wait_for<'py>(py: Python<'py>, pending: Pending<Value>) -> PyResult<Bound<'py, PyAny>> {
    let answer: Result<Value, ToolError> = py.detach(|| pending.wait());
    match answer {
        Ok(value) => to_python(py, &value),
        Err(error) => Err(PyRuntimeError::new_err(error.message().to_owned())),
    }
}

/// Progress reporting and cancellation for the tool call being handled.
#[pyclass(name = "ToolContext", module = "dcc_mcp_core._core", frozen)]
pub(crate) struct PyToolContext {
    inner: ToolContext,
}

impl PyToolContext {
    pub(crate) fn new(inner: ToolContext) -> Self {
        Self { inner }
    }
}

#[pymethods]
impl PyToolContext {
    /// The name of the tool being called.
    #[getter]
    fn tool_name(&self) -> &str {
        self.inner.tool_name()
    }

    /// True once the call timed out, its job was cancelled (`jobs.cancel`) or the server is stopping.
    /// Long-running handlers should check it and raise to stop early.
    #[getter]
    fn is_cancelled(&self) -> bool {
        self.inner.is_cancelled()
    }

    /// Reports progress: to the job's state (`jobs.get`) for async tools, and as
    /// `notifications/progress` to a client that sent a progress token.
    #[pyo3(signature = (progress, total = None, message = None))]
    fn report_progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) {
        self.inner.report_progress(progress, total, message);
    }

    /// Sends a log message (`notifications/message`) to the client when its level allows it.
    /// `level` is one of debug, info, notice, warning, error, critical, alert, emergency.
    #[pyo3(signature = (level, data, logger = None))]
    fn log(&self, level: &str, data: &Bound<'_, PyAny>, logger: Option<&str>) -> PyResult<()> {
        let level: LoggingLevel = level.parse().map_err(|()| {
            PyValueError::new_err(format!(
                "unknown log level {level:?}: use debug, info, notice, warning, error, critical, alert or emergency"
            ))
        })?;
        let data = json_arg(data, "data")?;
        match logger {
            Some(logger) => self.inner.log_as(logger, level, data),
            None => self.inner.log(level, data),
        }
        Ok(())
    }

    /// Closes the SSE answer of this call's POST now, before the result, and lets the handler go
    /// on running: the client reconnects with `GET` and `Last-Event-ID` and receives the rest of
    /// the call's messages and its result on that stream (2025-11-25 SSE polling; frees the
    /// connection during a long call). True when the call's answer is such a stream (a session-era
    /// `tools/call` of a 2025-11-25 session whose client accepts `text/event-stream`); otherwise it
    /// does nothing and returns False.
    fn close_stream(&self) -> bool {
        self.inner.close_stream()
    }

    /// True when the client declared `capability` ("elicitation", "sampling" or "roots").
    fn client_supports(&self, capability: &str) -> PyResult<bool> {
        Ok(self.inner.client_supports(kind_of(capability)?))
    }

    /// Asks the user to fill in a form (`elicitation/create`); returns the result,
    /// `{"action": "accept"|"decline"|"cancel", "content": {...}}`. `key` names the request in a
    /// 2026-07-28 `InputRequiredResult`.
    #[pyo3(signature = (message, schema, key = None))]
    fn elicit<'py>(
        &self,
        py: Python<'py>,
        message: &str,
        schema: &Bound<'py, PyAny>,
        key: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut request = InputRequest::elicit(message, json_arg(schema, "schema")?);
        if let Some(key) = key {
            request = request.key(key);
        }
        wait_for(py, self.inner.ask_one(request))
    }

    /// Asks the client's model (`sampling/createMessage`). `messages` is a prompt string (one user
    /// message) or a list of `{"role", "content"}` dicts; returns the result dict
    /// (`role`, `content`, `model`, `stopReason`).
    #[pyo3(signature = (messages, max_tokens = 100, system_prompt = None, key = None))]
    fn sample<'py>(
        &self,
        py: Python<'py>,
        messages: &Bound<'py, PyAny>,
        max_tokens: u64,
        system_prompt: Option<&str>,
        key: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let messages =
            match json_arg(messages, "messages")? {
                Value::String(text) => {
                    json!([{"role": "user", "content": {"type": "text", "text": text}}])
                }
                list @ Value::Array(_) => list,
                _ => return Err(PyValueError::new_err(
                    "messages must be a prompt string or a list of {\"role\", \"content\"} dicts",
                )),
            };
        let mut params = json!({"messages": messages, "maxTokens": max_tokens});
        if let (Some(system_prompt), Some(map)) = (system_prompt, params.as_object_mut()) {
            map.insert("systemPrompt".into(), Value::from(system_prompt));
        }
        let params = serde_json::from_value(params)
            .map_err(|error| PyValueError::new_err(format!("invalid sampling request: {error}")))?;
        let mut request = InputRequest::sample(&params);
        if let Some(key) = key {
            request = request.key(key);
        }
        wait_for(py, self.inner.ask_one(request))
    }

    /// The client's roots (`roots/list`): a list of `{"uri", "name"}` dicts.
    #[pyo3(signature = (key = None))]
    fn list_roots<'py>(&self, py: Python<'py>, key: Option<&str>) -> PyResult<Bound<'py, PyAny>> {
        let mut request = InputRequest::list_roots();
        if let Some(key) = key {
            request = request.key(key);
        }
        let answer = wait_for(py, self.inner.ask_one(request))?;
        answer.get_item("roots")
    }

    fn __repr__(&self) -> String {
        format!(
            "ToolContext(tool_name={}, is_cancelled={})",
            crate::convert::py_repr_str(self.inner.tool_name()),
            if self.inner.is_cancelled() {
                "True"
            } else {
                "False"
            }
        )
    }
}
