//! Identical series sets in our engine and in `prometheus` 0.14, for the scrape and memory benches.
//!
//! Why: a scrape comparison is only fair if both libraries export exactly the same text. A
//! "series" here is what one registered tool costs the server: one counter series and one
//! histogram series (13 finite bounds, so 14 buckets with `+Inf`) labelled `tool`, the shape of
//! DESIGN §4's scrape anchor. Our engine's cost also depends on how many threads have recorded
//! (each owns a shard that the merge visits), so the fixture records from `shards` threads that are
//! all alive at once — a thread that starts after another exited would inherit its shard.

use std::sync::Barrier;

use prometheus::{Encoder, TextEncoder};

/// Histogram bounds of the server's duration metrics: a log ladder from 1 ms to 30 s.
pub const BUCKETS: [f64; 13] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Counter family name used by every fixture.
pub const CALLS: &str = "bench_tool_calls_total";
/// Histogram family name used by every fixture.
pub const DURATION: &str = "bench_tool_duration_seconds";

/// Label value of series `i`.
pub fn tool_name(i: usize) -> String {
    format!("tool_{i:05}")
}

/// Observation recorded by thread `t` into series `i`: spread over every bucket including `+Inf`,
/// deterministic, and a power of two, so sums are exact whatever order the shards are merged in.
pub fn observation(t: usize, i: usize) -> f64 {
    let k = ((t + i) % 16) as i32 - 10; // 2^-10 (< 1 ms) ..= 2^5 (> 30 s)
    2f64.powi(k)
}

/// Our engine with `series` tools recorded by `shards` threads alive at the same time, and a
/// private `prometheus::Registry` that renders it (the server's `/metrics` path).
pub struct OursFixture {
    /// The engine registry holding the series.
    pub registry: dcc_mcp_telemetry::Registry,
    /// The exposition registry the engine registry is registered in as a collector.
    pub exposition: prometheus::Registry,
}

impl OursFixture {
    /// Builds the fixture. Panics only if the engine rejects the fixed, valid metric definitions.
    pub fn new(series: usize, shards: usize) -> Self {
        Self::build(series, shards, false)
    }

    /// Like [`new`](Self::new), but thread `t` records only the series `i` with
    /// `i % shards == t`: every series is recorded once, each shard holds `series / shards` of
    /// them (a pool of threads each serving some tools).
    pub fn sparse(series: usize, shards: usize) -> Self {
        Self::build(series, shards, true)
    }

    fn build(series: usize, shards: usize, sparse: bool) -> Self {
        let registry = dcc_mcp_telemetry::Registry::new();
        let cap = series.max(1);
        let calls = registry
            .counter_family_with_cap(CALLS, "Tool calls.", &["tool"], cap)
            .unwrap_or_else(|e| panic!("counter family: {e}"));
        let duration = registry
            .histogram_family_with_cap(DURATION, "Tool call duration.", &["tool"], &BUCKETS, cap)
            .unwrap_or_else(|e| panic!("histogram family: {e}"));
        let names: Vec<String> = (0..series).map(tool_name).collect();
        // Resolve once, as the server does at tool registration.
        let handles: Vec<_> = names
            .iter()
            .map(|n| {
                (
                    calls.with_label_values(&[n]),
                    duration.with_label_values(&[n]),
                )
            })
            .collect();
        let barrier = Barrier::new(shards.max(1));
        std::thread::scope(|s| {
            for t in 0..shards.max(1) {
                let (handles, barrier) = (&handles, &barrier);
                s.spawn(move || {
                    for (i, (c, h)) in handles.iter().enumerate() {
                        if sparse && i % shards.max(1) != t {
                            continue;
                        }
                        c.inc();
                        h.observe(observation(t, i));
                    }
                    // Stay alive until every thread has its own shard.
                    barrier.wait();
                });
            }
        });
        let exposition = prometheus::Registry::new();
        exposition
            .register(Box::new(registry.clone()))
            .unwrap_or_else(|e| panic!("register collector: {e}"));
        OursFixture {
            registry,
            exposition,
        }
    }

    /// Merge + the `prometheus` crate's `gather` + `TextEncoder` (the server's `/metrics` before
    /// the engine had its own encoders). Writes into `out` (cleared first).
    pub fn scrape_into(&self, out: &mut Vec<u8>) {
        out.clear();
        let _ = TextEncoder::new().encode(&self.exposition.gather(), out);
    }

    /// Merge + the engine's own text encoder (`Registry::encode_text`, what `GET /metrics` does
    /// now). Writes into `out` (cleared first).
    pub fn encode_text_into(&self, out: &mut Vec<u8>) {
        out.clear();
        self.registry.encode_text(out);
    }
}

