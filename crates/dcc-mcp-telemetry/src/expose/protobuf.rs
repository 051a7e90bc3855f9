//! Length-delimited `io.prometheus.client.MetricFamily` protobuf messages, written by hand.
//!
//! Why by hand: the messages are five small types, and a varint writer of a few lines avoids a
//! protobuf runtime and any `protoc` step (the `prometheus` crate's own proto has no
//! native-histogram fields anyway). Field numbers are those of `metrics.proto` in
//! `prometheus/client_model`:
//!
//! ```text
//! MetricFamily { name = 1; help = 2; type = 3; repeated metric = 4; unit = 5 }
//! Metric       { repeated label = 1; gauge = 2; counter = 3; histogram = 7 }
//! LabelPair    { name = 1; value = 2 }
//! Gauge        { double value = 1 }
//! Counter      { double value = 1; Exemplar exemplar = 2; Timestamp created_timestamp = 3 }
//! Histogram    { uint64 sample_count = 1; double sample_sum = 2; repeated Bucket bucket = 3;
//!                sint32 schema = 5; double zero_threshold = 6; uint64 zero_count = 7;
//!                repeated BucketSpan negative_span = 9; repeated sint64 negative_delta = 10;
//!                repeated BucketSpan positive_span = 12; repeated sint64 positive_delta = 13;
//!                Timestamp created_timestamp = 15 }
//! Bucket       { uint64 cumulative_count = 1; double upper_bound = 2; Exemplar exemplar = 3 }
//! BucketSpan   { sint32 offset = 1; uint32 length = 2 }
//! Exemplar     { repeated LabelPair label = 1; double value = 2; Timestamp timestamp = 3 }
//! Timestamp    { int64 seconds = 1; int32 nanos = 2 }
//! ```
//!
//! Each family is preceded by its length as a varint (`encoding=delimited`). As in client_golang,
//! the `+Inf` bucket is not written (its count is `sample_count`) unless it carries an exemplar.
//! Native buckets (opt-in per family) are written beside the classic ones.

use super::{blocks, Block, ConstMetric, OrderedFamily};
use crate::exemplar::Exemplar;
use crate::native::NativeSnapshot;
use crate::snapshot::{FamilySnapshot, MetricKind, SampleValue};

/// `Content-Type` of this format.
pub const CONTENT_TYPE: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/// `MetricType` enum values.
const COUNTER: u64 = 0;
const GAUGE: u64 = 1;
const HISTOGRAM: u64 = 4;

/// Wire types.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;

/// Appends every family and `extra` (sorted by name together), each as a length-delimited
/// `MetricFamily`; `created` is the `created_timestamp` of counters and histograms (Unix seconds).
pub fn encode(families: &[FamilySnapshot], extra: &[ConstMetric], created: f64, out: &mut Vec<u8>) {
    let created = (created.floor() as i64, ((created.fract()) * 1e9) as u64);
    let mut body = Vec::with_capacity(4096);
    for block in blocks(families, extra) {
        body.clear();
        match block {
            Block::Family(f) => family(&f, created, &mut body),
            Block::Const(c) => {
                string(&mut body, 1, &c.name);
                if !c.help.is_empty() {
                    string(&mut body, 2, &c.help);
                }
                let counter = c.kind == MetricKind::Counter;
                key(&mut body, 3, VARINT);
                varint(&mut body, if counter { COUNTER } else { GAUGE });
                let metric = begin(&mut body, 4);
                let value = begin(&mut body, if counter { 3 } else { 2 });
                double(&mut body, 1, c.value);
                end(&mut body, value);
                end(&mut body, metric);
            }
        }
        varint(out, body.len() as u64);
        out.extend_from_slice(&body);
    }
}

fn family(f: &OrderedFamily<'_>, created: (i64, u64), out: &mut Vec<u8>) {
    let fam = f.family;
    string(out, 1, &fam.name);
    if !fam.help.is_empty() {
        string(out, 2, &fam.help);
    }
    key(out, 3, VARINT);
    varint(
        out,
        match fam.kind {
            MetricKind::Counter => COUNTER,
            MetricKind::Gauge => GAUGE,
            MetricKind::Histogram => HISTOGRAM,
        },
    );
    for &i in &f.series_order {
        let s = &fam.series[i];
        let metric = begin(out, 4);
        for &l in &f.label_order {
            let pair = begin(out, 1);
            string(out, 1, &fam.label_names[l]);
            string(out, 2, &s.label_values[l]);
            end(out, pair);
        }
        match &s.value {
            SampleValue::Counter(v) => {
                let counter = begin(out, 3);
                double(out, 1, *v as f64);
                if let Some(e) = &s.exemplar {
                    exemplar(out, 2, e);
                }
                timestamp(out, 3, created);
                end(out, counter);
            }
            SampleValue::Gauge(v) => {
                let gauge = begin(out, 2);
                double(out, 1, *v as f64);
                end(out, gauge);
            }
            SampleValue::Histogram(h) => {
                let hist = begin(out, 7);
                key(out, 1, VARINT);
                varint(out, h.count);
                double(out, 2, h.sum);
                for (i, (bound, count)) in h.buckets.iter().enumerate() {
                    let ex = h.exemplars.get(i).copied().flatten();
                    // `+Inf` is implied by `sample_count`, unless it carries an exemplar.
                    if !bound.is_finite() && ex.is_none() {
                        continue;
                    }
                    let bucket = begin(out, 3);
                    key(out, 1, VARINT);
                    varint(out, *count);
                    double(out, 2, *bound);
                    if let Some(e) = ex {
                        exemplar(out, 3, &e);
                    }
                    end(out, bucket);
                }
                if let Some(n) = &h.native {
                    native(out, n);
                }
                timestamp(out, 15, created);
                end(out, hist);
            }
        }
        end(out, metric);
    }
}

