//! Per-thread shards: one writer each, cells committed lazily in small chunks.
//!
//! A [`Shard`] belongs to exactly one live thread at a time (see [`crate::sync::ThreadSlots`]). It
//! holds that thread's cell for every counter series and every histogram bucket/sum of the
//! registry, 8 bytes per cell, addressed by the cell's global index through a two-level table:
//!
//! ```text
//! shard header: root[ROOT_LEN] -> leaf: chunks[2^LEAF_SHIFT] -> chunk: 2^CHUNK_SHIFT cells
//! ```
//!
//! Leaves and chunks are allocated by the owner the first time it records into a cell they cover;
//! anything unallocated reads as zero. So a thread that records `k` series commits at most `k`
//! chunks (a series of up to 64 cells never straddles one; larger histograms span whole chunks)
//! and `k` leaves besides its 1 KiB header, whatever the size of the registry (see
//! `docs/architecture.md`, "Memory"). A leaf or chunk is never moved or freed before the registry
//! is dropped, so a scraper that loaded a pointer may keep reading through it. When a thread
//! takes over a shard from an exited holder of its engine thread id, it first retires the old
//! values into the set's *retired* accumulator and releases the storage into the shard's pool for
//! reuse, inside a retire sequence that makes any overlapping merge read again
//! ([`ShardSet::consistent`]); so a shard's storage follows its current holder, not the union of
//! every holder's series.
//!
//! Each chunk is an array of 128-byte-aligned lines, so two shards never share a cache line.
//!
//! Besides one shard per engine thread id, a [`ShardSet`] has one *orphan* shard for recording
//! that happens after the thread has left the engine (thread-local destructors running after the
//! engine's exit guard): its writers take the orphan's writer lock among themselves, which no
//! scrape ever takes, and the merge reads it like any other shard.

use crate::exemplar::SLOT_CELLS;
use crate::sync::{
    fence, lock, owner_load_ptr, owner_load_u64, tenure, AtomicPtr, AtomicU64, AtomicUsize,
    InitMarker, Mutex, Ordering, OwnerCell, ThreadSlots, CHUNK_SHIFT, LEAF_SHIFT, LINE_CELLS,
    ROOT_LEN,
};
use std::ptr;

/// Cells in a chunk.
pub(crate) const CHUNK_CELLS: usize = 1 << CHUNK_SHIFT;

/// Chunk pointers in a leaf.
const LEAF_LEN: usize = 1 << LEAF_SHIFT;

/// Total number of cells a registry can allocate.
pub(crate) const CAPACITY: usize = ROOT_LEN << (LEAF_SHIFT + CHUNK_SHIFT);

/// Bytes of one leaf and of one chunk.
const LEAF_BYTES: usize = std::mem::size_of::<Leaf>();
const CHUNK_BYTES: usize = std::mem::size_of::<Chunk>();

/// Root and leaf indices fit `CellAt`'s 16-bit fields.
const _: () = assert!(ROOT_LEN <= 1 << 16 && LEAF_LEN <= 1 << 16);

/// One cache line of cells. Aligned like `crossbeam_utils::CachePadded` (128 bytes on x86-64,
/// where the adjacent-line prefetcher pairs lines) so no line is shared with another allocation,
/// in particular with another thread's chunk: this is the once-per-shard padding.
///
/// A chunk is addressed as a flat array of cells (cell `k` is `k * 8` bytes from its start), which
/// needs lines without padding; `LINE_IS_DENSE` checks that. Loom's atomics are bigger than 8
/// bytes, so loom builds drop the alignment (which only matters for real caches).
#[cfg_attr(not(dcc_mcp_loom), repr(C, align(128)))]
#[cfg_attr(dcc_mcp_loom, repr(C))]
struct Line([AtomicU64; LINE_CELLS]);

/// A line is exactly `LINE_CELLS` cells, so a chunk's lines form one flat array of cells.
const LINE_IS_DENSE: () =
    assert!(std::mem::size_of::<Line>() == LINE_CELLS * std::mem::size_of::<AtomicU64>());

impl Line {
    fn zeroed() -> Self {
        let () = LINE_IS_DENSE;
        Line(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

/// `CHUNK_CELLS` cells: the unit in which a shard commits memory.
#[repr(C)]
struct Chunk {
    lines: [Line; CHUNK_CELLS / LINE_CELLS],
    /// Checks (under loom) that the chunk's initialisation happens-before a scraper's reads.
    init: InitMarker,
}

/// `LEAF_LEN` chunk pointers.
struct Leaf {
    chunks: [AtomicPtr<Chunk>; LEAF_LEN],
    /// Checks (under loom) that the leaf's initialisation happens-before a scraper's reads.
    init: InitMarker,
}

/// A reader's handle on one committed chunk of a shard, borrowed from the shard (chunks are never
/// freed before it is dropped), as [`Shard::for_each_chunk`] hands them out.
#[derive(Clone, Copy)]
pub(crate) struct ChunkRef<'a> {
    chunk: *mut Chunk,
    _shard: std::marker::PhantomData<&'a Shard>,
}

impl ChunkRef<'_> {
    /// Reads cell `off` of the chunk (`Relaxed`); `off` is below `CHUNK_CELLS`.
    #[inline]
    pub(crate) fn read(self, off: usize) -> u64 {
        debug_assert!(off < CHUNK_CELLS);
        // SAFETY: a published chunk of a live shard (the borrow); `off` is clamped into the chunk.
        unsafe { Shard::cell_in(self.chunk, off.min(CHUNK_CELLS - 1)) }.load(Ordering::Relaxed)
    }
}

/// The leaf every root entry points at until the owner first records below it: all its chunk
/// pointers are null, and it is never written (`grow` replaces it instead of filling it in). A
/// shared placeholder instead of a null root entry saves the hot path one test and branch: the
/// owner's lookup goes root entry -> leaf entry -> null test on the chunk pointer only.
/// `Sync` because its only fields are atomics (and a zero-sized marker outside loom).
#[cfg(not(dcc_mcp_loom))]
static EMPTY_LEAF: Leaf = Leaf {
    chunks: [const { AtomicPtr::new(ptr::null_mut()) }; LEAF_LEN],
    init: InitMarker::EMPTY,
};

/// The placeholder a root entry holds while its leaf is unallocated.
///
/// Loom's atomics cannot live in a `static`, so loom builds use null as the placeholder and the
/// lookup tests for it (see [`Shard::owned_chunk`]); the models check the same publication
/// protocol, with the placeholder test in place of the shared empty leaf's null chunk pointers.
#[inline(always)]
fn empty_leaf() -> *mut Leaf {
    #[cfg(not(dcc_mcp_loom))]
    return ptr::addr_of!(EMPTY_LEAF).cast_mut();
    #[cfg(dcc_mcp_loom)]
    return ptr::null_mut();
}

/// The location of one cell: its global index (below [`CAPACITY`]) split into root, leaf and
/// chunk indices once, when the handle is made, so the hot path indexes without shifts or masks.
///
/// Invariant, relied on by the unchecked accesses in [`Shard`]: `root < ROOT_LEN`,
/// `leaf < LEAF_LEN`, `off < CHUNK_CELLS`. [`CellAt::of`] establishes it; [`CellAt::offset`] keeps
/// it because a series' cells were allocated below `CAPACITY` by `Shared::alloc_cells`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CellAt {
    // 8 bytes in all, so a `CellAt` travels in one register (to the cold paths too).
    root: u16,
    leaf: u16,
    off: u32,
}

