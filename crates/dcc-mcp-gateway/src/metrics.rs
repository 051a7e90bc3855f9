//! The gateway's own families, `dcc_mcp_gateway_*`, in the same engine registry as the server's
//! `dcc_mcp_*` families (so one `/metrics` scrape renders both).
//!
//! Every label is bounded: `backend` by the backend cap (each family's series cap is sized from
//! it, and the engine's overflow series catches anything past it), `status`, `kind` and `state` by
//! the enums below. Handles are resolved once per backend, when it is added, which also creates its
//! series at zero so `rate()` sees the first request.

use std::time::Duration;

use dcc_mcp_telemetry::{
    Counter, CounterFamily, Gauge, GaugeFamily, Histogram, HistogramFamily, Registry,
    TelemetryError,
};

/// `dcc_mcp_gateway_backend_up{backend}`.
pub const BACKEND_UP: &str = "dcc_mcp_gateway_backend_up";
/// `dcc_mcp_gateway_backend_requests_total{backend,status}`.
pub const BACKEND_REQUESTS: &str = "dcc_mcp_gateway_backend_requests_total";
/// `dcc_mcp_gateway_backend_duration_seconds{backend}`.
pub const BACKEND_DURATION: &str = "dcc_mcp_gateway_backend_duration_seconds";
/// `dcc_mcp_gateway_backend_errors_total{backend,kind}`.
pub const BACKEND_ERRORS: &str = "dcc_mcp_gateway_backend_errors_total";
/// `dcc_mcp_gateway_backends{state}`.
pub const BACKENDS: &str = "dcc_mcp_gateway_backends";

/// Buckets of the upstream call duration: the server's ladder (1 ms → 30 s) with two finer steps
/// below it, since a proxied call to a healthy local backend takes well under a millisecond.
const BUCKETS: [f64; 15] = [
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// How a proxied `tools/call` ended, the `status` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestStatus {
    /// The backend answered a result without `isError`.
    Success,
    /// The backend answered a result with `isError: true` (the tool failed).
    Error,
    /// No result from the backend (see the `kind` of `dcc_mcp_gateway_backend_errors_total`).
    Failure,
}

impl RequestStatus {
    const ALL: [RequestStatus; 3] = [Self::Success, Self::Error, Self::Failure];

    /// The label value.
    pub fn as_label(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Error => "error",
            Self::Failure => "failure",
        }
    }
}

/// Why the gateway got nothing usable from a backend, the `kind` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The connection could not be made or broke (refused, reset, DNS).
    Connect,
    /// No answer within the call timeout (the backend was sent `notifications/cancelled`).
    Timeout,
    /// The backend's concurrency budget stayed full for the whole call timeout.
    Busy,
    /// The backend answered a JSON-RPC error or an HTTP refusal.
    Rpc,
    /// The backend broke the protocol (a body that is not MCP, an unknown session).
    Protocol,
    /// The call named a tool of a backend that is down.
    Down,
    /// A health probe failed.
    Probe,
    /// The caller went away (`notifications/cancelled`, or the gateway's own deadline) before the
    /// backend answered; the backend was sent `notifications/cancelled`.
    Cancelled,
}

impl ErrorKind {
    const ALL: [ErrorKind; 8] = [
        Self::Connect,
        Self::Timeout,
        Self::Busy,
        Self::Rpc,
        Self::Protocol,
        Self::Down,
        Self::Probe,
        Self::Cancelled,
    ];

    /// The label value.
    pub fn as_label(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Timeout => "timeout",
            Self::Busy => "busy",
            Self::Rpc => "rpc",
            Self::Protocol => "protocol",
            Self::Down => "down",
            Self::Probe => "probe",
            Self::Cancelled => "cancelled",
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|k| *k == self).unwrap_or(0)
    }
}

/// The families of one gateway.
#[derive(Clone)]
pub(crate) struct GatewayMetrics {
    up: GaugeFamily,
    requests: CounterFamily,
    duration: HistogramFamily,
    errors: CounterFamily,
    up_count: Gauge,
    down_count: Gauge,
}

impl GatewayMetrics {
    /// Register the families in `registry`, sized for `max_backends`.
    pub(crate) fn new(registry: &Registry, max_backends: usize) -> Result<Self, TelemetryError> {
        let cap = |per_backend: usize| max_backends.saturating_mul(per_backend).max(1);
        let backends = registry.gauge_family(
            BACKENDS,
            "Backends the gateway knows, by state (up/down).",
            &["state"],
        )?;
        Ok(Self {
            up: registry.gauge_family_with_cap(
                BACKEND_UP,
                "1 when the backend answers and its tools are listed, 0 when it is down.",
                &["backend"],
                cap(1),
            )?,
            requests: registry.counter_family_with_cap(
                BACKEND_REQUESTS,
                "Proxied tools/call requests, by backend and status (success/error/failure).",
                &["backend", "status"],
                cap(RequestStatus::ALL.len()),
            )?,
            duration: registry.histogram_family_with_cap(
                BACKEND_DURATION,
                "Seconds from sending a proxied tools/call to the backend to its answer.",
                &["backend"],
                &BUCKETS,
                cap(1),
            )?,
            errors: registry.counter_family_with_cap(
                BACKEND_ERRORS,
                "Calls and probes that got nothing usable from a backend, by kind.",
                &["backend", "kind"],
                cap(ErrorKind::ALL.len()),
            )?,
            up_count: backends.with_label_values(&["up"]),
            down_count: backends.with_label_values(&["down"]),
        })
    }

    /// Resolve `backend`'s handles (its series exist at zero from now on).
    pub(crate) fn backend(&self, backend: &str) -> BackendMetrics {
        BackendMetrics {
            up: self.up.with_label_values(&[backend]),
            requests: RequestStatus::ALL
                .map(|s| self.requests.with_label_values(&[backend, s.as_label()])),
            duration: self.duration.with_label_values(&[backend]),
            errors: ErrorKind::ALL.map(|k| self.errors.with_label_values(&[backend, k.as_label()])),
        }
    }

    /// Set `dcc_mcp_gateway_backends{state}` to the exact counts.
    pub(crate) fn set_backends(&self, up: usize, down: usize) {
        self.up_count.set(i64::try_from(up).unwrap_or(i64::MAX));
        self.down_count.set(i64::try_from(down).unwrap_or(i64::MAX));
    }
}

/// One backend's resolved handles.
#[derive(Clone)]
pub(crate) struct BackendMetrics {
    up: Gauge,
    requests: [Counter; 3],
    duration: Histogram,
    errors: [Counter; 8],
}

impl BackendMetrics {
    /// The backend went up (`true`) or down.
    pub(crate) fn set_up(&self, up: bool) {
        self.up.set(i64::from(up));
    }

    /// A proxied call ended with `status` after `elapsed` upstream (`None`: never sent).
    pub(crate) fn request(&self, status: RequestStatus, elapsed: Option<Duration>) {
        let index = RequestStatus::ALL
            .iter()
            .position(|s| *s == status)
            .unwrap_or(0);
        self.requests[index].inc();
        if let Some(elapsed) = elapsed {
            self.duration.observe_duration(elapsed);
        }
    }

    /// A call or probe got nothing usable, for `kind`.
    pub(crate) fn error(&self, kind: ErrorKind) {
        self.errors[kind.index()].inc();
    }
}
