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
//! `docs/architecture.md`, "Memory"). Once published, a leaf or chunk is never moved or freed
//! before the registry is dropped, so a scraper that loaded a pointer may keep reading through it.
//!
//! Each chunk is an array of 128-byte-aligned lines, so two shards never share a cache line.
//!
//! Besides one shard per engine thread id, a [`ShardSet`] has one *orphan* shard for recording
//! that happens after the thread has left the engine (thread-local destructors running after the
//! engine's exit guard): its writers take the orphan's writer lock among themselves, which no
//! scrape ever takes, and the merge reads it like any other shard.

use crate::sync::{
    backoff, fence, lock, owner_load_ptr, owner_load_u64, AtomicPtr, AtomicU64, InitMarker, Mutex,
    Ordering, ThreadSlots, CHUNK_SHIFT, LEAF_SHIFT, LINE_CELLS, ROOT_LEN,
};
use std::ptr;

/// Cells in a chunk.
pub(crate) const CHUNK_CELLS: usize = 1 << CHUNK_SHIFT;

/// Chunk pointers in a leaf.
const LEAF_LEN: usize = 1 << LEAF_SHIFT;

/// Total number of cells a registry can allocate.
pub(crate) const CAPACITY: usize = ROOT_LEN << (LEAF_SHIFT + CHUNK_SHIFT);

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
    fn index(self) -> usize {
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
}

impl Shard {
    fn new() -> Self {
        Shard {
            root: std::array::from_fn(|_| AtomicPtr::new(empty_leaf())),
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
            let fresh = Box::new(Leaf {
                chunks: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
                init: InitMarker::default(),
            });
            fresh.init.initialised();
            leaf = Box::into_raw(fresh);
            slot.store(leaf, PUBLISH);
        }
        // SAFETY: `leaf` is live (just published, or published earlier and freed only by `Drop`).
        let cslot = unsafe { &(*leaf).chunks[at.leaf()] };
        let mut chunk = owner_load_ptr(cslot);
        if chunk.is_null() {
            let fresh = Box::new(Chunk {
                lines: std::array::from_fn(|_| Line::zeroed()),
                init: InitMarker::default(),
            });
            fresh.init.initialised();
            chunk = Box::into_raw(fresh);
            cslot.store(chunk, PUBLISH);
        }
        chunk
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
        let q = base.offset(seq_offset);
        let s = base.offset(seq_offset - 1);
        let b = base.offset(bucket);
        let (qc, sc, bc) = (
            self.owned_chunk_or_grow(q),
            self.owned_chunk_or_grow(s),
            self.owned_chunk_or_grow(b),
        );
        // SAFETY: each chunk is this shard's (non-null) chunk for its cell; the caller is the writer.
        unsafe {
            let seq = Self::begin_write(qc, q.off());
            Self::add_f64_in(sc, s.off(), v);
            Self::inc_bucket_in(bc, b.off());
            Self::end_write(qc, q.off(), seq);
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
    /// cells; a read that overlaps a write window (odd, or changed) is retried. Adds the counts
    /// into `counts` and returns the sum.
    pub(crate) fn read_histogram(&self, base: CellAt, counts: &mut [u64]) -> f64 {
        let n = counts.len();
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
        let mut tries = 0u32;
        loop {
            let chunk = if one_chunk {
                self.published_chunk(base)
            } else {
                ptr::null_mut()
            };
            let cell = |i: usize, order: Ordering| -> u64 {
                if !one_chunk {
                    return self.read_with(base.offset(i), order);
                }
                if chunk.is_null() {
                    return 0;
                }
                // SAFETY: `chunk` is a live published chunk holding the whole series (it fits
                // in one chunk and does not straddle one), so `base.off() + i < CHUNK_CELLS`.
                unsafe { Self::cell_in(chunk, base.off() + i) }.load(order)
            };
            let before = cell(n + 1, Ordering::Acquire);
            if before & 1 == 0 {
                for (i, b) in buf.iter_mut().enumerate() {
                    *b = cell(i, Ordering::Relaxed);
                }
                let sum = cell(n, Ordering::Relaxed);
                fence(Ordering::Acquire);
                let after = cell(n + 1, Ordering::Relaxed);
                #[cfg(dcc_mcp_loom_mutant = "sum_without_seq")]
                let after = before;
                if after == before {
                    for (o, b) in counts.iter_mut().zip(buf.iter()) {
                        *o = o.saturating_add(*b);
                    }
                    return f64::from_bits(sum);
                }
            }
            tries += 1;
            backoff(tries);
        }
    }
    /// Bytes of leaf and chunk storage this shard has allocated.
    pub(crate) fn allocated_bytes(&self) -> usize {
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
                std::mem::size_of::<Leaf>() + chunks * std::mem::size_of::<Chunk>()
            })
            .sum()
    }
}

impl Drop for Shard {
    fn drop(&mut self) {
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
}

/// A new, empty shard; out of line because it runs once per thread id.
#[cold]
#[inline(never)]
fn new_shard() -> Shard {
    Shard::new()
}

impl ShardSet {
    pub(crate) fn new() -> Self {
        ShardSet {
            slots: ThreadSlots::new(),
            orphan: Shard::new(),
            orphan_writer: Mutex::new(()),
        }
    }

    /// Runs `f` as the writer of the calling thread's shard, or (after the thread has left the
    /// engine) of the orphan shard under its writer lock.
    fn with_writer(&self, f: impl FnOnce(&Shard)) {
        match self.slots.memo() {
            Some(s) => f(s),
            None => match self.slots.get_or_memo(new_shard) {
                Some(s) => f(s),
                None => self.with_orphan(f),
            },
        }
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

    /// Every shard, for merging: the threads' shards, then the orphan.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Shard> {
        #[cfg(not(dcc_mcp_loom_mutant = "skip_shard"))]
        let threads = self.slots.iter();
        // Mutant: the merge skips the first thread's shard.
        #[cfg(dcc_mcp_loom_mutant = "skip_shard")]
        let threads = self.slots.iter().skip(1);
        threads.chain(std::iter::once(&self.orphan))
    }

    /// Number of per-thread shards (the orphan shard is not counted).
    pub(crate) fn thread_shards(&self) -> usize {
        self.slots.count()
    }

    /// Sum of one cell over all shards (saturating).
    pub(crate) fn sum(&self, at: CellAt) -> u64 {
        self.iter()
            .fold(0u64, |acc, s| acc.saturating_add(s.read(at)))
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
        assert_eq!(std::mem::size_of::<Shard>(), 1024);
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
    fn counters_saturate_instead_of_wrapping() {
        let set = ShardSet::new();
        let at = CellAt::of(3);
        set.add(at, u64::MAX - 1);
        set.add(at, 3);
        assert_eq!(set.sum(at), u64::MAX);
    }
}