impl CellAt {
    /// Locates the global cell `index`. Callers pass `index < CAPACITY` (the cell allocator
    /// checks it); a larger index is clamped to the last cell so the invariant holds regardless.
    pub(crate) fn of(index: usize) -> Self {
        debug_assert!(index < CAPACITY, "cell index {index} out of range");
        let index = index.min(CAPACITY - 1);
        CellAt {
            root: (index >> (LEAF_SHIFT + CHUNK_SHIFT)) as u16,
            leaf: ((index >> CHUNK_SHIFT) & (LEAF_LEN - 1)) as u16,
            off: (index & (CHUNK_CELLS - 1)) as u32,
        }
    }

    /// The global cell index.
    pub(crate) fn index(self) -> usize {
        ((self.root as usize) << (LEAF_SHIFT + CHUNK_SHIFT))
            | ((self.leaf as usize) << CHUNK_SHIFT)
            | self.off as usize
    }

    /// The cell `n` places further on; the caller guarantees it belongs to the same series.
    #[inline(always)]
    pub(crate) fn offset(self, n: usize) -> Self {
        debug_assert!(self.index() + n < CAPACITY);
        if (self.off as usize) + n < CHUNK_CELLS {
            return CellAt {
                off: self.off + n as u32,
                ..self
            };
        }
        Self::of(self.index() + n)
    }

    /// Index in the shard's root.
    #[inline(always)]
    fn root(self) -> usize {
        self.root as usize
    }

    /// Index in the leaf.
    #[inline(always)]
    fn leaf(self) -> usize {
        self.leaf as usize
    }

    /// Index in the chunk.
    #[inline(always)]
    pub(crate) fn off(self) -> usize {
        self.off as usize
    }
}

/// The ordering that publishes a new leaf or chunk to scrapers.
#[cfg(not(dcc_mcp_loom_mutant = "relaxed_publish"))]
const PUBLISH: Ordering = Ordering::Release;
// Mutant: publish a freshly zeroed leaf/chunk with `Relaxed`.
#[cfg(dcc_mcp_loom_mutant = "relaxed_publish")]
const PUBLISH: Ordering = Ordering::Relaxed;

/// One thread's cells; see the module docs.
pub(crate) struct Shard {
    /// Leaf `k` covers cells `k << (LEAF_SHIFT + CHUNK_SHIFT) ..`, or is [`empty_leaf`] until
    /// first used.
    root: [AtomicPtr<Leaf>; ROOT_LEN],
    /// The tenure (`sync::tenure`) of the holder whose values the storage holds; written by the
    /// shard's writer only. A new holder of the engine thread id finds someone else's tenure here
    /// and retires the storage first ([`ShardSet::adopt`]).
    tenure: AtomicU64,
    /// Zeroed leaves and chunks released by [`drain_into`](Self::drain_into), reused by `grow`
    /// before anything new is allocated. Never freed before the shard is dropped, so a scraper
    /// still holding a pointer into one reads valid (if unrelated) cells; the retire sequence
    /// makes it discard what it read.
    pool: OwnerCell<Pool>,
    /// Bytes in `pool` (read by any thread for `shard_bytes`).
    pooled_bytes: AtomicUsize,
}

/// A shard's released storage.
#[derive(Default)]
struct Pool {
    leaves: Vec<*mut Leaf>,
    chunks: Vec<*mut Chunk>,
}

// SAFETY: the pointers are owned allocations (from `Box::into_raw`) that only the pool's owner
// reaches through the pool; moving the pool to another thread moves that ownership.
unsafe impl Send for Pool {}

impl Shard {
    fn new(tenure: u64) -> Self {
        Shard {
            root: std::array::from_fn(|_| AtomicPtr::new(empty_leaf())),
            tenure: AtomicU64::new(tenure),
            pool: OwnerCell::new(Pool::default()),
            pooled_bytes: AtomicUsize::new(0),
        }
    }

    /// The owner's pointer to the chunk holding `at`, null until the owner first records into it.
    ///
    /// Must only be called by the shard's writer (the thread `ThreadSlots::get_or` returned it
    /// to, or the holder of the orphan's writer lock): leaf and chunk pointers have a single
    /// writer, so a `Relaxed` load (`owner_load_ptr`) suffices: the writer stored the pointer
    /// itself, or a previous writer did and its exit (or unlock) happens-before.
    #[inline(always)]
    fn owned_chunk(&self, at: CellAt) -> *mut Chunk {
        // SAFETY: `at.root() < ROOT_LEN` by the `CellAt` invariant.
        let leaf = owner_load_ptr(unsafe { self.root.get_unchecked(at.root()) });
        // Outside loom the placeholder is the shared empty leaf (whose chunk pointers are null),
        // so no test is needed here.
        #[cfg(dcc_mcp_loom)]
        if leaf.is_null() {
            return ptr::null_mut();
        }
        // SAFETY: `leaf` is a live leaf (published by this shard's writer in `grow`, freed only
        // by `Drop` with `&mut self`) or the static `EMPTY_LEAF`; `at.leaf() < LEAF_LEN` by the
        // `CellAt` invariant.
        owner_load_ptr(unsafe { (*leaf).chunks.get_unchecked(at.leaf()) })
    }

    /// The owner's pointer to the chunk holding `at`, allocating it (and its leaf) on first use.
    #[inline]
    fn owned_chunk_or_grow(&self, at: CellAt) -> *mut Chunk {
        let chunk = self.owned_chunk(at);
        if chunk.is_null() {
            return self.grow(at);
        }
        chunk
    }

