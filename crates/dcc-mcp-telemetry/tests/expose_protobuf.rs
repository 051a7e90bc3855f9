//! The delimited protobuf encoder, read back with a generic protobuf wire-format reader and checked
//! field by field against the numbers of `io.prometheus.client`'s `metrics.proto`.
#![allow(clippy::unwrap_used)]

use dcc_mcp_telemetry::Registry;

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Varint(u64),
    Fixed64(u64),
    Bytes(Vec<u8>),
}

fn varint(b: &[u8], i: &mut usize) -> u64 {
    let (mut v, mut shift) = (0u64, 0);
    loop {
        let byte = b[*i];
        *i += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return v;
        }
        shift += 7;
    }
}

/// `(field, value)` pairs of one message, in wire order.
fn fields(b: &[u8]) -> Vec<(u64, Value)> {
    let (mut i, mut out) = (0, Vec::new());
    while i < b.len() {
        let key = varint(b, &mut i);
        let v = match key & 7 {
            0 => Value::Varint(varint(b, &mut i)),
            1 => {
                let v = u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
                i += 8;
                Value::Fixed64(v)
            }
            2 => {
                let n = varint(b, &mut i) as usize;
                i += n;
                Value::Bytes(b[i - n..i].to_vec())
            }
            w => panic!("wire type {w}"),
        };
        out.push((key >> 3, v));
    }
    assert_eq!(i, b.len(), "message overran");
    out
}

fn get(m: &[(u64, Value)], field: u64) -> Vec<Value> {
    m.iter()
        .filter(|(f, _)| *f == field)
        .map(|(_, v)| v.clone())
        .collect()
}
fn msg(v: &Value) -> Vec<(u64, Value)> {
    match v {
        Value::Bytes(b) => fields(b),
        v => panic!("not a message: {v:?}"),
    }
}
fn text(v: &Value) -> String {
    match v {
        Value::Bytes(b) => String::from_utf8(b.clone()).unwrap(),
        v => panic!("not bytes: {v:?}"),
    }
}
fn double(v: &Value) -> f64 {
    match v {
        Value::Fixed64(b) => f64::from_bits(*b),
        v => panic!("not a double: {v:?}"),
    }
}

#[test]
fn families_decode_to_the_snapshot() {
    let r = Registry::new();
    let calls = r
        .counter_family("dcc_calls_total", "Calls.", &["tool", "status"])
        .unwrap();
    calls.with_label_values(&["render", "ok"]).inc_by(300);
    let h = r
        .histogram("dcc_latency_seconds", "Latency.", &[0.5, 1.0])
        .unwrap();
    h.observe(0.25);
    h.observe(2.0);
    r.gauge("dcc_in_flight", "").unwrap().set(-2);
    let mut out = Vec::new();
    r.encode_protobuf(&mut out);

    // Split the delimited stream.
    let mut families = Vec::new();
    let mut i = 0;
    while i < out.len() {
        let n = varint(&out, &mut i) as usize;
        families.push(fields(&out[i..i + n]));
        i += n;
    }
    let names: Vec<String> = families.iter().map(|f| text(&get(f, 1)[0])).collect();
    assert_eq!(
        names,
        [
            "dcc_calls_total",
            "dcc_in_flight",
            "dcc_latency_seconds",
            "dcc_mcp_telemetry_series_overflow_total"
        ]
    );
    let created = r.created_unix().floor() as u64;

    // Counter: type 0, labels sorted by name, value 300, created timestamp.
    let c = &families[0];
    assert_eq!(text(&get(c, 2)[0]), "Calls.");
    assert_eq!(get(c, 3), [Value::Varint(0)]);
    let m = msg(&get(c, 4)[0]);
    let labels: Vec<(String, String)> = get(&m, 1)
        .iter()
        .map(|l| {
            let l = msg(l);
            (text(&get(&l, 1)[0]), text(&get(&l, 2)[0]))
        })
        .collect();
    assert_eq!(
        labels,
        [
            ("status".into(), "ok".into()),
            ("tool".into(), "render".into())
        ]
    );
    let counter = msg(&get(&m, 3)[0]);
    assert_eq!(double(&get(&counter, 1)[0]), 300.0);
    let ts = msg(&get(&counter, 3)[0]);
    assert_eq!(get(&ts, 1), [Value::Varint(created)]);

    // Gauge: type 1, no help field, value -2.
    let g = &families[1];
    assert!(get(g, 2).is_empty());
    assert_eq!(get(g, 3), [Value::Varint(1)]);
    let gauge = msg(&get(&msg(&get(g, 4)[0]), 2)[0]);
    assert_eq!(double(&get(&gauge, 1)[0]), -2.0);

    // Histogram: type 4, count 2, sum 2.25, finite buckets only (cumulative).
    let hf = &families[2];
    assert_eq!(get(hf, 3), [Value::Varint(4)]);
    let hist = msg(&get(&msg(&get(hf, 4)[0]), 7)[0]);
    assert_eq!(get(&hist, 1), [Value::Varint(2)]);
    assert_eq!(double(&get(&hist, 2)[0]), 2.25);
    let buckets: Vec<(u64, f64)> = get(&hist, 3)
        .iter()
        .map(|b| {
            let b = msg(b);
            let Value::Varint(c) = get(&b, 1)[0] else {
                panic!("count")
            };
            (c, double(&get(&b, 2)[0]))
        })
        .collect();
    assert_eq!(buckets, [(1, 0.5), (1, 1.0)]);
    let ts = msg(&get(&hist, 15)[0]);
    assert_eq!(get(&ts, 1), [Value::Varint(created)]);
}

