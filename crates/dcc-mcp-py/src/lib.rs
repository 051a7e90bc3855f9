//! Python bindings for dcc-mcp-core: the `dcc_mcp_core._core` extension module.
//!
//! This crate is deliberately thin. Every behaviour — the MCP Streamable HTTP server, tool dispatch,
//! long-running jobs, the Prometheus exporter — lives in `dcc-mcp-http`; this crate converts values
//! between Python and Rust and manages the GIL:
//!
//! - Python tool handlers run on the server's blocking threads and take the GIL only for the call
//!   itself and the conversion of its arguments and result. With a `MainThreadExecutor` they run on
//!   the host application's main thread instead, inside `pump()` (a thin layer over
//!   `dcc_mcp_http::MainThreadExecutor`). Recording metrics and answering
//!   `/metrics` never touch the GIL.
//! - Binding the port, starting, waiting for and shutting down the server release the GIL
//!   (`Python::detach`), so handlers keep running while the main thread waits, and `Ctrl-C`
//!   interrupts `McpServerHandle.wait()`.
//! - A Python exception in a handler becomes an `isError` tool result carrying its message and its
//!   `raise … from` causes, and is logged with its traceback through Python's `logging` (logger
//!   `dcc_mcp_core`), where the server's own `tracing` warnings also arrive (rate-limited); a Rust
//!   panic while invoking a handler is caught and becomes an `isError` result too — it never unwinds
//!   into the interpreter.
//! - The Pythonic layer (`@server.tool()`, schemas from type hints, content helpers) is pure Python
//!   in `python/dcc_mcp_core/`; the `tool` methods here only call into it.
//!
//! Features (the wheel is built with all four, see `pyproject.toml`):
//!
//! | feature | meaning |
//! |---|---|
//! | `python-bindings` | compile the pyo3 classes; off, the crate is plain Rust and `cargo test` needs no interpreter |
//! | `ext-module` | export the `PyInit__core` entry point so the cdylib imports as `dcc_mcp_core._core` |
//! | `workflow` | `execution="async"` tools run as long-running jobs (`dcc-mcp-http/workflow`) |
//! | `prometheus` | `GET /metrics` on the server's router (`dcc-mcp-http/prometheus`) |
//!
//! The module is always built for CPython's stable ABI with a 3.9 floor (pyo3's `abi3-py39`, set on
//! the dependency in `Cargo.toml`): one `cp39-abi3` wheel serves every DCC's Python.
//!
//! `ext-module` does not enable pyo3's `extension-module` feature, which pyo3 deprecated: maturin
//! (>= 1.9.4) sets `PYO3_BUILD_EXTENSION_MODULE` itself, which keeps the module from linking libpython.

pub mod convert;
pub mod rate_limit;

#[cfg(feature = "python-bindings")]
mod bindings;

#[cfg(feature = "python-bindings")]
pub use bindings::add_to_module;

pub use convert::FEATURES;

/// The `dcc_mcp_core._core` module: the classes plus `__version__` and `FEATURES`.
#[cfg(feature = "ext-module")]
#[pyo3::pymodule]
fn _core(module: &pyo3::Bound<'_, pyo3::types::PyModule>) -> pyo3::PyResult<()> {
    add_to_module(module)
}
