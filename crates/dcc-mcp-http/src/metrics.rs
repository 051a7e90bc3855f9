//! The server's Prometheus metric set (`dcc_mcp_*`) on the sharded engine, and `GET /metrics`.
//!
//! Compiled only with the `prometheus` feature (gated once, at the `mod` line in `lib.rs`). Each
//! [`crate::McpHttpServer`] with `enable_prometheus` owns one [`ServerMetrics`]: its own
//! `dcc_mcp_telemetry::Registry` (per-thread shards, merged on scrape) registered as a collector
//! in its own `prometheus::Registry` — never `prometheus::default_registry()` — so several
//! servers in one process keep independent counts.
//!
//! The record points (`crate::record::Recorder`) forward here. Label values are bounded: `status`,
//! `result` and `channel` come from Rust enums, and `tool` is a registered tool's name — a call
//! naming anything else is recorded as `tool="<unknown>"` (whose series exist from start too).
//! Handles are resolved when a tool is registered (see [`tools`]), which also creates the tool's
//! series at zero so that `rate()` sees its first call. `dcc_mcp_active_sessions` and `dcc_mcp_registered_tools` are set from the
//! server's live counts at scrape time, so they are exact, and `dcc_mcp_build_info` is 1 from
//! start, so a scrape is never empty.

mod auth;
mod endpoint;
mod negotiate;
mod process;
mod render;
mod tools;

use std::time::Duration;

use dcc_mcp_telemetry::{
    Counter, CounterFamily, Gauge, GaugeFamily, Histogram, HistogramFamily, HistogramOptions,
    NativeHistogram, Registry, TelemetryError, TraceId,
};

use crate::record::{
    CallStatus, Channel, ClientRequestKind, ClientRequestOutcome, Executor, JobResult, Rejection,
    ReplayOutcome, RequestMethod,
};

pub(crate) use endpoint::routes;
pub(crate) use negotiate::Format;
// The parsers the fuzz targets drive (`crate::fuzzing`).
#[cfg(feature = "fuzzing")]
pub(crate) use {auth::parse_basic, negotiate::negotiate, render::accepts_gzip};

use render::Declared;

/// Histogram buckets: a log ladder for DCC tool calls, 1 ms → 30 s.
pub(crate) const BUCKETS: [f64; 13] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The `tool` label of calls that name no registered tool.
pub(crate) const UNKNOWN_TOOL: &str = dcc_mcp_protocol::reserved::UNKNOWN_TOOL_NAME;

/// Most scrapes rendered at once; more get `503` (Prometheus retries on its next interval).
pub(crate) const MAX_CONCURRENT_SCRAPES: usize = 4;

/// Series cap of the per-tool families: room for thousands of tools, still a hard bound.
const TOOL_SERIES_CAP: usize = 16_384;

const TOOL_CALLS: &str = "dcc_mcp_tool_calls_total";
const TOOL_DURATION: &str = "dcc_mcp_tool_duration_seconds";
const JOBS_IN_FLIGHT: &str = "dcc_mcp_jobs_in_flight";
const JOB_CREATED: &str = "dcc_mcp_job_created_total";
const JOB_WAIT: &str = "dcc_mcp_job_wait_seconds";
const NOTIFICATIONS: &str = "dcc_mcp_notifications_sent_total";
const ACTIVE_SESSIONS: &str = "dcc_mcp_active_sessions";
const REGISTERED_TOOLS: &str = "dcc_mcp_registered_tools";
const BUILD_INFO: &str = "dcc_mcp_build_info";
const REJECTED: &str = "dcc_mcp_rejected_total";
const DISPATCH_WAIT: &str = "dcc_mcp_dispatch_wait_seconds";
const REQUESTS: &str = "dcc_mcp_requests_total";
const CLIENT_REQUESTS: &str = "dcc_mcp_client_requests_total";
const SSE_REPLAY: &str = "dcc_mcp_sse_replay_total";
const OUTBOX_BYTES: &str = "dcc_mcp_outbox_bytes";
const BODY_BYTES: &str = "dcc_mcp_body_bytes_reading";
const OPEN_CONNECTIONS: &str = "dcc_mcp_open_connections";
const OPEN_STREAMS: &str = "dcc_mcp_open_streams";

