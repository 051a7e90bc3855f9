//! The registry: creates families, hands out handles, and merges snapshots.

use crate::buckets::Buckets;
use crate::counter::{Counter, CounterFamily};
use crate::family::{FamilyCore, FamilySpec, Shared, Snapshot, Storage};
use crate::gauge::{Gauge, GaugeFamily};
use crate::histogram::{Histogram, HistogramFamily};
use crate::labels::valid_metric_name;
use crate::native::NativeHistogram;
use crate::shard::CellAt;
use crate::snapshot::{FamilySnapshot, MetricKind};
use crate::sync::{lock, AtomicI64, Mutex};
use crate::TelemetryError;
use std::sync::Arc;

/// Series cap of a labelled family created without an explicit cap.
pub const DEFAULT_MAX_SERIES: usize = 1024;

/// Name of the counter, exported by every registry, of `with_label_values` calls that were
/// answered with a family's overflow series (label `family`: the family's name). Every labelled
/// family has a series in it from registration on, so it is exported (as 0) before any overflow.
pub const OVERFLOW_METRIC_NAME: &str = "dcc_mcp_telemetry_series_overflow_total";

/// Help text of [`OVERFLOW_METRIC_NAME`].
pub(crate) const OVERFLOW_HELP: &str = "with_label_values calls answered with a family's overflow series because the family reached its series cap.";

/// A set of metric families recorded through per-thread shards and merged on scrape.
///
/// Cheap to clone (an `Arc` inside); clones share everything. Create one per server; there is no
/// global registry.
#[derive(Clone)]
pub struct Registry {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    shared: Arc<Shared>,
    /// Every family in registration order; the overflow counter first.
    families: Mutex<Vec<Arc<dyn Snapshot>>>,
    overflow: Arc<FamilyCore<CellAt>>,
    /// Creation time, Unix seconds: the `_created` of every series (each starts from zero after it).
    created_unix: f64,
    /// The `Collector`'s descriptors, appended as families are registered (see `collector.rs`).
    #[cfg(feature = "prometheus")]
    pub(crate) descs: crate::series_list::AppendList<prometheus::core::Desc>,
    /// How many of `families` have their descriptors in `descs` (and the lock that serialises
    /// pushes to it).
    #[cfg(feature = "prometheus")]
    pub(crate) described: Mutex<usize>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("families", &lock(&self.inner.families).len())
            .field("shards", &self.shard_count())
            .finish()
    }
}

