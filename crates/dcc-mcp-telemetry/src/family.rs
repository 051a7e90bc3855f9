//! A metric family: fixed label names, a capped set of series, and the per-thread lookup cache.
//!
//! Series are created under the family's mutex (the slow path, once per label set) and then
//! resolved through the calling thread's cache without any lock. Scrapes never take that mutex:
//! they read the family's series from an [`AppendList`], so a `with_label_values` call that has to
//! look under the mutex (new label values, or any call past the series cap) never waits for a
//! merge. Storage for a series is allocated once and never moved: counters and histograms get
//! cells in the registry's shards, gauges get one shared atomic each.
//!
//! The overflow marker is reserved: label values that contain [`OVERFLOW_LABEL_VALUE`] are
//! answered with the overflow series, so no real series can duplicate it in the exposition.

use crate::buckets::Buckets;
use crate::exemplar::{Exemplar, SLOT_CELLS};
use crate::labels::{hash_values, valid_label_name, HashKey, ValueMap};
use crate::merge::{Merged, SeriesCells, Shape};
use crate::native::{NativeHistogram, NativeLayout};
use crate::series_list::AppendList;
use crate::shard::{CellAt, ShardSet, CAPACITY, CHUNK_CELLS};
use crate::snapshot::{FamilySnapshot, HistogramSnapshot, MetricKind, SampleValue, SeriesSnapshot};
use crate::sync::{
    backoff, lock, AtomicBool, AtomicI64, CachePadded, Mutex, Ordering, ThreadSlots,
};
use crate::TelemetryError;
use std::cell::RefCell;
use std::ptr::NonNull;
use std::sync::Arc;

/// Label value used for every label of a family's overflow series. Reserved: a label set that
/// contains it is answered with the overflow series (and counted as an overflow), so a real series
/// never carries it.
pub const OVERFLOW_LABEL_VALUE: &str = "<overflow>";

/// State shared by a registry and every handle it gives out.
///
/// Aligned to a (prefetch-paired) cache line, so that inside the `Arc` the reference count sits
/// on a line of its own: families and anchors ([`Anchor`]) hold it, not handles, and the record
/// path reads the fields here (`shards`' slot-table id) on every call.
#[repr(align(128))]
pub(crate) struct Shared {
    pub(crate) shards: ShardSet,
    /// Next free global cell index.
    next_cell: Mutex<usize>,
    /// Every series with cells, in allocation order (so ascending by cell): what the scrape's
    /// merge reads the shards' chunks with (`merge.rs`). Pushed under `next_cell`'s lock.
    layout: AppendList<SeriesCells>,
}

impl Shared {
    pub(crate) fn new() -> Self {
        let layout = AppendList::new();
        // Cell 0 is reserved for the overflow series of the registry's own overflow counter,
        // so that family can be built without a fallible allocation.
        layout.push(SeriesCells {
            base: 0,
            shape: Shape::Counter,
        });
        Shared {
            shards: ShardSet::new(),
            next_cell: Mutex::new(1),
            layout,
        }
    }

    /// Merges every shard over every series allocated so far (the scrape's merge).
    pub(crate) fn merge(&self) -> Merged {
        let layout: Vec<SeriesCells> = self.layout.iter().copied().collect();
        crate::merge::merge(&self.shards, &layout)
    }

    /// Allocates `n` consecutive cells. A series of up to one chunk never straddles a chunk, so
    /// its cells are reached through one chunk pointer; a larger one starts on a chunk boundary.
    /// Records the series in the layout the merge reads.
    pub(crate) fn alloc_series(&self, shape: Shape) -> Result<usize, TelemetryError> {
        let n = SeriesCells { base: 0, shape }.len();
        let mut next = lock(&self.next_cell);
        let mut base = *next;
        if n > CHUNK_CELLS || base % CHUNK_CELLS + n > CHUNK_CELLS {
            base = base.next_multiple_of(CHUNK_CELLS);
        }
        let end = base
            .checked_add(n)
            .ok_or(TelemetryError::CapacityExhausted)?;
        if end > CAPACITY {
            return Err(TelemetryError::CapacityExhausted);
        }
        if !self.layout.push(SeriesCells { base, shape }) {
            return Err(TelemetryError::CapacityExhausted);
        }
        *next = end;
        Ok(base)
    }
}

