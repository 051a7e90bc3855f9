//! The engine's own exposition encoders, written straight from a [`snapshot`](Registry::snapshot).
//!
//! Why our own: the `prometheus` crate's `gather` + `TextEncoder` builds a protobuf object per
//! sample and formats every number through `f64::to_string`, which cost several times the engine's
//! merge; and it can carry neither OpenMetrics exemplars nor native histograms. Each format has its
//! own module ([`text`] 0.0.4, [`openmetrics`] 1.0.0, [`protobuf`] delimited `MetricFamily`); this
//! module holds what they share: the exposition order, label escaping and number formatting.
//!
//! **Order.** Families come out sorted by name and, inside a family, series sorted by their label
//! values with the label pairs sorted by name — exactly the order `prometheus::Registry::gather`
//! produces, so the text format is byte-identical to the `prometheus` crate's `TextEncoder` over
//! the engine's `Collector` (`tests/expose_text.rs`). Unlike `TextEncoder`, a family with no series
//! yet is written as its `# HELP` / `# TYPE` header, so a dashboard can tell "no traffic" from "not
//! exported".

pub(crate) mod number;
pub mod openmetrics;
pub mod protobuf;
pub mod text;

use crate::snapshot::{FamilySnapshot, MetricKind};
use crate::Registry;

/// An unlabelled metric whose value is read from outside the engine at scrape time (for example
/// the `process_*` figures of `/proc`), written by the encoders beside the registry's families.
///
/// The value is an `f64` because such figures (CPU seconds) are not integers.
#[derive(Debug, Clone, PartialEq)]
pub struct ConstMetric {
    /// Metric name (a counter's name ends in `_total`, as registered counters do).
    pub name: String,
    /// Help text.
    pub help: String,
    /// [`MetricKind::Counter`] or [`MetricKind::Gauge`]; a histogram kind is written as a gauge.
    pub kind: MetricKind,
    /// The value.
    pub value: f64,
}

/// One block of the exposition, in the order the encoders write them.
pub(crate) enum Block<'a> {
    /// A registry family, with its series in exposition order.
    Family(OrderedFamily<'a>),
    /// A [`ConstMetric`].
    Const(&'a ConstMetric),
}

impl Block<'_> {
    fn name(&self) -> &str {
        match self {
            Block::Family(f) => &f.family.name,
            Block::Const(c) => &c.name,
        }
    }
}

/// A family with its label pairs and series put in exposition order.
pub(crate) struct OrderedFamily<'a> {
    /// The merged family.
    pub(crate) family: &'a FamilySnapshot,
    /// Label positions sorted by label name.
    pub(crate) label_order: Vec<usize>,
    /// Series positions sorted by label values (in `label_order`).
    pub(crate) series_order: Vec<usize>,
}

impl<'a> OrderedFamily<'a> {
    fn new(family: &'a FamilySnapshot) -> Self {
        let mut label_order: Vec<usize> = (0..family.label_names.len()).collect();
        label_order.sort_by(|&a, &b| family.label_names[a].cmp(&family.label_names[b]));
        let mut series_order: Vec<usize> = (0..family.series.len()).collect();
        if !label_order.is_empty() {
            let s = &family.series;
            series_order.sort_by(|&a, &b| {
                label_order
                    .iter()
                    .map(|&l| s[a].label_values[l].cmp(&s[b].label_values[l]))
                    .find(|o| o.is_ne())
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
        }
        OrderedFamily {
            family,
            label_order,
            series_order,
        }
    }
}

/// Every block in exposition order: families and constants together, sorted by name.
pub(crate) fn blocks<'a>(
    families: &'a [FamilySnapshot],
    extra: &'a [ConstMetric],
) -> Vec<Block<'a>> {
    let mut blocks: Vec<Block<'a>> = families
        .iter()
        .map(|f| Block::Family(OrderedFamily::new(f)))
        .chain(extra.iter().map(Block::Const))
        .collect();
    blocks.sort_by(|a, b| a.name().cmp(b.name()));
    blocks
}

/// Appends `v` with `\`, newline and (when `quote`) `"` escaped as backslash sequences: the
/// escaping of label values in both text formats, and of help text (text 0.0.4 leaves `"` as is).
pub(crate) fn escape_into(out: &mut Vec<u8>, v: &str, quote: bool) {
    let bytes = v.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'"' if quote => b"\\\"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

impl Registry {
    /// Appends the text exposition format 0.0.4 of a fresh snapshot to `out`
    /// (`Content-Type: text/plain; version=0.0.4; charset=utf-8`, see [`text::CONTENT_TYPE`]).
    pub fn encode_text(&self, out: &mut Vec<u8>) {
        text::encode(&self.snapshot(), &[], out);
    }

    /// [`encode_text`](Self::encode_text) with `extra` unlabelled metrics written among the
    /// registry's families (in name order).
    pub fn encode_text_with(&self, extra: &[ConstMetric], out: &mut Vec<u8>) {
        text::encode(&self.snapshot(), extra, out);
    }

    /// Appends OpenMetrics 1.0.0 text (`_total`, `_created`, `# UNIT`, `# EOF`) of a fresh snapshot
    /// to `out` (see [`openmetrics::CONTENT_TYPE`]).
    pub fn encode_openmetrics(&self, out: &mut Vec<u8>) {
        openmetrics::encode(&self.snapshot(), &[], self.created_unix(), out);
    }

    /// [`encode_openmetrics`](Self::encode_openmetrics) with `extra` unlabelled metrics.
    pub fn encode_openmetrics_with(&self, extra: &[ConstMetric], out: &mut Vec<u8>) {
        openmetrics::encode(&self.snapshot(), extra, self.created_unix(), out);
    }

    /// Appends length-delimited `io.prometheus.client.MetricFamily` protobuf messages of a fresh
    /// snapshot to `out` (see [`protobuf::CONTENT_TYPE`]).
    pub fn encode_protobuf(&self, out: &mut Vec<u8>) {
        protobuf::encode(&self.snapshot(), &[], self.created_unix(), out);
    }

    /// [`encode_protobuf`](Self::encode_protobuf) with `extra` unlabelled metrics.
    pub fn encode_protobuf_with(&self, extra: &[ConstMetric], out: &mut Vec<u8>) {
        protobuf::encode(&self.snapshot(), extra, self.created_unix(), out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(v: &str, quote: bool) -> String {
        let mut out = Vec::new();
        escape_into(&mut out, v, quote);
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn escaping_matches_the_text_format() {
        assert_eq!(esc("plain", true), "plain");
        assert_eq!(esc("a\\b\n\"c\"", true), "a\\\\b\\n\\\"c\\\"");
        assert_eq!(esc("a\\b\n\"c\"", false), "a\\\\b\\n\"c\"");
        assert_eq!(esc("é\"", true), "é\\\"");
    }
}
