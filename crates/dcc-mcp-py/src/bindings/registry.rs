//! `ToolRegistry`: a Python view of `dcc_mcp_http::ToolRegistry` (shared, not copied: a server built
//! from it sees later registrations and removals).

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use dcc_mcp_http::{Handler, ToolAnnotations, ToolRegistry, ToolSpec};

use super::errors::{invalid_value, registry_error};
use super::handler::{main_thread_handler, Report};
use super::json;
use super::pool::{self, Pool};
use crate::convert;

/// The tools a server offers.
#[pyclass(name = "ToolRegistry", module = "dcc_mcp_core._core", frozen)]
pub(crate) struct PyToolRegistry {
    pub(crate) inner: ToolRegistry,
}

/// Reads a schema argument: a `dict` or a JSON string holding an object.
fn extract_schema(name: &str, value: &Bound<'_, PyAny>) -> PyResult<serde_json::Value> {
    if let Ok(text) = value.cast::<PyString>() {
        return convert::schema_from_json_text(name, &text.to_cow()?).map_err(invalid_value);
    }
    if value.is_instance_of::<PyDict>() {
        let json = json::to_json(value).map_err(|e| {
            invalid_value(convert::InvalidValue(format!(
                "{name} is not JSON-serialisable: {e}"
            )))
        })?;
        return convert::schema_object(name, json).map_err(invalid_value);
    }
    Err(pyo3::exceptions::PyTypeError::new_err(format!(
        "{name} must be a dict or a JSON string, got {}",
        value.get_type().name()?
    )))
}

/// The MCP hint names `annotations=` accepts, in `tools/list` order.
const ANNOTATION_KEYS: [&str; 4] = [
    "readOnlyHint",
    "destructiveHint",
    "idempotentHint",
    "openWorldHint",
];

/// Reads `annotations={"readOnlyHint": True, …}`: a dict of the four MCP hints, each a `bool`.
fn extract_annotations(name: &str, value: &Bound<'_, PyAny>) -> PyResult<ToolAnnotations> {
    let dict = value.cast::<PyDict>().map_err(|_| {
        pyo3::exceptions::PyTypeError::new_err(format!(
            "tool '{name}': annotations must be a dict such as {{\"readOnlyHint\": True}}"
        ))
    })?;
    let mut hints = ToolAnnotations::default();
    for (key, item) in dict.iter() {
        let key: String = key.extract()?;
        let hint = item
            .cast::<pyo3::types::PyBool>()
            .map(|b| b.is_true())
            .map_err(|_| {
                invalid_value(convert::InvalidValue(format!(
                    "tool '{name}': annotation {key:?} must be True or False"
                )))
            })?;
        let slot = match key.as_str() {
            "readOnlyHint" => &mut hints.read_only_hint,
            "destructiveHint" => &mut hints.destructive_hint,
            "idempotentHint" => &mut hints.idempotent_hint,
            "openWorldHint" => &mut hints.open_world_hint,
            _ => {
                return Err(invalid_value(convert::InvalidValue(format!(
                    "tool '{name}': unknown annotation {key:?}; the MCP tool annotations are {}",
                    ANNOTATION_KEYS.join(", ")
                ))))
            }
        };
        *slot = Some(hint);
    }
    Ok(hints)
}

/// A tool's description as a Python dict (`name`, `title`, `description`, `input_schema`,
/// `output_schema`, `execution`, `annotations`).
pub(crate) fn spec_to_dict<'py>(py: Python<'py>, spec: &ToolSpec) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("name", &spec.name)?;
    dict.set_item("description", &spec.description)?;
    dict.set_item("input_schema", json::to_python(py, &spec.input_schema)?)?;
    match &spec.output_schema {
        Some(schema) => dict.set_item("output_schema", json::to_python(py, schema)?)?,
        None => dict.set_item("output_schema", py.None())?,
    }
    dict.set_item("execution", convert::execution_name(&spec.execution))?;
    dict.set_item("title", spec.title.as_deref())?;
    match &spec.annotations {
        Some(hints) => dict.set_item("annotations", json::to_python(py, &hints.to_wire())?)?,
        None => dict.set_item("annotations", py.None())?,
    }
    Ok(dict)
}

/// The pool of Python threads that runs registry-level handlers (`@registry.tool()`), started once.
fn shared_pool(py: Python<'_>) -> PyResult<std::sync::Arc<Pool>> {
    static POOL: pyo3::sync::PyOnceLock<std::sync::Arc<Pool>> = pyo3::sync::PyOnceLock::new();
    POOL.get_or_try_init(py, || {
        let pool = Pool::new();
        pool::start(py, &pool)?;
        Ok::<_, PyErr>(pool)
    })
    .cloned()
}