/// What keeps a family's shared state (the registry's shards, the family's bounds) alive for the
/// owned handles one thread makes.
///
/// Each engine thread id has its own, in the family's per-thread cache, so a
/// `with_label_values` (and a handle's clone or drop, on the thread that made it) writes the
/// reference count of an allocation no other thread touches: no registry-wide or family-wide
/// count on the record path (a handle dropped on another thread than the one that made it writes
/// its maker's count, correctly but across cores). Aligned to a (prefetch-paired) cache line so that the count sits on
/// a line of its own inside the `Arc`.
#[repr(align(128))]
struct AnchorCell {
    shared: Arc<Shared>,
    bounds: Arc<Buckets>,
}

/// An owned handle's view of its family's shared state: direct pointers to the shards and the
/// bounds (one load from the handle on the record path), and the per-thread [`AnchorCell`] that
/// keeps them alive.
#[derive(Clone)]
pub(crate) struct Anchor {
    shards: NonNull<ShardSet>,
    bounds: NonNull<Buckets>,
    /// Never read: held so that the pointers above stay valid.
    _alive: Arc<AnchorCell>,
}

// SAFETY: `Anchor` gives out only `&ShardSet` and `&Buckets`, both `Sync` (the shards are written
// through atomics, the bounds never after construction), and its `Arc<AnchorCell>` is `Send` and
// `Sync`; the raw pointers are only a cached form of `&self._alive.shared.shards` and
// `&*self._alive.bounds`.
unsafe impl Send for Anchor {}
// SAFETY: see `Send` above: every access through an `Anchor` is a shared borrow of `Sync` data.
unsafe impl Sync for Anchor {}

impl Anchor {
    /// A new anchor with its own reference count.
    fn new(shared: Arc<Shared>, bounds: Arc<Buckets>) -> Self {
        let cell = Arc::new(AnchorCell { shared, bounds });
        Anchor {
            shards: NonNull::from(&cell.shared.shards),
            bounds: NonNull::from(&*cell.bounds),
            _alive: cell,
        }
    }

    /// The registry's shards.
    #[inline(always)]
    pub(crate) fn shards(&self) -> &ShardSet {
        // SAFETY: `shards` points into the `Shared` that `self._alive` holds an `Arc` to, for as
        // long as `self` lives; an `Arc`'s contents never move and are only ever shared-borrowed.
        unsafe { self.shards.as_ref() }
    }

    /// The family's bucket layout.
    #[inline(always)]
    pub(crate) fn bounds(&self) -> &Buckets {
        // SAFETY: as in `shards`: `bounds` points into the `Buckets` `self._alive` keeps alive.
        unsafe { self.bounds.as_ref() }
    }

    /// Whether two anchors share one reference count (tests).
    #[cfg(test)]
    pub(crate) fn same_cell(&self, other: &Anchor) -> bool {
        Arc::ptr_eq(&self._alive, &other._alive)
    }
}

/// One thread's cache of a family: its label-values lookups and its [`Anchor`].
struct ThreadCache<S> {
    map: RefCell<ValueMap<S>>,
    anchor: Anchor,
}

/// Where a series keeps its value: cells in the shards (counters, histograms) or one shared atomic
/// (gauges). Storage is allocated once per series and never moves.
pub(crate) trait Storage: Clone + Send + Sync + 'static {
    /// Allocates storage for one series of a family of `kind` with the histogram layout `bounds`.
    fn alloc(kind: MetricKind, bounds: &Buckets, shared: &Shared) -> Result<Self, TelemetryError>;
    /// The series' value in a scrape's merge, and (a counter of a family with exemplars) its
    /// newest exemplar.
    fn merged(
        &self,
        kind: MetricKind,
        merged: &Merged,
        bounds: &Buckets,
    ) -> (SampleValue, Option<Exemplar>);
}