    /// Allocates what is missing on the way to `at`'s chunk. Single writer, so no CAS: a Release
    /// store publishes each zeroed allocation to scrapers.
    #[cold]
    #[inline(never)]
    fn grow(&self, at: CellAt) -> *mut Chunk {
        let slot = &self.root[at.root()];
        let mut leaf = owner_load_ptr(slot);
        if leaf == empty_leaf() {
            // A pooled leaf has only null chunk pointers (`drain_into` cleared them) and was
            // initialised when first allocated; it is published again like a fresh one.
            leaf = self
                .take_pooled(|p| p.leaves.pop(), LEAF_BYTES)
                .unwrap_or_else(|| {
                    let fresh = Box::new(Leaf {
                        chunks: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
                        init: InitMarker::default(),
                    });
                    fresh.init.initialised();
                    Box::into_raw(fresh)
                });
            slot.store(leaf, PUBLISH);
        }
        // SAFETY: `leaf` is live (just published, or published earlier; freed only by `Drop`).
        let cslot = unsafe { &(*leaf).chunks[at.leaf()] };
        let mut chunk = owner_load_ptr(cslot);
        if chunk.is_null() {
            // A pooled chunk's cells were zeroed by `drain_into`.
            chunk = self
                .take_pooled(|p| p.chunks.pop(), CHUNK_BYTES)
                .unwrap_or_else(|| {
                    let fresh = Box::new(Chunk {
                        lines: std::array::from_fn(|_| Line::zeroed()),
                        init: InitMarker::default(),
                    });
                    fresh.init.initialised();
                    Box::into_raw(fresh)
                });
            cslot.store(chunk, PUBLISH);
        }
        chunk
    }

    /// The writer takes one allocation of `bytes` from its pool, if there is one.
    fn take_pooled<P>(&self, pop: impl FnOnce(&mut Pool) -> Option<P>, bytes: usize) -> Option<P> {
        // SAFETY: only the shard's writer (the caller) reaches the pool; writers are ordered by
        // the engine id handoff (or the orphan's and the retired shard's writer locks).
        let p = unsafe { self.pool.with_mut(pop) }?;
        let left = self.pooled_bytes.load(Ordering::Relaxed) - bytes;
        self.pooled_bytes.store(left, Ordering::Relaxed);
        Some(p)
    }

    /// The writer moves every value of this shard into `into` (counters and buckets added,
    /// saturating; sums added as `f64`; sequence cells dropped), zeroes the cells and releases
    /// every leaf and chunk into the pool. `sums` lists the sum cells of the registry's
    /// histogram series, ascending (each followed by its sequence cell), and the exemplar cells,
    /// which are dropped. The caller has opened
    /// the shard set's retire window, so no merge keeps a read that overlaps this.
    fn drain_into(&self, into: &Shard, layout: &RetireLayout) {
        let sums = &layout.sums[..];
        let mut released = 0;
        for (k, slot) in self.root.iter().enumerate() {
            let leaf = owner_load_ptr(slot);
            if leaf == empty_leaf() {
                continue;
            }
            // SAFETY: a published leaf, freed only by `Drop`.
            let chunks = unsafe { &(*leaf).chunks };
            for (j, cslot) in chunks.iter().enumerate() {
                let chunk = owner_load_ptr(cslot);
                if chunk.is_null() {
                    continue;
                }
                for off in 0..CHUNK_CELLS {
                    // SAFETY: a published chunk of this shard, `off < CHUNK_CELLS`.
                    let c = unsafe { Self::cell_in(chunk, off) };
                    let v = owner_load_u64(c);
                    if v == 0 {
                        continue;
                    }
                    let index = (k << (LEAF_SHIFT + CHUNK_SHIFT)) | (j << CHUNK_SHIFT) | off;
                    let at = CellAt::of(index);
                    if layout.skipped(index) {
                        // An exemplar cell: samples, not counts, so dropped with the holder.
                    } else if sums.binary_search(&index).is_ok() {
                        into.add_f64_grow(at, f64::from_bits(v));
                    } else if index == 0 || sums.binary_search(&(index - 1)).is_err() {
                        into.add_grow(at, v);
                    }
                    c.store(0, Ordering::Relaxed);
                }
                cslot.store(ptr::null_mut(), Ordering::Relaxed);
                // SAFETY: the writer owns the pool.
                unsafe { self.pool.with_mut(|p| p.chunks.push(chunk)) };
                released += CHUNK_BYTES;
            }
            slot.store(empty_leaf(), Ordering::Relaxed);
            // SAFETY: the writer owns the pool.
            unsafe { self.pool.with_mut(|p| p.leaves.push(leaf)) };
            released += LEAF_BYTES;
        }
        let pooled = self.pooled_bytes.load(Ordering::Relaxed) + released;
        self.pooled_bytes.store(pooled, Ordering::Relaxed);
    }

    /// The writer adds `n` to the counter cell `at` and overwrites its exemplar slot (the four
    /// cells after the sequence cell `at + 1`) in one write window.
    fn add_exemplar_grow(&self, at: CellAt, n: u64, cells: [u64; SLOT_CELLS]) {
        let v = self.owned_chunk_or_grow(at);
        let q = at.offset(1);
        let qc = self.owned_chunk_or_grow(q);
        let mut slot = [(ptr::null_mut(), 0usize); SLOT_CELLS];
        for (i, s) in slot.iter_mut().enumerate() {
            let c = at.offset(2 + i);
            *s = (self.owned_chunk_or_grow(c), c.off());
        }
        // SAFETY: each chunk is this shard's (non-null) chunk for its cell; the caller is the writer.
        unsafe {
            let seq = Self::begin_write(qc, q.off());
            Self::add_in(v, at.off(), n);
            for ((chunk, off), c) in slot.into_iter().zip(cells) {
                Self::cell_in(chunk, off).store(c, Ordering::Relaxed);
            }
            Self::end_write(qc, q.off(), seq);
        }
    }

