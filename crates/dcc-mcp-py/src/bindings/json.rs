//! Python objects ↔ `serde_json::Value`, strictly: what `json.dumps` would refuse, or would write as
//! something that is not JSON (`NaN`, `Infinity`), is an error naming the offending value's path.
//!
//! Why not round-trip through the `json` module: that costs a Python string per call, and
//! `json.dumps` accepts `NaN`/`Infinity`, which MCP clients cannot parse.
//!
//! Results are converted under a byte budget (the server's `max_response_bytes`): the conversion
//! counts a lower bound of the JSON text it is building and stops as soon as that passes the budget,
//! so an oversized result costs only the part converted before it was found to be too large, not the
//! whole value under the GIL. Dict keys are converted as `json.dumps` does: `str` as is, `int`,
//! finite `float`, `bool` and `None` as their JSON text (`1` → `"1"`, `True` → `"true"`).
//!
//! Strings are read with `PyString::to_cow`, not `to_str`: the wheel is built for the stable ABI with
//! a Python 3.9 floor (pyo3's `abi3-py39`), where borrowing a `str`'s UTF-8 buffer is not in the limited
//! API; `to_cow` borrows where it can and copies through a `bytes` object there.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};

/// Deeper nesting than this is refused; it also stops self-referencing containers.
const MAX_DEPTH: usize = 256;

/// Why a Python value is not JSON: a readable reason and the JSON path where it was found.
#[derive(Debug)]
pub(crate) struct NotJson {
    path: String,
    reason: String,
    too_large: bool,
}

impl NotJson {
    /// The value was refused for its size (the budget of [`to_json_bounded`]), not its content.
    pub(crate) fn is_too_large(&self) -> bool {
        self.too_large
    }
}

impl std::fmt::Display for NotJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at {})", self.reason, self.path)
    }
}

/// Converts a Python value to JSON.
pub(crate) fn to_json(value: &Bound<'_, PyAny>) -> Result<Value, NotJson> {
    to_json_bounded(value, usize::MAX)
}

/// Converts a Python value to JSON, refusing it as soon as its JSON text is known to exceed
/// `max_bytes` (the error says so; the rest of the value is not looked at).
pub(crate) fn to_json_bounded(
    value: &Bound<'_, PyAny>,
    max_bytes: usize,
) -> Result<Value, NotJson> {
    let mut path = String::from("$");
    let mut budget = Budget {
        used: 0,
        max: max_bytes,
    };
    convert(value, &mut path, 0, &mut budget)
}

/// A running lower bound of the JSON text's size, against a maximum.
struct Budget {
    used: usize,
    max: usize,
}

impl Budget {
    fn spend(&mut self, bytes: usize, path: &str) -> Result<(), NotJson> {
        self.used = self.used.saturating_add(bytes);
        if self.used > self.max {
            return Err(NotJson {
                path: path.to_owned(),
                reason: format!(
                    "the result is larger than max_response_bytes ({} bytes) as JSON",
                    self.max
                ),
                too_large: true,
            });
        }
        Ok(())
    }
}

/// Decimal digits of `n` (its JSON length without a sign).
fn digits(mut n: u64) -> usize {
    let mut count = 1;
    while n >= 10 {
        n /= 10;
        count += 1;
    }
    count
}

/// A dict key as `json.dumps` writes it: `str` as is; `int`, finite `float`, `bool`, `None` as JSON.
fn key_text(key: &Bound<'_, PyAny>, path: &str) -> Result<String, NotJson> {
    if let Ok(s) = key.cast::<PyString>() {
        return s
            .to_cow()
            .map(|s| s.into_owned())
            .map_err(|_| not_json(path, "dict key is not valid UTF-8".to_owned()));
    }
    if key.is_none() {
        return Ok("null".to_owned());
    }
    if let Ok(b) = key.cast::<PyBool>() {
        return Ok(if b.is_true() { "true" } else { "false" }.to_owned());
    }
    if key.is_instance_of::<PyInt>() || key.is_instance_of::<PyFloat>() {
        if let Ok(f) = key.cast::<PyFloat>() {
            if !f.value().is_finite() {
                return Err(not_json(
                    path,
                    format!("dict key {} is not valid JSON", f.value()),
                ));
            }
        }
        // `repr` is what `json.dumps` writes for both (`int.__repr__`, `float.__repr__`).
        return key
            .repr()
            .and_then(|r| r.to_cow().map(|c| c.into_owned()))
            .map_err(|_| not_json(path, "cannot write a numeric dict key".to_owned()));
    }
    Err(not_json(
        path,
        format!(
            "dict keys must be str, int, float, bool or None, found a key of type '{}'",
            type_name(key)
        ),
    ))
}

