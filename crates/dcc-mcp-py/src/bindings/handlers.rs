//! The Python handlers of one server, held where Python's garbage collector can see them.
//!
//! The closures the Rust server runs hold only this table (and a tool name), never a Python object:
//! the table's owner, `McpHttpServer`, reports its callables to the collector (`__traverse__`) and
//! lets it drop them (`__clear__`). So a class-based plug-in whose handlers are bound methods —
//! plug-in → server → bound method → plug-in — is collected once the plug-in is dropped, and with it
//! the server handle, which stops the server and frees its port.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use pyo3::prelude::*;
use pyo3::{PyTraverseError, PyVisit};

/// Tool name → Python callable, for one server.
#[derive(Default)]
pub(crate) struct HandlerTable {
    map: Mutex<BTreeMap<String, Py<PyAny>>>,
}

impl HandlerTable {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Sets (or replaces) the handler of `name`.
    pub(crate) fn insert(&self, name: &str, callable: Py<PyAny>) {
        let replaced = self
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_owned(), callable);
        // Dropped after the lock: releasing a Python object may run arbitrary code.
        drop(replaced);
    }

    /// Whether `name` has a handler.
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(name)
    }

    /// Removes the handler of `name`; whether there was one.
    pub(crate) fn remove(&self, name: &str) -> bool {
        let removed = self
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
        removed.is_some()
    }

    /// The handler of `name`, if it is still there.
    pub(crate) fn get(&self, py: Python<'_>, name: &str) -> Option<Py<PyAny>> {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .map(|callable| callable.clone_ref(py))
    }

    /// Reports every handler to the garbage collector.
    pub(crate) fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        // The collector runs with the GIL held; a thread holding the lock never waits for the GIL
        // while holding it, so `try_lock` only fails when this very thread is inside the table.
        if let Ok(map) = self.map.try_lock() {
            for callable in map.values() {
                visit.call(callable)?;
            }
        }
        Ok(())
    }

    /// Drops every handler (the collector breaking a cycle).
    pub(crate) fn clear(&self) {
        let taken = std::mem::take(&mut *self.map.lock().unwrap_or_else(PoisonError::into_inner));
        drop(taken);
    }
}