    /// Reads `out.len()` cells from `from` inside one write window of the sequence cell `seq`, from
    /// any thread: whether it succeeded (else a window was open or closed meanwhile, `out` holds
    /// garbage, and the caller tries again).
    pub(crate) fn try_read_window(&self, seq: CellAt, from: CellAt, out: &mut [u64]) -> bool {
        let before = self.read_with(seq, Ordering::Acquire);
        if before & 1 == 1 {
            return false;
        }
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.read_with(from.offset(i), Ordering::Relaxed);
        }
        fence(Ordering::Acquire);
        self.read_with(seq, Ordering::Relaxed) == before
    }

    /// Calls `f` with the index and a reader's handle of every chunk this shard has committed
    /// below cell `cells`, in ascending order, until `f` answers `false` (then so does this).
    /// Leaves and chunks the shard never committed cost nothing but the root entry (or chunk
    /// pointer) that says so: the scrape's merge walks what was recorded, not the registry's size.
    pub(crate) fn for_each_chunk(
        &self,
        cells: usize,
        mut f: impl FnMut(usize, ChunkRef<'_>) -> bool,
    ) -> bool {
        let chunks = cells.div_ceil(CHUNK_CELLS);
        for (k, slot) in self.root.iter().enumerate().take(chunks.div_ceil(LEAF_LEN)) {
            let leaf = slot.load(Ordering::Acquire);
            if leaf == empty_leaf() {
                continue;
            }
            // SAFETY: non-null leaf pointers are live until `Drop`; the Acquire load pairs with the
            // writer's Release store in `grow`, so the leaf's initialisation is visible.
            let leaf = unsafe { &*leaf };
            leaf.init.observed();
            let first = k * LEAF_LEN;
            for (j, c) in leaf.chunks.iter().enumerate().take(chunks - first) {
                let chunk = c.load(Ordering::Acquire);
                if chunk.is_null() {
                    continue;
                }
                // SAFETY: as for the leaf.
                unsafe { (*chunk).init.observed() };
                let handle = ChunkRef {
                    chunk,
                    _shard: std::marker::PhantomData,
                };
                if !f(first + j, handle) {
                    return false;
                }
            }
        }
        true
    }

    /// The writer adds the `f64` `v` to the sum cell `at`, allocating its chunk if needed.
    fn add_f64_grow(&self, at: CellAt, v: f64) {
        let chunk = self.owned_chunk_or_grow(at);
        // SAFETY: `chunk` is this shard's (non-null) chunk for `at`; the caller is the writer.
        unsafe { Self::add_f64_in(chunk, at.off(), v) };
    }

    /// Cell `off` of `chunk`.
    ///
    /// # Safety
    ///
    /// `chunk` is a non-null chunk of a live shard and `off < CHUNK_CELLS`.
    #[inline(always)]
    unsafe fn cell_in<'a>(chunk: *mut Chunk, off: usize) -> &'a AtomicU64 {
        // SAFETY: the caller passes a live chunk (freed only by the shard's `Drop`, which needs
        // `&mut`, so it outlives the borrow of the shard the caller holds) whose lines form one
        // flat array of `CHUNK_CELLS` cells (`LINE_IS_DENSE`, `repr(C)` with the lines first),
        // and `off < CHUNK_CELLS`.
        unsafe { &*ptr::addr_of!((*chunk).lines).cast::<AtomicU64>().add(off) }
    }

    /// Reads a cell from any thread (`Relaxed`); anything unallocated reads as 0.
    #[inline]
    pub(crate) fn read(&self, at: CellAt) -> u64 {
        self.read_with(at, Ordering::Relaxed)
    }

    /// Reads a cell from any thread with the given ordering for the cell's own load.
    #[inline]
    fn read_with(&self, at: CellAt, order: Ordering) -> u64 {
        let chunk = self.published_chunk(at);
        if chunk.is_null() {
            return 0;
        }
        // SAFETY: `published_chunk` returns null or a live, published chunk; `off() <
        // CHUNK_CELLS` by the `CellAt` invariant.
        unsafe { Self::cell_in(chunk, at.off()) }.load(order)
    }

    /// A reader's (any thread's) pointer to the chunk holding `at`, null while unallocated.
    #[inline]
    fn published_chunk(&self, at: CellAt) -> *mut Chunk {
        let leaf = self.root[at.root()].load(Ordering::Acquire);
        if leaf == empty_leaf() {
            return ptr::null_mut();
        }
        // SAFETY: non-null leaf pointers are live until `Drop`; the Acquire load pairs with the
        // writer's Release store in `grow`, so the leaf's initialisation is visible.
        let leaf = unsafe { &*leaf };
        leaf.init.observed();
        let chunk = leaf.chunks[at.leaf()].load(Ordering::Acquire);
        if !chunk.is_null() {
            // SAFETY: as for the leaf.
            unsafe { (*chunk).init.observed() };
        }
        chunk
    }

    /// Adds `n` consecutive cells starting at `at` into `out[..n]` (saturating), outside any
    /// sequence window (the `count_reread` mutant's second read).
    #[cfg(dcc_mcp_loom_mutant = "count_reread")]
    pub(crate) fn add_into(&self, at: CellAt, out: &mut [u64]) {
        for (i, o) in out.iter_mut().enumerate() {
            *o = o.saturating_add(self.read(at.offset(i)));
        }
    }

    /// The writer adds `n` to cell `off` of `chunk`, saturating at `u64::MAX`: Relaxed load +
    /// add + Relaxed store, no read-modify-write instruction. Sound because the shard has a single
    /// writer; readers see either the old or the new value, never a torn one, and (per-location
    /// coherence) never an older one after a newer one.
    ///
    /// # Safety
    ///
    /// As [`cell_in`](Self::cell_in); the caller is the shard's writer.
    #[inline(always)]
    unsafe fn add_in(chunk: *mut Chunk, off: usize, n: u64) {
        // SAFETY: forwarded from the caller.
        let c = unsafe { Self::cell_in(chunk, off) };
        c.store(owner_load_u64(c).saturating_add(n), Ordering::Relaxed);
    }

    /// The writer adds 1 to the histogram bucket cell `off` of `chunk`, wrapping: Relaxed load +
    /// add + Relaxed store. A bucket count grows by one per observation, so it cannot reach
    /// `u64::MAX` (≈ 1.8e19 observations: 580 years at a billion per second on one thread), and
    /// the bucket path skips the saturation that [`add_in`](Self::add_in) keeps for counters'
    /// arbitrary `inc_by` amounts. The merge still sums shards with `saturating_add`.
    ///
    /// # Safety
    ///
    /// As [`add_in`](Self::add_in).
    #[inline(always)]
    unsafe fn inc_bucket_in(chunk: *mut Chunk, off: usize) {
        // SAFETY: forwarded from the caller.
        let c = unsafe { Self::cell_in(chunk, off) };
        c.store(owner_load_u64(c).wrapping_add(1), Ordering::Relaxed);
    }

    /// The writer adds `v` to the `f64` stored (as bits) in cell `off` of `chunk`.
    ///
    /// # Safety
    ///
    /// As [`add_in`](Self::add_in).
    #[inline(always)]
    unsafe fn add_f64_in(chunk: *mut Chunk, off: usize, v: f64) {
        // SAFETY: forwarded from the caller.
        let s = unsafe { Self::cell_in(chunk, off) };
        let sum = f64::from_bits(owner_load_u64(s)) + v;
        s.store(sum.to_bits(), Ordering::Relaxed);
    }

    /// The writer adds `n` to cell `at`, allocating its chunk if needed.
    fn add_grow(&self, at: CellAt, n: u64) {
        let chunk = self.owned_chunk_or_grow(at);
        // SAFETY: `chunk` is this shard's (non-null) chunk for `at`; the caller is the writer.
        unsafe { Self::add_in(chunk, at.off(), n) };
    }

    /// The writer records `v` into the histogram series at `base`; see [`ShardSet::observe`].
    /// Every chunk the observation touches is allocated first, so the observation itself is
    /// written inside one sequence window, as on the fast path.
    fn observe_grow(&self, base: CellAt, bucket: usize, seq_offset: usize, v: f64) {
        self.observe_extra_grow(base, bucket, seq_offset, v, &Extra::default());
    }

    /// [`observe_grow`](Self::observe_grow) that also writes `extra`'s cells after the classic
    /// block, inside the same sequence window.
    fn observe_extra_grow(
        &self,
        base: CellAt,
        bucket: usize,
        seq_offset: usize,
        v: f64,
        extra: &Extra,
    ) {
        let q = base.offset(seq_offset);
        let s = base.offset(seq_offset - 1);
        let b = base.offset(bucket);
        let (qc, sc, bc) = (
            self.owned_chunk_or_grow(q),
            self.owned_chunk_or_grow(s),
            self.owned_chunk_or_grow(b),
        );
        // The extra cells follow the sequence cell.
        let inc = extra.inc.map(|k| {
            let at = base.offset(seq_offset + 1 + k);
            (self.owned_chunk_or_grow(at), at.off())
        });
        let mut set = [(ptr::null_mut(), 0usize, 0u64); SLOT_CELLS];
        if let Some((k, cells)) = extra.set {
            for (i, (slot, c)) in set.iter_mut().zip(cells).enumerate() {
                let at = base.offset(seq_offset + 1 + k + i);
                *slot = (self.owned_chunk_or_grow(at), at.off(), c);
            }
        }
        // SAFETY: each chunk is this shard's (non-null) chunk for its cell (`owned_chunk_or_grow`
        // above; `set` entries are written only when `extra.set` is some); the caller is the writer.
        unsafe {
            let seq = Self::begin_write(qc, q.off());
            Self::add_f64_in(sc, s.off(), v);
            Self::inc_bucket_in(bc, b.off());
            if let Some((chunk, off)) = inc {
                Self::inc_bucket_in(chunk, off);
            }
            #[cfg(not(dcc_mcp_loom_mutant = "exemplar_outside_window"))]
            if extra.set.is_some() {
                for (chunk, off, c) in set {
                    Self::cell_in(chunk, off).store(c, Ordering::Relaxed);
                }
            }
            Self::end_write(qc, q.off(), seq);
            // Mutant: the exemplar's cells written after the window closed.
            #[cfg(dcc_mcp_loom_mutant = "exemplar_outside_window")]
            if extra.set.is_some() {
                for (chunk, off, c) in set {
                    Self::cell_in(chunk, off).store(c, Ordering::Relaxed);
                }
            }
        }
    }

    /// The writer opens a histogram series' sequence window: the series' sequence cell goes odd,
    /// and a `Release` fence orders that store before the cell updates that follow, so a reader
    /// whose loads see any of them sees the odd (or a later) sequence on its second read. Returns
    /// the even value the window started from.
    ///
    /// # Safety
    ///
    /// As [`add_in`](Self::add_in).
    #[inline(always)]
    unsafe fn begin_write(chunk: *mut Chunk, off: usize) -> u64 {
        // SAFETY: forwarded from the caller.
        let c = unsafe { Self::cell_in(chunk, off) };
        let seq = owner_load_u64(c);
        c.store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        seq
    }

    /// The writer closes the window [`begin_write`](Self::begin_write) opened: the sequence goes
    /// even again with a `Release` store, publishing the updates to a reader whose first
    /// (`Acquire`) read of the sequence sees it.
    ///
    /// # Safety
    ///
    /// As [`add_in`](Self::add_in); `seq` is what `begin_write` returned for this cell.
    #[inline(always)]
    unsafe fn end_write(chunk: *mut Chunk, off: usize, seq: u64) {
        // SAFETY: forwarded from the caller.
        let c = unsafe { Self::cell_in(chunk, off) };
        c.store(seq.wrapping_add(2), Ordering::Release);
    }

    /// Reads one histogram series of this shard, `counts.len()` bucket cells from `base`, then the
    /// sum, then the sequence cell, as one consistent state: every observation wholly in or wholly
    /// out. The sequence is read before (`Acquire`) and after (behind an `Acquire` fence) the
    /// cells; a read that overlaps a write window (odd, or changed) answers `None` and the caller
    /// tries again. Otherwise adds the counts into `counts` and returns the sum.
    ///
    /// It also copies the `extra.len()` cells after the sequence cell (exemplar slots, native
    /// buckets) into `extra`, in the same window.
    pub(crate) fn try_read_histogram(
        &self,
        base: CellAt,
        counts: &mut [u64],
        extra: &mut [u64],
    ) -> Option<f64> {
        self.try_read_histogram_in(None, base, counts, extra)
    }

    /// [`try_read_histogram`](Self::try_read_histogram) given the chunk that holds `base` (from
    /// [`for_each_chunk`](Self::for_each_chunk)) instead of looking it up.
    pub(crate) fn try_read_histogram_in(
        &self,
        hint: Option<ChunkRef<'_>>,
        base: CellAt,
        counts: &mut [u64],
        extra: &mut [u64],
    ) -> Option<f64> {
        let n = counts.len();
        if extra.is_empty() && n + 1 < CHUNK_CELLS {
            if let Some(c) = hint.filter(|_| n <= 16) {
                return Self::try_read_classic_in(c.chunk, base, counts);
            }
        }
        let mut raw = [0u64; 16];
        let mut heap = Vec::new();
        let buf: &mut [u64] = if n <= raw.len() {
            &mut raw[..n]
        } else {
            heap.resize(n, 0);
            &mut heap
        };
        // A series that fits in one chunk never straddles one: one chunk pointer serves every
        // cell (and, under loom, keeps the read to one step per cell).
        let one_chunk = n + 1 < CHUNK_CELLS;
        let chunk = if one_chunk {
            hint.map_or_else(|| self.published_chunk(base), |c| c.chunk)
        } else {
            ptr::null_mut()
        };
        if one_chunk && chunk.is_null() {
            // Nothing recorded here yet: every write goes through the window, whose cells are in
            // this chunk. The extra cells (in other chunks) may be written meanwhile, but the
            // sequence cell cannot show it, so they are not read: the state before any observation.
            extra.fill(0);
            return Some(0.0);
        }
        // SAFETY (of every `cell_in` below with `one_chunk`): `chunk` is a live published chunk
        // holding the whole classic block (it fits in one chunk and does not straddle one), so
        // `base.off() + i < CHUNK_CELLS` for `i <= n + 1`.
        let cell = |i: usize, order: Ordering| -> u64 {
            if one_chunk {
                // SAFETY: see above; `chunk` is non-null here (tested before).
                return unsafe { Self::cell_in(chunk, base.off() + i) }.load(order);
            }
            self.read_with(base.offset(i), order)
        };
        let before = cell(n + 1, Ordering::Acquire);
        if before & 1 == 1 {
            return None;
        }
        for (i, b) in buf.iter_mut().enumerate() {
            *b = cell(i, Ordering::Relaxed);
        }
        let sum = cell(n, Ordering::Relaxed);
        for (i, e) in extra.iter_mut().enumerate() {
            *e = self.read_with(base.offset(n + 2 + i), Ordering::Relaxed);
        }
        fence(Ordering::Acquire);
        let after = cell(n + 1, Ordering::Relaxed);
        #[cfg(dcc_mcp_loom_mutant = "sum_without_seq")]
        let after = before;
        if after != before {
            return None;
        }
        for (o, b) in counts.iter_mut().zip(buf.iter()) {
            *o = o.saturating_add(*b);
        }
        Some(f64::from_bits(sum))
    }

    /// The scrape's common case of [`try_read_histogram_in`](Self::try_read_histogram_in): a
    /// classic block of at most 16 buckets and no extra cells, in `chunk` (a published chunk of
    /// this shard that holds the whole block). The same loads in the same order, over one slice
    /// of cells: no per-cell choice of path, no bounds checks.
    #[inline]
    fn try_read_classic_in(chunk: *mut Chunk, base: CellAt, counts: &mut [u64]) -> Option<f64> {
        let n = counts.len();
        debug_assert!(n <= 16 && base.off() + n + 1 < CHUNK_CELLS);
        if n > 16 || base.off() + n + 1 >= CHUNK_CELLS || chunk.is_null() {
            return None;
        }
        // SAFETY: `chunk` is a live published chunk (non-null, tested above) holding the series'
        // whole classic block: `base.off() + n + 1 < CHUNK_CELLS` (tested above), and the cells
        // of a chunk form one flat array (see `cell_in`), so these `n + 2` cells lie inside it.
        let cells: &[AtomicU64] = unsafe {
            std::slice::from_raw_parts(
                ptr::addr_of!((*chunk).lines)
                    .cast::<AtomicU64>()
                    .add(base.off()),
                n + 2,
            )
        };
        let (block, tail) = cells.split_at(n);
        let (sum_cell, seq_cell) = (&tail[0], &tail[1]);
        let before = seq_cell.load(Ordering::Acquire);
        if before & 1 == 1 {
            return None;
        }
        let mut raw = [0u64; 16];
        for (b, c) in raw.iter_mut().zip(block) {
            *b = c.load(Ordering::Relaxed);
        }
        let sum = sum_cell.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        let after = seq_cell.load(Ordering::Relaxed);
        #[cfg(dcc_mcp_loom_mutant = "sum_without_seq")]
        let after = before;
        if after != before {
            return None;
        }
        for (o, b) in counts.iter_mut().zip(&raw) {
            *o = o.saturating_add(*b);
        }
        Some(f64::from_bits(sum))
    }

    /// Bytes of leaf and chunk storage this shard has allocated (in use or pooled).
    pub(crate) fn allocated_bytes(&self) -> usize {
        self.pooled_bytes.load(Ordering::Relaxed) + self.in_use_bytes()
    }

    /// Bytes of leaf and chunk storage this shard has published.
    fn in_use_bytes(&self) -> usize {
        self.root
            .iter()
            .map(|slot| slot.load(Ordering::Acquire))
            .filter(|leaf| *leaf != empty_leaf())
            .map(|leaf| {
                // SAFETY: non-null leaf pointers are live until `Drop`.
                let leaf = unsafe { &*leaf };
                let chunks = leaf
                    .chunks
                    .iter()
                    .filter(|c| !c.load(Ordering::Acquire).is_null())
                    .count();
                LEAF_BYTES + chunks * CHUNK_BYTES
            })
            .sum()
    }
}

