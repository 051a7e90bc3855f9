//! The state every request handler shares, below the handlers that read it.
//!
//! It holds the domain components (registry, sessions, dispatcher, jobs) and the recorder, built once
//! per server from its configuration; nothing here knows about HTTP.

use tokio_util::sync::CancellationToken;

use crate::config::McpHttpConfig;
use crate::dispatch::Dispatcher;
use crate::listen::{ListenHub, ToolsObserver};
use crate::record::Recorder;
use crate::registry::ToolRegistry;
use crate::session::SessionStore;
use crate::session_events;

/// The built-in tools this build serves next to the registered ones (the job tools, with `workflow`);
/// they shadow registered tools of the same name.
pub(crate) const BUILTIN_TOOLS: &[&str] = if cfg!(feature = "workflow") {
    &dcc_mcp_protocol::reserved::JOB_TOOL_NAMES
} else {
    &[]
};

/// Everything the handlers share. One per [`McpHttpServer`](crate::McpHttpServer).
pub(crate) struct AppState {
    pub(crate) config: McpHttpConfig,
    pub(crate) registry: ToolRegistry,
    pub(crate) sessions: std::sync::Arc<SessionStore>,
    pub(crate) recorder: Recorder,
    /// Runs handlers of every execution kind, within their limits.
    pub(crate) dispatch: Dispatcher,
    /// Cancelled when the server stops: ends SSE streams, refuses new jobs, cancels running ones.
    pub(crate) shutdown: CancellationToken,
    #[cfg(feature = "workflow")]
    pub(crate) jobs: crate::jobs::JobManager,
    /// Parses large bodies off the I/O workers.
    pub(crate) offload: crate::offload::Offload,
    /// This server's own handlers ([`McpHttpServer::set_handler`](crate::McpHttpServer::set_handler)),
    /// used before the registry's: servers sharing a registry keep their own.
    pub(crate) handlers: std::sync::RwLock<std::collections::BTreeMap<String, crate::Handler>>,
    /// Explains a call naming no registered tool ([`McpHttpServer::set_unknown_tool_hint`](crate::McpHttpServer::set_unknown_tool_hint)).
    pub(crate) unknown_tool_hint: std::sync::RwLock<Option<crate::UnknownToolHint>>,
    /// Answers catalog methods before the local catalog ([`McpHttpServer::set_catalog_proxy`](crate::McpHttpServer::set_catalog_proxy)).
    pub(crate) catalog_proxy:
        std::sync::RwLock<Option<std::sync::Arc<dyn crate::catalog_proxy::CatalogProxy>>>,
    /// Open `subscriptions/listen` streams (2026-07-28), told of tool, resource and prompt changes.
    pub(crate) listen: std::sync::Arc<ListenHub>,
    /// The registry observer that feeds `listen`, removed when the state is dropped.
    listen_observer: u64,
    /// Every open connection and stream, within their slots (see [`crate::conn_budget`]).
    pub(crate) conns: std::sync::Arc<crate::conn_budget::ConnTable>,
    /// Request-body bytes being read, within `max_body_bytes_in_flight`.
    pub(crate) body_budget: std::sync::Arc<crate::body_budget::BodyBudget>,
    /// Seals 2026-07-28 `requestState` (random per server; `None` only without OS randomness).
    pub(crate) state_key: Option<crate::mrtr::StateKey>,
}

impl Drop for AppState {
    fn drop(&mut self) {
        self.registry.remove_observer(self.listen_observer);
    }
}

