//! `ToolRegistry`: a Python view of `dcc_mcp_http::ToolRegistry` (shared, not copied: a server built
//! from it sees later registrations and removals).

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use dcc_mcp_http::{ToolRegistry, ToolSpec};

use super::errors::{invalid_value, registry_error};
use super::json;
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

/// A tool's description as a Python dict (`name`, `description`, `input_schema`, `output_schema`,
/// `execution`).
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
    Ok(dict)
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

    /// Registers a tool. `input_schema` / `output_schema` are a dict or a JSON string;
    /// `execution="async"` runs calls as long-running jobs. Raises `ValueError` for a duplicate or
    /// invalid name, an invalid schema, or an unknown execution mode.
    #[pyo3(signature = (name, description = "", input_schema = None, output_schema = None, execution = "sync"))]
    fn register(
        &self,
        name: &str,
        description: &str,
        input_schema: Option<&Bound<'_, PyAny>>,
        output_schema: Option<&Bound<'_, PyAny>>,
        execution: &str,
    ) -> PyResult<()> {
        let mut spec = ToolSpec::new(name)
            .description(description)
            .execution(convert::execution(execution).map_err(invalid_value)?);
        if let Some(schema) = input_schema.filter(|s| !s.is_none()) {
            spec = spec.input_schema(extract_schema("input_schema", schema)?);
        }
        if let Some(schema) = output_schema.filter(|s| !s.is_none()) {
            spec = spec.output_schema(extract_schema("output_schema", schema)?);
        }
        self.inner.register(spec).map_err(registry_error)
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
