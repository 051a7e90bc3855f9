//! Narrower MCP endpoints next to the gateway's `/mcp`: `/mcp/NAME` serves only backend `NAME`'s
//! tools, resources and prompts, and `/mcp/dcc/TYPE` those of every backend of DCC type `TYPE`.
//!
//! Each endpoint is a *view*: an MCP server of its own (sessions, both eras, its own `jobs.*`) over a
//! registry holding a subset of the gateway's entries, with the same namespaced names
//! (`NAME__tool`, `mcp-gateway://NAME/…`), so a client can move between endpoints without renaming
//! anything and a call takes the same route, budget and deadline as at `/mcp`. A view of a backend
//! exists while the backend does; a view of a DCC type from the first backend of that type on. The
//! view servers are not started: their routers answer requests the gateway's listener hands them.
//! Calls through a view are counted where calls through `/mcp` are: per backend
//! (`dcc_mcp_gateway_backend_*`, by the shared proxied-call handler) and per namespaced tool (the
//! view server counts its `tools/call`s in the gateway server's `dcc_mcp_tool_calls_total` and
//! `dcc_mcp_tool_duration_seconds`), so the gateway's `/metrics` totals every call once, whichever
//! endpoint it came through.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use dcc_mcp_http::catalog_proxy::CatalogProxy;
use dcc_mcp_http::{
    Handler, McpHttpConfig, McpHttpServer, ToolCallMetrics, ToolRegistry, ToolSpec,
    ToolsListNotifier,
};
use serde_json::json;
use tower::ServiceExt as _;

use crate::backend::Backend;
use crate::names::split;

/// Which backends a view holds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Scope {
    /// One backend, by name.
    Backend(String),
    /// Every backend of one DCC type.
    DccType(String),
}

/// Builds the catalog proxy of a view's scope.
pub(crate) type CatalogFactory = Arc<dyn Fn(Scope) -> Arc<dyn CatalogProxy> + Send + Sync>;

struct View {
    /// The view's server (never started: its router is served by the gateway's listener).
    server: McpHttpServer,
    /// Expires the view's idle sessions (on the gateway's runtime, once it runs).
    sweeper: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    router: Router,
    registry: ToolRegistry,
    notifier: ToolsListNotifier,
}

struct Setup {
    config: McpHttpConfig,
    catalog: CatalogFactory,
    /// The gateway server's per-tool call families, where each view counts its calls.
    tool_calls: ToolCallMetrics,
}

/// Every view of one gateway.
#[derive(Default)]
pub(crate) struct Views {
    setup: OnceLock<Setup>,
    runtime: OnceLock<tokio::runtime::Handle>,
    views: RwLock<BTreeMap<Scope, Arc<View>>>,
    /// DCC type of each backend (to find its type view again when its tools leave).
    types: RwLock<BTreeMap<String, String>>,
}

impl Views {
    /// Views are built with `config` (the gateway server's, without Prometheus), catalogs from
    /// `catalog`, and count their `tools/call`s in `tool_calls` (the gateway server's families).
    /// Until this is called no view is opened.
    pub(crate) fn configure(
        &self,
        mut config: McpHttpConfig,
        catalog: CatalogFactory,
        tool_calls: ToolCallMetrics,
    ) {
        config.enable_prometheus = false;
        config.enable_process_metrics = false;
        config.tools_list_changed = true;
        // A view serves backends only, not the gateway's own catalog.
        config.catalog = dcc_mcp_http::Catalog::default();
        let _ = self.setup.set(Setup {
            config,
            catalog,
            tool_calls,
        });
    }

    fn open(&self, scope: Scope) {
        let Some(setup) = self.setup.get() else {
            return;
        };
        let mut views = self.views.write().unwrap_or_else(PoisonError::into_inner);
        if views.contains_key(&scope) {
            return;
        }
        let registry = ToolRegistry::new();
        let server = match McpHttpServer::with_tool_call_metrics(
            registry.clone(),
            setup.config.clone(),
            setup.tool_calls.clone(),
        ) {
            Ok(server) => server,
            Err(error) => {
                tracing::warn!(?scope, %error, "cannot build the view; its endpoint answers 404");
                return;
            }
        };
        server.set_catalog_proxy((setup.catalog)(scope.clone()));
        let view = Arc::new(View {
            router: server.router(),
            notifier: server.tools_list_notifier(),
            server,
            sweeper: std::sync::Mutex::new(None),
            registry,
        });
        if let Some(runtime) = self.runtime.get() {
            view.sweep_on(runtime);
        }
        views.insert(scope, view);
    }

    /// The gateway runs: expire the views' idle sessions on `runtime` from now on.
    pub(crate) fn start(&self, runtime: tokio::runtime::Handle) {
        let views = self.all();
        for view in &views {
            view.sweep_on(&runtime);
        }
        let _ = self.runtime.set(runtime);
    }

