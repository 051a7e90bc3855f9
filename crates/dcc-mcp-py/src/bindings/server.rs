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
use super::{catalog, json};
use serde_json::{Map, Value};

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
    /// The Python readers of this server's resources and templates, by URI (template).
    resources: Arc<HandlerTable>,
    /// The Python fillers of this server's prompts, by name.
    prompts: Arc<HandlerTable>,
    /// The Python completion functions of this server's prompts and templates, by
    /// `prompt:<name>` / `resource:<uri template>`.
    completions: Arc<HandlerTable>,
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
        let (mut config, include_traceback, gateway) = match config {
            Some(c) => (c.inner.clone(), c.include_traceback, c.gateway.clone()),
            None => (
                PyMcpHttpConfig::default_config(),
                false,
                super::join::JoinOptions::default(),
            ),
        };
        // Resources and prompts belong to the server, like its handlers: two servers built from one
        // configuration object must not share a catalog (clones of a catalog share its entries).
        config.catalog = dcc_mcp_http::Catalog::default();
        let inner = McpHttpServer::new(registry.inner.clone(), config).map_err(server_error)?;
        Ok(Self {
            inner,
            pool: Pool::new(),
            handlers: HandlerTable::new(),
            include_traceback,
            resources: HandlerTable::new(),
            prompts: HandlerTable::new(),
            completions: HandlerTable::new(),
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

    /// Serves resource `spec["uri"]` — or, with `template=True`, the URIs matching
    /// `spec["uriTemplate"]` — by calling `fn(variables, context)` (the `@server.resource()`
    /// decorator's lower level; `spec` is the MCP `Resource` / `ResourceTemplate` object, `context`
    /// a `ToolContext`). `fn` returns `{"text": str}` or `{"blob": base64}`. `main_thread` as in
    /// `register_handler`.
    #[pyo3(signature = (spec, r#fn, *, template, main_thread = None))]
    fn _add_resource(
        &self,
        spec: &Bound<'_, PyAny>,
        r#fn: Bound<'_, PyAny>,
        template: bool,
        main_thread: Option<bool>,
    ) -> PyResult<()> {
        let spec = spec_value(spec)?;
        let catalog = &self.inner.config().catalog;
        let key: String;
        let added = if template {
            let template = catalog::template(spec).map_err(value_error)?;
            key = template.uri_template.clone();
            let (handler, place) = self.catalog_handler(&key, &self.resources, main_thread)?;
            self.resources.insert(&key, r#fn.unbind());
            let label = format!("resource template '{key}'");
            catalog.resources.add_template(
                template,
                Arc::new(move |_uri, vars| {
                    let value = catalog::run(&handler, &place, &label, catalog::variables(vars))?;
                    catalog::body(&label, value)
                }),
            )
        } else {
            let resource = catalog::resource(spec).map_err(value_error)?;
            key = resource.uri.clone();
            let (handler, place) = self.catalog_handler(&key, &self.resources, main_thread)?;
            self.resources.insert(&key, r#fn.unbind());
            let label = format!("resource '{key}'");
            catalog.resources.add(
                resource,
                Arc::new(move |_uri| {
                    let value = catalog::run(&handler, &place, &label, Value::Object(Map::new()))?;
                    catalog::body(&label, value)
                }),
            )
        };
        added.map_err(|error| {
            // Not served: forget the function too, so that a corrected registration can follow.
            self.resources.remove(&key);
            value_error(error.to_string())
        })
    }

    /// Serves prompt `spec["name"]` by calling `fn(arguments, context)` (the `@server.prompt()`
    /// decorator's lower level; `spec` is the MCP `Prompt` object, `context` a `ToolContext`).
    /// `fn` returns a `GetPromptResult` object. `main_thread` as in `register_handler`.
    #[pyo3(signature = (spec, r#fn, *, main_thread = None))]
    fn _add_prompt(
        &self,
        spec: &Bound<'_, PyAny>,
        r#fn: Bound<'_, PyAny>,
        main_thread: Option<bool>,
    ) -> PyResult<()> {
        let prompt = catalog::prompt(spec_value(spec)?).map_err(value_error)?;
        let key = prompt.name.clone();
        let (handler, place) = self.catalog_handler(&key, &self.prompts, main_thread)?;
        self.prompts.insert(&key, r#fn.unbind());
        let label = format!("prompt '{key}'");
        self.inner
            .config()
            .catalog
            .prompts
            .add(
                prompt,
                Arc::new(move |arguments| {
                    let value =
                        catalog::run(&handler, &place, &label, catalog::variables(arguments))?;
                    catalog::prompt_result(&label, value)
                }),
            )
            .map_err(|error| {
                self.prompts.remove(&key);
                value_error(error.to_string())
            })
    }

    /// Completes `argument` of the prompt `reference` (`prompt=True`) or of the resource template
    /// `reference` with those of `values` that start with what the client typed so far
    /// (`completion/complete`; the `@server.prompt(complete=…)` / `@server.resource(complete=…)`
    /// lower level). Static values: answering never takes the GIL.
    #[pyo3(signature = (reference, argument, values, *, prompt))]
    fn _add_completion(&self, reference: &str, argument: &str, values: Vec<String>, prompt: bool) {
        let reference = completion_reference(reference, prompt);
        self.inner.config().catalog.completions.add(
            reference,
            argument,
            dcc_mcp_http::completion_providers::prefix_provider(values),
        );
    }

    /// Completes `arguments` of the prompt `reference` (`prompt=True`) or of the resource template
    /// `reference` by calling `fn({"argument": name, "value": partial, "context": {name: value}},
    /// context)`, which returns a list of str (the `@server.prompt(complete=fn)` /
    /// `@server.resource(complete=fn)` lower level). `fn` runs where `main_thread` says, as a
    /// resource reader does, waited for at most `request_timeout`; when it raises, returns
    /// something else or does not answer in time, the completion is empty and the failure is
    /// logged.
    #[pyo3(signature = (reference, arguments, r#fn, *, prompt, main_thread = None))]
    fn _add_completion_fn(
        &self,
        reference: &str,
        arguments: Vec<String>,
        r#fn: Bound<'_, PyAny>,
        prompt: bool,
        main_thread: Option<bool>,
    ) -> PyResult<()> {
        let key = completion_key(reference, prompt);
        let (handler, place) = self.catalog_handler(&key, &self.completions, main_thread)?;
        self.completions.insert(&key, r#fn.unbind());
        let reference = completion_reference(reference, prompt);
        for argument in arguments {
            let (handler, place) = (handler.clone(), place.clone());
            let label = format!("the completion of '{argument}' of {key}");
            let name = argument.clone();
            self.inner.config().catalog.completions.add(
                reference.clone(),
                &argument,
                Arc::new(move |partial, context| {
                    let request = serde_json::json!({
                        "argument": name,
                        "value": partial,
                        "context": context.arguments,
                    });
                    match catalog::run(&handler, &place, &label, request)
                        .and_then(|value| catalog::completion_values(&label, value))
                    {
                        Ok(values) => values,
                        Err(error) => {
                            tracing::warn!(target: "dcc_mcp_core", "{error}");
                            Vec::new()
                        }
                    }
                }),
            );
        }
        Ok(())
    }

    /// Stops serving the resource with this URI (or the template with this text); whether one was
    /// served.
    fn remove_resource(&self, uri: &str) -> bool {
        self.resources.remove(uri);
        self.completions.remove(&completion_key(uri, false));
        self.inner.config().catalog.resources.remove(uri)
    }

    /// Stops serving the prompt `name`; whether it was served.
    fn remove_prompt(&self, name: &str) -> bool {
        self.prompts.remove(name);
        self.completions.remove(&completion_key(name, true));
        self.inner.config().catalog.prompts.remove(name)
    }

    /// Tells the sessions subscribed to `uri` that its contents changed
    /// (`notifications/resources/updated`).
    fn notify_resource_updated(&self, uri: &str) {
        self.inner.config().catalog.resources.notify_updated(uri);
    }

    /// A decorator serving a function's return value as an MCP resource (see
    /// `dcc_mcp_core._catalog`).
    #[pyo3(signature = (uri, *, name = None, title = None, description = None, mime_type = None, main_thread = None, complete = None))]
    #[allow(clippy::too_many_arguments)]
    fn resource<'py>(
        slf: &Bound<'py, Self>,
        uri: &str,
        name: Option<&str>,
        title: Option<&str>,
        description: Option<&str>,
        mime_type: Option<&str>,
        main_thread: Option<bool>,
        complete: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        slf.py()
            .import("dcc_mcp_core._catalog")?
            .getattr("resource_decorator")?
            .call1((
                slf,
                uri,
                name,
                title,
                description,
                mime_type,
                main_thread,
                complete,
            ))
    }

    /// A decorator serving a function as an MCP prompt (see `dcc_mcp_core._catalog`).
    #[pyo3(signature = (name = None, *, title = None, description = None, main_thread = None, complete = None))]
    fn prompt<'py>(
        slf: &Bound<'py, Self>,
        name: Option<&str>,
        title: Option<&str>,
        description: Option<&str>,
        main_thread: Option<bool>,
        complete: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        slf.py()
            .import("dcc_mcp_core._catalog")?
            .getattr("prompt_decorator")?
            .call1((slf, name, title, description, main_thread, complete))
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
        self.handlers.traverse(&visit)?;
        self.resources.traverse(&visit)?;
        self.prompts.traverse(&visit)?;
        self.completions.traverse(&visit)
    }

    fn __clear__(&self) {
        self.handlers.clear();
        self.resources.clear();
        self.prompts.clear();
        self.completions.clear();
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

impl PyMcpHttpServer {
    /// The adapter that runs the Python function `key` of `table` where `main_thread` says (as
    /// `register_handler` decides it), and how long the catalog waits for it.
    fn catalog_handler(
        &self,
        key: &str,
        table: &Arc<HandlerTable>,
        main_thread: Option<bool>,
    ) -> PyResult<(dcc_mcp_http::ToolHandler, catalog::Place)> {
        if table.contains(key) {
            return Err(value_error(format!(
                "'{key}' is already registered on this server"
            )));
        }
        let config = self.inner.config();
        let executor = config.main_thread_executor.clone();
        let on_main_thread = main_thread.unwrap_or(executor.is_some());
        if on_main_thread && executor.is_none() {
            return Err(value_error(format!(
                "'{key}' is registered with main_thread=True, but the server has no \
                 main_thread_executor: pass McpHttpConfig(main_thread_executor=MainThreadExecutor())"
            )));
        }
        let report = Report {
            max_result_bytes: config.max_response_bytes,
            include_traceback: self.include_traceback,
        };
        // Every catalog function is called as `fn(arguments, context)`: the wrappers of
        // `dcc_mcp_core._catalog` pass the context on to a parameter annotated `ToolContext`.
        let handler = if on_main_thread {
            main_thread_handler(self.pool.id(), key.to_owned(), table.clone(), true, report)
        } else {
            pool::worker_handler(&self.pool, key.to_owned(), table.clone(), true, report)
        };
        let place = catalog::Place {
            main_thread: executor.filter(|_| on_main_thread),
            timeout: config.request_timeout,
        };
        Ok((handler, place))
    }
}

/// The key of a prompt's or template's completion function in `PyMcpHttpServer::completions`.
fn completion_key(reference: &str, prompt: bool) -> String {
    if prompt {
        format!("prompt:{reference}")
    } else {
        format!("resource:{reference}")
    }
}

/// The `completion/complete` reference of the prompt (`prompt`) or resource template `reference`.
fn completion_reference(
    reference: &str,
    prompt: bool,
) -> dcc_mcp_http::protocol::completion::Reference {
    use dcc_mcp_http::protocol::completion::Reference;
    if prompt {
        Reference::Prompt {
            name: reference.to_owned(),
        }
    } else {
        Reference::Resource {
            uri: reference.to_owned(),
        }
    }
}

fn value_error(message: impl Into<String>) -> PyErr {
    pyo3::exceptions::PyValueError::new_err(message.into())
}

/// A catalog entry built by the decorator, as JSON.
fn spec_value(spec: &Bound<'_, PyAny>) -> PyResult<Value> {
    json::to_json(spec).map_err(|error| value_error(format!("invalid catalog entry: {error}")))
}
