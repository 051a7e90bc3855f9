//! OpenMetrics 1.0.0 text, the format Prometheus prefers when offered and the one that carries
//! exemplars.
//!
//! What differs from text 0.0.4 (each rule is checked by `prometheus_client`'s OpenMetrics parser
//! in `tests/test_openmetrics.py`):
//! * a counter's *family* name has no `_total`; its samples are `<family>_total` and
//!   `<family>_created`;
//! * histograms write `_count`, `_sum` and `_created` after the buckets;
//! * `_created` is the registry's creation time (Unix seconds): every series of a registry starts
//!   from zero after it, so it is a valid reset time for all of them;
//! * a name ending in `_seconds` or `_bytes` (before `_total`) declares that `# UNIT`;
//! * help text escapes `"` too, the specials are `+Inf`/`-Inf`/`NaN`, and the text ends in `# EOF`;
//! * a bucket of a histogram family with exemplars (and the `_total` sample of a counter family with
//!   exemplars) carries its newest one:
//!   `…_bucket{le="0.1"} 3 # {trace_id="4bf9…4736"} 0.05 1767225600.123456789`.
//!
//! `le` values are written as in text 0.0.4 (`1`, not `1.0`): Prometheus 2.42 stores `le` as it
//! reads it, so this keeps one series per bucket whichever of the two formats a scrape negotiated.

use super::number::{write_count, write_f64, write_f64_om};
use super::text::{bucket_lines, exemplar, label_prefix, sample, BucketLabels};
use super::{blocks, escape_into, Block, ConstMetric, OrderedFamily};
use crate::snapshot::{FamilySnapshot, MetricKind, SampleValue};

/// `Content-Type` of this format.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Appends `families` and `extra` (sorted by name together) and `# EOF` to `out`; `created` is the
/// `_created` value of every counter and histogram series (Unix seconds).
pub fn encode(families: &[FamilySnapshot], extra: &[ConstMetric], created: f64, out: &mut Vec<u8>) {
    let mut created_text = Vec::with_capacity(24);
    write_f64(&mut created_text, created);
    for block in blocks(families, extra) {
        match block {
            Block::Family(f) => family(&f, &created_text, out),
            Block::Const(c) => {
                let (fam, kind, suffix): (&str, _, &[u8]) = match c.kind {
                    MetricKind::Counter => (counter_family(&c.name), "counter", b"_total"),
                    _ => (&c.name, "gauge", b""),
                };
                header(out, fam, &c.help, kind);
                sample(out, fam.as_bytes(), suffix, b"", false);
                write_f64_om(out, c.value);
                out.push(b'\n');
            }
        }
    }
    out.extend_from_slice(b"# EOF\n");
}

/// A counter's family name: its name without `_total`.
fn counter_family(name: &str) -> &str {
    name.strip_suffix("_total").unwrap_or(name)
}

/// The unit a family name declares by its suffix, if any.
fn unit_of(family: &str) -> Option<&'static str> {
    ["seconds", "bytes"].into_iter().find(|u| {
        family
            .strip_suffix(u)
            .is_some_and(|rest| rest.ends_with('_') && rest.len() > 1)
    })
}

fn header(out: &mut Vec<u8>, family: &str, help: &str, kind: &str) {
    out.extend_from_slice(b"# TYPE ");
    out.extend_from_slice(family.as_bytes());
    out.push(b' ');
    out.extend_from_slice(kind.as_bytes());
    out.push(b'\n');
    if let Some(unit) = unit_of(family) {
        out.extend_from_slice(b"# UNIT ");
        out.extend_from_slice(family.as_bytes());
        out.push(b' ');
        out.extend_from_slice(unit.as_bytes());
        out.push(b'\n');
    }
    if !help.is_empty() {
        out.extend_from_slice(b"# HELP ");
        out.extend_from_slice(family.as_bytes());
        out.push(b' ');
        escape_into(out, help, true);
        out.push(b'\n');
    }
}

fn family(f: &OrderedFamily<'_>, created: &[u8], out: &mut Vec<u8>) {
    let fam = f.family;
    let (name, kind) = match fam.kind {
        MetricKind::Counter => (counter_family(&fam.name), "counter"),
        MetricKind::Gauge => (fam.name.as_str(), "gauge"),
        MetricKind::Histogram => (fam.name.as_str(), "histogram"),
    };
    header(out, name, &fam.help, kind);
    let name = name.as_bytes();
    let mut les = BucketLabels::new();
    let mut prefix = Vec::with_capacity(64);
    for &i in &f.series_order {
        let s = &fam.series[i];
        prefix.clear();
        let braced = label_prefix(&mut prefix, f, s);
        match &s.value {
            SampleValue::Counter(v) => {
                sample(out, name, b"_total", &prefix, braced);
                write_count(out, *v);
                if let Some(e) = &s.exemplar {
                    exemplar(out, e);
                }
                out.push(b'\n');
                sample(out, name, b"_created", &prefix, braced);
                out.extend_from_slice(created);
                out.push(b'\n');
            }
            SampleValue::Gauge(v) => {
                sample(out, name, b"", &prefix, braced);
                write_f64(out, *v as f64);
                out.push(b'\n');
            }
            SampleValue::Histogram(h) => {
                let les = les.get(&h.buckets);
                bucket_lines(out, name, &prefix, braced, &h.buckets, les, &h.exemplars);
                sample(out, name, b"_count", &prefix, braced);
                write_count(out, h.count);
                out.push(b'\n');
                sample(out, name, b"_sum", &prefix, braced);
                write_f64_om(out, h.sum);
                out.push(b'\n');
                sample(out, name, b"_created", &prefix, braced);
                out.extend_from_slice(created);
                out.push(b'\n');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_come_from_the_name_suffix() {
        assert_eq!(unit_of("dcc_mcp_tool_duration_seconds"), Some("seconds"));
        assert_eq!(unit_of("process_resident_memory_bytes"), Some("bytes"));
        assert_eq!(unit_of("seconds"), None);
        assert_eq!(unit_of("_seconds"), None);
        assert_eq!(unit_of("dcc_mcp_calls"), None);
        assert_eq!(unit_of("xseconds"), None);
        assert_eq!(counter_family("a_total"), "a");
        assert_eq!(counter_family("a"), "a");
    }
}