impl Drop for Shard {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: no other access to the pool; its pointers came from
        // `Box::into_raw` in `grow` and are no longer published (nor reachable by a reader).
        let pool = unsafe { self.pool.with_mut(std::mem::take) };
        for leaf in pool.leaves {
            // SAFETY: as above; a pooled leaf's chunk pointers are all null.
            drop(unsafe { Box::from_raw(leaf) });
        }
        for chunk in pool.chunks {
            // SAFETY: as above.
            drop(unsafe { Box::from_raw(chunk) });
        }
        for slot in &self.root {
            let leaf = slot.load(Ordering::Acquire);
            if leaf == empty_leaf() {
                continue;
            }
            // SAFETY: `leaf` came from `Box::into_raw` in `grow`, and `&mut self` proves no
            // reader or writer still holds a reference into this shard.
            let leaf = unsafe { Box::from_raw(leaf) };
            for c in &leaf.chunks {
                let chunk = c.load(Ordering::Acquire);
                if !chunk.is_null() {
                    // SAFETY: as for the leaf.
                    drop(unsafe { Box::from_raw(chunk) });
                }
            }
        }
    }
}

/// What an observation writes after a histogram series' classic block (offsets counted from the
/// cell after the sequence cell).
#[derive(Default)]
pub(crate) struct Extra {
    /// A cell to increment by one (a native bucket).
    pub(crate) inc: Option<usize>,
    /// Four cells to overwrite (an exemplar slot).
    pub(crate) set: Option<(usize, [u64; SLOT_CELLS])>,
}

