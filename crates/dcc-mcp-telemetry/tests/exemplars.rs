//! Exemplars: recorded per shard, newest per bucket across shards, written only in OpenMetrics
//! (and protobuf, see `expose_protobuf.rs`), never in text 0.0.4.
#![allow(clippy::unwrap_used)]

use dcc_mcp_telemetry::{HistogramOptions, Registry, SampleValue, TraceId};
use std::time::{SystemTime, UNIX_EPOCH};

const A: TraceId = TraceId([0x11; 16]);
const B: TraceId = TraceId([0x22; 16]);

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

fn registry() -> (Registry, dcc_mcp_telemetry::HistogramFamily) {
    let r = Registry::new();
    let opts = HistogramOptions {
        exemplars: true,
        ..HistogramOptions::default()
    };
    let f = r
        .histogram_family_with_options("call_seconds", "Calls.", &["tool"], &[0.1, 1.0], &opts)
        .unwrap();
    (r, f)
}

#[test]
fn openmetrics_bucket_lines_carry_the_newest_exemplar() {
    let (r, f) = registry();
    let h = f.with_label_values(&["render"]);
    let t0 = now_ns();
    h.observe_with_exemplar(0.05, Some(A));
    // Another thread (another shard) records later into the same bucket: it wins.
    std::thread::scope(|s| {
        s.spawn(|| {
            f.with_label_values(&["render"])
                .observe_with_exemplar(0.0625, Some(B))
        });
    });
    h.observe_with_exemplar(2.5, Some(A));
    h.observe_with_exemplar(0.5, None); // no trace: counted, no exemplar
    let t1 = now_ns();

    let mut om = Vec::new();
    r.encode_openmetrics(&mut om);
    let om = String::from_utf8(om).unwrap();
    let lines: Vec<&str> = om
        .lines()
        .filter(|l| l.starts_with("call_seconds_bucket"))
        .collect();
    assert_eq!(lines.len(), 3, "{om}");
    let split = |l: &str| -> (String, f64) {
        let (head, ts) = l.rsplit_once(' ').unwrap();
        (head.to_owned(), ts.parse().unwrap())
    };
    let (b0, ts0) = split(lines[0]);
    assert_eq!(
        b0,
        format!(
            "call_seconds_bucket{{tool=\"render\",le=\"0.1\"}} 2 # {{trace_id=\"{}\"}} 0.0625",
            "22".repeat(16)
        )
    );
    assert_eq!(lines[1], "call_seconds_bucket{tool=\"render\",le=\"1\"} 3");
    let (b2, ts2) = split(lines[2]);
    assert_eq!(
        b2,
        format!(
            "call_seconds_bucket{{tool=\"render\",le=\"+Inf\"}} 4 # {{trace_id=\"{}\"}} 2.5",
            "11".repeat(16)
        )
    );
    for ts in [ts0, ts2] {
        assert!(
            ts >= t0 as f64 / 1e9 - 1e-6 && ts <= t1 as f64 / 1e9 + 1e-6,
            "{ts}"
        );
    }
    // Timestamps have nanosecond digits.
    assert_eq!(lines[0].rsplit_once('.').unwrap().1.len(), 9);

    // The snapshot holds the same exemplars; the text format never shows one.
    let snap = r.snapshot();
    let fam = snap.iter().find(|f| f.name == "call_seconds").unwrap();
    let SampleValue::Histogram(hs) = &fam.series[0].value else {
        panic!()
    };
    let ids: Vec<Option<TraceId>> = hs.exemplars.iter().map(|e| e.map(|e| e.trace_id)).collect();
    assert_eq!(ids, [Some(B), None, Some(A)]);
    assert_eq!((hs.count, hs.sum), (4, 0.05 + 0.0625 + 2.5 + 0.5));
    let mut text = Vec::new();
    r.encode_text(&mut text);
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains("call_seconds_bucket{tool=\"render\",le=\"0.1\"} 2\n"),
        "{text}"
    );
    assert!(!text.contains("trace_id"), "{text}");
}