/// Counters: 1 cell. Histograms: one cell per bucket (the last is `+Inf`), then the sum, then the
/// sequence cell of the series' write window (see [`ShardSet::observe`]), then the exemplar slots
/// and native buckets the family opted into (`Buckets::cells`).
impl Storage for CellAt {
    fn alloc(kind: MetricKind, bounds: &Buckets, shared: &Shared) -> Result<Self, TelemetryError> {
        let shape = if kind == MetricKind::Histogram {
            Shape::Histogram {
                counts: bounds.len() + 1,
                slots: bounds.exemplar_cells(),
                native: bounds.native().map_or(0, NativeLayout::cells),
            }
        } else if bounds.exemplars() {
            // The value, the sequence cell, the exemplar slot.
            Shape::CounterExemplar
        } else {
            Shape::Counter
        };
        debug_assert_eq!(
            SeriesCells { base: 0, shape }.len(),
            if kind == MetricKind::Histogram {
                bounds.cells()
            } else if bounds.exemplars() {
                2 + SLOT_CELLS
            } else {
                1
            }
        );
        let base = shared.alloc_series(shape)?;
        if kind == MetricKind::Histogram {
            shared.shards.note_histogram_sum(base + bounds.len() + 1);
            if bounds.exemplars() {
                shared
                    .shards
                    .note_exemplar_cells(base + bounds.len() + 3, bounds.exemplar_cells());
            }
        } else if bounds.exemplars() {
            // The sequence cell is no count either: retiring drops it with the slot.
            shared.shards.note_exemplar_cells(base + 1, 1 + SLOT_CELLS);
        }
        Ok(CellAt::of(base))
    }

    fn merged(
        &self,
        kind: MetricKind,
        merged: &Merged,
        bounds: &Buckets,
    ) -> (SampleValue, Option<Exemplar>) {
        let base = self.index();
        if kind != MetricKind::Histogram {
            let exemplar = bounds
                .exemplars()
                .then(|| merged.exemplar(base + 2))
                .flatten();
            return (SampleValue::Counter(merged.count(base)), exemplar);
        }
        let n = bounds.len() + 1;
        let mut snap =
            HistogramSnapshot::from_counts(bounds, &merged.cells(base, n), merged.sum(base + n));
        // Mutant: `_count` from a second read of the cells instead of the buckets just read.
        #[cfg(dcc_mcp_loom_mutant = "count_reread")]
        {
            snap.count = merged.recounts.get(&base).copied().unwrap_or(0);
        }
        let from = base + n + 2;
        if bounds.exemplars() {
            snap.exemplars = (0..n)
                .map(|b| merged.exemplar(from + b * SLOT_CELLS))
                .collect();
        }
        snap.native = bounds
            .native()
            .map(|l| l.snapshot(&merged.cells(from + bounds.exemplar_cells(), l.cells())));
        (SampleValue::Histogram(snap), None)
    }
}

/// Gauges: one atomic per series, shared by all threads (see `gauge.rs` for why).
impl Storage for Arc<AtomicI64> {
    fn alloc(_: MetricKind, _: &Buckets, _: &Shared) -> Result<Self, TelemetryError> {
        Ok(Arc::new(AtomicI64::new(0)))
    }

    fn merged(&self, _: MetricKind, _: &Merged, _: &Buckets) -> (SampleValue, Option<Exemplar>) {
        (SampleValue::Gauge(self.load(Ordering::Relaxed)), None)
    }
}

/// The registry's view of a family, whatever its storage.
pub(crate) trait Snapshot: Send + Sync {
    /// The family's name.
    fn name(&self) -> &str;
    /// The family's series with their values in `merged` (the scrape's merge of every shard).
    fn snapshot(&self, merged: &Merged) -> FamilySnapshot;
}

struct Series<S> {
    label_values: Vec<String>,
    store: S,
}

/// What creating a series needs to look at, under the family's mutex.
struct FamilyState<S> {
    index: ValueMap<S>,
    len: usize,
}

/// Everything about one family; handles share it through an `Arc`.
pub(crate) struct FamilyCore<S: Storage> {
    pub(crate) name: String,
    pub(crate) help: String,
    pub(crate) kind: MetricKind,
    pub(crate) label_names: Vec<String>,
    /// Finite bucket upper bounds (histograms only), ascending.
    pub(crate) bounds: Arc<Buckets>,
    pub(crate) shared: Arc<Shared>,
    cap: usize,
    /// This family's random key for the label-values hash (see `labels.rs`).
    key: HashKey,
    /// Taken by the record path when the calling thread's cache misses; never by a scrape.
    state: Mutex<FamilyState<S>>,
    /// The series in creation order, read by scrapes without a lock.
    series: AppendList<Series<S>>,
    /// Per-thread label caches and anchors. Each is boxed and padded: the `RefCell` flag is
    /// written on every lookup, and `ThreadSlots` stores neighbouring threads' values contiguously.
    cache: ThreadSlots<CachePadded<ThreadCache<S>>>,
    /// The anchor of threads that have left the engine (no per-thread cache): shared, but only a
    /// late thread-local destructor uses it.
    late_anchor: Anchor,
    overflow: S,
    overflow_used: AtomicBool,
    /// This family's series in the registry's overflow counter, for labelled families.
    overflow_counter: Option<CellAt>,
}

