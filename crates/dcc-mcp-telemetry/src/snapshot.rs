//! Plain-data snapshots of the registry, produced by merging every shard on demand.

use crate::exemplar::Exemplar;
use crate::native::NativeSnapshot;

/// What kind of metric a family holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricKind {
    /// Monotonic `u64` counter.
    Counter,
    /// Up/down `i64` gauge.
    Gauge,
    /// Histogram with fixed bucket bounds.
    Histogram,
}

/// One family, merged across all shards.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilySnapshot {
    /// Metric name, as registered.
    pub name: String,
    /// Help text, as registered.
    pub help: String,
    /// Kind of every series in the family.
    pub kind: MetricKind,
    /// Label names, in registration order (empty for an unlabelled metric).
    pub label_names: Vec<String>,
    /// Series in creation order; the family's overflow series, once used, comes last.
    pub series: Vec<SeriesSnapshot>,
}

/// One series (one set of label values).
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSnapshot {
    /// One value per label name.
    pub label_values: Vec<String>,
    /// The merged value.
    pub value: SampleValue,
    /// A counter's newest exemplar, for a family with exemplars (histograms keep theirs per
    /// bucket, in [`HistogramSnapshot::exemplars`]).
    pub exemplar: Option<Exemplar>,
}

/// A merged sample.
#[derive(Debug, Clone, PartialEq)]
pub enum SampleValue {
    /// Counter total.
    Counter(u64),
    /// Gauge value.
    Gauge(i64),
    /// Histogram buckets, sum and count.
    Histogram(HistogramSnapshot),
}

/// A histogram's merged state. Buckets are cumulative; the last has bound `+Inf` and its count is
/// `count` by construction (the count is derived from the buckets, never read separately).
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// `(upper bound, cumulative count)`, ascending, the last bound is `f64::INFINITY`.
    pub buckets: Vec<(f64, u64)>,
    /// Sum of the observed values.
    pub sum: f64,
    /// Number of observations (== the `+Inf` bucket).
    pub count: u64,
    /// One entry per bucket (the last is `+Inf`) for a family with exemplars, else empty: the
    /// newest exemplar recorded in that bucket, if any.
    pub exemplars: Vec<Option<Exemplar>>,
    /// The native buckets, for a family that has them.
    pub native: Option<NativeSnapshot>,
}

impl HistogramSnapshot {
    /// Builds a snapshot from per-bucket (non-cumulative) counts, `bounds.len() + 1` of them.
    pub(crate) fn from_counts(bounds: &[f64], counts: &[u64], sum: f64) -> Self {
        let mut acc = 0u64;
        let buckets: Vec<(f64, u64)> = bounds
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(counts)
            .map(|(b, c)| {
                acc = acc.saturating_add(*c);
                (b, acc)
            })
            .collect();
        HistogramSnapshot {
            buckets,
            sum,
            count: acc,
            exemplars: Vec::new(),
            native: None,
        }
    }
}