/// The nine families of the metric surface, the refusal and dispatch-wait families, and the engine's
/// series-overflow counter (so a capped family is visible), always in the exposition: with
/// `# HELP`/`# TYPE` even before any series.
const DECLARED: [Declared; 19] = [
    Declared {
        name: TOOL_CALLS,
        help: "Tool calls the server observed, by tool and status (success/error).",
    },
    Declared {
        name: TOOL_DURATION,
        help: "Wall-clock seconds from tool dispatch to completion.",
    },
    Declared {
        name: JOBS_IN_FLIGHT,
        help: "Long-running jobs executing now.",
    },
    Declared {
        name: JOB_CREATED,
        help: "Long-running jobs created, by tool and result (accepted/queue_full/rejected/quota).",
    },
    Declared {
        name: JOB_WAIT,
        help: "Seconds from job creation to first execution.",
    },
    Declared {
        name: NOTIFICATIONS,
        help: "MCP notifications pushed to clients, by channel (sse/ws).",
    },
    Declared {
        name: ACTIVE_SESSIONS,
        help: "Live MCP Streamable HTTP sessions.",
    },
    Declared {
        name: REGISTERED_TOOLS,
        help: "Tools currently registered.",
    },
    Declared {
        name: BUILD_INFO,
        help: "Always 1; the labels identify the running build.",
    },
    Declared {
        name: REJECTED,
        help: "Requests (or parts of them) the server refused to protect itself, by reason.",
    },
    Declared {
        name: DISPATCH_WAIT,
        help: "Seconds a tool call waited for a handler thread, by executor (worker/main_thread).",
    },
    Declared {
        name: REQUESTS,
        help: "JSON-RPC requests answered, in either era, by method (a fixed set; other names are other) and status (success: a result; error: a JSON-RPC error).",
    },
    Declared {
        name: CLIENT_REQUESTS,
        help: "Server-to-client requests handlers made (elicitation/sampling/roots), by kind and outcome.",
    },
    Declared {
        name: SSE_REPLAY,
        help: "GET /mcp streams resumed with Last-Event-ID, by outcome (replayed: nothing lost; gap: some messages had left the buffer; unknown: an id the session's streams did not send).",
    },
    Declared {
        name: OUTBOX_BYTES,
        help: "Bytes of notifications all session outboxes hold now (budget max_outbox_bytes_total).",
    },
    Declared {
        name: BODY_BYTES,
        help: "Bytes of request bodies being read or held by their requests now (budget max_body_bytes_in_flight).",
    },
    Declared {
        name: OPEN_CONNECTIONS,
        help: "Open client connections now (budget max_connections).",
    },
    Declared {
        name: OPEN_STREAMS,
        help: "Open SSE streams now (budget max_streams).",
    },
    Declared {
        name: dcc_mcp_telemetry::OVERFLOW_METRIC_NAME,
        help: "with_label_values calls answered with a family's overflow series because the family reached its series cap.",
    },
];

/// `status` label values, indexed by [`status_index`].
const STATUSES: [&str; 2] = ["success", "error"];

fn status_index(status: CallStatus) -> usize {
    match status {
        CallStatus::Success => 0,
        CallStatus::Error => 1,
    }
}

/// `result` label values, indexed by [`job_result_index`].
const JOB_RESULTS: [&str; 4] = ["accepted", "queue_full", "rejected", "quota"];

fn job_result_index(result: JobResult) -> usize {
    // Exhaustive on purpose: a new `JobResult` variant must get a label (and a zero series) here.
    match result {
        JobResult::Accepted => 0,
        JobResult::QueueFull => 1,
        JobResult::Rejected => 2,
        JobResult::Quota => 3,
    }
}

