//! Counters: a monotonic `u64` per series, one cell per series in every thread's shard (plus, for
//! a family with exemplars, a sequence cell and an exemplar slot written in one window).

use crate::exemplar::{Exemplar, TraceId};
use crate::family::{Anchor, FamilyCore};
use crate::shard::{CellAt, ShardSet};
use crate::TelemetryError;
use std::sync::Arc;

/// A monotonic counter series. Cheap to clone; keep it and call [`inc`](Self::inc) on the hot path:
/// recording is a Relaxed load + add + Relaxed store into the calling thread's own shard.
#[derive(Clone)]
pub struct Counter {
    /// The shards, and what keeps them alive (a count of the creating thread's own).
    anchor: Anchor,
    at: CellAt,
    /// The family keeps an exemplar slot (see [`inc_by_with_exemplar`](Self::inc_by_with_exemplar)).
    exemplars: bool,
}

impl Counter {
    pub(crate) fn new(anchor: Anchor, at: CellAt, exemplars: bool) -> Self {
        Counter {
            anchor,
            at,
            exemplars,
        }
    }

    /// Adds `n` and, when `trace` is some and the family keeps exemplars
    /// (`Registry::counter_family_with_options`), makes this increment the series' exemplar in the
    /// calling thread's shard (value `n`; the scrape shows the newest of the shards' exemplars).
    #[inline]
    pub fn inc_by_with_exemplar(&self, n: u64, trace: Option<TraceId>) {
        match trace.filter(|_| self.exemplars) {
            None => self.anchor.shards().add(self.at, n),
            Some(t) => {
                let cells = Exemplar::now(t, n as f64).to_cells();
                self.anchor.shards().add_with_exemplar(self.at, n, cells);
            }
        }
    }

    /// Adds 1.
    #[inline]
    pub fn inc(&self) {
        self.anchor.shards().add(self.at, 1);
    }

    /// Adds `n`.
    #[inline]
    pub fn inc_by(&self, n: u64) {
        self.anchor.shards().add(self.at, n);
    }

    /// The total over all threads (a merge across shards; not for hot paths).
    pub fn get(&self) -> u64 {
        self.anchor.shards().sum(self.at)
    }
}

impl std::fmt::Debug for Counter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counter")
            .field("value", &self.get())
            .finish()
    }
}

/// A counter series borrowed from its family for one use: obtained through the per-thread cache
/// without touching a shared reference count. See [`CounterFamily::with_label_values_ref`].
#[derive(Clone, Copy)]
pub struct CounterRef<'a> {
    shards: &'a ShardSet,
    at: CellAt,
}

impl CounterRef<'_> {
    /// Adds 1.
    #[inline]
    pub fn inc(self) {
        self.shards.add(self.at, 1);
    }

    /// Adds `n`.
    #[inline]
    pub fn inc_by(self, n: u64) {
        self.shards.add(self.at, n);
    }

    /// The total over all threads.
    pub fn get(self) -> u64 {
        self.shards.sum(self.at)
    }
}

/// A family of counters with fixed label names, capped series count and an overflow series.
#[derive(Clone)]
pub struct CounterFamily {
    core: Arc<FamilyCore<CellAt>>,
}

impl CounterFamily {
    pub(crate) fn new(core: Arc<FamilyCore<CellAt>>) -> Self {
        CounterFamily { core }
    }

    /// The series for `values` (one per label name, in order), created on first use. Past the
    /// family's series cap, or when the number of values is wrong, this is the family's overflow
    /// series and the registry's overflow counter for this family is incremented.
    #[inline]
    pub fn with_label_values(&self, values: &[&str]) -> Counter {
        let (at, anchor) = self.core.resolve_anchored(values);
        Counter::new(anchor, at, self.core.bounds.exemplars())
    }

    /// Like [`with_label_values`](Self::with_label_values), but a wrong number of values is an error.
    pub fn try_with_label_values(&self, values: &[&str]) -> Result<Counter, TelemetryError> {
        let (at, anchor) = self.core.try_resolve_anchored(values)?;
        Ok(Counter::new(anchor, at, self.core.bounds.exemplars()))
    }

    /// Like [`with_label_values`](Self::with_label_values) without making an owned handle: no
    /// reference count is written at all (the owned handle's is the calling thread's own).
    #[inline]
    pub fn with_label_values_ref(&self, values: &[&str]) -> CounterRef<'_> {
        let at = self.core.resolve(values);
        CounterRef {
            shards: &self.core.shared.shards,
            at,
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
}

#[cfg(all(test, not(dcc_mcp_loom)))]
mod tests {
    use std::sync::Arc;

    /// An owned handle from `with_label_values` writes no registry-wide or family-wide reference
    /// count: the registry's shared state and the family's bounds keep their counts, and each
    /// thread's handles share that thread's own anchor.
    #[test]
    fn owned_handles_count_on_the_calling_threads_anchor() {
        let r = crate::Registry::new();
        let f = r
            .counter_family("calls_total", "Calls.", &["tool"])
            .unwrap_or_else(|e| panic!("{e}"));
        let first = f.with_label_values(&["a"]);
        let shared = Arc::strong_count(&f.core.shared);
        let bounds = Arc::strong_count(&f.core.bounds);
        let handles: Vec<_> = (0..64).map(|_| f.with_label_values(&["a"])).collect();
        let clones: Vec<_> = handles.iter().map(Clone::clone).collect();
        assert_eq!(Arc::strong_count(&f.core.shared), shared);
        assert_eq!(Arc::strong_count(&f.core.bounds), bounds);
        assert!(handles.iter().all(|h| h.anchor.same_cell(&first.anchor)));
        let other = std::thread::spawn({
            let f = f.clone();
            move || {
                let h = f.with_label_values(&["a"]);
                h.inc();
                h
            }
        })
        .join()
        .unwrap_or_else(|_| panic!("recorder panicked"));
        assert!(!other.anchor.same_cell(&first.anchor));
        drop((handles, clones, r, f));
        // The handles alone keep the shards alive.
        first.inc();
        assert_eq!((first.get(), other.get()), (2, 2));
    }
}
