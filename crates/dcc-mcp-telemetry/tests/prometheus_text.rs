//! Rendering through `prometheus::Registry` + `TextEncoder` (the `prometheus` feature).
#![cfg(feature = "prometheus")]
#![allow(clippy::unwrap_used)]

use dcc_mcp_telemetry::Registry;
use prometheus::{Encoder, TextEncoder};

fn render(r: &Registry) -> String {
    let p = prometheus::Registry::new();
    p.register(Box::new(r.clone())).unwrap();
    let mut out = Vec::new();
    TextEncoder::new().encode(&p.gather(), &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn text_exposition_is_exact() {
    let r = Registry::new();
    let calls = r
        .counter_family_with_cap("dcc_calls_total", "Tool calls.", &["tool"], 1)
        .unwrap();
    calls.with_label_values(&["say \"hi\"\n\\"]).inc_by(2);
    calls.with_label_values(&["other"]).inc();
    let g = r.gauge("dcc_in_flight", "In flight.").unwrap();
    g.set(3);
    let h = r
        .histogram("dcc_latency_seconds", "Latency.", &[0.5, 1.0])
        .unwrap();
    h.observe(0.25);
    h.observe(2.0);
    r.counter_family("dcc_unused_total", "Never used.", &["x"])
        .unwrap();
    let expected = "\
# HELP dcc_calls_total Tool calls.
# TYPE dcc_calls_total counter
dcc_calls_total{tool=\"<overflow>\"} 1
dcc_calls_total{tool=\"say \\\"hi\\\"\\n\\\\\"} 2
# HELP dcc_in_flight In flight.
# TYPE dcc_in_flight gauge
dcc_in_flight 3
# HELP dcc_latency_seconds Latency.
# TYPE dcc_latency_seconds histogram
dcc_latency_seconds_bucket{le=\"0.5\"} 1
dcc_latency_seconds_bucket{le=\"1\"} 1
dcc_latency_seconds_bucket{le=\"+Inf\"} 2
dcc_latency_seconds_sum 2.25
dcc_latency_seconds_count 2
# HELP dcc_mcp_telemetry_series_overflow_total with_label_values calls answered with a family's overflow series because the family reached its series cap.
# TYPE dcc_mcp_telemetry_series_overflow_total counter
dcc_mcp_telemetry_series_overflow_total{family=\"dcc_calls_total\"} 1
dcc_mcp_telemetry_series_overflow_total{family=\"dcc_unused_total\"} 0
";
    assert_eq!(render(&r), expected);
}

/// The collector describes every family (and each labelled family's overflow series), so two
/// engine registries with different families share one `prometheus::Registry`, and a third that
/// repeats a family name is refused instead of exporting it twice.
#[test]
fn registries_with_different_families_share_a_prometheus_registry() {
    let (a, b, c) = (Registry::new(), Registry::new(), Registry::new());
    a.counter_family("a_total", "A.", &["x"])
        .unwrap()
        .with_label_values(&["1"])
        .inc();
    b.counter_family("b_total", "B.", &["x"])
        .unwrap()
        .with_label_values(&["2"])
        .inc_by(2);
    c.counter("a_total", "A.").unwrap();
    let p = prometheus::Registry::new();
    p.register(Box::new(a.clone())).unwrap();
    p.register(Box::new(b.clone())).unwrap();
    assert!(p.register(Box::new(c)).is_err());
    let mut out = Vec::new();
    TextEncoder::new().encode(&p.gather(), &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 1\n\
         # HELP b_total B.\n# TYPE b_total counter\nb_total{x=\"2\"} 2\n\
         # HELP dcc_mcp_telemetry_series_overflow_total with_label_values calls answered with a family's overflow series because the family reached its series cap.\n\
         # TYPE dcc_mcp_telemetry_series_overflow_total counter\n\
         dcc_mcp_telemetry_series_overflow_total{family=\"a_total\"} 0\n\
         dcc_mcp_telemetry_series_overflow_total{family=\"b_total\"} 0\n"
    );
}