/// What a family is, before it exists.
pub(crate) struct FamilySpec<'a> {
    pub(crate) name: &'a str,
    pub(crate) help: &'a str,
    pub(crate) kind: MetricKind,
    pub(crate) label_names: &'a [&'a str],
    pub(crate) buckets: &'a [f64],
    pub(crate) cap: usize,
    /// Histograms: an exemplar slot per bucket.
    pub(crate) exemplars: bool,
    /// Histograms: native buckets.
    pub(crate) native: Option<NativeHistogram>,
}

impl<S: Storage> FamilyCore<S> {
    /// Validates the label names and buckets, reserves the overflow series' storage, then asks
    /// `overflow_counter` for this family's series in the registry's overflow counter.
    pub(crate) fn new(
        spec: FamilySpec<'_>,
        shared: Arc<Shared>,
        overflow_counter: impl FnOnce() -> Option<CellAt>,
    ) -> Result<Self, TelemetryError> {
        let family = || spec.name.to_owned();
        for (i, l) in spec.label_names.iter().enumerate() {
            if !valid_label_name(l) || (spec.kind == MetricKind::Histogram && *l == "le") {
                return Err(TelemetryError::InvalidLabelName {
                    family: family(),
                    label: (*l).to_owned(),
                });
            }
            if spec.label_names[..i].contains(l) {
                return Err(TelemetryError::DuplicateLabelName {
                    family: family(),
                    label: (*l).to_owned(),
                });
            }
        }
        if spec.cap == 0 {
            return Err(TelemetryError::InvalidSeriesCap { family: family() });
        }
        let bounds = validate_buckets(&spec)?;
        let overflow = S::alloc(spec.kind, &bounds, &shared)?;
        Ok(Self::build(
            spec,
            shared,
            bounds,
            overflow,
            overflow_counter(),
        ))
    }

    /// Assembles a family from validated parts.
    pub(crate) fn build(
        spec: FamilySpec<'_>,
        shared: Arc<Shared>,
        bounds: Arc<Buckets>,
        overflow: S,
        overflow_counter: Option<CellAt>,
    ) -> Self {
        FamilyCore {
            name: spec.name.to_owned(),
            help: spec.help.to_owned(),
            kind: spec.kind,
            label_names: spec.label_names.iter().map(|s| (*s).to_owned()).collect(),
            late_anchor: Anchor::new(shared.clone(), bounds.clone()),
            bounds,
            shared,
            cap: spec.cap,
            key: HashKey::random(),
            state: Mutex::new(FamilyState {
                index: ValueMap::default(),
                len: 0,
            }),
            series: AppendList::new(),
            cache: ThreadSlots::new(),
            overflow,
            overflow_used: AtomicBool::new(false),
            overflow_counter,
        }
    }

    /// Get-or-create the series for `values`; past the cap or on a label-count mismatch, the
    /// family's overflow series (and the overflow counter is bumped).
    #[inline]
    pub(crate) fn resolve(&self, values: &[&str]) -> S {
        self.lookup(values).0
    }

    /// [`resolve`](Self::resolve) and the calling thread's [`Anchor`], for an owned handle: the
    /// anchor's clone writes a count only this thread's handles share.
    #[inline]
    pub(crate) fn resolve_anchored(&self, values: &[&str]) -> (S, Anchor) {
        let (store, cache) = self.lookup(values);
        let anchor = cache.map_or(&self.late_anchor, |c| &c.anchor).clone();
        (store, anchor)
    }

    /// The calling thread's [`Anchor`] (the sole series of an unlabelled metric).
    pub(crate) fn anchor(&self) -> Anchor {
        self.thread_cache()
            .map_or(&self.late_anchor, |c| &c.anchor)
            .clone()
    }

    /// The calling thread's cache; `None` once the thread has left the engine (a late
    /// thread-local destructor).
    #[inline(always)]
    fn thread_cache(&self) -> Option<&ThreadCache<S>> {
        self.cache.get_or(|| self.new_cache()).map(|c| &**c)
    }

