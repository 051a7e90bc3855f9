//! `ToolContext`: what a handler registered with `pass_context=True` gets besides its arguments —
//! progress reporting and cancellation, straight from `dcc_mcp_http::ToolContext`.

use pyo3::prelude::*;

use dcc_mcp_http::ToolContext;

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
