//! Text exposition format 0.0.4, byte-identical to the `prometheus` crate's `TextEncoder` for every
//! family that has series.
//!
//! Why byte-identical: the server's scrape used to go through `gather` + `TextEncoder`; dashboards,
//! recording rules and our own tests were written against that output, so the faster encoder must
//! not change a byte of it. The differences are where `TextEncoder` cannot go: a family without
//! series gets its header instead of an encoding error.

use super::number::{write_count, write_f64, write_f64_om, write_u64};
use super::{blocks, escape_into, Block, ConstMetric, OrderedFamily};
use crate::exemplar::Exemplar;
use crate::snapshot::{FamilySnapshot, MetricKind, SampleValue, SeriesSnapshot};
use std::io::Write as _;

/// `Content-Type` of this format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Appends `families` and `extra` (sorted by name together) to `out`.
pub fn encode(families: &[FamilySnapshot], extra: &[ConstMetric], out: &mut Vec<u8>) {
    for block in blocks(families, extra) {
        match block {
            Block::Family(f) => family(&f, out),
            Block::Const(c) => {
                header(out, &c.name, &c.help, kind_name(c.kind));
                out.extend_from_slice(c.name.as_bytes());
                out.push(b' ');
                write_f64(out, c.value);
                out.push(b'\n');
            }
        }
    }
}

fn kind_name(kind: MetricKind) -> &'static str {
    match kind {
        MetricKind::Counter => "counter",
        MetricKind::Gauge | MetricKind::Histogram => "gauge",
    }
}

fn header(out: &mut Vec<u8>, name: &str, help: &str, kind: &str) {
    if !help.is_empty() {
        out.extend_from_slice(b"# HELP ");
        out.extend_from_slice(name.as_bytes());
        out.push(b' ');
        escape_into(out, help, false);
        out.push(b'\n');
    }
    out.extend_from_slice(b"# TYPE ");
    out.extend_from_slice(name.as_bytes());
    out.push(b' ');
    out.extend_from_slice(kind.as_bytes());
    out.push(b'\n');
}

/// Writes `name{l1="v1",l2="v2"` (no closing brace) into `out`; returns whether a brace was opened.
pub(crate) fn label_prefix(out: &mut Vec<u8>, f: &OrderedFamily<'_>, s: &SeriesSnapshot) -> bool {
    let mut sep = b'{';
    for &l in &f.label_order {
        out.push(sep);
        out.extend_from_slice(f.family.label_names[l].as_bytes());
        out.extend_from_slice(b"=\"");
        escape_into(out, &s.label_values[l], true);
        out.push(b'"');
        sep = b',';
    }
    sep == b','
}

/// The `le` values of a family's buckets, formatted once per family (every series shares them),
/// each with the `"} ` that follows it on a bucket line.
pub(crate) struct BucketLabels {
    bounds: Vec<f64>,
    text: Vec<Vec<u8>>,
}

impl BucketLabels {
    pub(crate) fn new() -> Self {
        BucketLabels {
            bounds: Vec::new(),
            text: Vec::new(),
        }
    }

    /// The `le` texts for `buckets` (reformatted only when the bounds differ from the last call).
    pub(crate) fn get(&mut self, buckets: &[(f64, u64)]) -> &[Vec<u8>] {
        let same = self.bounds.len() == buckets.len()
            && self
                .bounds
                .iter()
                .zip(buckets)
                .all(|(a, (b, _))| a.to_bits() == b.to_bits());
        if !same {
            self.bounds = buckets.iter().map(|(b, _)| *b).collect();
            self.text = self
                .bounds
                .iter()
                .map(|&b| {
                    let mut t = Vec::new();
                    if b == f64::INFINITY {
                        t.extend_from_slice(b"+Inf");
                    } else {
                        write_f64(&mut t, b);
                    }
                    t.extend_from_slice(b"\"} ");
                    t
                })
                .collect();
        }
        &self.text
    }
}

fn family(f: &OrderedFamily<'_>, out: &mut Vec<u8>) {
    let fam = f.family;
    let name = fam.name.as_bytes();
    let kind = match fam.kind {
        MetricKind::Counter => "counter",
        MetricKind::Gauge => "gauge",
        MetricKind::Histogram => "histogram",
    };
    header(out, &fam.name, &fam.help, kind);
    let mut les = BucketLabels::new();
    let mut prefix = Vec::with_capacity(64);
    for &i in &f.series_order {
        let s = &fam.series[i];
        prefix.clear();
        let braced = label_prefix(&mut prefix, f, s);
        match &s.value {
            SampleValue::Counter(v) => {
                sample(out, name, b"", &prefix, braced);
                write_count(out, *v);
                out.push(b'\n');
            }
            SampleValue::Gauge(v) => {
                sample(out, name, b"", &prefix, braced);
                write_f64(out, *v as f64);
                out.push(b'\n');
            }
            SampleValue::Histogram(h) => {
                let les = les.get(&h.buckets);
                bucket_lines(out, name, &prefix, braced, &h.buckets, les, &[]);
                sample(out, name, b"_sum", &prefix, braced);
                write_f64(out, h.sum);
                out.push(b'\n');
                sample(out, name, b"_count", &prefix, braced);
                write_count(out, h.count);
                out.push(b'\n');
            }
        }
    }
}

/// The `_bucket` lines of one histogram series: `le` labels come from [`BucketLabels`], counts are
/// cumulative as the snapshot holds them. Shared by the text and OpenMetrics encoders; only the
/// latter passes `exemplars` (one per bucket, or empty), each written after its bucket's count as
/// ` # {trace_id="…"} value timestamp`.
pub(crate) fn bucket_lines(
    out: &mut Vec<u8>,
    name: &[u8],
    prefix: &[u8],
    braced: bool,
    buckets: &[(f64, u64)],
    les: &[Vec<u8>],
    exemplars: &[Option<Exemplar>],
) {
    // Every line of the series starts `name_bucket{labels,le="`: built once, so a line is two
    // copies and a number.
    let start = out.len();
    out.extend_from_slice(name);
    out.extend_from_slice(b"_bucket");
    out.extend_from_slice(prefix);
    out.extend_from_slice(if braced { b",le=\"" } else { b"{le=\"" });
    let head = out.len() - start;
    for (i, ((_, c), le)) in buckets.iter().zip(les).enumerate() {
        if i > 0 {
            out.extend_from_within(start..start + head);
        }
        out.extend_from_slice(le);
        write_count(out, *c);
        if let Some(Some(e)) = exemplars.get(i) {
            exemplar(out, e);
        }
        out.push(b'\n');
    }
}

/// ` # {trace_id="…"} value timestamp` (Unix seconds with nanoseconds).
pub(crate) fn exemplar(out: &mut Vec<u8>, e: &Exemplar) {
    out.extend_from_slice(b" # {trace_id=\"");
    // Writing into a `Vec` cannot fail.
    let _ = write!(out, "{}", e.trace_id);
    out.extend_from_slice(b"\"} ");
    write_f64_om(out, e.value);
    out.push(b' ');
    write_u64(out, e.timestamp_ns / 1_000_000_000);
    let _ = write!(out, ".{:09}", e.timestamp_ns % 1_000_000_000);
}

/// `name` + `suffix` + labels + space, ready for the value.
pub(crate) fn sample(out: &mut Vec<u8>, name: &[u8], suffix: &[u8], prefix: &[u8], braced: bool) {
    out.extend_from_slice(name);
    out.extend_from_slice(suffix);
    out.extend_from_slice(prefix);
    out.extend_from_slice(if braced { b"} " } else { b" " });
}