    /// The series for `values` and the calling thread's cache.
    #[inline(always)]
    fn lookup(&self, values: &[&str]) -> (S, Option<&ThreadCache<S>>) {
        let h = hash_values(self.key, values);
        let cache = self.thread_cache();
        if let Some(Ok(c)) = cache.map(|c| c.map.try_borrow()) {
            if let Some(store) = c.get(h, values) {
                return (store.clone(), cache);
            }
        }
        let store = match self.resolve_slow(h, values) {
            Some(store) => {
                if let Some(Ok(mut c)) = cache.map(|c| c.map.try_borrow_mut()) {
                    c.insert(h, values, store.clone());
                }
                store
            }
            None => self.overflowed(),
        };
        (store, cache)
    }

    /// An empty cache for the calling thread, with its own anchor; out of line because it runs
    /// once per thread id and family.
    #[cold]
    #[inline(never)]
    fn new_cache(&self) -> CachePadded<ThreadCache<S>> {
        CachePadded::new(ThreadCache {
            map: RefCell::new(ValueMap::default()),
            anchor: Anchor::new(self.shared.clone(), self.bounds.clone()),
        })
    }

    /// Like [`resolve`](Self::resolve) but a label-count mismatch is an error.
    pub(crate) fn try_resolve(&self, values: &[&str]) -> Result<S, TelemetryError> {
        if values.len() != self.label_names.len() {
            return Err(TelemetryError::LabelCountMismatch {
                family: self.name.clone(),
                expected: self.label_names.len(),
                got: values.len(),
            });
        }
        Ok(self.resolve(values))
    }

    /// Like [`resolve_anchored`](Self::resolve_anchored) but a label-count mismatch is an error.
    pub(crate) fn try_resolve_anchored(
        &self,
        values: &[&str],
    ) -> Result<(S, Anchor), TelemetryError> {
        if values.len() != self.label_names.len() {
            return Err(TelemetryError::LabelCountMismatch {
                family: self.name.clone(),
                expected: self.label_names.len(),
                got: values.len(),
            });
        }
        Ok(self.resolve_anchored(values))
    }

    /// The family's single series, created at registration for unlabelled metrics.
    pub(crate) fn create_sole_series(&self) -> Result<S, TelemetryError> {
        self.resolve_slow(hash_values(self.key, &[]), &[])
            .ok_or(TelemetryError::CapacityExhausted)
    }

    /// Under the family lock: the existing series, a new one, or `None` for overflow (wrong
    /// number of values, the reserved overflow marker among them, or the cap reached).
    #[cold]
    fn resolve_slow(&self, h: u64, values: &[&str]) -> Option<S> {
        if values.len() != self.label_names.len() || carries_overflow_marker(values) {
            return None;
        }
        let mut st = lock(&self.state);
        if let Some(store) = st.index.get(h, values) {
            return Some(store.clone());
        }
        if st.len >= self.cap {
            return None;
        }
        let store = S::alloc(self.kind, &self.bounds, &self.shared).ok()?;
        let pushed = self.series.push(Series {
            label_values: values.iter().map(|s| (*s).to_owned()).collect(),
            store: store.clone(),
        });
        if !pushed {
            return None;
        }
        st.len += 1;
        st.index.insert(h, values, store.clone());
        Some(store)
    }

    #[cold]
    fn overflowed(&self) -> S {
        self.overflow_used.store(true, Ordering::Release);
        if let Some(at) = self.overflow_counter {
            self.shared.shards.add(at, 1);
        }
        self.overflow.clone()
    }
}

