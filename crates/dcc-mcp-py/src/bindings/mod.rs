//! The pyo3 classes. Each submodule wraps one `dcc-mcp-http` type; none adds behaviour of its own.

mod catalog;
mod config;
mod context;
mod errors;
mod executor;
mod exit;
mod handle;
mod handler;
mod handlers;
mod join;
mod json;
mod log_bridge;
mod oauth;
mod pool;
mod registry;
mod server;

use pyo3::prelude::*;
use pyo3::types::PyTuple;

/// Adds the classes, `__version__` and `FEATURES` to `module`.
///
/// The `ext-module` feature calls this from the `PyInit__core` entry point; a host that embeds these
/// classes in its own extension module (using this crate as an rlib without `ext-module`) calls it
/// from its own `#[pymodule]`.
pub fn add_to_module(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<config::PyMcpHttpConfig>()?;
    module.add_class::<registry::PyToolRegistry>()?;
    module.add_class::<server::PyMcpHttpServer>()?;
    module.add_class::<handle::PyMcpServerHandle>()?;
    module.add_class::<context::PyToolContext>()?;
    module.add_class::<executor::PyMainThreadExecutor>()?;
    exit::register(module)?;
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    log_bridge::install(module)?;
    module.add(
        "FEATURES",
        PyTuple::new(module.py(), crate::convert::FEATURES)?,
    )?;
    Ok(())
}
