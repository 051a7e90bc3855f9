//! [`McpHttpServer`] (configure, build the router, start) and [`McpServerHandle`] (address, shutdown).
//!
//! `start()` binds synchronously, so a port in use is reported to the caller at once and `port = 0`
//! yields the real port, then serves on its own thread with its own multi-thread tokio runtime: callers
//! (a DCC's main thread, Python) never need a runtime of their own.

use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::app::build_router;
use crate::config::McpHttpConfig;
use crate::error::{RegistryError, ServerError};
use crate::record::Recorder;
use crate::registry::{Handler, RegistryObserver, ToolRegistry};
use crate::serve::{serve, ServeTimeouts};
use crate::state::AppState;

/// How long the runtime waits for still-running blocking handlers after the server stopped.
const RUNTIME_DRAIN: Duration = Duration::from_millis(200);

/// An MCP Streamable HTTP server over a [`ToolRegistry`].
pub struct McpHttpServer {
    state: Arc<AppState>,
    exporter: Exporter,
    observer: Arc<ObserverGuard>,
    started: AtomicBool,
    /// Routes of the embedder served next to `/mcp` ([`McpHttpServer::merge_routes`]).
    extra_routes: axum::Router,
}

impl std::fmt::Debug for McpHttpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpHttpServer")
            .field("config", &self.state.config)
            .field("tools", &self.state.registry.len())
            .field("started", &self.started.load(Ordering::Relaxed))
            .finish()
    }
}

impl McpHttpServer {
    /// A server for `registry` with `config` (validated here).
    pub fn new(registry: ToolRegistry, config: McpHttpConfig) -> Result<Self, ServerError> {
        Self::build(registry, config, ToolCallMetrics::default())
    }

    /// A server like [`new`](Self::new)'s whose `tools/call`s are counted in `tool_calls` (the
    /// per-tool families `dcc_mcp_tool_calls_total` and `dcc_mcp_tool_duration_seconds` of another
    /// server, from [`tool_call_metrics`](Self::tool_call_metrics)) instead of its own: a server
    /// served inside that one (a gateway's per-backend endpoints) then has its calls on the same
    /// `/metrics`. Its other metrics stay its own (none without `enable_prometheus`). Handles of
    /// a tool are those the other server resolved when it registered the same name; a name it
    /// does not know is counted as `tool="<unknown>"`.
    pub fn with_tool_call_metrics(
        registry: ToolRegistry,
        config: McpHttpConfig,
        tool_calls: ToolCallMetrics,
    ) -> Result<Self, ServerError> {
        Self::build(registry, config, tool_calls)
    }

    /// Where this server counts its `tools/call`s, for
    /// [`with_tool_call_metrics`](Self::with_tool_call_metrics); counts nothing when this server
    /// has no exporter (Prometheus off).
    pub fn tool_call_metrics(&self) -> ToolCallMetrics {
        ToolCallMetrics {
            #[cfg(feature = "prometheus")]
            metrics: self.exporter.metrics.clone(),
        }
    }

    fn build(
        registry: ToolRegistry,
        config: McpHttpConfig,
        tool_calls: ToolCallMetrics,
    ) -> Result<Self, ServerError> {
        config.validate()?;
        let mut exporter = Exporter::for_config(&config)?;
        #[cfg(feature = "prometheus")]
        {
            exporter.tool_calls = tool_calls.metrics;
        }
        #[cfg(not(feature = "prometheus"))]
        let _ = (&mut exporter, tool_calls);
        let observer = exporter.observer().map(|observer| {
            let id = registry.add_observer(observer.clone());
            // Tools registered before the server existed get their metric series now.
            registry
                .list()
                .iter()
                .for_each(|spec| observer.tool_registered(&spec.name));
            id
        });
        let state = Arc::new(AppState::new(config, registry, exporter.recorder()));
        let observer = Arc::new(ObserverGuard {
            registry: state.registry.clone(),
            id: observer,
        });
        Ok(Self {
            state,
            exporter,
            observer,
            started: AtomicBool::new(false),
            extra_routes: axum::Router::new(),
        })
    }