fn unzigzag(v: &Value) -> i64 {
    let Value::Varint(v) = v else {
        panic!("not a varint: {v:?}")
    };
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// A family with native buckets and exemplars: schema, zero threshold and count, spans (offset,
/// length) and deltas exactly as `metrics.proto` defines them, and the bucket's exemplar.
#[test]
fn native_buckets_and_exemplars_decode_field_by_field() {
    use dcc_mcp_telemetry::{HistogramOptions, NativeHistogram, TraceId};
    let r = Registry::new();
    let opts = HistogramOptions {
        exemplars: true,
        native: Some(NativeHistogram {
            schema: 0,
            ..NativeHistogram::default()
        }),
        ..HistogramOptions::default()
    };
    let h = r
        .histogram_family_with_options("aa_lat_seconds", "L.", &[], &[1.0], &opts)
        .unwrap()
        .with_label_values(&[]);
    // Schema 0: 1.0 -> bucket 0, 3.0 and 4.0 -> bucket 2, 16.0 -> bucket 4, 0 -> zero bucket,
    // -0.75 -> negative bucket 0.
    for v in [1.0, 3.0, 4.0, 16.0, 0.0, -0.75] {
        h.observe(v);
    }
    let trace = TraceId([0xab; 16]);
    h.observe_with_exemplar(0.5, Some(trace));
    let mut out = Vec::new();
    r.encode_protobuf(&mut out);
    let mut i = 0;
    let n = varint(&out, &mut i) as usize;
    let fam = fields(&out[i..i + n]);
    assert_eq!(text(&get(&fam, 1)[0]), "aa_lat_seconds");
    let hist = msg(&get(&msg(&get(&fam, 4)[0]), 7)[0]);
    assert_eq!(get(&hist, 1), [Value::Varint(7)]);
    assert_eq!(double(&get(&hist, 2)[0]), 23.75);
    assert_eq!(unzigzag(&get(&hist, 5)[0]), 0);
    assert_eq!(double(&get(&hist, 6)[0]), 1.0 / 65536.0);
    assert_eq!(get(&hist, 7), [Value::Varint(1)]);
    let spans = |field| -> Vec<(i64, u64)> {
        get(&hist, field)
            .iter()
            .map(|s| {
                let s = msg(s);
                let Value::Varint(len) = get(&s, 2)[0] else {
                    panic!("length")
                };
                (unzigzag(&get(&s, 1)[0]), len)
            })
            .collect()
    };
    let deltas = |field| -> Vec<i64> { get(&hist, field).iter().map(unzigzag).collect() };
    // Positive: buckets -1 (0.5), 0 (1.0) | 2 (3, 4) | 4 (16): spans (-1,2) (1,1) (1,1).
    assert_eq!(spans(12), [(-1, 2), (1, 1), (1, 1)]);
    assert_eq!(deltas(13), [1, 0, 1, -1]);
    assert_eq!(spans(9), [(0, 1)]);
    assert_eq!(deltas(10), [1]);
    // The classic bucket le=1 carries the exemplar of 0.5; +Inf has none and is not written.
    let buckets = get(&hist, 3);
    assert_eq!(buckets.len(), 1);
    let b = msg(&buckets[0]);
    assert_eq!(get(&b, 1), [Value::Varint(4)]);
    let ex = msg(&get(&b, 3)[0]);
    let label = msg(&get(&ex, 1)[0]);
    assert_eq!(text(&get(&label, 1)[0]), "trace_id");
    assert_eq!(text(&get(&label, 2)[0]), "ab".repeat(16));
    assert_eq!(double(&get(&ex, 2)[0]), 0.5);
    let ts = msg(&get(&ex, 3)[0]);
    let Value::Varint(secs) = get(&ts, 1)[0] else {
        panic!("seconds")
    };
    assert!(secs as f64 >= r.created_unix().floor());
}

/// A counter family with exemplars: `Counter.exemplar` (field 2) holds the trace id and amount.
#[test]
fn counter_exemplars_decode() {
    use dcc_mcp_telemetry::{CounterOptions, TraceId};
    let r = Registry::new();
    let opts = CounterOptions {
        exemplars: true,
        ..CounterOptions::default()
    };
    let c = r
        .counter_family_with_options("aa_calls_total", "C.", &[], &opts)
        .unwrap()
        .with_label_values(&[]);
    c.inc_by_with_exemplar(5, Some(TraceId([0x0f; 16])));
    let mut out = Vec::new();
    r.encode_protobuf(&mut out);
    let mut i = 0;
    let n = varint(&out, &mut i) as usize;
    let fam = fields(&out[i..i + n]);
    assert_eq!(text(&get(&fam, 1)[0]), "aa_calls_total");
    let counter = msg(&get(&msg(&get(&fam, 4)[0]), 3)[0]);
    assert_eq!(double(&get(&counter, 1)[0]), 5.0);
    let ex = msg(&get(&counter, 2)[0]);
    let label = msg(&get(&ex, 1)[0]);
    assert_eq!(text(&get(&label, 2)[0]), "0f".repeat(16));
    assert_eq!(double(&get(&ex, 2)[0]), 5.0);
}