/// `prometheus` 0.14 with the same series (and the same totals as [`OursFixture`] with `shards`).
pub struct PrometheusFixture {
    /// The registry holding the vectors.
    pub registry: prometheus::Registry,
}

impl PrometheusFixture {
    /// Builds the fixture. Panics only if `prometheus` rejects the fixed, valid definitions.
    pub fn new(series: usize, shards: usize) -> Self {
        let registry = prometheus::Registry::new();
        let calls =
            prometheus::IntCounterVec::new(prometheus::Opts::new(CALLS, "Tool calls."), &["tool"])
                .unwrap_or_else(|e| panic!("counter vec: {e}"));
        let duration = prometheus::HistogramVec::new(
            prometheus::HistogramOpts::new(DURATION, "Tool call duration.")
                .buckets(BUCKETS.to_vec()),
            &["tool"],
        )
        .unwrap_or_else(|e| panic!("histogram vec: {e}"));
        registry
            .register(Box::new(calls.clone()))
            .and_then(|()| registry.register(Box::new(duration.clone())))
            .unwrap_or_else(|e| panic!("register: {e}"));
        for i in 0..series {
            let name = tool_name(i);
            let c = calls.with_label_values(&[&name]);
            let h = duration.with_label_values(&[&name]);
            for t in 0..shards.max(1) {
                c.inc();
                h.observe(observation(t, i));
            }
        }
        PrometheusFixture { registry }
    }

    /// Gather + encode. Writes into `out` (cleared first).
    pub fn scrape_into(&self, out: &mut Vec<u8>) {
        out.clear();
        let _ = TextEncoder::new().encode(&self.registry.gather(), out);
    }
}

/// `prometheus-client` 0.26 with the same series and totals as [`OursFixture`] with `shards`
/// (one thread records them all: its families have no shards).
pub fn prometheus_client_registry(
    series: usize,
    shards: usize,
) -> prometheus_client::registry::Registry {
    use prometheus_client::metrics::counter::Counter as PcCounter;
    use prometheus_client::metrics::family::Family as PcFamily;
    use prometheus_client::metrics::histogram::Histogram as PcHistogram;
    let mut pc = prometheus_client::registry::Registry::default();
    let calls: PcFamily<[(&'static str, String); 1], PcCounter> = PcFamily::default();
    let dur: PcFamily<[(&'static str, String); 1], PcHistogram> =
        PcFamily::new_with_constructor(|| PcHistogram::new(BUCKETS));
    pc.register(
        CALLS.trim_end_matches("_total"),
        "Tool calls.",
        calls.clone(),
    );
    pc.register(DURATION, "Tool call duration.", dur.clone());
    for i in 0..series {
        let c = calls.get_or_create(&[("tool", tool_name(i))]);
        let h = dur.get_or_create(&[("tool", tool_name(i))]);
        for t in 0..shards {
            c.inc();
            h.observe(observation(t, i));
        }
    }
    pc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Our exposition carries the engine's overflow counter in addition; everything else must be
    /// byte-identical to prometheus' text for the same series and totals.
    fn without_overflow_family(text: &str) -> String {
        text.lines()
            .filter(|l| !l.contains(dcc_mcp_telemetry::OVERFLOW_METRIC_NAME))
            .map(|l| format!("{l}\n"))
            .collect()
    }

    #[test]
    fn both_fixtures_export_the_same_text() {
        for (series, shards) in [(1, 1), (3, 4), (20, 2)] {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            OursFixture::new(series, shards).scrape_into(&mut a);
            PrometheusFixture::new(series, shards).scrape_into(&mut b);
            let ours = without_overflow_family(&String::from_utf8(a).unwrap());
            let theirs = String::from_utf8(b).unwrap();
            assert_eq!(ours, theirs, "series={series} shards={shards}");
        }
    }

    #[test]
    fn our_encoder_writes_what_the_prometheus_encoder_writes() {
        for (series, shards) in [(1, 1), (3, 4), (100, 16)] {
            let f = OursFixture::new(series, shards);
            let (mut a, mut b) = (Vec::new(), Vec::new());
            f.encode_text_into(&mut a);
            f.scrape_into(&mut b);
            assert_eq!(a, b, "series={series} shards={shards}");
        }
    }

    #[test]
    fn ours_has_one_shard_per_recording_thread() {
        let f = OursFixture::new(5, 8);
        assert_eq!(f.registry.shard_count(), 8);
        let mut out = Vec::new();
        f.scrape_into(&mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("bench_tool_calls_total{tool=\"tool_00004\"} 8\n"));
        assert!(text.contains("bench_tool_duration_seconds_count{tool=\"tool_00004\"} 8\n"));
    }
}