    /// The registry this server serves (shared: tools registered later are served at once).
    pub fn registry(&self) -> &ToolRegistry {
        &self.state.registry
    }

    /// Attach or replace this server's handler of registered tool `name`. It is used instead of the
    /// registry's own handler, and only by this server: servers sharing a registry keep their own.
    pub fn set_handler(&self, name: &str, handler: Handler) -> Result<(), RegistryError> {
        if !self.state.registry.contains(name) {
            return Err(RegistryError::UnknownTool(name.to_owned()));
        }
        self.state
            .handlers
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_owned(), handler);
        Ok(())
    }

    /// The validated configuration.
    pub fn config(&self) -> &McpHttpConfig {
        &self.state.config
    }

    /// The complete axum application (`/mcp`, `/metrics` when enabled, and the routes added with
    /// [`merge_routes`](Self::merge_routes)); shares state with `start()`.
    pub fn router(&self) -> axum::Router {
        build_router(self.state.clone(), self.exporter.routes(&self.state))
            .merge(self.extra_routes.clone())
    }

    /// Serve `routes` next to `/mcp` on the same listener (a gateway's `/instances` and `/health`).
    /// Call before [`start`](Self::start). The routes must not reuse `/mcp` or `/metrics` (axum
    /// panics on overlapping routes when the router is built); bearer authentication does not cover
    /// them.
    pub fn merge_routes(&mut self, routes: axum::Router) {
        let current = std::mem::take(&mut self.extra_routes);
        self.extra_routes = current.merge(routes);
    }

    /// Explain calls naming no registered tool: the `-32602` message becomes
    /// `Unknown tool: NAME (HINT)` when `hint` returns one (a gateway names the backend that is down).
    pub fn set_unknown_tool_hint(&self, hint: crate::UnknownToolHint) {
        *self
            .state
            .unknown_tool_hint
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(hint);
    }

    /// Answer `resources/*`, `prompts/*` and `completion/complete` with `proxy` first (a gateway
    /// serves its backends' catalogs this way); what it declines, the configured catalog answers.
    pub fn set_catalog_proxy(&self, proxy: Arc<dyn crate::catalog_proxy::CatalogProxy>) {
        *self
            .state
            .catalog_proxy
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(proxy);
    }

    /// For a server never started, served only through [`router`](Self::router) inside another
    /// server (a gateway's per-backend endpoints): the task that expires its idle sessions. Spawn
    /// it on a runtime; it runs until dropped or aborted.
    pub fn session_sweeper(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        sweep_sessions(self.state.clone())
    }

    /// For a server served only through [`router`](Self::router): end its SSE streams and tell
    /// its running handlers that it stops, as [`McpServerHandle::shutdown`] does for a started one.
    pub fn stop_embedded(&self) {
        self.state.sessions.flag_all_calls_cancelled();
        self.state.shutdown.cancel();
    }

    /// Mint session ids with `codec` and serve sessions whose id it opens though this process did
    /// not start them (see [`SessionCodec`](crate::SessionCodec)): replicas sharing a codec key
    /// serve each other's sessions. Call before [`start`](Self::start).
    pub fn set_session_codec(&self, codec: std::sync::Arc<dyn crate::SessionCodec>) {
        self.state.sessions.set_codec(codec);
    }

    /// A handle that sends `notifications/tools/list_changed` to every live session; cheap to
    /// clone and usable from any thread. Declare the capability with
    /// [`McpHttpConfig::tools_list_changed`].
    pub fn tools_list_notifier(&self) -> ToolsListNotifier {
        ToolsListNotifier {
            state: self.state.clone(),
        }
    }

    /// The metrics engine behind this server's `/metrics` (`None` when Prometheus is off). Families
    /// an embedder registers in it are rendered by the same scrape, next to the `dcc_mcp_*` ones.
    #[cfg(feature = "prometheus")]
    pub fn metrics_registry(&self) -> Option<dcc_mcp_telemetry::Registry> {
        self.exporter
            .metrics
            .as_ref()
            .map(|metrics| metrics.engine().clone())
    }

    /// Bind now and serve on a background thread. A second call fails with [`ServerError::AlreadyStarted`].
    pub fn start(&self) -> Result<McpServerHandle, ServerError> {
        if self.started.swap(true, Ordering::AcqRel) {
            return Err(ServerError::AlreadyStarted);
        }
        self.spawn()
            .inspect_err(|_| self.started.store(false, Ordering::Release))
    }

    fn spawn(&self) -> Result<McpServerHandle, ServerError> {
        let config = &self.state.config;
        let host = config
            .host
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let bind_error = |source| ServerError::Bind {
            addr: format!("{}:{}", config.host, config.port),
            source,
        };
        let listener = StdTcpListener::bind((host, config.port)).map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;

        let mut builder = tokio::runtime::Builder::new_multi_thread();
        if let Some(threads) = config.runtime_threads {
            builder.worker_threads(threads);
        }
        let runtime = builder
            .enable_all()
            .max_blocking_threads(config.max_blocking_threads())
            .thread_name("dcc-mcp-http")
            .build()
            .map_err(ServerError::Runtime)?;
        let listener = {
            let _context = runtime.enter();
            tokio::net::TcpListener::from_std(listener).map_err(bind_error)?
        };

        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let stopped = Arc::new((Mutex::new(false), Condvar::new()));
        let state = self.state.clone();
        let router = self.router();
        let timeouts = ServeTimeouts {
            header_read: config.header_read_timeout,
            keep_alive: config.keep_alive_timeout,
            write: config.write_timeout,
            shutdown: config.shutdown_timeout,
            stream_send_buffer: config.stream_send_buffer_bytes,
        };
        let done = stopped.clone();
        let observer = self.observer.clone();
        let thread = std::thread::Builder::new()
            .name("dcc-mcp-http-server".into())
            .spawn(move || {
                // Set however this thread ends, a panic included, so `wait()` never hangs.
                let _stopped = StoppedOnDrop(done);
                runtime.block_on(async {
                    let sweeper = tokio::spawn(sweep_sessions(state.clone()));
                    let stopping = state.clone();
                    let stop = async move {
                        // A dropped sender (handle gone) also stops the server.
                        let _ = stop_rx.await;
                        // Handlers learn at once that the server stops, before the drain period.
                        stopping.sessions.flag_all_calls_cancelled();
                        #[cfg(feature = "workflow")]
                        stopping.jobs.cancel_all();
                    };
                    let shutdown = state.shutdown.clone();
                    let recorder = state.recorder.clone();
                    let conns = state.conns.clone();
                    serve(listener, router, timeouts, stop, shutdown, recorder, conns).await;
                    sweeper.abort();
                });
                state.dispatch.close();
                // Jobs queued during the drain are cancelled too.
                #[cfg(feature = "workflow")]
                state.jobs.cancel_all();
                runtime.shutdown_timeout(RUNTIME_DRAIN);
                drop(observer);
            })
            .map_err(ServerError::Runtime)?;
        tracing::info!(addr = %local_addr, "MCP server listening on http://{local_addr}/mcp");
        Ok(McpServerHandle {
            local_addr,
            stop: Mutex::new(Some(stop_tx)),
            thread: Mutex::new(Some(thread)),
            stopped,
        })
    }
}

