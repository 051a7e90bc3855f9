//! Joining a gateway's discovery directory from Python: `McpHttpConfig(gateway_registry_dir=…)`.
//!
//! Why: a plug-in inside a DCC cannot know a free port in advance, and hard-coding 8765 breaks the
//! second seat on one machine. With a registry directory the plug-in binds port 0, and once the
//! server is bound its real URL is written to the directory (and kept fresh) for the gateway to
//! find; the entry is removed when the server shuts down. The entry format and its expiry belong
//! to [`dcc_mcp_gateway::discovery`].

use std::path::PathBuf;

use dcc_mcp_gateway::{GatewayConfig, Heartbeat, RegistryEntry};
use pyo3::prelude::*;

/// What `McpHttpConfig` was told (`gateway_registry_dir`, `gateway_instance_name`,
/// `gateway_dcc_type`).
#[derive(Debug, Clone, Default)]
pub(crate) struct JoinOptions {
    pub(crate) dir: Option<PathBuf>,
    pub(crate) name: Option<String>,
    pub(crate) dcc_type: Option<String>,
}

impl JoinOptions {
    /// The join these options describe for a server named `server_name` (the default name).
    /// Raises `ValueError` for a name that cannot namespace tools; call only with a directory.
    pub(crate) fn resolve(&self, server_name: &str) -> PyResult<Join> {
        let dir = self.dir.clone().unwrap_or_default();
        let name = self.name.as_deref().unwrap_or(server_name);
        Join::new(dir, name, self.dcc_type.clone())
    }
}

/// Where and as whom a server joins.
#[derive(Debug, Clone)]
pub(crate) struct Join {
    pub(crate) dir: PathBuf,
    pub(crate) name: String,
    pub(crate) dcc_type: Option<String>,
}

impl Join {
    /// A checked join: `name` must be a valid backend name (it namespaces the tools).
    pub(crate) fn new(dir: PathBuf, name: &str, dcc_type: Option<String>) -> PyResult<Self> {
        dcc_mcp_gateway::names::check_backend_name(name).map_err(|error| {
            pyo3::exceptions::PyValueError::new_err(format!(
                "gateway_instance_name (default: server_name): {error}"
            ))
        })?;
        Ok(Self {
            dir,
            name: name.to_owned(),
            dcc_type,
        })
    }

    /// Write the entry for the server bound at `mcp_url` and keep it fresh (a third of the
    /// gateway's default expiry) until the returned heartbeat is dropped.
    pub(crate) fn start(&self, mcp_url: &str, version: &str) -> PyResult<Heartbeat> {
        std::fs::create_dir_all(&self.dir)?;
        let entry =
            RegistryEntry::new(&self.name, self.dcc_type.as_deref(), mcp_url, Some(version));
        let interval = GatewayConfig::default().registry_ttl / 3;
        Ok(Heartbeat::start(&self.dir, entry, interval)?)
    }
}
