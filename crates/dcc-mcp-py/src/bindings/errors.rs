//! How Rust errors surface in Python: which exception type, with the Rust message unchanged (the
//! `dcc-mcp-http` errors already say what to do).

use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::PyErr;

use crate::convert::InvalidValue;

/// A bad argument value → `ValueError`.
pub(crate) fn invalid_value(err: InvalidValue) -> PyErr {
    PyValueError::new_err(err.0)
}

/// A configuration the server refused → `ValueError`.
pub(crate) fn config_error(err: dcc_mcp_http::ConfigError) -> PyErr {
    PyValueError::new_err(err.to_string())
}

/// A registration the registry refused (duplicate or invalid name, invalid schema, unknown tool) →
/// `ValueError`.
pub(crate) fn registry_error(err: dcc_mcp_http::RegistryError) -> PyErr {
    PyValueError::new_err(err.to_string())
}

/// A server start/stop failure: invalid configuration → `ValueError`; the port cannot be bound →
/// `OSError`; anything else (a second `start()`, a failed shutdown) → `RuntimeError`.
pub(crate) fn server_error(err: dcc_mcp_http::ServerError) -> PyErr {
    use dcc_mcp_http::ServerError;
    let message = err.to_string();
    match &err {
        ServerError::Config(_) => PyValueError::new_err(message),
        // `OSError(errno, message)`, so callers can test `err.errno == errno.EADDRINUSE`.
        ServerError::Bind { source, .. } => match source.raw_os_error() {
            Some(code) => PyOSError::new_err((code, message)),
            None => PyOSError::new_err(message),
        },
        _ => PyRuntimeError::new_err(message),
    }
}
