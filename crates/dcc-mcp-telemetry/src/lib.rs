//! Sharded, contention-free metrics engine.
//!
//! Recording a metric writes only to the calling thread's own cache-padded shard, so threads
//! never contend on a cache line: a counter increment is a Relaxed load, an add and a Relaxed
//! store (no `lock`-prefixed instruction), a histogram observation the same on one bucket cell and
//! the sum cell. A scrape merges every shard into a consistent [`snapshot`](Registry::snapshot):
//! counters and buckets never go backwards, buckets are cumulative with `+Inf == _count`, and
//! counts recorded by a thread survive its exit. Gauges are the exception: one atomic per series,
//! so an in-flight gauge is never read negative (see [`Gauge`]).
//!
//! Labelled families have a series cap; past it, `with_label_values` answers with the family's
//! overflow series and counts the call in [`OVERFLOW_METRIC_NAME`], so no caller can grow memory
//! without bound. The registry writes its own exposition ([`Registry::encode_text`],
//! [`Registry::encode_openmetrics`], [`Registry::encode_protobuf`]; see [`expose`]). With the
//! `prometheus` feature, [`Registry`] also implements `prometheus::core::Collector`.
//!
//! Opt-in per family ([`Registry::histogram_family_with_options`],
//! [`Registry::counter_family_with_options`]): exemplars (a W3C [`TraceId`] per histogram bucket or
//! counter series, last writer wins, in OpenMetrics and protobuf only) and native histogram buckets
//! ([`NativeHistogram`], protobuf only), both recorded in the caller's own shard inside the series'
//! write window. See `docs/architecture.md` for the shard layout and proofs.
//!
//! # Quick start
//!
//! Register once, keep the handles, record from any thread, scrape when asked:
//!
//! ```
//! use dcc_mcp_telemetry::{Registry, SampleValue};
//!
//! let registry = Registry::new();
//! let calls = registry
//!     .counter_family("dcc_mcp_tool_calls_total", "Tool calls.", &["tool", "status"])
//!     .unwrap();
//! let latency = registry
//!     .histogram("dcc_mcp_tool_call_duration_seconds", "Tool call latency.", &[0.01, 0.1])
//!     .unwrap();
//! // Resolve label values once (at tool registration), then record with no lookup at all.
//! let ok = calls.with_label_values(&["render", "success"]);
//! let failed = calls.with_label_values(&["render", "error"]);
//!
//! std::thread::scope(|s| {
//!     s.spawn(|| {
//!         for _ in 0..1000 {
//!             ok.inc();
//!         }
//!         latency.observe(0.0078125); // 2^-7: exact in binary, so the sum is order-independent
//!     });
//!     s.spawn(|| {
//!         ok.inc_by(2);
//!         failed.inc();
//!         latency.observe(0.0625);
//!         latency.observe(3.0);
//!     });
//! });
//!
//! // Each thread wrote only its own shard; the snapshot merges them.
//! assert_eq!(ok.get(), 1002);
//! let families = registry.snapshot();
//! let f = families.iter().find(|f| f.name == "dcc_mcp_tool_calls_total").unwrap();
//! assert_eq!(f.series[1].label_values, ["render", "error"]);
//! assert_eq!(f.series[1].value, SampleValue::Counter(1));
//!
//! // With the `prometheus` feature the registry is a `prometheus::core::Collector`.
//! # #[cfg(feature = "prometheus")]
//! # {
//! use prometheus::{Encoder, TextEncoder};
//! let exposition = prometheus::Registry::new();
//! exposition.register(Box::new(registry.clone())).unwrap();
//! let mut text = Vec::new();
//! TextEncoder::new().encode(&exposition.gather(), &mut text).unwrap();
//! // The engine's own encoder writes the same bytes, without the `prometheus` crate.
//! let mut ours = Vec::new();
//! registry.encode_text(&mut ours);
//! assert_eq!(ours, text);
//! assert_eq!(String::from_utf8(text).unwrap(), "\
//! ## HELP dcc_mcp_telemetry_series_overflow_total with_label_values calls answered with a family's overflow series because the family reached its series cap.
//! ## TYPE dcc_mcp_telemetry_series_overflow_total counter
//! dcc_mcp_telemetry_series_overflow_total{family=\"dcc_mcp_tool_calls_total\"} 0
//! ## HELP dcc_mcp_tool_call_duration_seconds Tool call latency.
//! ## TYPE dcc_mcp_tool_call_duration_seconds histogram
//! dcc_mcp_tool_call_duration_seconds_bucket{le=\"0.01\"} 1
//! dcc_mcp_tool_call_duration_seconds_bucket{le=\"0.1\"} 2
//! dcc_mcp_tool_call_duration_seconds_bucket{le=\"+Inf\"} 3
//! dcc_mcp_tool_call_duration_seconds_sum 3.0703125
//! dcc_mcp_tool_call_duration_seconds_count 3
//! ## HELP dcc_mcp_tool_calls_total Tool calls.
//! ## TYPE dcc_mcp_tool_calls_total counter
//! dcc_mcp_tool_calls_total{status=\"error\",tool=\"render\"} 1
//! dcc_mcp_tool_calls_total{status=\"success\",tool=\"render\"} 1002
//! ");
//! # }
//! ```

mod buckets;
mod counter;
mod error;
mod exemplar;
pub mod expose;
mod family;
mod gauge;
mod histogram;
mod labels;
mod merge;
mod native;
mod registry;
mod series_list;
mod shard;
mod snapshot;
mod sync;

#[cfg(feature = "prometheus")]
mod collector;

#[cfg(dcc_mcp_loom)]
pub use sync::loom_thread_exit;

pub use counter::{Counter, CounterFamily, CounterRef};
pub use error::TelemetryError;
pub use exemplar::{Exemplar, TraceId};
pub use expose::ConstMetric;
pub use family::OVERFLOW_LABEL_VALUE;
pub use gauge::{Gauge, GaugeFamily};
pub use histogram::{Histogram, HistogramFamily, HistogramRef};
pub use native::{NativeHistogram, NativeSnapshot};
pub use registry::{
    CounterOptions, HistogramOptions, Registry, DEFAULT_MAX_SERIES, OVERFLOW_METRIC_NAME,
};
pub use snapshot::{FamilySnapshot, HistogramSnapshot, MetricKind, SampleValue, SeriesSnapshot};