/// Sends `notifications/tools/list_changed` to every live session of one server (see
/// [`McpHttpServer::tools_list_notifier`]).
#[derive(Clone)]
pub struct ToolsListNotifier {
    state: Arc<AppState>,
}

impl std::fmt::Debug for ToolsListNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolsListNotifier").finish_non_exhaustive()
    }
}

impl ToolsListNotifier {
    /// Tell every live session that the tool list changed; returns how many sessions were told.
    pub fn notify(&self) -> usize {
        self.state.sessions.notify_all(
            dcc_mcp_protocol::tools::LIST_CHANGED,
            &serde_json::Value::Object(serde_json::Map::new()),
        )
    }

    /// Tell every live session, and the `subscriptions/listen` streams that asked, that the
    /// resource list (`resources`) or the prompt list (`!resources`) changed; returns how many
    /// sessions were told.
    pub fn notify_catalog(&self, resources: bool) -> usize {
        use crate::catalog_events::CatalogEvent;
        let (event, method) = if resources {
            (
                CatalogEvent::ResourcesListChanged,
                dcc_mcp_protocol::resources::LIST_CHANGED,
            )
        } else {
            (
                CatalogEvent::PromptsListChanged,
                dcc_mcp_protocol::prompts::LIST_CHANGED,
            )
        };
        self.state.listen.catalog_event(&event);
        self.state
            .sessions
            .notify_all(method, &serde_json::Value::Object(serde_json::Map::new()))
    }
}

