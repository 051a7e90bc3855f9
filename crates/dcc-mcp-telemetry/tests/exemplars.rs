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
