//! `McpHttpServer`: a Python view of `dcc_mcp_http::McpHttpServer`, with the pool of Python threads
//! that runs its worker-thread handlers ([`super::pool`]).

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::{PyTraverseError, PyVisit};

use dcc_mcp_http::{Handler, McpHttpServer};

use super::config::PyMcpHttpConfig;
use super::errors::{registry_error, server_error};
use super::exit::Section;
use super::handle::PyMcpServerHandle;
use super::handler::{main_thread_handler, Report};
use super::handlers::HandlerTable;
use super::pool::{self, Pool};
use super::registry::PyToolRegistry;

/// An MCP Streamable HTTP server over a `ToolRegistry`; `start()` runs it on its own thread.
#[pyclass(name = "McpHttpServer", module = "dcc_mcp_core._core", frozen)]
pub(crate) struct PyMcpHttpServer {
    inner: McpHttpServer,
    /// Runs this server's worker-thread handlers on Python threads.
    pool: Arc<Pool>,
    /// This server's Python handlers (seen by the garbage collector, see `handlers.rs`).
    handlers: Arc<HandlerTable>,
    /// `McpHttpConfig.include_traceback`: handler errors carry the Python traceback.
    include_traceback: bool,
    /// `McpHttpConfig.gateway_registry_dir` and the rest: the directory joined once bound.
    gateway: super::join::JoinOptions,
}

#[pymethods]
impl PyMcpHttpServer {
    /// A server for `registry` (shared, not copied) with `config` (default: `McpHttpConfig()`).
    #[new]
    #[pyo3(signature = (registry, config = None))]
    fn new(
        registry: PyRef<'_, PyToolRegistry>,
        config: Option<PyRef<'_, PyMcpHttpConfig>>,
    ) -> PyResult<Self> {
        let (config, include_traceback, gateway) = match config {
            Some(c) => (c.inner.clone(), c.include_traceback, c.gateway.clone()),
            None => (
                PyMcpHttpConfig::default_config(),
                false,
                super::join::JoinOptions::default(),
            ),
        };
        let inner = McpHttpServer::new(registry.inner.clone(), config).map_err(server_error)?;
        Ok(Self {
            inner,
            pool: Pool::new(),
            handlers: HandlerTable::new(),
            include_traceback,
            gateway,
        })
    }

    /// Sets the Python function that runs tool `name` (registered on the registry beforehand).
    ///
    /// `fn(arguments: dict)` — or `fn(arguments, context)` with `pass_context=True` — returns
    /// something JSON-serialisable; an exception becomes an `isError` result carrying its message.
    ///
    /// Where it runs: with `main_thread=True` on the host's main thread, inside
    /// `MainThreadExecutor.pump()` (the configuration needs a `main_thread_executor`, else
    /// `ValueError`); with `main_thread=False` on a server worker thread with the GIL. The default
    /// (`None`) is the main thread when the configuration has a `main_thread_executor` and a worker
    /// thread otherwise: inside a DCC every Python handler is safe to touch the host's API unless it
    /// opts out.
    #[pyo3(signature = (name, r#fn, *, pass_context = false, main_thread = None))]
    fn register_handler(
        &self,
        name: &str,
        r#fn: Bound<'_, PyAny>,
        pass_context: bool,
        main_thread: Option<bool>,
    ) -> PyResult<()> {
        if !r#fn.is_callable() {
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "the handler for tool '{name}' must be callable, got {}",
                r#fn.get_type().name()?
            )));
        }
        let has_executor = self.inner.config().main_thread_executor.is_some();
        let on_main_thread = main_thread.unwrap_or(has_executor);
        if on_main_thread && !has_executor {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "tool '{name}' is registered with main_thread=True, but the server has no \
                 main_thread_executor: pass McpHttpConfig(main_thread_executor=MainThreadExecutor())"
            )));
        }
        let report = Report {
            max_result_bytes: self.inner.config().max_response_bytes,
            include_traceback: self.include_traceback,
        };
        let handler = if on_main_thread {
            Handler::MainThread(main_thread_handler(
                self.pool.id(),
                name.to_owned(),
                self.handlers.clone(),
                pass_context,
                report,
            ))
        } else {
            Handler::Worker(pool::worker_handler(
                &self.pool,
                name.to_owned(),
                self.handlers.clone(),
                pass_context,
                report,
            ))
        };
        // This server's own handler: another server over the same registry keeps its own.
        self.inner
            .set_handler(name, handler)
            .map_err(registry_error)?;
        self.handlers.insert(name, r#fn.unbind());
        Ok(())
    }

    /// A decorator registering a typed function as a tool of this server (see
    /// `dcc_mcp_core._tools`): schema from the type hints, description from the docstring.
    #[pyo3(signature = (name = None, *, title = None, description = None, annotations = None, main_thread = None, execution = "sync", input_schema = None, output_schema = None, mime_type = None))]
    #[allow(clippy::too_many_arguments)]
    fn tool<'py>(
        slf: &Bound<'py, Self>,
        name: Option<&str>,
        title: Option<&str>,
        description: Option<&str>,
        annotations: Option<&Bound<'py, PyAny>>,
        main_thread: Option<bool>,
        execution: &str,
        input_schema: Option<&Bound<'py, PyAny>>,
        output_schema: Option<&Bound<'py, PyAny>>,
        mime_type: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        slf.py()
            .import("dcc_mcp_core._tools")?
            .getattr("tool_decorator")?
            .call1((
                slf,
                true,
                name,
                title,
                description,
                annotations,
                main_thread,
                execution,
                input_schema,
                output_schema,
                mime_type,
            ))
    }

    /// The registry this server serves (the same tools, not a copy).
    #[getter]
    fn registry(&self) -> PyToolRegistry {
        PyToolRegistry {
            inner: self.inner.registry().clone(),
        }
    }

    /// A copy of this server's configuration.
    #[getter]
    fn config(&self) -> PyMcpHttpConfig {
        PyMcpHttpConfig {
            inner: self.inner.config().clone(),
            include_traceback: self.include_traceback,
            gateway: self.gateway.clone(),
        }
    }

    /// Binds the port and starts serving on a background thread. Raises `OSError` when the port
    /// cannot be bound and `RuntimeError` when this server was already started.
    /// Also starts the first of the Python threads that run worker-thread handlers.
    fn start(&self, py: Python<'_>) -> PyResult<PyMcpServerHandle> {
        let Some(_section) = Section::enter(py) else {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(
                "cannot start a server: the Python interpreter is exiting",
            ));
        };
        let join = match &self.gateway.dir {
            Some(_) => Some(self.gateway.resolve(&self.inner.config().server_name)?),
            None => None,
        };
        let handle = py.detach(|| self.inner.start()).map_err(server_error)?;
        let mut handle = PyMcpServerHandle::new(handle, self.pool.clone());
        if let Some(join) = join {
            // A directory that cannot be written stops the server again (the handle's drop).
            let version = self.inner.config().server_version.clone();
            let heartbeat = join.start(handle.mcp_url_str(), &version)?;
            handle = handle.with_heartbeat(heartbeat);
        }
        pool::start(py, &self.pool)?;
        Ok(handle)
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        self.handlers.traverse(&visit)
    }

    fn __clear__(&self) {
        self.handlers.clear();
    }

    fn __repr__(&self) -> String {
        let c = self.inner.config();
        format!(
            "McpHttpServer(host={}, port={}, tools={})",
            crate::convert::py_repr_str(&c.host),
            c.port,
            self.inner.registry().len()
        )
    }
}