impl<S: Storage> Snapshot for FamilyCore<S> {
    fn snapshot(&self, merged: &Merged) -> FamilySnapshot {
        // No lock: the series list is read through its published length.
        let mut series: Vec<SeriesSnapshot> = self
            .series
            .iter()
            .map(|s| {
                #[cfg(test)]
                test_hooks::merging(&self.name);
                let (value, exemplar) = s.store.merged(self.kind, merged, &self.bounds);
                SeriesSnapshot {
                    label_values: s.label_values.clone(),
                    value,
                    exemplar,
                }
            })
            .collect();
        if self.overflow_used.load(Ordering::Acquire) {
            let (value, exemplar) = self.overflow.merged(self.kind, merged, &self.bounds);
            series.push(SeriesSnapshot {
                label_values: vec![OVERFLOW_LABEL_VALUE.to_owned(); self.label_names.len()],
                value,
                exemplar,
            });
        }
        FamilySnapshot {
            name: self.name.clone(),
            help: self.help.clone(),
            kind: self.kind,
            label_names: self.label_names.clone(),
            series,
        }
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// Whether a label set carries the reserved overflow marker.
#[cfg(not(dcc_mcp_loom_mutant = "marker_not_reserved"))]
fn carries_overflow_marker(values: &[&str]) -> bool {
    values.contains(&OVERFLOW_LABEL_VALUE)
}
// Mutant: a real series may carry the overflow marker.
#[cfg(dcc_mcp_loom_mutant = "marker_not_reserved")]
fn carries_overflow_marker(_: &[&str]) -> bool {
    false
}

/// Merges a histogram series: each shard's per-bucket counts and sum read as one consistent state
/// (`Shard::try_read_histogram`: every observation wholly in or out, so `_sum` agrees with the
/// buckets and `_count`), summed over shards, then made cumulative; the count is the `+Inf`
/// bucket.
pub(crate) fn merge_histogram(
    shards: &ShardSet,
    base: CellAt,
    bounds: &Buckets,
) -> HistogramSnapshot {
    let (counts, sum, extras) = shards.consistent(|before| {
        let mut counts = vec![0u64; bounds.len() + 1];
        let mut sum = 0.0;
        let mut extras = Extras::new(bounds);
        let mut raw = vec![0u64; bounds.extra_cells()];
        for shard in shards.iter() {
            let mut tries = 0u32;
            loop {
                if let Some(s) = shard.try_read_histogram(base, &mut counts, &mut raw) {
                    sum += s;
                    extras.add(&raw);
                    break;
                }
                // A retire can leave a stale read spinning on cells that now belong to another
                // series: start over once one has begun.
                if shards.retire_moved(before) {
                    return None;
                }
                tries += 1;
                backoff(tries);
            }
        }
        Some((counts, sum, extras))
    });
    #[cfg_attr(not(dcc_mcp_loom_mutant = "count_reread"), allow(unused_mut))]
    let mut snap = HistogramSnapshot::from_counts(bounds, &counts, sum);
    snap.exemplars = extras.exemplars;
    snap.native = bounds.native().map(|n| n.snapshot(&extras.native));
    // Mutant: `_count` from a second read of the cells instead of the buckets just read.
    #[cfg(dcc_mcp_loom_mutant = "count_reread")]
    {
        let mut again = vec![0u64; bounds.len() + 1];
        for shard in shards.iter() {
            shard.add_into(base, &mut again);
        }
        snap.count = again.iter().fold(0, |a, b| a.saturating_add(*b));
    }
    snap
}

/// One series' exemplars and native cells, merged over shards: the newest exemplar per bucket,
/// native cells summed.
struct Extras {
    exemplars: Vec<Option<Exemplar>>,
    native: Vec<u64>,
    slots: usize,
}

impl Extras {
    fn new(bounds: &Buckets) -> Self {
        let slots = bounds.exemplar_cells() / SLOT_CELLS;
        Extras {
            exemplars: vec![None; slots],
            native: vec![0; bounds.native().map_or(0, NativeLayout::cells)],
            slots,
        }
    }

    /// Folds in one shard's extra cells (exemplar slots, then native cells).
    fn add(&mut self, raw: &[u64]) {
        let (slots, native) = raw.split_at(self.slots * SLOT_CELLS);
        for (have, cells) in self
            .exemplars
            .iter_mut()
            .zip(slots.chunks_exact(SLOT_CELLS))
        {
            if let Some(e) = Exemplar::from_cells(cells) {
                if have.is_none_or(|h| h.timestamp_ns < e.timestamp_ns) {
                    *have = Some(e);
                }
            }
        }
        for (n, c) in self.native.iter_mut().zip(native) {
            *n = n.saturating_add(*c);
        }
    }
}

/// Checks bounds are finite (a trailing `+Inf` is accepted and dropped) and strictly increasing.
fn validate_buckets(spec: &FamilySpec<'_>) -> Result<Arc<Buckets>, TelemetryError> {
    let (name, buckets) = (spec.name, spec.buckets);
    if spec.kind != MetricKind::Histogram {
        let exemplars = spec.exemplars && spec.kind == MetricKind::Counter;
        return Ok(Arc::new(Buckets::with_extras(Vec::new(), exemplars, None)));
    }
    let err = |reason| TelemetryError::InvalidBuckets {
        family: name.to_owned(),
        reason,
    };
    let finite = match buckets.last() {
        Some(b) if *b == f64::INFINITY => &buckets[..buckets.len() - 1],
        _ => buckets,
    };
    if finite.iter().any(|b| !b.is_finite()) {
        return Err(err(
            "bounds must be finite numbers (a trailing +Inf is implied)",
        ));
    }
    if finite.windows(2).any(|w| w[0] >= w[1]) {
        return Err(err("bounds must be strictly increasing"));
    }
    if finite.len() > 4096 {
        return Err(err("use at most 4096 bounds"));
    }
    let native = match spec.native {
        Some(config) => Some(
            NativeLayout::new(config)
                .ok_or_else(|| err("native histogram: schema 0..=8, 0 < zero_threshold < max_value (finite), max_buckets >= 1"))?,
        ),
        None => None,
    };
    Ok(Arc::new(Buckets::with_extras(
        finite.to_vec(),
        spec.exemplars,
        native,
    )))
}

/// Test-only pause points (see the lock-free scrape test).
#[cfg(test)]
pub(crate) mod test_hooks {
    use std::sync::mpsc::{Receiver, Sender};
    use std::sync::Mutex;

    /// A pause armed for one family: `(family, started, resume)`.
    type Pause = (String, Sender<()>, Receiver<()>);

    /// When armed: the merge of the named family reports that it has started on a series, then
    /// waits to be resumed.
    pub(crate) static PAUSE: Mutex<Option<Pause>> = Mutex::new(None);

    /// Called by a scrape for each series of `family` it merges.
    pub(crate) fn merging(family: &str) {
        let armed = PAUSE.lock().ok().and_then(|mut p| match p.take() {
            Some(pause) if pause.0 == family => Some(pause),
            other => {
                *p = other;
                None
            }
        });
        if let Some((_, started, resume)) = armed {
            let _ = started.send(());
            let _ = resume.recv();
        }
    }
}

#[cfg(all(test, not(dcc_mcp_loom)))]
mod tests {
    use super::test_hooks;
    use std::sync::mpsc;
    use std::time::Duration;

    /// A `with_label_values` call that must look under the family's mutex (new label values past
    /// the cap, or a thread whose cache misses) completes while a scrape is paused in the middle
    /// of merging that very family: scrapes take no lock the record path takes.
    #[test]
    fn record_path_does_not_wait_for_a_scrape_in_progress() {
        let r = crate::Registry::new();
        let f = r
            .histogram_family_with_cap("h_seconds", "H.", &["k"], &[1.0], 2)
            .unwrap_or_else(|e| panic!("{e}"));
        f.with_label_values(&["a"]).observe(0.5);
        f.with_label_values(&["b"]).observe(0.5);
        let (started_tx, started_rx) = mpsc::channel();
        let (resume_tx, resume_rx) = mpsc::channel();
        if let Ok(mut p) = test_hooks::PAUSE.lock() {
            *p = Some(("h_seconds".to_owned(), started_tx, resume_rx));
        }
        let scraper = std::thread::spawn({
            let r = r.clone();
            move || r.snapshot()
        });
        // The scrape is now inside the merge of `h_seconds`.
        assert!(started_rx.recv().is_ok());
        let (done_tx, done_rx) = mpsc::channel();
        let recorder = std::thread::spawn({
            let f = f.clone();
            move || {
                f.with_label_values(&["c"]).observe(2.0); // past the cap: overflow
                f.with_label_values(&["a"]).observe(2.0); // this thread's cache misses
                let _ = done_tx.send(());
            }
        });
        // A liveness check, not a timing threshold: on the old code the recorder blocks until the
        // scrape is resumed, which happens only after this wait gives up.
        let finished = done_rx.recv_timeout(Duration::from_secs(60));
        let _ = resume_tx.send(());
        assert!(scraper.join().is_ok());
        assert!(recorder.join().is_ok());
        assert!(
            finished.is_ok(),
            "with_label_values waited for a scrape in progress"
        );
        let h = f.with_label_values(&["a"]).snapshot();
        assert_eq!((h.count, h.sum), (2, 2.5));
    }
}