/// A family without exemplars ignores the trace id; one with exemplars records none without it.
#[test]
fn exemplars_are_opt_in_and_only_from_a_trace() {
    let r = Registry::new();
    let plain = r.histogram("plain_seconds", "P.", &[1.0]).unwrap();
    plain.observe_with_exemplar(0.5, Some(A));
    let (r2, f) = registry();
    f.with_label_values(&["x"]).observe_with_exemplar(0.5, None);
    for reg in [&r, &r2] {
        let mut om = Vec::new();
        reg.encode_openmetrics(&mut om);
        assert!(!String::from_utf8(om).unwrap().contains(" # {"));
    }
    let snap = r.snapshot();
    let SampleValue::Histogram(h) = &snap
        .iter()
        .find(|f| f.name == "plain_seconds")
        .unwrap()
        .series[0]
        .value
    else {
        panic!()
    };
    assert!(h.exemplars.is_empty());
    assert_eq!(h.count, 1);
}

/// A thread's exemplars are dropped when its values are retired into the registry's accumulator,
/// but its counts survive and the next holder of its shard starts with empty slots (a retired
/// trace id is never summed into a garbage one).
#[test]
fn retired_threads_keep_counts_and_drop_exemplars() {
    let (r, f) = registry();
    for _ in 0..3 {
        let f = f.clone();
        std::thread::spawn(move || {
            f.with_label_values(&["x"])
                .observe_with_exemplar(0.05, Some(A))
        })
        .join()
        .unwrap();
    }
    // A fresh thread takes over the shard (and retires the last holder's values).
    let f2 = f.clone();
    std::thread::spawn(move || f2.with_label_values(&["x"]).observe(0.5))
        .join()
        .unwrap();
    let snap = r.snapshot();
    let SampleValue::Histogram(h) = &snap
        .iter()
        .find(|f| f.name == "call_seconds")
        .unwrap()
        .series[0]
        .value
    else {
        panic!()
    };
    assert_eq!(h.buckets, [(0.1, 3), (1.0, 4), (f64::INFINITY, 4)]);
    for e in h.exemplars.iter().flatten() {
        assert_eq!(e.trace_id, A);
        assert_eq!(e.value, 0.05);
    }
}

/// A counter family with exemplars: the `_total` sample carries the newest traced increment (its
/// amount as the value) in OpenMetrics, never in text 0.0.4; increments without a trace only count.
#[test]
fn counter_totals_carry_the_newest_exemplar() {
    use dcc_mcp_telemetry::CounterOptions;
    let r = Registry::new();
    let opts = CounterOptions {
        exemplars: true,
        ..CounterOptions::default()
    };
    let f = r
        .counter_family_with_options("calls_total", "Calls.", &["tool"], &opts)
        .unwrap();
    let c = f.with_label_values(&["render"]);
    c.inc_by_with_exemplar(2, Some(A));
    std::thread::scope(|s| {
        s.spawn(|| {
            f.with_label_values(&["render"])
                .inc_by_with_exemplar(3, Some(B))
        });
    });
    c.inc_by_with_exemplar(1, None);
    c.inc();
    let plain = r.counter_family("plain_total", "P.", &["k"]).unwrap();
    plain
        .with_label_values(&["a"])
        .inc_by_with_exemplar(1, Some(A));

    let mut om = Vec::new();
    r.encode_openmetrics(&mut om);
    let om = String::from_utf8(om).unwrap();
    let line = om.lines().find(|l| l.starts_with("calls_total{")).unwrap();
    let (head, _ts) = line.rsplit_once(' ').unwrap();
    assert_eq!(
        head,
        format!(
            "calls_total{{tool=\"render\"}} 7 # {{trace_id=\"{}\"}} 3",
            "22".repeat(16)
        )
    );
    assert!(om.contains("plain_total{k=\"a\"} 1\n"), "{om}");
    let snap = r.snapshot();
    let fam = snap.iter().find(|f| f.name == "calls_total").unwrap();
    assert_eq!(fam.series[0].value, SampleValue::Counter(7));
    assert_eq!(
        fam.series[0].exemplar.map(|e| (e.trace_id, e.value)),
        Some((B, 3.0))
    );
    let mut text = Vec::new();
    r.encode_text(&mut text);
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains("calls_total{tool=\"render\"} 7\n") && !text.contains("trace_id"),
        "{text}"
    );
}
