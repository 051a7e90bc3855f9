//! The set of backends and every change to it: a backend added or removed, up or down. Each change
//! puts the backend's tools into the gateway's registry or takes them out, sets the gauges, rewrites
//! the `file_sd` file and tells the downstream sessions `notifications/tools/list_changed`.
//!
//! Changes are serialized by one lock so that a backend removed while its prober brings it up never
//! leaves tools behind.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use dcc_mcp_http::{Handler, ToolContext, ToolRegistry, ToolsListNotifier};
use serde_json::Value;

use crate::backend::{Backend, Health, Origin};
use crate::catalog::proxied_tools;
use crate::config::{BackendSpec, GatewayConfig};
use crate::file_sd::FileSd;
use crate::metrics::GatewayMetrics;
use crate::names::split;
use crate::proxy::Budget;

/// Why a backend was not added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddError {
    /// A backend with this name exists.
    #[error("a backend named {0} exists")]
    Duplicate(String),
    /// The gateway holds `max_backends` already.
    #[error("the gateway holds max_backends = {0} backends already")]
    Full(usize),
}

/// The backends of one gateway.
pub(crate) struct Fleet {
    pub(crate) config: GatewayConfig,
    registry: ToolRegistry,
    notifier: Option<ToolsListNotifier>,
    metrics: GatewayMetrics,
    backends: RwLock<BTreeMap<String, Arc<Backend>>>,
    file_sd: Option<FileSd>,
    changes: Mutex<()>,
    /// The backends' resources and prompts.
    pub(crate) surface: crate::surface::Surface,
    /// The per-backend and per-DCC-type endpoints.
    pub(crate) views: Arc<crate::endpoints::Views>,
}

impl Fleet {
    pub(crate) fn new(
        config: GatewayConfig,
        registry: ToolRegistry,
        notifier: Option<ToolsListNotifier>,
        metrics: GatewayMetrics,
    ) -> Self {
        let file_sd = config.file_sd_out.clone().map(FileSd::new);
        let views = Arc::new(crate::endpoints::Views::default());
        let surface = crate::surface::Surface::new(notifier.clone(), views.clone());
        let fleet = Self {
            surface,
            views,
            config,
            registry,
            notifier,
            metrics,
            backends: RwLock::new(BTreeMap::new()),
            file_sd,
            changes: Mutex::new(()),
        };
        fleet.publish(false);
        fleet
    }

    /// Every backend, sorted by name.
    pub(crate) fn backends(&self) -> Vec<Arc<Backend>> {
        self.backends
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// The backend `name`.
    pub(crate) fn get(&self, name: &str) -> Option<Arc<Backend>> {
        self.backends
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    /// Why the gateway serves no tool `name`: its backend is down, has no such tool, or does not
    /// exist. `None` for a name that is not namespaced.
    pub(crate) fn unknown_tool_hint(&self, name: &str) -> Option<String> {
        let (backend, tool) = split(name)?;
        Some(match self.get(backend) {
            None => format!("the gateway has no backend named '{backend}'"),
            Some(b) if b.health() == Health::Down => match b.last_error() {
                Some(error) => format!("backend '{backend}' is down: {error}"),
                None => format!("backend '{backend}' is down"),
            },
            Some(_) => format!("backend '{backend}' lists no tool '{tool}'"),
        })
    }

    /// Add a backend (down until its first probe succeeds).
    pub(crate) fn add(&self, spec: &BackendSpec, origin: Origin) -> Result<Arc<Backend>, AddError> {
        let _change = self.lock();
        let mut backends = self
            .backends
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if backends.contains_key(&spec.name) {
            return Err(AddError::Duplicate(spec.name.clone()));
        }
        if backends.len() >= self.config.max_backends {
            return Err(AddError::Full(self.config.max_backends));
        }
        let backend = Arc::new(Backend::new(
            spec.name.clone(),
            spec.url.clone(),
            spec.dcc_type.clone(),
            origin,
            self.config.max_in_flight,
            self.metrics.backend(&spec.name),
        ));
        backends.insert(spec.name.clone(), backend.clone());
        drop(backends);
        self.views.backend_added(&backend);
        self.publish(false);
        Ok(backend)
    }

    /// Remove the backend `name`: its prober stops and its tools leave. `false` when unknown.
    pub(crate) fn remove(&self, name: &str) -> bool {
        let _change = self.lock();
        let Some(backend) = self
            .backends
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name)
        else {
            return false;
        };
        backend.removed.cancel();
        let tools = backend.mark_down(Some("removed from the gateway".to_owned()));
        backend.set_client(None);
        self.surface.clear(name);
        let changed = self.unregister(&tools);
        self.views.backend_removed(name);
        self.publish(changed);
        true
    }

    /// `backend` answered and listed `tools`: serve them and mark it up.
    pub(crate) fn bring_up(&self, backend: &Arc<Backend>, tools: &[Value]) {
        let _change = self.lock();
        if backend.removed.is_cancelled() {
            return;
        }
        let previous = backend.take_tools();
        self.unregister(&previous);
        // Up before its tools are visible: a caller who sees a tool finds its backend up.
        backend.mark_up();
        let mut served = Vec::new();
        for tool in proxied_tools(&backend.name, tools) {
            let name = tool.spec.name.clone();
            self.registry.unregister(&name);
            let budget = Budget {
                call_timeout: self.config.call_timeout,
                queue_wait: self.config.queue_wait,
            };
            let handler = proxy_handler(backend.clone(), tool.upstream, budget);
            self.views.register(&tool.spec, &handler);
            match self.registry.register_with(tool.spec, handler) {
                Ok(()) => served.push(name),
                Err(error) => {
                    tracing::warn!(backend = %backend.name, tool = %name, %error, "backend tool not served")
                }
            }
        }
        backend.set_tools(served);
        tracing::info!(backend = %backend.name, url = %backend.url, "backend up");
        self.publish(true);
    }

    /// `backend` stopped answering: its tools leave `tools/list`.
    pub(crate) fn take_down(&self, backend: &Arc<Backend>, error: String) {
        let _change = self.lock();
        let was_up = backend.health() == Health::Up;
        let tools = backend.mark_down(Some(error.clone()));
        backend.set_client(None);
        self.surface.clear(&backend.name);
        let changed = self.unregister(&tools);
        if was_up {
            tracing::warn!(backend = %backend.name, %error, "backend down");
        }
        self.publish(changed || was_up);
    }

    fn unregister(&self, tools: &[String]) -> bool {
        let mut changed = false;
        for name in tools {
            self.views.unregister(name);
            changed |= self.registry.unregister(name);
        }
        changed
    }

    /// After a change: exact gauges, the `file_sd` file, and (when the tool list changed) the
    /// downstream sessions told.
    fn publish(&self, tools_changed: bool) {
        let backends = self.backends();
        let up: Vec<&Arc<Backend>> = backends
            .iter()
            .filter(|b| b.health() == Health::Up)
            .collect();
        self.metrics
            .set_backends(up.len(), backends.len() - up.len());
        if let Some(file_sd) = &self.file_sd {
            if let Err(error) = file_sd.write(&up) {
                tracing::warn!(%error, "cannot write the file_sd file");
            }
        }
        if tools_changed {
            if let Some(notifier) = &self.notifier {
                notifier.notify();
            }
            self.views.notify();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.changes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn proxy_handler(backend: Arc<Backend>, upstream: String, budget: Budget) -> Handler {
    Handler::inline(move |arguments: Value, context: ToolContext| {
        crate::proxy::call(
            backend.clone(),
            upstream.clone(),
            arguments,
            context,
            budget,
        )
    })
}
