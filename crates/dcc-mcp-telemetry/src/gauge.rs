//! Gauges: one atomic `i64` per series, shared by every thread.
//!
//! Unlike counters, gauges are *not* sharded. A sharded up/down gauge can be read negative: a job
//! raised on thread A (`+1` in A's shard) and lowered on thread B (`-1` in B's shard) is seen as
//! `-1` by a scrape that reads A's shard before the `+1` and B's shard after the `-1`. With a single
//! atomic, every change is a read-modify-write on one location, so any value a scrape reads is the
//! sum of a prefix of the modification order; since a job's `+1` happens-before its `-1`, every such
//! prefix holds at least as many raises as lowerings and an in-flight gauge never reads negative.
//! Gauges change a few times per job, not per call, so the shared cache line costs little.

use crate::family::FamilyCore;
use crate::sync::{AtomicI64, Ordering};
use crate::TelemetryError;
use std::sync::Arc;

/// An up/down gauge series (`i64`). Cheap to clone.
#[derive(Clone)]
pub struct Gauge {
    value: Arc<AtomicI64>,
}

impl Gauge {
    pub(crate) fn new(value: Arc<AtomicI64>) -> Self {
        Gauge { value }
    }

    /// Adds 1.
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    /// Subtracts 1.
    #[inline]
    pub fn dec(&self) {
        self.sub(1);
    }

    /// Adds `n` (wrapping).
    #[inline]
    pub fn add(&self, n: i64) {
        #[cfg(not(dcc_mcp_loom_mutant = "gauge_load_store"))]
        self.value.fetch_add(n, Ordering::Relaxed);
        // Mutant: "match the counter" with a load + store, which loses concurrent updates.
        #[cfg(dcc_mcp_loom_mutant = "gauge_load_store")]
        self.value.store(
            self.value.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    /// Subtracts `n` (wrapping).
    #[inline]
    pub fn sub(&self, n: i64) {
        #[cfg(not(dcc_mcp_loom_mutant = "gauge_load_store"))]
        self.value.fetch_sub(n, Ordering::Relaxed);
        // Mutant: as in `add`.
        #[cfg(dcc_mcp_loom_mutant = "gauge_load_store")]
        self.value.store(
            self.value.load(Ordering::Relaxed).wrapping_sub(n),
            Ordering::Relaxed,
        );
    }

    /// Sets the value.
    #[inline]
    pub fn set(&self, v: i64) {
        self.value.store(v, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> i64 {
        self.value.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for Gauge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gauge").field("value", &self.get()).finish()
    }
}

/// A family of gauges with fixed label names, capped series count and an overflow series.
#[derive(Clone)]
pub struct GaugeFamily {
    core: Arc<FamilyCore<Arc<AtomicI64>>>,
}

impl GaugeFamily {
    pub(crate) fn new(core: Arc<FamilyCore<Arc<AtomicI64>>>) -> Self {
        GaugeFamily { core }
    }

    /// The series for `values`, created on first use; past the cap or with a wrong number of
    /// values, the family's overflow series (counted by the registry's overflow counter).
    #[inline]
    pub fn with_label_values(&self, values: &[&str]) -> Gauge {
        Gauge::new(self.core.resolve(values))
    }

    /// Like [`with_label_values`](Self::with_label_values), but a wrong number of values is an error.
    pub fn try_with_label_values(&self, values: &[&str]) -> Result<Gauge, TelemetryError> {
        Ok(Gauge::new(self.core.try_resolve(values)?))
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