/// What a retirer needs to know about the registry's cells: the sum cell of every histogram
/// series (ascending; each followed by its sequence cell), and the exemplar slots as `(start, len)`
/// ranges, ascending.
#[derive(Default)]
pub(crate) struct RetireLayout {
    sums: Vec<usize>,
    skips: Vec<(usize, usize)>,
}

impl RetireLayout {
    /// Whether cell `index` is an exemplar cell.
    fn skipped(&self, index: usize) -> bool {
        let at = self.skips.partition_point(|(s, _)| *s <= index);
        at > 0 && {
            let (s, len) = self.skips[at - 1];
            index < s + len
        }
    }
}

/// All shards of one registry: one per engine thread id (slots of exited threads are kept and
/// passed on) and the orphan shard.
///
/// The shard header (its root table) is boxed in the thread's slot and written only when a leaf
/// is added. The cells, written on every record, live in the chunks, whose 128-byte-aligned lines
/// belong to one shard each. The hot path is four dependent loads (memo, root entry, leaf entry,
/// cell) and needs no stack frame.
pub(crate) struct ShardSet {
    slots: ThreadSlots<Shard>,
    /// Written by threads that have left the engine; see the module docs.
    orphan: Shard,
    /// Serialises the orphan's writers (never taken by a scrape).
    orphan_writer: Mutex<()>,
    /// The values of earlier holders of engine thread ids, folded in by the next holder
    /// ([`adopt`](Self::adopt)); written only under `retire`.
    retired: Shard,
    /// Serialises retirers (the writers of `retired`) and holds the layout they need. A scrape
    /// takes it only after four merges in a row overlapped a retire
    /// ([`consistent_merge`](Self::consistent_merge)).
    retire: Mutex<RetireLayout>,
    /// Odd while a retirer moves values from a shard into `retired`; a merge whose reads overlap
    /// a change of it reads again ([`consistent`](Self::consistent)).
    retire_seq: AtomicU64,
}

/// A new, empty shard for the calling thread's tenure; out of line because it runs once per
/// thread id.
#[cold]
#[inline(never)]
fn new_shard() -> Shard {
    Shard::new(tenure())
}

impl ShardSet {
    pub(crate) fn new() -> Self {
        ShardSet {
            slots: ThreadSlots::new(),
            orphan: Shard::new(0),
            orphan_writer: Mutex::new(()),
            retired: Shard::new(0),
            retire: Mutex::new(RetireLayout::default()),
            retire_seq: AtomicU64::new(0),
        }
    }