    /// The gateway stops: every view ends its streams.
    pub(crate) fn stop(&self) {
        for view in self.all() {
            view.stop();
        }
    }

    fn all(&self) -> Vec<Arc<View>> {
        self.views
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// `backend` joined: its view (and its DCC type's) exist from now on.
    pub(crate) fn backend_added(&self, backend: &Backend) {
        self.open(Scope::Backend(backend.name.clone()));
        if let Some(dcc_type) = &backend.dcc_type {
            self.open(Scope::DccType(dcc_type.clone()));
            self.types
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(backend.name.clone(), dcc_type.clone());
        }
    }

    /// `name` left: its view goes (its type's view stays).
    pub(crate) fn backend_removed(&self, name: &str) {
        let gone = self
            .views
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&Scope::Backend(name.to_owned()));
        if let Some(view) = gone {
            view.stop();
        }
        self.types
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
    }

    /// The views a namespaced tool name belongs in.
    fn scopes_of(&self, tool: &str) -> Vec<Arc<View>> {
        let Some((backend, _)) = split(tool) else {
            return Vec::new();
        };
        let dcc_type = self
            .types
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(backend)
            .cloned();
        let views = self.views.read().unwrap_or_else(PoisonError::into_inner);
        let mut out: Vec<Arc<View>> = views
            .get(&Scope::Backend(backend.to_owned()))
            .cloned()
            .into_iter()
            .collect();
        if let Some(view) = dcc_type.and_then(|t| views.get(&Scope::DccType(t)).cloned()) {
            out.push(view);
        }
        out
    }

    /// The gateway registered `spec` (a namespaced tool) with `handler`: the views serve it too.
    pub(crate) fn register(&self, spec: &ToolSpec, handler: &Handler) {
        for view in self.scopes_of(&spec.name) {
            view.registry.unregister(&spec.name);
            if let Err(error) = view.registry.register_with(spec.clone(), handler.clone()) {
                tracing::warn!(tool = %spec.name, %error, "tool not served by a view");
            }
        }
    }

    /// The gateway unregistered `name`: the views drop it too.
    pub(crate) fn unregister(&self, name: &str) {
        for view in self.scopes_of(name) {
            view.registry.unregister(name);
        }
    }

    /// Tell every view's sessions that its tool list may have changed.
    pub(crate) fn notify(&self) {
        for view in self.all() {
            view.notifier.notify();
        }
    }

    /// Tell every view's sessions that its resource (`true`) or prompt list may have changed.
    pub(crate) fn notify_catalog(&self, resources: bool) {
        for view in self.all() {
            view.notifier.notify_catalog(resources);
        }
    }

    fn router(&self, scope: &Scope) -> Option<Router> {
        self.views
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(scope)
            .map(|view| view.router.clone())
    }
}

impl View {
    fn sweep_on(&self, runtime: &tokio::runtime::Handle) {
        let task = runtime.spawn(self.server.session_sweeper());
        if let Some(old) = self
            .sweeper
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(task)
        {
            old.abort();
        }
    }

    fn stop(&self) {
        self.server.stop_embedded();
        if let Some(task) = self
            .sweeper
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            task.abort();
        }
    }
}

/// The routes `/mcp/{name}` and `/mcp/dcc/{dcc_type}`, over `views`.
pub(crate) fn routes(views: Arc<Views>) -> Router {
    Router::new()
        .route("/mcp/dcc/{dcc_type}", any(by_type))
        .route("/mcp/{name}", any(by_name))
        .with_state(views)
}

async fn by_name(
    State(views): State<Arc<Views>>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    forward(&views, Scope::Backend(name), request).await
}

async fn by_type(
    State(views): State<Arc<Views>>,
    Path(dcc_type): Path<String>,
    request: Request,
) -> Response {
    forward(&views, Scope::DccType(dcc_type), request).await
}

/// Hand `request` to the view's router as a request for its `/mcp`.
async fn forward(views: &Views, scope: Scope, mut request: Request) -> Response {
    let Some(router) = views.router(&scope) else {
        let what = match &scope {
            Scope::Backend(name) => format!("the gateway has no backend named '{name}'"),
            Scope::DccType(dcc_type) => {
                format!("the gateway has no backend of DCC type '{dcc_type}'")
            }
        };
        return (StatusCode::NOT_FOUND, Json(json!({"error": what}))).into_response();
    };
    let path = match request.uri().query() {
        Some(query) => format!("/mcp?{query}"),
        None => "/mcp".to_owned(),
    };
    if let Ok(uri) = path.parse::<Uri>() {
        *request.uri_mut() = uri;
    }
    match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}
