//! Histograms: per-thread bucket counts and sum in the calling thread's shard.
//!
//! A series owns `bounds + 3` consecutive cells in every shard: one *non-cumulative* count per
//! bucket (the last is `+Inf`), the sum as `f64` bits, and a sequence cell. An observation bumps
//! exactly one bucket cell and the sum cell with Relaxed load + store (single writer), inside a
//! write window the sequence cell marks (odd while open), so the merge reads each shard's series
//! as one consistent state and `_sum` always agrees with the buckets. There is no separate count
//! cell: the merger derives `_count` from the buckets.

use crate::buckets::Buckets;
use crate::family::{merge_histogram, FamilyCore, Shared};
use crate::shard::{CellAt, ShardSet};
use crate::snapshot::HistogramSnapshot;
use crate::TelemetryError;
use std::sync::Arc;
use std::time::Duration;

/// A histogram series. Cheap to clone; keep it.
#[derive(Clone)]
pub struct Histogram {
    shared: Arc<Shared>,
    bounds: Arc<Buckets>,
    base: CellAt,
}

impl Histogram {
    pub(crate) fn new(shared: Arc<Shared>, bounds: Arc<Buckets>, base: CellAt) -> Self {
        Histogram {
            shared,
            bounds,
            base,
        }
    }

    /// Records one observation.
    #[inline]
    pub fn observe(&self, v: f64) {
        let b = self.bounds.bucket_of(v);
        self.shared
            .shards
            .observe(self.base, b, self.bounds.len() + 2, v);
    }

    /// Records a duration in seconds.
    #[inline]
    pub fn observe_duration(&self, d: Duration) {
        self.observe(d.as_secs_f64());
    }

    /// The merged state of this series.
    pub fn snapshot(&self) -> HistogramSnapshot {
        merge_histogram(&self.shared.shards, self.base, &self.bounds)
    }
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("snapshot", &self.snapshot())
            .finish()
    }
}

/// A histogram series borrowed from its family for one use, without a reference-count update.
#[derive(Clone, Copy)]
pub struct HistogramRef<'a> {
    shards: &'a ShardSet,
    bounds: &'a Buckets,
    base: CellAt,
}

impl HistogramRef<'_> {
    /// Records one observation.
    #[inline]
    pub fn observe(self, v: f64) {
        let b = self.bounds.bucket_of(v);
        self.shards.observe(self.base, b, self.bounds.len() + 2, v);
    }

    /// Records a duration in seconds.
    #[inline]
    pub fn observe_duration(self, d: Duration) {
        self.observe(d.as_secs_f64());
    }
}

/// A family of histograms with fixed label names and bucket bounds.
#[derive(Clone)]
pub struct HistogramFamily {
    core: Arc<FamilyCore<CellAt>>,
}

impl HistogramFamily {
    pub(crate) fn new(core: Arc<FamilyCore<CellAt>>) -> Self {
        HistogramFamily { core }
    }

    /// The series for `values`, created on first use; past the cap or with a wrong number of
    /// values, the family's overflow series (counted by the registry's overflow counter).
    #[inline]
    pub fn with_label_values(&self, values: &[&str]) -> Histogram {
        let base = self.core.resolve(values);
        Histogram::new(self.core.shared.clone(), self.core.bounds.clone(), base)
    }

    /// Like [`with_label_values`](Self::with_label_values), but a wrong number of values is an error.
    pub fn try_with_label_values(&self, values: &[&str]) -> Result<Histogram, TelemetryError> {
        let base = self.core.try_resolve(values)?;
        Ok(Histogram::new(
            self.core.shared.clone(),
            self.core.bounds.clone(),
            base,
        ))
    }

    /// Like [`with_label_values`](Self::with_label_values) without cloning the handle.
    #[inline]
    pub fn with_label_values_ref(&self, values: &[&str]) -> HistogramRef<'_> {
        HistogramRef {
            shards: &self.core.shared.shards,
            bounds: &self.core.bounds,
            base: self.core.resolve(values),
        }
    }

    /// The family's name.
    pub fn name(&self) -> &str {
        &self.core.name
    }

    /// The family's label names.
    pub fn label_names(&self) -> &[String] {
        &self.core.label_names
    }

    /// The finite bucket upper bounds (`+Inf` is implied).
    pub fn bounds(&self) -> &[f64] {
        &self.core.bounds
    }
}