/// Marks the server stopped and wakes `wait()` when the server thread ends, normally or by a panic.
struct StoppedOnDrop(Arc<(Mutex<bool>, Condvar)>);

impl Drop for StoppedOnDrop {
    fn drop(&mut self) {
        let (lock, condvar) = &*self.0;
        *lock.lock().unwrap_or_else(PoisonError::into_inner) = true;
        condvar.notify_all();
    }
}

/// Keeps the server's exporter subscribed to its registry while the server or its serving thread lives.
struct ObserverGuard {
    registry: ToolRegistry,
    id: Option<u64>,
}

impl Drop for ObserverGuard {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.registry.remove_observer(id);
        }
    }
}

/// The Prometheus exporter of one server: with the `prometheus` feature and `enable_prometheus`, a
/// metric set of its own (never a global one) that is the record sink, the registry observer and the
/// `/metrics` route; otherwise nothing, and the record points only check an `Option`.
#[derive(Clone, Default)]
struct Exporter {
    #[cfg(feature = "prometheus")]
    metrics: Option<Arc<crate::metrics::ServerMetrics>>,
    /// Another server's metric set that counts this one's `tools/call`s
    /// ([`McpHttpServer::with_tool_call_metrics`]).
    #[cfg(feature = "prometheus")]
    tool_calls: Option<Arc<crate::metrics::ServerMetrics>>,
}

/// Another server's per-tool call families, handed to
/// [`McpHttpServer::with_tool_call_metrics`] so a server served inside it counts its calls there.
/// Cheap to clone; the default counts nothing.
#[derive(Clone, Default)]
pub struct ToolCallMetrics {
    #[cfg(feature = "prometheus")]
    metrics: Option<Arc<crate::metrics::ServerMetrics>>,
}

impl std::fmt::Debug for ToolCallMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        #[cfg(feature = "prometheus")]
        let counts = self.metrics.is_some();
        #[cfg(not(feature = "prometheus"))]
        let counts = false;
        f.debug_struct("ToolCallMetrics")
            .field("counts", &counts)
            .finish()
    }
}

impl Exporter {
    fn for_config(config: &McpHttpConfig) -> Result<Self, ServerError> {
        #[cfg(feature = "prometheus")]
        if config.enable_prometheus {
            let metrics = crate::metrics::ServerMetrics::with_native_histograms(
                config.prometheus_basic_auth.as_ref(),
                config.native_histograms,
            )
            .map_err(|e| ServerError::Metrics(e.to_string()))?;
            if config.enable_process_metrics {
                metrics
                    .export_process_metrics()
                    .map_err(|e| ServerError::Metrics(e.to_string()))?;
            }
            return Ok(Self {
                metrics: Some(Arc::new(metrics)),
                tool_calls: None,
            });
        }
        let _ = config;
        Ok(Self::default())
    }

    fn recorder(&self) -> Recorder {
        #[cfg(feature = "prometheus")]
        if let Some(tool_calls) = &self.tool_calls {
            return Recorder::with_sink(Arc::new(crate::metrics::ForwardToolCalls {
                tool_calls: tool_calls.clone(),
                own: self.metrics.clone(),
            }));
        }
        #[cfg(feature = "prometheus")]
        if let Some(metrics) = &self.metrics {
            return Recorder::with_sink(metrics.clone());
        }
        Recorder::new()
    }