impl AppState {
    pub(crate) fn new(config: McpHttpConfig, registry: ToolRegistry, recorder: Recorder) -> Self {
        let shutdown = CancellationToken::new();
        let dispatch = Dispatcher::new(
            config.sync_concurrency,
            config.sync_queue_wait,
            config.main_thread_executor.clone(),
            recorder.clone(),
            shutdown.clone(),
        );
        #[cfg(feature = "workflow")]
        let jobs = crate::jobs::JobManager::new(
            config.job_limits(),
            recorder.clone(),
            shutdown.clone(),
            dispatch.clone(),
        );
        let listen = std::sync::Arc::new(ListenHub::default());
        let listen_observer = registry.add_observer(std::sync::Arc::new(ToolsObserver(
            std::sync::Arc::downgrade(&listen),
        )));
        for observe in [
            &config.catalog.resources as &dyn ObserveCatalog,
            &config.catalog.prompts,
        ] {
            let hub = std::sync::Arc::downgrade(&listen);
            observe.observe_with(std::sync::Arc::new(move |event| {
                if let Some(hub) = hub.upgrade() {
                    hub.catalog_event(event);
                }
            }));
        }
        let sessions = std::sync::Arc::new(
            SessionStore::new(
                config.session_ttl,
                config.max_sessions,
                config.max_sessions_per_client,
                recorder.clone(),
            )
            .with_outbox_budget(config.max_outbox_bytes)
            .with_shared_outbox(crate::outbox_budget::OutboxBudget::new(
                config.max_outbox_bytes_total,
                config.outbox_unattached_timeout,
            ))
            .with_client_limits(config.client_limits()),
        );
        // Session era: catalog changes on the sessions' streams (see `session_events`).
        for observe in [
            &config.catalog.resources as &dyn ObserveCatalog,
            &config.catalog.prompts,
        ] {
            observe.observe_with(session_events::catalog_observer(
                std::sync::Arc::downgrade(&sessions),
                config.catalog.subscriptions_shared(),
            ));
        }
        Self {
            conns: crate::conn_budget::ConnTable::new(config.conn_limits()),
            body_budget: crate::body_budget::BodyBudget::new(config.max_body_bytes_in_flight),
            listen,
            listen_observer,
            dispatch,
            sessions,
            #[cfg(feature = "workflow")]
            jobs,
            config,
            registry,
            recorder,
            shutdown,
            offload: crate::offload::Offload::new(crate::offload::OFFLOAD_THREADS),
            handlers: std::sync::RwLock::default(),
            unknown_tool_hint: std::sync::RwLock::default(),
            catalog_proxy: std::sync::RwLock::default(),
            state_key: crate::mrtr::StateKey::random(),
        }
    }

    /// The `-32602` message of a call naming `name`, which is not a registered tool.
    pub(crate) fn unknown_tool_message(&self, name: &str) -> String {
        let hint = self
            .unknown_tool_hint
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .and_then(|hint| hint(name));
        match hint {
            Some(hint) => format!("Unknown tool: {name} ({hint})"),
            None => format!("Unknown tool: {name}"),
        }
    }

    /// The installed catalog proxy, if any.
    pub(crate) fn catalog_proxy(
        &self,
    ) -> Option<std::sync::Arc<dyn crate::catalog_proxy::CatalogProxy>> {
        self.catalog_proxy
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The handler this server runs for `name`: its own, else the registry entry's.
    pub(crate) fn handler_for(
        &self,
        name: &str,
        entry: &crate::registry::ToolEntry,
    ) -> Option<crate::Handler> {
        self.handlers
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(name)
            .cloned()
            .or_else(|| entry.handler.clone())
    }

    /// Live (neither ended nor expired) sessions; read by `/metrics` at scrape time.
    #[allow(dead_code)]
    pub(crate) fn live_sessions(&self) -> usize {
        self.sessions.live_count()
    }

    /// The number of tools `tools/list` returns: the registered tools, plus (with `workflow`) the
    /// built-in job tools, which shadow registered tools of the same name; read by `/metrics` at scrape time.
    #[allow(dead_code)]
    pub(crate) fn registered_tools(&self) -> usize {
        let builtin = BUILTIN_TOOLS;
        let shadowed = builtin
            .iter()
            .filter(|name| self.registry.contains(name))
            .count();
        self.registry.len().saturating_sub(shadowed) + builtin.len()
    }
}

/// The two catalogs that emit change events, observed the same way.
trait ObserveCatalog {
    fn observe_with(&self, observer: crate::catalog_events::CatalogObserver);
}

impl ObserveCatalog for crate::resource_registry::ResourceRegistry {
    fn observe_with(&self, observer: crate::catalog_events::CatalogObserver) {
        self.observe(observer);
    }
}

impl ObserveCatalog for crate::prompt_registry::PromptRegistry {
    fn observe_with(&self, observer: crate::catalog_events::CatalogObserver) {
        self.observe(observer);
    }
}