fn not_json(path: &str, reason: String) -> NotJson {
    NotJson {
        path: path.to_owned(),
        reason,
        too_large: false,
    }
}

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_owned())
}

fn convert(
    value: &Bound<'_, PyAny>,
    path: &mut String,
    depth: usize,
    budget: &mut Budget,
) -> Result<Value, NotJson> {
    if depth > MAX_DEPTH {
        return Err(not_json(
            path,
            format!("nested more than {MAX_DEPTH} levels deep (a container that contains itself?)"),
        ));
    }
    if value.is_none() {
        budget.spend(4, path)?;
        return Ok(Value::Null);
    }
    // `bool` before `int`: in Python, `True` is an `int`.
    if let Ok(b) = value.cast::<PyBool>() {
        budget.spend(4, path)?;
        return Ok(Value::Bool(b.is_true()));
    }
    if value.is_instance_of::<PyInt>() {
        if let Ok(i) = value.extract::<i64>() {
            budget.spend(digits(i.unsigned_abs()), path)?;
            return Ok(Value::Number(i.into()));
        }
        if let Ok(u) = value.extract::<u64>() {
            budget.spend(digits(u), path)?;
            return Ok(Value::Number(u.into()));
        }
        return Err(not_json(
            path,
            "int does not fit in 64 bits; pass it as a string".to_owned(),
        ));
    }
    if let Ok(f) = value.cast::<PyFloat>() {
        budget.spend(1, path)?;
        let f = f.value();
        return Number::from_f64(f).map(Value::Number).ok_or_else(|| {
            not_json(
                path,
                format!("float {f} is not valid JSON (NaN and infinities are not)"),
            )
        });
    }
    if let Ok(s) = value.cast::<PyString>() {
        // The length in code points is a lower bound of the UTF-8 length, known before copying.
        budget.spend(s.len().unwrap_or(0).saturating_add(2), path)?;
        return s
            .to_cow()
            .map(|s| Value::String(s.into_owned()))
            .map_err(|_| not_json(path, "str is not valid UTF-8 (lone surrogate?)".to_owned()));
    }
    if let Ok(dict) = value.cast::<PyDict>() {
        budget.spend(2, path)?;
        let mut map = Map::with_capacity(dict.len());
        for (key, item) in dict.iter() {
            let key = key_text(&key, path)?;
            budget.spend(key.len().saturating_add(4), path)?;
            let len = path.len();
            path.push('.');
            path.push_str(&key);
            let item = convert(&item, path, depth + 1, budget)?;
            path.truncate(len);
            map.insert(key, item);
        }
        return Ok(Value::Object(map));
    }
    if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        budget.spend(2, path)?;
        let mut items = Vec::new();
        for (index, item) in value
            .try_iter()
            .map_err(|_| not_json(path, "cannot iterate".to_owned()))?
            .enumerate()
        {
            let item = item.map_err(|_| not_json(path, "cannot iterate".to_owned()))?;
            let len = path.len();
            path.push_str(&format!("[{index}]"));
            budget.spend(1, path)?;
            items.push(convert(&item, path, depth + 1, budget)?);
            path.truncate(len);
        }
        return Ok(Value::Array(items));
    }
    Err(not_json(
        path,
        format!(
            "object of type '{}' is not JSON serializable",
            type_name(value)
        ),
    ))
}

/// Converts JSON to the equivalent Python value (object → `dict`, array → `list`, …).
pub(crate) fn to_python<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_python(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (key, item) in map {
                dict.set_item(key, to_python(py, item)?)?;
            }
            dict.into_any()
        }
    })
}