    /// Records that cell `index` holds a histogram series' sum (as `f64` bits) and `index + 1`
    /// its sequence cell, for retiring. Called once per histogram series, in allocation order.
    pub(crate) fn note_histogram_sum(&self, index: usize) {
        let mut layout = lock(&self.retire);
        let at = layout.sums.partition_point(|s| *s < index);
        layout.sums.insert(at, index);
    }

    /// Records that the `len` cells from `start` hold exemplar slots, which retiring drops.
    pub(crate) fn note_exemplar_cells(&self, start: usize, len: usize) {
        let mut layout = lock(&self.retire);
        let at = layout.skips.partition_point(|(s, _)| *s < start);
        layout.skips.insert(at, (start, len));
    }

    /// Runs `f` as the writer of the calling thread's shard, or (after the thread has left the
    /// engine) of the orphan shard under its writer lock.
    fn with_writer(&self, f: impl FnOnce(&Shard)) {
        match self.slots.memo() {
            Some(s) => f(s),
            None => match self.slots.get_or_memo(new_shard) {
                Some(s) => {
                    self.adopt(s);
                    f(s)
                }
                None => self.with_orphan(f),
            },
        }
    }

    /// The calling thread, about to write its shard `s`, retires the storage of the previous
    /// holder of its engine thread id if `s` still holds it: the values move into the retired
    /// shard and the leaves and chunks go to `s`'s pool, so a shard's storage follows what its
    /// current holder records, not the union of everything its holders ever recorded.
    #[inline]
    fn adopt(&self, s: &Shard) {
        let me = tenure();
        if owner_load_u64(&s.tenure) != me {
            self.retire_shard(s, me);
        }
    }

    #[cold]
    #[inline(never)]
    fn retire_shard(&self, s: &Shard, me: u64) {
        let layout = lock(&self.retire);
        // Retirers are serialised by the lock, so the sequence has one writer at a time.
        let seq = owner_load_u64(&self.retire_seq);
        #[cfg(not(dcc_mcp_loom_mutant = "retire_unsequenced"))]
        {
            self.retire_seq
                .store(seq.wrapping_add(1), Ordering::Relaxed);
            fence(Ordering::Release);
        }
        s.drain_into(&self.retired, &layout);
        #[cfg(not(dcc_mcp_loom_mutant = "retire_unsequenced"))]
        self.retire_seq
            .store(seq.wrapping_add(2), Ordering::Release);
        s.tenure.store(me, Ordering::Relaxed);
    }

    /// Runs the read `read` of some cells over [`iter`](Self::iter) until no retire moved values
    /// while it ran: the retire sequence is read before (`Acquire`) and after (behind an
    /// `Acquire` fence), and the read is repeated while it was odd or changed, or while `read`
    /// itself answers `None` (a torn histogram read: it then checks whether a retire is the cause,
    /// see [`retire_moved`](Self::retire_moved)). So a value moving from a shard into the
    /// retired shard is counted exactly once.
    pub(crate) fn consistent<R>(&self, read: impl Fn(u64) -> Option<R>) -> R {
        let mut tries = 0u32;
        loop {
            let before = self.retire_seq.load(Ordering::Acquire);
            if before & 1 == 0 {
                if let Some(r) = read(before) {
                    fence(Ordering::Acquire);
                    let after = self.retire_seq.load(Ordering::Relaxed);
                    if after == before {
                        return r;
                    }
                }
            }
            tries += 1;
            crate::sync::backoff(tries);
        }
    }

    /// [`consistent`](Self::consistent) for a read of every shard at once (the scrape's merge):
    /// after `MERGE_TRIES` reads that a retire overlapped, the read runs holding the retirers'
    /// lock, so a pool of threads that keeps starting cannot starve a scrape (a new thread's first
    /// record waits for that one merge instead).
    pub(crate) fn consistent_merge<R>(&self, read: impl Fn(u64) -> Option<R>) -> R {
        const MERGE_TRIES: u32 = 4;
        for tries in 1..=MERGE_TRIES {
            let before = self.retire_seq.load(Ordering::Acquire);
            if before & 1 == 0 {
                if let Some(r) = read(before) {
                    fence(Ordering::Acquire);
                    if self.retire_seq.load(Ordering::Relaxed) == before {
                        return r;
                    }
                }
            }
            crate::sync::backoff(tries);
        }
        let _retirers = lock(&self.retire);
        self.consistent(read)
    }

    /// Whether a retire has started since the retire sequence read `before` (a reader that sees
    /// values a retirer wrote also sees the odd sequence, through the fences).
    pub(crate) fn retire_moved(&self, before: u64) -> bool {
        fence(Ordering::Acquire);
        self.retire_seq.load(Ordering::Relaxed) != before
    }

    #[cold]
    #[inline(never)]
    fn with_orphan(&self, f: impl FnOnce(&Shard)) {
        #[cfg(not(dcc_mcp_loom_mutant = "orphan_unlocked"))]
        let _writer = lock(&self.orphan_writer);
        f(&self.orphan);
    }

    /// The calling thread adds `n` to its cell `at` (saturating).
    ///
    /// The hot path is the memo lookup, the leaf and chunk pointers and the cell update;
    /// everything else (first use on this thread, a memo held by another registry, a chunk not
    /// yet allocated, a thread that has left the engine) is one out-of-line call in tail
    /// position, so the hot path saves no registers and needs no stack frame.
    #[inline(always)]
    pub(crate) fn add(&self, at: CellAt, n: u64) {
        if let Some(shard) = self.slots.memo() {
            let chunk = shard.owned_chunk(at);
            if !chunk.is_null() {
                // SAFETY: `chunk` is the calling thread's own shard's chunk for `at`, non-null.
                unsafe { Shard::add_in(chunk, at.off(), n) };
                return;
            }
        }
        self.add_slow(at, n);
    }

    #[cold]
    #[inline(never)]
    fn add_slow(&self, at: CellAt, n: u64) {
        self.with_writer(|s| s.add_grow(at, n));
    }

