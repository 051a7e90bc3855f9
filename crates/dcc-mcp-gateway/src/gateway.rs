//! [`Gateway`]: the fleet of backends over one [`McpHttpServer`], with its probers and discovery on
//! a small runtime of its own (one worker thread; they only wait on timers and the network).
//!
//! The proxied calls themselves run on the server's runtime, as inline handlers.

use std::sync::Arc;
use std::time::Duration;

use dcc_mcp_http::{McpHttpConfig, McpHttpServer};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::backend::{Backend, Origin};
use crate::config::{GatewayConfig, GatewayConfigError};
use crate::fleet::{AddError, Fleet};
use crate::metrics::GatewayMetrics;
use crate::session_token::SessionTokens;

/// Why a gateway could not be built.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The configuration cannot work.
    #[error(transparent)]
    Config(#[from] GatewayConfigError),
    /// A static backend was refused.
    #[error(transparent)]
    Add(#[from] AddError),
    /// The metrics engine refused a family (a bug: the names are fixed).
    #[error("metrics engine refused a dcc_mcp_gateway_* family: {0}")]
    Metrics(#[from] dcc_mcp_telemetry::TelemetryError),
    /// The session key file (`session_key_file`) was refused.
    #[error(transparent)]
    SessionKey(#[from] crate::session_token::SessionKeyError),
    /// The gateway's runtime could not be built.
    #[error("cannot start the gateway runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

/// One MCP endpoint over many backends. See the crate docs.
pub struct Gateway {
    fleet: Arc<Fleet>,
    runtime: Option<tokio::runtime::Runtime>,
    stop: CancellationToken,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("backends", &self.fleet.backends().len())
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// `server_config` made fit for a gateway: `tools.listChanged` declared (backends come and go)
    /// and a server `request_timeout` longer than the per-backend `call_timeout`, so the backend's
    /// deadline is the one that answers.
    pub fn server_config(
        mut server_config: McpHttpConfig,
        config: &GatewayConfig,
    ) -> McpHttpConfig {
        server_config.tools_list_changed = true;
        let floor = config.call_timeout + Duration::from_secs(1);
        if server_config.request_timeout < floor {
            server_config.request_timeout = floor;
        }
        server_config
    }

    /// A gateway serving through `server` (its registry gets the namespaced tools, its `/metrics`
    /// the `dcc_mcp_gateway_*` families) and the `/instances` and `/health` routes added to it.
    /// Nothing is contacted before [`start`](Self::start).
    pub fn attach(config: GatewayConfig, server: &mut McpHttpServer) -> Result<Self, GatewayError> {
        config.validate()?;
        #[cfg(feature = "prometheus")]
        let engine = server.metrics_registry().unwrap_or_default();
        #[cfg(not(feature = "prometheus"))]
        let engine = dcc_mcp_telemetry::Registry::new();
        let metrics = GatewayMetrics::new(&engine, config.max_backends)?;
        if let Some(path) = &config.session_key_file {
            let key = crate::session_token::read_key(path)?;
            let tokens = SessionTokens::new(&key, config.session_token_max_age, &engine)?;
            server.set_session_codec(Arc::new(tokens));
        }
        let notifier = server
            .config()
            .tools_list_changed
            .then(|| server.tools_list_notifier());
        let statics = config.backends.clone();
        let fleet = Arc::new(Fleet::new(
            config,
            server.registry().clone(),
            notifier,
            metrics,
        ));
        let weak_fleet = Arc::downgrade(&fleet);
        fleet.views.configure(
            server.config().clone(),
            Arc::new(move |scope| {
                Arc::new(crate::catalog_methods::GatewayCatalog {
                    fleet: weak_fleet.clone(),
                    scope: Some(scope),
                })
            }),
            server.tool_call_metrics(),
        );
        server.merge_routes(crate::endpoints::routes(fleet.views.clone()));
        for spec in &statics {
            fleet.add(spec, Origin::Static)?;
        }
        server.merge_routes(crate::routes::routes(fleet.clone()));
        // Weak: the server's state must not keep the fleet (which holds the server's notifier) alive.
        let weak = Arc::downgrade(&fleet);
        server.set_catalog_proxy(Arc::new(crate::catalog_methods::GatewayCatalog {
            fleet: Arc::downgrade(&fleet),
            scope: None,
        }));
        server.set_unknown_tool_hint(Arc::new(move |name: &str| {
            weak.upgrade()?.unknown_tool_hint(name)
        }));
        Ok(Self {
            fleet,
            runtime: None,
            stop: CancellationToken::new(),
        })
    }

    /// Start probing the backends (and following the discovery directory). Their tools appear as
    /// each backend answers. A second call does nothing.
    pub fn start(&mut self) -> Result<(), GatewayError> {
        if self.runtime.is_some() {
            return Ok(());
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("dcc-mcp-gateway")
            .enable_all()
            .build()
            .map_err(GatewayError::Runtime)?;
        let handle = runtime.handle().clone();
        let fleet = self.fleet.clone();
        let spawn = move |backend: Arc<Backend>| {
            handle.spawn(crate::health::supervise(fleet.clone(), backend));
        };
        for backend in self.fleet.backends() {
            spawn(backend);
        }
        self.fleet.views.start(runtime.handle().clone());
        if let Some(dir) = self.fleet.config.registry_dir.clone() {
            runtime.spawn(crate::discovery::watch(
                self.fleet.clone(),
                dir,
                spawn,
                self.stop.clone(),
            ));
        }
        self.runtime = Some(runtime);
        Ok(())
    }

    /// The `/instances` document: every backend with its state.
    pub fn instances(&self) -> Value {
        let instances: Vec<Value> = self.fleet.backends().iter().map(|b| b.describe()).collect();
        serde_json::json!({ "instances": instances })
    }

    /// Stop probing and following discovery; the backends' sessions are dropped. Safe to call (or
    /// to drop the gateway) from inside an async runtime.
    pub fn shutdown(mut self) {
        self.stop_all();
    }

    fn stop_all(&mut self) {
        self.stop.cancel();
        self.fleet.views.stop();
        for backend in self.fleet.backends() {
            backend.removed.cancel();
            backend.set_client(None);
        }
        if let Some(runtime) = self.runtime.take() {
            // Waiting for the runtime is not allowed inside another runtime (it would panic there).
            if tokio::runtime::Handle::try_current().is_ok() {
                runtime.shutdown_background();
            } else {
                runtime.shutdown_timeout(Duration::from_secs(1));
            }
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.stop_all();
    }
}