/// The native fields of a `Histogram`: schema (5), zero threshold (6) and count (7), then spans
/// and deltas of the negative (9, 10) and positive (12, 13) buckets. Prometheus 2.42 takes a
/// histogram with a positive zero threshold as native.
fn native(out: &mut Vec<u8>, n: &NativeSnapshot) {
    key(out, 5, VARINT);
    varint(out, zigzag(i64::from(n.schema)));
    double(out, 6, n.zero_threshold);
    key(out, 7, VARINT);
    varint(out, n.zero_count);
    for (side, span_field, delta_field) in [(&n.negative, 9, 10), (&n.positive, 12, 13)] {
        let mut prev: Option<i32> = None;
        let mut spans: Vec<(i32, u32)> = Vec::new();
        for &(i, _) in side.iter() {
            match (prev, spans.last_mut()) {
                (Some(p), Some((_, len))) if i == p + 1 => *len += 1,
                (Some(p), _) => spans.push((i - p - 1, 1)),
                (None, _) => spans.push((i, 1)),
            }
            prev = Some(i);
        }
        for (offset, len) in spans {
            let span = begin(out, span_field);
            key(out, 1, VARINT);
            varint(out, zigzag(i64::from(offset)));
            key(out, 2, VARINT);
            varint(out, u64::from(len));
            end(out, span);
        }
        let mut last = 0i64;
        for &(_, c) in side.iter() {
            let c = c.min(i64::MAX as u64) as i64;
            key(out, delta_field, VARINT);
            varint(out, zigzag(c.wrapping_sub(last)));
            last = c;
        }
    }
}

/// An `Exemplar { repeated LabelPair label = 1; double value = 2; Timestamp timestamp = 3 }`.
fn exemplar(out: &mut Vec<u8>, field: u32, e: &Exemplar) {
    let m = begin(out, field);
    let pair = begin(out, 1);
    string(out, 1, "trace_id");
    string(out, 2, &e.trace_id.to_string());
    end(out, pair);
    double(out, 2, e.value);
    let secs = (e.timestamp_ns / 1_000_000_000) as i64;
    timestamp(out, 3, (secs, e.timestamp_ns % 1_000_000_000));
    end(out, m);
}

/// `sint32`/`sint64` encoding.
fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Appends `v` as a base-128 varint.
pub(crate) fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn key(out: &mut Vec<u8>, field: u32, wire: u8) {
    varint(out, (u64::from(field) << 3) | u64::from(wire));
}

fn string(out: &mut Vec<u8>, field: u32, s: &str) {
    key(out, field, LEN);
    varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn double(out: &mut Vec<u8>, field: u32, v: f64) {
    key(out, field, FIXED64);
    out.extend_from_slice(&v.to_le_bytes());
}

fn timestamp(out: &mut Vec<u8>, field: u32, (seconds, nanos): (i64, u64)) {
    let ts = begin(out, field);
    key(out, 1, VARINT);
    varint(out, seconds as u64);
    if nanos != 0 {
        key(out, 2, VARINT);
        varint(out, nanos);
    }
    end(out, ts);
}

/// Starts a nested message of field `field`: writes its key and a one-byte length placeholder,
/// returns where the message's bytes begin.
fn begin(out: &mut Vec<u8>, field: u32) -> usize {
    key(out, field, LEN);
    out.push(0);
    out.len()
}

/// Ends the nested message begun at `start`: writes its real length into the placeholder, moving
/// the message right when the length needs more than one byte.
fn end(out: &mut Vec<u8>, start: usize) {
    let len = out.len() - start;
    if len < 0x80 {
        out[start - 1] = len as u8;
        return;
    }
    let mut prefix = Vec::with_capacity(10);
    varint(&mut prefix, len as u64);
    let extra = prefix.len() - 1;
    out.resize(out.len() + extra, 0);
    out.copy_within(start..start + len, start + extra);
    out[start - 1..start - 1 + prefix.len()].copy_from_slice(&prefix);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints() {
        let enc = |v: u64| {
            let mut out = Vec::new();
            varint(&mut out, v);
            out
        };
        assert_eq!(enc(0), [0]);
        assert_eq!(enc(127), [127]);
        assert_eq!(enc(128), [0x80, 1]);
        assert_eq!(enc(300), [0xac, 0x02]);
        assert_eq!(enc(u64::MAX).len(), 10);
    }

    #[test]
    fn nested_lengths_past_one_byte_move_the_message() {
        let mut out = vec![9];
        let m = begin(&mut out, 4);
        out.extend(std::iter::repeat_n(7u8, 300));
        end(&mut out, m);
        assert_eq!(&out[..4], &[9, 0x22, 0xac, 0x02]);
        assert_eq!(out.len(), 4 + 300);
        assert!(out[4..].iter().all(|&b| b == 7));
    }
}
