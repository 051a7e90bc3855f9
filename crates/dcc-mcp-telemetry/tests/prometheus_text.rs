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

#[test]
fn two_registries_cannot_share_a_prometheus_registry() {
    let p = prometheus::Registry::new();
    p.register(Box::new(Registry::new())).unwrap();
    assert!(p.register(Box::new(Registry::new())).is_err());
}
