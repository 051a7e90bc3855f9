//! The engine's own encoders: text 0.0.4 byte-identical to the `prometheus` crate's `TextEncoder`
//! over the engine's `Collector`, and exact OpenMetrics text.
#![cfg(feature = "prometheus")]
#![allow(clippy::unwrap_used)]

use dcc_mcp_telemetry::{ConstMetric, MetricKind, Registry};
use prometheus::{Encoder, TextEncoder};

fn prometheus_text(r: &Registry) -> String {
    let p = prometheus::Registry::new();
    p.register(Box::new(r.clone())).unwrap();
    let mut out = Vec::new();
    TextEncoder::new().encode(&p.gather(), &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn ours(r: &Registry) -> String {
    let mut out = Vec::new();
    r.encode_text(&mut out);
    String::from_utf8(out).unwrap()
}

/// Families registered out of name order, label names out of order, series created out of value
/// order, values that need escaping, every kind, counts past 2^53, non-integer and special sums.
fn busy_registry() -> Registry {
    let r = Registry::new();
    let h = r
        .histogram_family_with_cap(
            "zz_latency_seconds",
            "Latency \\ with\nnewline and \"quotes\".",
            &["tool", "executor"],
            &[0.001, 0.25, 1.0, 2.5, 30.0],
            2,
        )
        .unwrap();
    h.with_label_values(&["render", "worker"]).observe(0.1);
    h.with_label_values(&["render", "worker"]).observe(3.0);
    h.with_label_values(&["a\"b\\c\nd", "main"]).observe(0.0001);
    h.with_label_values(&["x", "y"]).observe(100.0); // past the cap: overflow series
    let c = r
        .counter_family("mm_calls_total", "Calls.", &["status", "kind"])
        .unwrap();
    c.with_label_values(&["success", "b"]).inc_by(3);
    c.with_label_values(&["error", "b"]).inc();
    c.with_label_values(&["success", "a"]).inc_by((1 << 53) + 7);
    c.with_label_values(&["é", "ü"]).inc_by(u64::MAX);
    let g = r
        .gauge_family("aa_in_flight", "In flight.", &["tool"])
        .unwrap();
    g.with_label_values(&["b"]).set(-5);
    g.with_label_values(&["a"]).set(i64::MAX);
    r.gauge("bb_plain", "").unwrap().set(2);
    let s = r.histogram("cc_sum_seconds", "Sums.", &[1.0]).unwrap();
    s.observe(f64::INFINITY);
    s.observe(0.1);
    r.counter("dd_zero_total", "Zero.").unwrap();
    r
}

#[test]
fn text_is_byte_identical_to_the_prometheus_text_encoder() {
    let r = busy_registry();
    assert_eq!(ours(&r), prometheus_text(&r));
}

#[test]
fn text_writes_headers_for_families_without_series() {
    let r = Registry::new();
    r.counter_family("b_total", "B \\ with\nnewline \"quoted\".", &["x"])
        .unwrap();
    r.histogram_family("a_seconds", "A.", &["t"], &[1.0])
        .unwrap();
    let mut out = Vec::new();
    r.encode_text_with(
        &[ConstMetric {
            name: "process_cpu_seconds_total".into(),
            help: "CPU.".into(),
            kind: MetricKind::Counter,
            value: 0.25,
        }],
        &mut out,
    );
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "# HELP a_seconds A.\n# TYPE a_seconds histogram\n\
         # HELP b_total B \\\\ with\\nnewline \"quoted\".\n# TYPE b_total counter\n\
         # HELP dcc_mcp_telemetry_series_overflow_total with_label_values calls answered with a family's overflow series because the family reached its series cap.\n\
         # TYPE dcc_mcp_telemetry_series_overflow_total counter\n\
         dcc_mcp_telemetry_series_overflow_total{family=\"a_seconds\"} 0\n\
         dcc_mcp_telemetry_series_overflow_total{family=\"b_total\"} 0\n\
         # HELP process_cpu_seconds_total CPU.\n# TYPE process_cpu_seconds_total counter\n\
         process_cpu_seconds_total 0.25\n"
    );
}

#[test]
fn openmetrics_text_is_exact() {
    let r = Registry::new();
    let calls = r
        .counter_family("dcc_calls_total", "Tool \"calls\".", &["tool", "status"])
        .unwrap();
    calls.with_label_values(&["render", "ok"]).inc_by(2);
    let h = r
        .histogram("dcc_latency_seconds", "Latency.", &[0.5, 1.0])
        .unwrap();
    h.observe(0.25);
    h.observe(2.0);
    r.gauge("dcc_in_flight", "In flight.").unwrap().set(-1);
    let mut out = Vec::new();
    r.encode_openmetrics_with(
        &[ConstMetric {
            name: "process_resident_memory_bytes".into(),
            help: "RSS.".into(),
            kind: MetricKind::Gauge,
            value: 4096.0,
        }],
        &mut out,
    );
    let created = {
        let mut t = r.created_unix().to_string();
        if !t.contains('.') {
            t.push_str("");
        }
        t
    };
    let expected = format!(
        "\
# TYPE dcc_calls counter
# HELP dcc_calls Tool \\\"calls\\\".
dcc_calls_total{{status=\"ok\",tool=\"render\"}} 2
dcc_calls_created{{status=\"ok\",tool=\"render\"}} {created}
# TYPE dcc_in_flight gauge
# HELP dcc_in_flight In flight.
dcc_in_flight -1
# TYPE dcc_latency_seconds histogram
# UNIT dcc_latency_seconds seconds
# HELP dcc_latency_seconds Latency.
dcc_latency_seconds_bucket{{le=\"0.5\"}} 1
dcc_latency_seconds_bucket{{le=\"1\"}} 1
dcc_latency_seconds_bucket{{le=\"+Inf\"}} 2
dcc_latency_seconds_count 2
dcc_latency_seconds_sum 2.25
dcc_latency_seconds_created {created}
# TYPE dcc_mcp_telemetry_series_overflow counter
# HELP dcc_mcp_telemetry_series_overflow with_label_values calls answered with a family's overflow series because the family reached its series cap.
dcc_mcp_telemetry_series_overflow_total{{family=\"dcc_calls_total\"}} 0
dcc_mcp_telemetry_series_overflow_created{{family=\"dcc_calls_total\"}} {created}
# TYPE process_resident_memory_bytes gauge
# UNIT process_resident_memory_bytes bytes
# HELP process_resident_memory_bytes RSS.
process_resident_memory_bytes 4096
# EOF
"
    );
    assert_eq!(String::from_utf8(out).unwrap(), expected);
}