/// `channel` label values, indexed by [`channel_index`].
const CHANNELS: [&str; 2] = ["sse", "ws"];

fn channel_index(channel: Channel) -> usize {
    match channel {
        Channel::Sse => 0,
        Channel::Ws => 1,
    }
}

/// The engine families behind the nine metrics.
pub(crate) struct Families {
    tool_calls: CounterFamily,
    tool_duration: HistogramFamily,
    jobs_in_flight: GaugeFamily,
    job_created: CounterFamily,
    job_wait: HistogramFamily,
    notifications: CounterFamily,
    active_sessions: Gauge,
    registered_tools: Gauge,
    budgets: [Gauge; 4],
    build_info: GaugeFamily,
    rejected: CounterFamily,
    dispatch_wait: HistogramFamily,
    requests: CounterFamily,
    client_requests: CounterFamily,
    sse_replay: CounterFamily,
}

impl Families {
    /// `native`: give the tool-call duration native buckets besides the classic ladder.
    fn new(r: &Registry, native: bool) -> Result<Self, TelemetryError> {
        let help = |name: &str| {
            DECLARED
                .iter()
                .find(|d| d.name == name)
                .map_or("", |d| d.help)
        };
        Ok(Self {
            tool_calls: r.counter_family_with_cap(
                TOOL_CALLS,
                help(TOOL_CALLS),
                &["tool", "status"],
                TOOL_SERIES_CAP,
            )?,
            // Every bucket keeps the trace id of its newest traced call (OpenMetrics and
            // protobuf exemplars).
            tool_duration: r.histogram_family_with_options(
                TOOL_DURATION,
                help(TOOL_DURATION),
                &["tool"],
                &BUCKETS,
                &HistogramOptions {
                    max_series: TOOL_SERIES_CAP,
                    exemplars: true,
                    native: native.then(NativeHistogram::default),
                },
            )?,
            jobs_in_flight: r.gauge_family_with_cap(
                JOBS_IN_FLIGHT,
                help(JOBS_IN_FLIGHT),
                &["tool"],
                TOOL_SERIES_CAP,
            )?,
            job_created: r.counter_family_with_cap(
                JOB_CREATED,
                help(JOB_CREATED),
                &["tool", "result"],
                TOOL_SERIES_CAP,
            )?,
            job_wait: r.histogram_family_with_cap(
                JOB_WAIT,
                help(JOB_WAIT),
                &["tool"],
                &BUCKETS,
                TOOL_SERIES_CAP,
            )?,
            notifications: r.counter_family(NOTIFICATIONS, help(NOTIFICATIONS), &["channel"])?,
            active_sessions: r.gauge(ACTIVE_SESSIONS, help(ACTIVE_SESSIONS))?,
            registered_tools: r.gauge(REGISTERED_TOOLS, help(REGISTERED_TOOLS))?,
            budgets: [
                r.gauge(OUTBOX_BYTES, help(OUTBOX_BYTES))?,
                r.gauge(BODY_BYTES, help(BODY_BYTES))?,
                r.gauge(OPEN_CONNECTIONS, help(OPEN_CONNECTIONS))?,
                r.gauge(OPEN_STREAMS, help(OPEN_STREAMS))?,
            ],
            build_info: r.gauge_family(BUILD_INFO, help(BUILD_INFO), &["version", "crate"])?,
            rejected: r.counter_family(REJECTED, help(REJECTED), &["reason"])?,
            dispatch_wait: r.histogram_family(
                DISPATCH_WAIT,
                help(DISPATCH_WAIT),
                &["executor"],
                &BUCKETS,
            )?,
            requests: r.counter_family(REQUESTS, help(REQUESTS), &["method", "status"])?,
            client_requests: r.counter_family(
                CLIENT_REQUESTS,
                help(CLIENT_REQUESTS),
                &["kind", "outcome"],
            )?,
            sse_replay: r.counter_family(SSE_REPLAY, help(SSE_REPLAY), &["outcome"])?,
        })
    }
}