impl Registry {
    /// An empty registry (apart from its overflow counter).
    pub fn new() -> Self {
        let shared = Arc::new(Shared::new());
        let spec = FamilySpec {
            name: OVERFLOW_METRIC_NAME,
            help: OVERFLOW_HELP,
            kind: MetricKind::Counter,
            label_names: &["family"],
            buckets: &[],
            cap: usize::MAX,
            exemplars: false,
            native: None,
        };
        // Cell 0 is reserved for this family's own overflow series (see `Shared::new`).
        let overflow = Arc::new(FamilyCore::build(
            spec,
            shared.clone(),
            Arc::new(Buckets::new(Vec::new())),
            CellAt::of(0),
            None,
        ));
        let families: Vec<Arc<dyn Snapshot>> = vec![overflow.clone()];
        Registry {
            inner: Arc::new(Inner {
                shared,
                families: Mutex::new(families),
                overflow,
                created_unix: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64()),
                #[cfg(feature = "prometheus")]
                descs: crate::series_list::AppendList::new(),
                #[cfg(feature = "prometheus")]
                described: Mutex::new(0),
            }),
        }
    }

    fn register<S: Storage>(
        &self,
        spec: FamilySpec<'_>,
    ) -> Result<Arc<FamilyCore<S>>, TelemetryError> {
        if !valid_metric_name(spec.name) {
            return Err(TelemetryError::InvalidMetricName {
                name: spec.name.to_owned(),
            });
        }
        let mut families = lock(&self.inner.families);
        if families.iter().any(|f| f.name() == spec.name) {
            return Err(TelemetryError::DuplicateMetric {
                name: spec.name.to_owned(),
            });
        }
        let labelled = !spec.label_names.is_empty();
        let name = spec.name;
        let overflow = &self.inner.overflow;
        let core = Arc::new(FamilyCore::<S>::new(
            spec,
            self.inner.shared.clone(),
            || labelled.then(|| overflow.resolve(&[name])),
        )?);
        families.push(core.clone());
        Ok(core)
    }

    /// Registers an unlabelled counter.
    pub fn counter(&self, name: &str, help: &str) -> Result<Counter, TelemetryError> {
        let core = self.register::<CellAt>(spec(name, help, MetricKind::Counter, &[], &[], 1))?;
        Ok(Counter::new(
            core.anchor(),
            core.create_sole_series()?,
            false,
        ))
    }

    /// Registers a counter family with the default series cap ([`DEFAULT_MAX_SERIES`]).
    pub fn counter_family(
        &self,
        name: &str,
        help: &str,
        label_names: &[&str],
    ) -> Result<CounterFamily, TelemetryError> {
        self.counter_family_with_cap(name, help, label_names, DEFAULT_MAX_SERIES)
    }

    /// Registers a counter family holding at most `max_series` label sets besides its overflow series.
    pub fn counter_family_with_cap(
        &self,
        name: &str,
        help: &str,
        label_names: &[&str],
        max_series: usize,
    ) -> Result<CounterFamily, TelemetryError> {
        let s = spec(
            name,
            help,
            MetricKind::Counter,
            label_names,
            &[],
            max_series,
        );
        Ok(CounterFamily::new(self.register::<CellAt>(s)?))
    }

    /// Registers a counter family with the options of `opts`: a series cap and an exemplar slot
    /// per series (recorded with [`Counter::inc_by_with_exemplar`], exposed in OpenMetrics and
    /// protobuf).
    pub fn counter_family_with_options(
        &self,
        name: &str,
        help: &str,
        label_names: &[&str],
        opts: &CounterOptions,
    ) -> Result<CounterFamily, TelemetryError> {
        let mut s = spec(
            name,
            help,
            MetricKind::Counter,
            label_names,
            &[],
            opts.max_series,
        );
        s.exemplars = opts.exemplars;
        Ok(CounterFamily::new(self.register::<CellAt>(s)?))
    }

    /// Registers an unlabelled gauge.
    pub fn gauge(&self, name: &str, help: &str) -> Result<Gauge, TelemetryError> {
        let s = spec(name, help, MetricKind::Gauge, &[], &[], 1);
        let core = self.register::<Arc<AtomicI64>>(s)?;
        Ok(Gauge::new(core.create_sole_series()?))
    }

    /// Registers a gauge family with the default series cap ([`DEFAULT_MAX_SERIES`]).
    pub fn gauge_family(
        &self,
        name: &str,
        help: &str,
        label_names: &[&str],
    ) -> Result<GaugeFamily, TelemetryError> {
        self.gauge_family_with_cap(name, help, label_names, DEFAULT_MAX_SERIES)
    }

    /// Registers a gauge family holding at most `max_series` label sets besides its overflow series.
    pub fn gauge_family_with_cap(
        &self,
        name: &str,
        help: &str,
        label_names: &[&str],
        max_series: usize,
    ) -> Result<GaugeFamily, TelemetryError> {
        let s = spec(name, help, MetricKind::Gauge, label_names, &[], max_series);
        Ok(GaugeFamily::new(self.register::<Arc<AtomicI64>>(s)?))
    }

    /// Registers an unlabelled histogram with finite, strictly increasing bucket upper bounds
    /// (`+Inf` is implied; a trailing `+Inf` is accepted).
    pub fn histogram(
        &self,
        name: &str,
        help: &str,
        buckets: &[f64],
    ) -> Result<Histogram, TelemetryError> {
        let s = spec(name, help, MetricKind::Histogram, &[], buckets, 1);
        let core = self.register::<CellAt>(s)?;
        let base = core.create_sole_series()?;
        Ok(Histogram::new(core.anchor(), base))
    }

    /// Registers a histogram family with the default series cap ([`DEFAULT_MAX_SERIES`]).
    pub fn histogram_family(
        &self,
        name: &str,
        help: &str,
        label_names: &[&str],
        buckets: &[f64],
    ) -> Result<HistogramFamily, TelemetryError> {
        self.histogram_family_with_cap(name, help, label_names, buckets, DEFAULT_MAX_SERIES)
    }

    /// Registers a histogram family holding at most `max_series` label sets besides its overflow series.
    pub fn histogram_family_with_cap(
        &self,
        name: &str,
        help: &str,
        label_names: &[&str],
        buckets: &[f64],
        max_series: usize,
    ) -> Result<HistogramFamily, TelemetryError> {
        let s = spec(
            name,
            help,
            MetricKind::Histogram,
            label_names,
            buckets,
            max_series,
        );
        Ok(HistogramFamily::new(self.register::<CellAt>(s)?))
    }

    /// Registers a histogram family with the options of `opts`: a series cap, exemplar slots
    /// (recorded with [`Histogram::observe_with_exemplar`], exposed in OpenMetrics and protobuf)
    /// and native buckets (exposed in protobuf).
    pub fn histogram_family_with_options(
        &self,
        name: &str,
        help: &str,
        label_names: &[&str],
        buckets: &[f64],
        opts: &HistogramOptions,
    ) -> Result<HistogramFamily, TelemetryError> {
        let mut s = spec(
            name,
            help,
            MetricKind::Histogram,
            label_names,
            buckets,
            opts.max_series,
        );
        s.exemplars = opts.exemplars;
        s.native = opts.native;
        Ok(HistogramFamily::new(self.register::<CellAt>(s)?))
    }

    /// Every family, in registration order (the overflow counter first), merged across all shards.
    /// Labelled families without series yet are included with no series.
    pub fn snapshot(&self) -> Vec<FamilySnapshot> {
        let families: Vec<Arc<dyn Snapshot>> = lock(&self.inner.families).clone();
        // One walk of every shard's committed chunks, then each family reads its series from it.
        let merged = self.inner.shared.merge();
        families.iter().map(|f| f.snapshot(&merged)).collect()
    }

    /// The registered families, in registration order (for the `Collector`'s descriptors).
    #[cfg(feature = "prometheus")]
    pub(crate) fn families(&self) -> Vec<Arc<dyn Snapshot>> {
        lock(&self.inner.families).clone()
    }

    /// When the registry was created, in Unix seconds (the exposition's `_created` value: every
    /// series of the registry was zero then).
    pub fn created_unix(&self) -> f64 {
        self.inner.created_unix
    }

    /// Number of per-thread shards (not counting the one shared fallback shard for recording from
    /// late thread-local destructors).
    ///
    /// A thread takes a process-wide engine thread id (the lowest free one) on its first recording
    /// into any registry, and returns it when it exits; its shard here, with its counts, passes to
    /// the next thread that takes the id. So this is at most the largest number of threads that
    /// were alive at the same time *and held an engine thread id*, counting threads that recorded
    /// only into other registries (a thread recording here takes the lowest id free in the
    /// whole process); it is not bounded by the threads that recorded into this registry alone.
    pub fn shard_count(&self) -> usize {
        self.inner.shared.shards.thread_shards()
    }

    /// Bytes of cell storage (leaves and chunks) allocated across the per-thread shards and the
    /// orphan shard, in use or pooled for reuse, excluding each shard's fixed header and the
    /// retired accumulator ([`retired_bytes`](Self::retired_bytes)).
    pub fn shard_bytes(&self) -> usize {
        self.inner.shared.shards.shard_bytes()
    }

    /// Bytes of cell storage of the registry's retired accumulator: the values of threads that
    /// left their engine thread id, folded in by the id's next holder. One copy per registry,
    /// at most the registry's size (8 bytes per cell that any exited thread recorded into).
    pub fn retired_bytes(&self) -> usize {
        self.inner.shared.shards.retired_bytes()
    }
}