#[pymethods]
impl PyToolRegistry {
    /// An empty registry.
    #[new]
    fn new() -> Self {
        Self {
            inner: ToolRegistry::new(),
        }
    }

    /// Registers a tool. `input_schema` / `output_schema` are a dict or a JSON string whose root is
    /// `{"type": "object", …}`; `execution="async"` runs calls as long-running jobs; `title` is the
    /// display name and `annotations` the MCP hints (`readOnlyHint`, `destructiveHint`,
    /// `idempotentHint`, `openWorldHint`). Raises `ValueError` for a duplicate or invalid name, an
    /// invalid schema, an unknown execution mode or annotation.
    #[pyo3(signature = (name, description = "", input_schema = None, output_schema = None, execution = "sync", *, title = None, annotations = None))]
    #[allow(clippy::too_many_arguments)]
    fn register(
        &self,
        name: &str,
        description: &str,
        input_schema: Option<&Bound<'_, PyAny>>,
        output_schema: Option<&Bound<'_, PyAny>>,
        execution: &str,
        title: Option<String>,
        annotations: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let mut spec = ToolSpec::new(name)
            .description(description)
            .execution(convert::execution(execution).map_err(invalid_value)?);
        if let Some(title) = title {
            spec = spec.title(title);
        }
        if let Some(hints) = annotations.filter(|a| !a.is_none()) {
            spec = spec.annotations(extract_annotations(name, hints)?);
        }
        if let Some(schema) = input_schema.filter(|s| !s.is_none()) {
            spec = spec.input_schema(extract_schema("input_schema", schema)?);
        }
        if let Some(schema) = output_schema.filter(|s| !s.is_none()) {
            spec = spec.output_schema(extract_schema("output_schema", schema)?);
        }
        self.inner.register(spec).map_err(registry_error)
    }

    /// A decorator registering a typed function as a tool (see `dcc_mcp_core._tools`); its handler
    /// is the registry's own, used by every server over this registry that sets none of its own.
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
                false,
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

    /// Sets the registry's own handler of tool `name` (what `@registry.tool()` uses): `fn(arguments,
    /// context)`, on the host's main thread when `main_thread` (the serving configuration then
    /// needs a `main_thread_executor`), else on a worker thread.
    ///
    /// Worker-thread calls of registry handlers run on one pool of Python threads shared by every
    /// registry, started on first use (a server's own handlers run on the server's pool).
    #[pyo3(signature = (name, r#fn, *, main_thread = false))]
    fn _set_handler(
        &self,
        py: Python<'_>,
        name: &str,
        r#fn: Bound<'_, PyAny>,
        main_thread: bool,
    ) -> PyResult<()> {
        let pool = shared_pool(py)?;
        let callable = r#fn.unbind();
        let handler = if main_thread {
            Handler::MainThread(main_thread_handler(
                pool.id(),
                name.to_owned(),
                callable,
                true,
                Report::DEFAULT,
            ))
        } else {
            Handler::Worker(pool::worker_handler(
                &pool,
                name.to_owned(),
                callable,
                true,
                Report::DEFAULT,
            ))
        };
        self.inner
            .set_handler_with(name, handler)
            .map_err(registry_error)
    }

    /// Removes a tool; returns whether it was registered.
    fn unregister(&self, name: &str) -> bool {
        self.inner.unregister(name)
    }

    /// All tools, sorted by name, each as a dict.
    fn list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for spec in self.inner.list() {
            list.append(spec_to_dict(py, &spec)?)?;
        }
        Ok(list)
    }

    /// The registered tool names, sorted.
    fn names(&self) -> Vec<String> {
        self.inner.list().into_iter().map(|s| s.name).collect()
    }

    /// One tool as a dict, or `None`.
    fn get<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Option<Bound<'py, PyDict>>> {
        self.inner
            .get(name)
            .map(|spec| spec_to_dict(py, &spec))
            .transpose()
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __contains__(&self, name: &str) -> bool {
        self.inner.contains(name)
    }

    fn __repr__(&self) -> String {
        let names: Vec<String> = self
            .inner
            .list()
            .iter()
            .map(|s| convert::py_repr_str(&s.name))
            .collect();
        format!("ToolRegistry([{}])", names.join(", "))
    }
}