    fn observer(&self) -> Option<Arc<dyn RegistryObserver>> {
        #[cfg(feature = "prometheus")]
        if let Some(metrics) = &self.metrics {
            return Some(metrics.clone());
        }
        None
    }

    /// `/metrics` (its live counts read from `state` at scrape time), or no route.
    fn routes(&self, state: &Arc<AppState>) -> axum::Router<Arc<AppState>> {
        #[cfg(feature = "prometheus")]
        if let Some(metrics) = &self.metrics {
            return crate::metrics::routes(metrics.clone(), state.clone());
        }
        let _ = state;
        axum::Router::new()
    }
}

async fn sweep_sessions(state: Arc<AppState>) {
    let mut interval = tokio::time::interval(state.sessions.sweep_interval());
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let ended = state.sessions.sweep();
        if ended > 0 {
            tracing::debug!(ended, "expired idle sessions");
        }
    }
}

/// A running server. Dropping it shuts the server down.
#[derive(Debug)]
pub struct McpServerHandle {
    local_addr: SocketAddr,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    stopped: Arc<(Mutex<bool>, Condvar)>,
}

impl McpServerHandle {
    /// The bound address (with the real port when `port` was 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    /// `host:port`, e.g. `127.0.0.1:8765`.
    pub fn bind_addr(&self) -> String {
        self.local_addr.to_string()
    }

    /// The MCP endpoint, e.g. `http://127.0.0.1:8765/mcp`.
    pub fn mcp_url(&self) -> String {
        format!("http://{}/mcp", self.local_addr)
    }

    /// The metrics endpoint, e.g. `http://127.0.0.1:8765/metrics` (served when Prometheus is enabled).
    pub fn metrics_url(&self) -> String {
        format!("http://{}/metrics", self.local_addr)
    }

    /// Stop accepting, end SSE streams, let in-flight requests finish within `shutdown_timeout`, then
    /// drop what is left. Blocks until the server thread has exited. Calling it again does nothing.
    pub fn shutdown(&self) -> Result<(), ServerError> {
        if let Some(stop) = self
            .stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            let _ = stop.send(());
        }
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match thread {
            Some(thread) => thread.join().map_err(|_| ServerError::ThreadPanicked),
            None => {
                self.wait();
                Ok(())
            }
        }
    }

    /// Block until the server has stopped (after [`shutdown`](Self::shutdown) from another thread).
    pub fn wait(&self) {
        let (lock, condvar) = &*self.stopped;
        let mut stopped = lock.lock().unwrap_or_else(PoisonError::into_inner);
        while !*stopped {
            stopped = condvar
                .wait(stopped)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Block until the server has stopped or `timeout` passed; returns whether it stopped. A zero
    /// `timeout` only looks.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let (lock, condvar) = &*self.stopped;
        let stopped = lock.lock().unwrap_or_else(PoisonError::into_inner);
        let (stopped, _) = condvar
            .wait_timeout_while(stopped, timeout, |stopped| !*stopped)
            .unwrap_or_else(PoisonError::into_inner);
        *stopped
    }

    /// True once the server thread has exited.
    pub fn is_stopped(&self) -> bool {
        *self
            .stopped
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for McpServerHandle {
    fn drop(&mut self) {
        if let Err(error) = self.shutdown() {
            tracing::warn!(%error, "server shutdown failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_server_thread_still_marks_the_server_stopped() {
        let stopped = Arc::new((Mutex::new(false), Condvar::new()));
        let done = stopped.clone();
        let thread = std::thread::spawn(move || {
            let _stopped = StoppedOnDrop(done);
            panic!("planted: the server thread dies");
        });
        assert!(thread.join().is_err());
        let handle = McpServerHandle {
            local_addr: ([127, 0, 0, 1], 0).into(),
            stop: Mutex::new(None),
            thread: Mutex::new(None),
            stopped,
        };
        assert!(handle.is_stopped());
        // Neither waits forever.
        handle.wait();
        handle.shutdown().unwrap();
    }
}