/// Why a server's metric set could not be built (a bug, not a runtime condition: the names and
/// buckets are fixed).
#[derive(Debug, thiserror::Error)]
pub(crate) enum MetricsError {
    /// The engine refused a family.
    #[error("metrics engine refused a dcc_mcp_* family: {0}")]
    Engine(#[from] TelemetryError),
    /// The `prometheus` registry refused the process collector.
    #[error("prometheus registry refused the process collector: {0}")]
    Prometheus(#[from] prometheus::Error),
}

/// One server's metrics: engine registry, the `prometheus` registry of the process collector,
/// resolved handles, scrape policy.
pub(crate) struct ServerMetrics {
    engine: Registry,
    /// Only the `process_*` collector lives here; the engine is encoded by its own encoders.
    prometheus: prometheus::Registry,
    families: Families,
    tools: tools::ToolTable,
    unknown: tools::CallHandles,
    notifications: [Counter; 2],
    rejected: [Counter; Rejection::ALL.len()],
    dispatch_wait: [Histogram; Executor::ALL.len()],
    /// `[success, error]` per [`RequestMethod`].
    requests: [[Counter; 2]; RequestMethod::ALL.len()],
    client_requests: [[Counter; ClientRequestOutcome::ALL.len()]; ClientRequestKind::ALL.len()],
    sse_replay: [Counter; ReplayOutcome::ALL.len()],
    auth: Option<auth::BasicAuthGuard>,
    scrapes: tokio::sync::Semaphore,
}

impl std::fmt::Debug for ServerMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerMetrics")
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl ServerMetrics {
    /// Builds the metric set for one server; `basic_auth` guards its `/metrics`.
    #[cfg(test)]
    pub(crate) fn new(basic_auth: Option<&crate::BasicAuth>) -> Result<Self, MetricsError> {
        Self::with_native_histograms(basic_auth, false)
    }

    /// Builds the metric set for one server; `basic_auth` guards its `/metrics`; with `native`,
    /// `dcc_mcp_tool_duration_seconds` also has native buckets (protobuf scrapes only).
    pub(crate) fn with_native_histograms(
        basic_auth: Option<&crate::BasicAuth>,
        native: bool,
    ) -> Result<Self, MetricsError> {
        let engine = Registry::new();
        let families = Families::new(&engine, native)?;
        families
            .build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION"), env!("CARGO_PKG_NAME")])
            .set(1);
        let notifications = CHANNELS.map(|c| families.notifications.with_label_values(&[c]));
        let unknown = tools::CallHandles::resolve(&families, UNKNOWN_TOOL);
        let rejected = Rejection::ALL.map(|r| families.rejected.with_label_values(&[r.as_label()]));
        let dispatch_wait =
            Executor::ALL.map(|e| families.dispatch_wait.with_label_values(&[e.as_label()]));
        let requests = RequestMethod::ALL.map(|m| {
            STATUSES.map(|status| families.requests.with_label_values(&[m.as_label(), status]))
        });
        let client_requests = ClientRequestKind::ALL.map(|kind| {
            ClientRequestOutcome::ALL.map(|outcome| {
                families
                    .client_requests
                    .with_label_values(&[kind.as_label(), outcome.as_label()])
            })
        });
        let sse_replay =
            ReplayOutcome::ALL.map(|o| families.sse_replay.with_label_values(&[o.as_label()]));
        let metrics = Self {
            requests,
            client_requests,
            sse_replay,
            engine,
            prometheus: prometheus::Registry::new(),
            families,
            tools: tools::ToolTable::default(),
            unknown,
            notifications,
            rejected,
            dispatch_wait,
            auth: basic_auth.map(|a| auth::BasicAuthGuard::new(&a.username, &a.password)),
            scrapes: tokio::sync::Semaphore::new(MAX_CONCURRENT_SCRAPES),
        };
        // The built-in job tools are listed by `tools/list` too: their call series exist from start.
        #[cfg(feature = "workflow")]
        for name in dcc_mcp_protocol::reserved::JOB_TOOL_NAMES {
            metrics.tools.register(&metrics.families, name, false);
        }
        Ok(metrics)
    }

    /// The engine registry every family of this server lives in (embedders add their own).
    pub(crate) fn engine(&self) -> &Registry {
        &self.engine
    }

    /// Adds the standard `process_*` metrics of this process to the exposition (Linux; a no-op
    /// elsewhere, see [`process`]). Returns `true` when they will be exported.
    pub(crate) fn export_process_metrics(&self) -> Result<bool, MetricsError> {
        Ok(process::register(&self.prometheus)?)
    }

    /// A tool finished (`tool` is `None` when the client named no registered tool).
    #[inline]
    #[cfg(test)]
    pub(crate) fn tool_call(&self, tool: Option<&str>, status: CallStatus, duration: Duration) {
        self.tool_call_traced(tool, status, duration, None);
    }

    /// A tool finished as part of the W3C trace `trace`, if any: the duration observation carries
    /// the trace id as its bucket's exemplar (in the calling thread's shard, no lock).
    #[inline]
    pub(crate) fn tool_call_traced(
        &self,
        tool: Option<&str>,
        status: CallStatus,
        duration: Duration,
        trace: Option<TraceId>,
    ) {
        let record = |h: &tools::CallHandles| {
            h.calls[status_index(status)].inc();
            h.duration.observe_duration_with_exemplar(duration, trace);
        };
        match tool {
            Some(name) => self.tools.with(&self.families, name, |h| record(&h.call)),
            None => record(&self.unknown),
        }
    }

    /// A job for `tool` was accepted or refused.
    #[inline]
    pub(crate) fn job_created(&self, tool: &str, result: JobResult) {
        self.tools.with(&self.families, tool, |h| {
            h.jobs(&self.families, tool).created[job_result_index(result)].inc()
        });
    }

    /// A job for `tool` started executing `wait` after it was created.
    #[inline]
    pub(crate) fn job_started(&self, tool: &str, wait: Duration) {
        self.tools.with(&self.families, tool, |h| {
            let jobs = h.jobs(&self.families, tool);
            jobs.in_flight.inc();
            jobs.wait.observe_duration(wait);
        });
    }

    /// A job for `tool` stopped executing (success, failure or cancellation).
    #[inline]
    pub(crate) fn job_finished(&self, tool: &str) {
        self.tools.with(&self.families, tool, |h| {
            h.jobs(&self.families, tool).in_flight.dec()
        });
    }

    /// A notification went out on `channel`.
    #[inline]
    pub(crate) fn notification_sent(&self, channel: Channel) {
        self.notifications[channel_index(channel)].inc();
    }

    /// The server refused (part of) a request for `reason`.
    #[inline]
    pub(crate) fn rejected(&self, reason: Rejection) {
        self.rejected[reason.index()].inc();
    }

    /// A handler started on `executor` after waiting `wait`.
    #[inline]
    pub(crate) fn dispatch_wait(&self, executor: Executor, wait: Duration) {
        self.dispatch_wait[executor.index()].observe_duration(wait);
    }

    /// A request of `method` was answered with a result (`ok`) or a JSON-RPC error.
    #[inline]
    pub(crate) fn request(&self, method: RequestMethod, ok: bool) {
        self.requests[method.index()][usize::from(!ok)].inc();
    }

    /// A server→client request of `kind` ended with `outcome`.
    #[inline]
    pub(crate) fn client_request(&self, kind: ClientRequestKind, outcome: ClientRequestOutcome) {
        self.client_requests[kind.index()][outcome.index()].inc();
    }

    /// A `GET /mcp` with `Last-Event-ID` resumed a stream with `outcome`.
    #[inline]
    pub(crate) fn sse_replay(&self, outcome: ReplayOutcome) {
        self.sse_replay[outcome.index()].inc();
    }

    /// `name` was registered: resolve its handles and create its series at zero.
    pub(crate) fn tool_registered(&self, name: &str) {
        self.tools.register(&self.families, name, true);
    }

    /// `name` was unregistered. Its series stay (counters must not go backwards).
    pub(crate) fn tool_unregistered(&self, name: &str) {
        self.tools.unregister(name);
    }

    /// Set the budget gauges (outbox bytes, body bytes, open connections, open streams) to their
    /// values at scrape time.
    pub(crate) fn set_budgets(&self, values: [usize; 4]) {
        for (gauge, value) in self.families.budgets.iter().zip(values) {
            gauge.set(i64::try_from(value).unwrap_or(i64::MAX));
        }
    }

    /// Renders the exposition in `format` with the live gauges set to the given exact values.
    pub(crate) fn render(
        &self,
        active_sessions: usize,
        registered_tools: usize,
        format: Format,
    ) -> Vec<u8> {
        self.families
            .active_sessions
            .set(i64::try_from(active_sessions).unwrap_or(i64::MAX));
        self.families
            .registered_tools
            .set(i64::try_from(registered_tools).unwrap_or(i64::MAX));
        render::encode(&self.engine, &self.prometheus.gather(), format)
    }
}

/// The record sink of a server served inside another (a gateway's per-backend endpoint): its
/// `tools/call`s land in the per-tool families of `tool_calls` (the outer server's metric set, so
/// one scrape counts every call whichever endpoint it came through); every other record point
/// goes to its own metric set, if it has one.
pub(crate) struct ForwardToolCalls {
    pub(crate) tool_calls: std::sync::Arc<ServerMetrics>,
    pub(crate) own: Option<std::sync::Arc<ServerMetrics>>,
}

impl crate::record::RecordSink for ForwardToolCalls {
    fn tool_call(
        &self,
        tool: Option<&str>,
        status: CallStatus,
        duration: Duration,
        trace: Option<TraceId>,
    ) {
        self.tool_calls
            .tool_call_traced(tool, status, duration, trace);
    }
    fn job_created(&self, tool: &str, result: JobResult) {
        if let Some(own) = &self.own {
            own.job_created(tool, result);
        }
    }
    fn job_started(&self, tool: &str, wait: Duration) {
        if let Some(own) = &self.own {
            own.job_started(tool, wait);
        }
    }
    fn job_finished(&self, tool: &str) {
        if let Some(own) = &self.own {
            own.job_finished(tool);
        }
    }
    fn notification_sent(&self, channel: Channel) {
        if let Some(own) = &self.own {
            own.notification_sent(channel);
        }
    }
    fn rejected(&self, reason: Rejection) {
        if let Some(own) = &self.own {
            own.rejected(reason);
        }
    }
    fn dispatch_wait(&self, executor: Executor, wait: Duration) {
        if let Some(own) = &self.own {
            own.dispatch_wait(executor, wait);
        }
    }
    fn request(&self, method: RequestMethod, ok: bool) {
        if let Some(own) = &self.own {
            own.request(method, ok);
        }
    }
    fn client_request(&self, kind: ClientRequestKind, outcome: ClientRequestOutcome) {
        if let Some(own) = &self.own {
            own.client_request(kind, outcome);
        }
    }
    fn sse_replay(&self, outcome: ReplayOutcome) {
        if let Some(own) = &self.own {
            own.sse_replay(outcome);
        }
    }
}

/// The adapter side of the record port: every record point lands in this server's metric set.
impl crate::record::RecordSink for ServerMetrics {
    fn tool_call(
        &self,
        tool: Option<&str>,
        status: CallStatus,
        duration: Duration,
        trace: Option<TraceId>,
    ) {
        ServerMetrics::tool_call_traced(self, tool, status, duration, trace);
    }
    fn job_created(&self, tool: &str, result: JobResult) {
        ServerMetrics::job_created(self, tool, result);
    }
    fn job_started(&self, tool: &str, wait: Duration) {
        ServerMetrics::job_started(self, tool, wait);
    }
    fn job_finished(&self, tool: &str) {
        ServerMetrics::job_finished(self, tool);
    }
    fn notification_sent(&self, channel: Channel) {
        ServerMetrics::notification_sent(self, channel);
    }
    fn rejected(&self, reason: Rejection) {
        ServerMetrics::rejected(self, reason);
    }
    fn dispatch_wait(&self, executor: Executor, wait: Duration) {
        ServerMetrics::dispatch_wait(self, executor, wait);
    }
    fn request(&self, method: RequestMethod, ok: bool) {
        ServerMetrics::request(self, method, ok);
    }
    fn client_request(&self, kind: ClientRequestKind, outcome: ClientRequestOutcome) {
        ServerMetrics::client_request(self, kind, outcome);
    }
    fn sse_replay(&self, outcome: ReplayOutcome) {
        ServerMetrics::sse_replay(self, outcome);
    }
}

/// Per-tool series follow the registry: created at zero on registration.
impl crate::registry::RegistryObserver for ServerMetrics {
    fn tool_registered(&self, name: &str) {
        ServerMetrics::tool_registered(self, name);
    }
    fn tool_unregistered(&self, name: &str) {
        ServerMetrics::tool_unregistered(self, name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl ServerMetrics {
        fn render_text(&self, active_sessions: usize, registered_tools: usize) -> String {
            String::from_utf8(self.render(active_sessions, registered_tools, Format::Text)).unwrap()
        }
    }

    fn line_value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    /// Two threads record through the same handles; the scrape shows the exact totals.
    #[test]
    fn concurrent_recording_is_exact() {
        let m = std::sync::Arc::new(ServerMetrics::new(None).unwrap());
        m.tool_registered("render");
        let threads: Vec<_> = (0..2)
            .map(|t| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for i in 0..10_000u32 {
                        let status = if i % 4 == 0 {
                            CallStatus::Error
                        } else {
                            CallStatus::Success
                        };
                        m.tool_call(Some("render"), status, Duration::from_micros(500));
                        if t == 0 {
                            m.tool_call(None, CallStatus::Error, Duration::from_millis(2));
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let text = m.render_text(3, 1);
        let v = |s| line_value(&text, s);
        assert_eq!(
            v(r#"dcc_mcp_tool_calls_total{status="success",tool="render"}"#),
            Some(15_000.0)
        );
        assert_eq!(
            v(r#"dcc_mcp_tool_calls_total{status="error",tool="render"}"#),
            Some(5_000.0)
        );
        assert_eq!(
            v(r#"dcc_mcp_tool_calls_total{status="error",tool="<unknown>"}"#),
            Some(10_000.0)
        );
        // 0.5 ms lands in the first bucket (le 0.001), 2 ms in the second (le 0.005).
        assert_eq!(
            v(r#"dcc_mcp_tool_duration_seconds_bucket{tool="render",le="0.001"}"#),
            Some(20_000.0)
        );
        assert_eq!(
            v(r#"dcc_mcp_tool_duration_seconds_bucket{tool="<unknown>",le="0.001"}"#),
            Some(0.0)
        );
        assert_eq!(
            v(r#"dcc_mcp_tool_duration_seconds_bucket{tool="<unknown>",le="0.005"}"#),
            Some(10_000.0)
        );
        assert_eq!(
            v(r#"dcc_mcp_tool_duration_seconds_count{tool="render"}"#),
            Some(20_000.0)
        );
        assert_eq!(v("dcc_mcp_active_sessions"), Some(3.0));
        assert_eq!(v("dcc_mcp_registered_tools"), Some(1.0));
    }

    /// Jobs of a tool that is no longer registered still land on that tool's series, and
    /// unregistering keeps every series.
    #[test]
    fn jobs_outliving_their_tool_and_unregistration() {
        let m = ServerMetrics::new(None).unwrap();
        m.tool_registered("bake");
        m.job_created("bake", JobResult::Accepted);
        m.job_started("bake", Duration::from_millis(30));
        m.tool_unregistered("bake");
        m.job_finished("bake");
        m.job_created("bake", JobResult::QueueFull);
        m.notification_sent(Channel::Sse);
        m.notification_sent(Channel::Sse);
        let text = m.render_text(0, 0);
        let v = |s| line_value(&text, s);
        let created = |r: &str| {
            line_value(
                &text,
                &format!(r#"dcc_mcp_job_created_total{{result="{r}",tool="bake"}}"#),
            )
        };
        assert_eq!(created("accepted"), Some(1.0));
        assert_eq!(created("queue_full"), Some(1.0));
        assert_eq!(created("rejected"), Some(0.0));
        assert_eq!(v(r#"dcc_mcp_jobs_in_flight{tool="bake"}"#), Some(0.0));
        assert_eq!(
            v(r#"dcc_mcp_job_wait_seconds_bucket{tool="bake",le="0.025"}"#),
            Some(0.0)
        );
        assert_eq!(
            v(r#"dcc_mcp_job_wait_seconds_bucket{tool="bake",le="0.05"}"#),
            Some(1.0)
        );
        assert_eq!(
            v(r#"dcc_mcp_notifications_sent_total{channel="sse"}"#),
            Some(2.0)
        );
        assert_eq!(
            v(r#"dcc_mcp_tool_calls_total{status="success",tool="bake"}"#),
            Some(0.0)
        );
    }

    /// Every refusal reason and executor has its series from the start; records land exactly.
    #[test]
    fn rejections_and_dispatch_waits() {
        let m = ServerMetrics::new(None).unwrap();
        m.rejected(Rejection::Busy);
        m.rejected(Rejection::Busy);
        m.rejected(Rejection::OutboxDrop);
        m.dispatch_wait(Executor::MainThread, Duration::from_millis(40));
        let text = m.render_text(0, 0);
        for reason in Rejection::ALL {
            let expected = match reason {
                Rejection::Busy => 2.0,
                Rejection::OutboxDrop => 1.0,
                _ => 0.0,
            };
            let series = format!(
                r#"dcc_mcp_rejected_total{{reason="{}"}}"#,
                reason.as_label()
            );
            assert_eq!(line_value(&text, &series), Some(expected), "{series}");
        }
        let wait = |e: &str, le: &str| {
            line_value(
                &text,
                &format!(r#"dcc_mcp_dispatch_wait_seconds_bucket{{executor="{e}",le="{le}"}}"#),
            )
        };
        assert_eq!(wait("main_thread", "0.025"), Some(0.0));
        assert_eq!(wait("main_thread", "0.05"), Some(1.0));
        assert_eq!(wait("worker", "+Inf"), Some(0.0));
    }

    /// Each server has its own registries: no series leak from one to another.
    #[test]
    fn metric_sets_are_independent() {
        let a = ServerMetrics::new(None).unwrap();
        let b = ServerMetrics::new(None).unwrap();
        a.tool_registered("x");
        a.tool_call(Some("x"), CallStatus::Success, Duration::ZERO);
        let (ta, tb) = (a.render_text(0, 1), b.render_text(0, 0));
        let series = r#"dcc_mcp_tool_calls_total{status="success",tool="x"}"#;
        assert_eq!(line_value(&ta, series), Some(1.0));
        assert_eq!(line_value(&tb, series), None);
        // The crate puts its own process collector in its default registry (`process` feature);
        // nothing of ours may be there.
        let names: Vec<String> = prometheus::default_registry()
            .gather()
            .iter()
            .map(|f| f.name().to_owned())
            .collect();
        assert!(names.iter().all(|n| n.starts_with("process_")), "{names:?}");
    }
}