/// Options of [`Registry::counter_family_with_options`].
#[derive(Debug, Clone, PartialEq)]
pub struct CounterOptions {
    /// At most this many label sets besides the overflow series.
    pub max_series: usize,
    /// Keep one exemplar per series: 5 more cells per series (a sequence cell and the slot),
    /// committed in a shard only once it records an exemplar.
    pub exemplars: bool,
}

impl Default for CounterOptions {
    fn default() -> Self {
        CounterOptions {
            max_series: DEFAULT_MAX_SERIES,
            exemplars: false,
        }
    }
}

/// Options of [`Registry::histogram_family_with_options`].
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramOptions {
    /// At most this many label sets besides the overflow series.
    pub max_series: usize,
    /// Keep one exemplar per bucket: `4 × (buckets + 1)` more cells per series, committed in a
    /// shard only once it records an exemplar.
    pub exemplars: bool,
    /// Native buckets beside the classic ones (see [`NativeHistogram`]).
    pub native: Option<NativeHistogram>,
}

impl Default for HistogramOptions {
    fn default() -> Self {
        HistogramOptions {
            max_series: DEFAULT_MAX_SERIES,
            exemplars: false,
            native: None,
        }
    }
}

fn spec<'a>(
    name: &'a str,
    help: &'a str,
    kind: MetricKind,
    label_names: &'a [&'a str],
    buckets: &'a [f64],
    cap: usize,
) -> FamilySpec<'a> {
    FamilySpec {
        name,
        help,
        kind,
        label_names,
        buckets,
        cap,
        exemplars: false,
        native: None,
    }
}
