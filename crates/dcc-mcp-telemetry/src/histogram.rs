//! Histograms: per-thread bucket counts and sum in the calling thread's shard.
//!
//! A series owns `bounds + 3` consecutive cells in every shard: one *non-cumulative* count per
//! bucket (the last is `+Inf`), the sum as `f64` bits, and a sequence cell. An observation bumps
//! exactly one bucket cell and the sum cell with Relaxed load + store (single writer), inside a
//! write window the sequence cell marks (odd while open), so the merge reads each shard's series
//! as one consistent state and `_sum` always agrees with the buckets. There is no separate count
//! cell: the merger derives `_count` from the buckets.
//!
//! A family may opt into exemplar slots and native buckets (`Registry::histogram_family_with_options`):
//! their cells follow the sequence cell and are written inside the same window.

use crate::buckets::Buckets;
use crate::exemplar::{Exemplar, TraceId, SLOT_CELLS};
use crate::family::{merge_histogram, Anchor, FamilyCore};
use crate::shard::{CellAt, Extra, ShardSet};
use crate::snapshot::HistogramSnapshot;
use crate::TelemetryError;
use std::sync::Arc;
use std::time::Duration;

/// A histogram series. Cheap to clone; keep it.
#[derive(Clone)]
pub struct Histogram {
    /// The shards and the bounds, and what keeps them alive (a count of the creating thread's
    /// own).
    anchor: Anchor,
    base: CellAt,
}

impl Histogram {
    pub(crate) fn new(anchor: Anchor, base: CellAt) -> Self {
        Histogram { anchor, base }
    }

    /// Records one observation.
    #[inline]
    pub fn observe(&self, v: f64) {
        record(
            self.anchor.shards(),
            self.anchor.bounds(),
            self.base,
            v,
            None,
        );
    }

    /// Records one observation and, when `trace` is some and the family keeps exemplars, makes it
    /// the exemplar of its bucket in the calling thread's shard (the scrape shows the newest of the
    /// shards' exemplars per bucket).
    #[inline]
    pub fn observe_with_exemplar(&self, v: f64, trace: Option<TraceId>) {
        record(
            self.anchor.shards(),
            self.anchor.bounds(),
            self.base,
            v,
            trace,
        );
    }

    /// [`observe_duration`](Self::observe_duration) with an exemplar, as
    /// [`observe_with_exemplar`](Self::observe_with_exemplar).
    #[inline]
    pub fn observe_duration_with_exemplar(&self, d: Duration, trace: Option<TraceId>) {
        self.observe_with_exemplar(d.as_secs_f64(), trace);
    }

    /// Records a duration in seconds.
    #[inline]
    pub fn observe_duration(&self, d: Duration) {
        self.observe(d.as_secs_f64());
    }

    /// The merged state of this series.
    pub fn snapshot(&self) -> HistogramSnapshot {
        merge_histogram(self.anchor.shards(), self.base, self.anchor.bounds())
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
        record(self.shards, self.bounds, self.base, v, None);
    }

    /// Records a duration in seconds.
    #[inline]
    pub fn observe_duration(self, d: Duration) {
        self.observe(d.as_secs_f64());
    }
}

/// One observation: the classic bucket and the sum on the inlined fast path, or, for a family
/// with native buckets or an exemplar to keep, the same cells plus those in one window
/// (`ShardSet::observe_with`).
#[inline(always)]
fn record(shards: &ShardSet, bounds: &Buckets, base: CellAt, v: f64, trace: Option<TraceId>) {
    if bounds.has_native() || (trace.is_some() && bounds.exemplars()) {
        return record_extra(shards, bounds, base, v, trace);
    }
    shards.observe(base, bounds.bucket_of(v), bounds.len() + 2, v);
}

/// [`record`] with native buckets or an exemplar: out of line, so the plain path stays frameless.
#[cold]
#[inline(never)]
fn record_extra(shards: &ShardSet, bounds: &Buckets, base: CellAt, v: f64, trace: Option<TraceId>) {
    let b = bounds.bucket_of(v);
    let seq_offset = bounds.len() + 2;
    let native = bounds.native();
    let exemplar = trace.filter(|_| bounds.exemplars());
    let slots = bounds.exemplar_cells();
    let extra = Extra {
        inc: native.map(|n| slots + n.cell_of(v)),
        set: exemplar.map(|t| (b * SLOT_CELLS, Exemplar::now(t, v).to_cells())),
    };
    shards.observe_with(base, b, seq_offset, v, &extra);
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
        let (base, anchor) = self.core.resolve_anchored(values);
        Histogram::new(anchor, base)
    }

    /// Like [`with_label_values`](Self::with_label_values), but a wrong number of values is an error.
    pub fn try_with_label_values(&self, values: &[&str]) -> Result<Histogram, TelemetryError> {
        let (base, anchor) = self.core.try_resolve_anchored(values)?;
        Ok(Histogram::new(anchor, base))
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