    /// The calling thread records `v` in bucket `bucket` of the histogram series at `base`, whose
    /// sequence cell is `seq_offset` cells after `base` (its last cell, the sum just before it);
    /// same shape as [`add`](Self::add). The sum and the bucket are written inside the series'
    /// sequence window ([`Shard::begin_write`]), so a merge takes every observation wholly or
    /// not at all. A series that fits in one chunk (`seq_offset < CHUNK_CELLS`, up to 61
    /// bounds) never straddles one (the cell allocator keeps series of up to `CHUNK_CELLS` cells
    /// inside a chunk), so a single chunk pointer serves all three cells; larger series take the
    /// slow path. Whether a series fits is a property of its family's bounds, so the test is a
    /// compare of `seq_offset` (already in a register) with a constant, not a computation from
    /// where the series landed. The bucket cell wraps (see [`Shard::inc_bucket_in`]).
    #[inline(always)]
    pub(crate) fn observe(&self, base: CellAt, bucket: usize, seq_offset: usize, v: f64) {
        if let Some(shard) = self.slots.memo() {
            let off = base.off();
            let chunk = shard.owned_chunk(base);
            if seq_offset < CHUNK_CELLS && !chunk.is_null() {
                debug_assert!(off + seq_offset < CHUNK_CELLS, "series straddles a chunk");
                // SAFETY: `chunk` is the calling thread's own shard's chunk for `base`, non-null,
                // and the series' cells `off ..= off + seq_offset` lie inside it (bucket < sum <
                // seq; the series fits in one chunk and does not straddle one).
                unsafe {
                    let seq = Shard::begin_write(chunk, off + seq_offset);
                    Shard::add_f64_in(chunk, off + seq_offset - 1, v);
                    Shard::inc_bucket_in(chunk, off + bucket);
                    Shard::end_write(chunk, off + seq_offset, seq);
                }
                return;
            }
        }
        self.observe_slow(base, bucket, seq_offset, v);
    }

    #[cold]
    #[inline(never)]
    fn observe_slow(&self, base: CellAt, bucket: usize, seq_offset: usize, v: f64) {
        self.with_writer(|s| s.observe_grow(base, bucket, seq_offset, v));
    }

    /// Adds `n` to the counter cell `at` and writes `cells` into its exemplar slot, in one write
    /// window of the calling thread's own shard (see `Shard::add_exemplar_grow`).
    #[inline(never)]
    pub(crate) fn add_with_exemplar(&self, at: CellAt, n: u64, cells: [u64; SLOT_CELLS]) {
        self.with_writer(|s| s.add_exemplar_grow(at, n, cells));
    }

    /// [`observe`](Self::observe) that also writes `extra` (a native bucket increment, an exemplar
    /// slot) in the cells after the series' sequence cell, inside the same window, in the calling
    /// thread's own shard: no lock, no shared line. Out of line (the extra cells may lie in other
    /// chunks), but one call per observation like the slow path of `observe`.
    #[inline(never)]
    pub(crate) fn observe_with(
        &self,
        base: CellAt,
        bucket: usize,
        seq_offset: usize,
        v: f64,
        extra: &Extra,
    ) {
        self.with_writer(|s| s.observe_extra_grow(base, bucket, seq_offset, v, extra));
    }

    /// Every shard, for merging: the threads' shards, the orphan, then the retired values.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Shard> {
        #[cfg(not(dcc_mcp_loom_mutant = "skip_shard"))]
        let threads = self.slots.iter();
        // Mutant: the merge skips the first thread's shard.
        #[cfg(dcc_mcp_loom_mutant = "skip_shard")]
        let threads = self.slots.iter().skip(1);
        threads.chain([&self.orphan, &self.retired])
    }

    /// Bytes of leaf and chunk storage of the per-thread shards and the orphan, in use or pooled.
    pub(crate) fn shard_bytes(&self) -> usize {
        self.slots
            .iter()
            .chain(std::iter::once(&self.orphan))
            .map(Shard::allocated_bytes)
            .sum()
    }

    /// Bytes of leaf and chunk storage of the retired accumulator.
    pub(crate) fn retired_bytes(&self) -> usize {
        self.retired.allocated_bytes()
    }

    /// Number of per-thread shards (the orphan shard is not counted).
    pub(crate) fn thread_shards(&self) -> usize {
        self.slots.count()
    }

    /// Sum of one cell over all shards (saturating), each value counted once.
    pub(crate) fn sum(&self, at: CellAt) -> u64 {
        self.consistent(|_| {
            Some(
                self.iter()
                    .fold(0u64, |acc, s| acc.saturating_add(s.read(at))),
            )
        })
    }
}

#[cfg(all(test, not(dcc_mcp_loom)))]
mod tests {
    use super::*;

    #[test]
    fn cell_locations_split_into_root_leaf_and_chunk() {
        let at = CellAt::of(0);
        assert_eq!((at.root(), at.leaf(), at.off()), (0, 0, 0));
        let at = CellAt::of(63);
        assert_eq!((at.root(), at.leaf(), at.off()), (0, 0, 63));
        let at = CellAt::of(64);
        assert_eq!((at.root(), at.leaf(), at.off()), (0, 1, 0));
        let at = CellAt::of(8192 + 130);
        assert_eq!((at.root(), at.leaf(), at.off()), (1, 2, 2));
        assert_eq!(CellAt::of(CAPACITY - 1).root(), ROOT_LEN - 1);
        assert_eq!(std::mem::size_of::<Chunk>(), 512);
        assert_eq!(std::mem::size_of::<Leaf>(), 1024);
        // The root table, then the tenure, the pool and its byte count.
        assert_eq!(std::mem::size_of::<Shard>(), 1024 + 8 + 48 + 8);
    }

    #[test]
    fn owner_writes_are_read_back_and_unallocated_reads_zero() {
        let set = ShardSet::new();
        let at = CellAt::of(200);
        assert_eq!(set.sum(at), 0);
        set.add(at, 5);
        set.add(at, 2);
        assert_eq!(set.sum(at), 7);
        assert_eq!(set.sum(CellAt::of(0)), 0);
        // One leaf and the one chunk holding cell 200.
        let bytes: usize = set.iter().map(Shard::allocated_bytes).sum();
        assert_eq!(bytes, 1024 + 512);
    }

    #[test]
    fn the_merge_walk_visits_only_committed_chunks() {
        let set = ShardSet::new();
        set.add(CellAt::of(5000), 3);
        set.add(CellAt::of(5001), 4);
        set.add(CellAt::of(70_000), 1);
        let mut seen = Vec::new();
        let whole = set.iter().all(|s| {
            s.for_each_chunk(100_000, |g, c| {
                seen.push((g, c.read(5000 % CHUNK_CELLS), c.read(70_000 % CHUNK_CELLS)));
                true
            })
        });
        assert!(whole);
        // This thread's shard committed two chunks; the orphan and retired shards none.
        assert_eq!(
            seen,
            [(5000 / CHUNK_CELLS, 3, 0), (70_000 / CHUNK_CELLS, 0, 1)]
        );
        // The walk stops below its limit, and when asked to.
        let mut below = 0;
        set.iter().for_each(|s| {
            s.for_each_chunk(70_000 / CHUNK_CELLS * CHUNK_CELLS, |_, _| {
                below += 1;
                true
            });
        });
        assert_eq!(below, 1);
        assert!(!set.iter().all(|s| s.for_each_chunk(100_000, |_, _| false)));
    }

    #[test]
    fn counters_saturate_instead_of_wrapping() {
        let set = ShardSet::new();
        let at = CellAt::of(3);
        set.add(at, u64::MAX - 1);
        set.add(at, 3);
        assert_eq!(set.sum(at), u64::MAX);
    }
}
