//! Per-thread shards: one writer each, cells in append-only segmented storage.
//!
//! A [`Shard`] belongs to exactly one live thread at a time (see [`crate::sync::ThreadSlots`]). It
//! holds that thread's cell for every counter series and every histogram bucket/sum of the registry,
//! densely, 8 bytes per cell, so the cache-line padding is paid once per shard and not once per
//! cell. Cells live in segments of doubling size (`FIRST_SEGMENT << k` cells for segment `k`). A
//! segment, once published, is never moved or freed before the registry is dropped, so a scraper
//! that loaded a segment pointer may keep reading it while the owner allocates later segments for
//! series registered after the shard was created. Segments are allocated lazily, by the owner, the
//! first time it records into a cell they contain; an unallocated segment reads as all zeros.
//!
//! Each segment is an array of 128-byte-aligned lines, so two shards never share a cache line.

use crate::sync::{
    owner_load_ptr, owner_load_u64, AtomicPtr, AtomicU64, InitMarker, Ordering, ThreadSlots,
    FIRST_SEGMENT_SHIFT, LINE_CELLS, SEGMENTS,
};
use std::ptr;

/// Cells in the first segment.
const FIRST_SEGMENT: usize = 1 << FIRST_SEGMENT_SHIFT;

/// Total number of cells a registry can allocate.
pub(crate) const CAPACITY: usize = FIRST_SEGMENT * ((1 << SEGMENTS) - 1);

/// One cache line of cells. Aligned like `crossbeam_utils::CachePadded` (128 bytes on x86-64,
/// where the adjacent-line prefetcher pairs lines) so no line is shared with another allocation,
/// in particular with another thread's segment: this is the once-per-shard padding.
///
/// A segment is a `Box<[Line]>` and is addressed as a flat array of cells (cell `k` of a segment
/// is `k * 8` bytes from its start), which needs lines without padding; `LINE_IS_DENSE` checks
/// that. Loom's atomics are bigger than 8 bytes, so loom builds drop the alignment (which only
/// matters for real caches) rather than pad the lines.
#[cfg_attr(not(dcc_mcp_loom), repr(C, align(128)))]
#[cfg_attr(dcc_mcp_loom, repr(C))]
pub(crate) struct Line([AtomicU64; LINE_CELLS]);

/// A line is exactly `LINE_CELLS` cells, so a segment's lines form one flat array of cells.
const LINE_IS_DENSE: () =
    assert!(std::mem::size_of::<Line>() == LINE_CELLS * std::mem::size_of::<AtomicU64>());

impl Line {
    fn zeroed() -> Self {
        let () = LINE_IS_DENSE;
        Line(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

/// Where cell `index` lives: its segment, and its offset (in cells) inside that segment.
///
/// Invariant, relied on by the unchecked accesses in [`Shard`]: `seg < SEGMENTS` and
/// `off < segment_len(seg)`. [`CellAt::of`] establishes it for every `index < CAPACITY`, and
/// [`CellAt::offset`] keeps it because a series' cells never straddle a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CellAt {
    seg: u32,
    off: u32,
}

impl CellAt {
    /// Locates the global cell `index`. Callers pass `index < CAPACITY` (the cell allocator
    /// checks it); a larger index is clamped to the last cell so the invariant holds regardless.
    pub(crate) fn of(index: usize) -> Self {
        debug_assert!(index < CAPACITY, "cell index {index} out of range");
        let j = index.min(CAPACITY - 1) + FIRST_SEGMENT;
        let seg = (usize::BITS - 1 - j.leading_zeros()) - FIRST_SEGMENT_SHIFT;
        let off = j - (FIRST_SEGMENT << seg);
        CellAt {
            seg,
            off: off as u32,
        }
    }

    /// The segment holding the cell.
    pub(crate) fn seg(self) -> u32 {
        self.seg
    }

    /// The cell `n` places further on; the caller guarantees it is in the same segment (the
    /// series' cells were allocated in one segment by `Shared::alloc_cells`).
    #[inline(always)]
    pub(crate) fn offset(self, n: usize) -> Self {
        debug_assert!(self.off as usize + n < segment_len(self.seg as usize));
        CellAt {
            seg: self.seg,
            off: self.off + n as u32,
        }
    }
}

/// Number of cells in segment `k`.
fn segment_len(k: usize) -> usize {
    FIRST_SEGMENT << k
}

/// First global cell index of segment `k`.
pub(crate) fn segment_start(k: usize) -> usize {
    (FIRST_SEGMENT << k) - FIRST_SEGMENT
}

/// One thread's cells; see the module docs.
pub(crate) struct Shard {
    /// Segment `k` points at `segment_len(k) / LINE_CELLS` lines, or is null until first used.
    segments: [AtomicPtr<Line>; SEGMENTS],
    /// Checks (under loom) that a segment's initialisation happens-before a scraper's reads.
    init: [InitMarker; SEGMENTS],
}

impl Shard {
    fn new() -> Self {
        Shard {
            segments: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
            init: std::array::from_fn(|_| InitMarker::default()),
        }
    }

    /// The owner's pointer to segment `k`, null until the owner first records into it.
    ///
    /// Must only be called by the thread that owns this shard (the one `ThreadSlots::get_or`
    /// returned it to): segment pointers have a single writer, so a `Relaxed` load (`owner_load_ptr`)
    /// suffices: the owner wrote the pointer itself, or a previous owner did and that owner's
    /// exit happens-before (see `ThreadSlots`).
    #[inline(always)]
    fn owned_segment(&self, k: u32) -> *mut Line {
        // SAFETY: `k` is a `CellAt`'s segment, `< SEGMENTS` by the `CellAt` invariant.
        owner_load_ptr(unsafe { self.segments.get_unchecked(k as usize) })
    }

    /// The owner's pointer to segment `k`, allocating it on first use.
    #[inline]
    fn owned_segment_or_grow(&self, k: u32) -> *mut Line {
        let seg = self.owned_segment(k);
        if seg.is_null() {
            return self.grow(k as usize);
        }
        seg
    }

    /// Cell `at` of segment `seg`.
    ///
    /// # Safety
    ///
    /// `seg` is this shard's segment `at.seg`, non-null.
    #[inline(always)]
    unsafe fn cell_in(&self, seg: *mut Line, at: CellAt) -> &AtomicU64 {
        // SAFETY: the caller passes this shard's segment `at.seg`, a live allocation of at least
        // `segment_len(at.seg)` cells laid out as one flat array (`LINE_IS_DENSE`), published by
        // this thread or by a scraper-visible `Release` store, and freed only by `Drop` with
        // `&mut self`, so it outlives the `&self` borrow the result is tied to;
        // `at.off < segment_len(at.seg)` by the `CellAt` invariant.
        unsafe { &*seg.cast::<AtomicU64>().add(at.off as usize) }
    }

    #[cold]
    #[inline(never)]
    fn grow(&self, k: usize) -> *mut Line {
        let lines: Box<[Line]> = (0..segment_len(k).div_ceil(LINE_CELLS))
            .map(|_| Line::zeroed())
            .collect();
        let seg = Box::into_raw(lines) as *mut Line;
        self.init[k].initialised();
        // Single writer (the owner), so no CAS: Release publishes the zeroed lines to scrapers.
        self.segments[k].store(seg, Ordering::Release);
        seg
    }

    /// Reads a cell from any thread; an unallocated segment reads as 0.
    #[inline]
    pub(crate) fn read(&self, at: CellAt) -> u64 {
        let seg = self.segments[at.seg as usize].load(Ordering::Acquire);
        if seg.is_null() {
            return 0;
        }
        self.init[at.seg as usize].observed();
        // SAFETY: `seg` is segment `at.seg`, non-null; the Acquire load pairs with the owner's
        // Release store in `grow`, so the segment's initialisation is visible.
        unsafe { self.cell_in(seg, at) }.load(Ordering::Relaxed)
    }

    /// Reads `n` consecutive cells starting at `at` (all in one segment) into `out[..n]` by adding.
    pub(crate) fn add_into(&self, at: CellAt, out: &mut [u64]) {
        for (i, o) in out.iter_mut().enumerate() {
            *o = o.wrapping_add(self.read(at.offset(i)));
        }
    }

    /// The owner adds `n` to cell `at` of segment `seg`: Relaxed load + add + Relaxed store, no
    /// read-modify-write instruction. Sound because this thread is the cell's only writer;
    /// readers see either the old or the new value, never a torn one, and (per-location
    /// coherence) never an older one after a newer one.
    ///
    /// # Safety
    ///
    /// As [`cell_in`](Self::cell_in); the caller owns the shard.
    #[inline(always)]
    unsafe fn add_in(&self, seg: *mut Line, at: CellAt, n: u64) {
        // SAFETY: forwarded from the caller.
        let c = unsafe { self.cell_in(seg, at) };
        c.store(owner_load_u64(c).wrapping_add(n), Ordering::Relaxed);
    }

    /// Histogram observation by the owner into segment `seg`: bump bucket `bucket` of the series
    /// whose first cell is `base`, and add `v` to its sum cell (`sum_offset` cells after `base`,
    /// stored as `f64` bits). A series' cells never straddle a segment, so one segment pointer
    /// serves both cells.
    ///
    /// # Safety
    ///
    /// As [`cell_in`](Self::cell_in) for `base`; `bucket` and `sum_offset` are within the series.
    #[inline(always)]
    unsafe fn observe_in(
        &self,
        seg: *mut Line,
        base: CellAt,
        bucket: usize,
        sum_offset: usize,
        v: f64,
    ) {
        // SAFETY: forwarded from the caller; `offset` stays in the series, so in `seg`.
        let s = unsafe { self.cell_in(seg, base.offset(sum_offset)) };
        let sum = f64::from_bits(owner_load_u64(s)) + v;
        s.store(sum.to_bits(), Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { self.add_in(seg, base.offset(bucket), 1) };
    }

    /// Bytes of cell storage this shard has allocated.
    pub(crate) fn allocated_bytes(&self) -> usize {
        (0..SEGMENTS)
            .filter(|&k| !self.segments[k].load(Ordering::Acquire).is_null())
            .map(|k| segment_len(k).div_ceil(LINE_CELLS) * std::mem::size_of::<Line>())
            .sum()
    }
}

impl Drop for Shard {
    fn drop(&mut self) {
        for (k, slot) in self.segments.iter().enumerate() {
            let seg = slot.load(Ordering::Relaxed);
            if !seg.is_null() {
                let len = segment_len(k).div_ceil(LINE_CELLS);
                // SAFETY: `seg` came from `Box::<[Line]>::into_raw` of exactly `len` lines in
                // `grow`, and `&mut self` proves no reader or writer still holds a reference.
                drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(seg, len)) });
            }
        }
    }
}

/// All shards of one registry, one per live thread (slots of exited threads are kept and reused).
///
/// The shard header (its segment pointer table) lives directly in the thread's slot and is not
/// padded: it is written only when a segment is added, so sharing a line with a neighbour's header
/// costs nothing. The cells, written on every record, live in the segments, whose 128-byte-aligned
/// lines belong to one shard each. Keeping the header unpadded and unboxed keeps the hot path to
/// three dependent loads (slot table, segment pointer, cell) and its stack frame small.
pub(crate) struct ShardSet {
    slots: ThreadSlots<Shard>,
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
        }
    }

    /// The calling thread's shard (through the memo when it holds it).
    #[inline]
    pub(crate) fn local(&self) -> &Shard {
        match self.slots.memo() {
            Some(s) => s,
            None => self.slots.get_or_memo(new_shard),
        }
    }

    /// The calling thread adds `n` to its cell `at`.
    ///
    /// The hot path is the memo lookup, the segment pointer and the cell update; everything else
    /// (first use on this thread, a memo held by another registry, a segment not yet allocated)
    /// is one out-of-line call in tail position, so the hot path saves no registers and needs
    /// no stack frame.
    #[inline(always)]
    pub(crate) fn add(&self, at: CellAt, n: u64) {
        if let Some(shard) = self.slots.memo() {
            let seg = shard.owned_segment(at.seg);
            if !seg.is_null() {
                // SAFETY: `seg` is the calling thread's own shard's segment `at.seg`, non-null.
                unsafe { shard.add_in(seg, at, n) };
                return;
            }
        }
        self.add_slow(at, n);
    }

    #[cold]
    #[inline(never)]
    fn add_slow(&self, at: CellAt, n: u64) {
        let shard = self.local();
        let seg = shard.owned_segment_or_grow(at.seg);
        // SAFETY: `seg` is the calling thread's own shard's segment `at.seg`, non-null.
        unsafe { shard.add_in(seg, at, n) };
    }

    /// The calling thread records `v` in bucket `bucket` of the histogram series at `base`, whose
    /// sum cell is `sum_offset` cells after `base`; same shape as [`add`](Self::add).
    #[inline(always)]
    pub(crate) fn observe(&self, base: CellAt, bucket: usize, sum_offset: usize, v: f64) {
        if let Some(shard) = self.slots.memo() {
            let seg = shard.owned_segment(base.seg);
            if !seg.is_null() {
                // SAFETY: `seg` is the calling thread's own shard's segment `base.seg`, non-null;
                // the histogram passes a bucket and sum offset inside its series.
                unsafe { shard.observe_in(seg, base, bucket, sum_offset, v) };
                return;
            }
        }
        self.observe_slow(base, bucket, sum_offset, v);
    }

    #[cold]
    #[inline(never)]
    fn observe_slow(&self, base: CellAt, bucket: usize, sum_offset: usize, v: f64) {
        let shard = self.local();
        let seg = shard.owned_segment_or_grow(base.seg);
        // SAFETY: as in `observe`.
        unsafe { shard.observe_in(seg, base, bucket, sum_offset, v) };
    }

    /// Every shard, for merging.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Shard> {
        self.slots.iter()
    }

    /// Sum of one cell over all shards.
    pub(crate) fn sum(&self, at: CellAt) -> u64 {
        self.iter()
            .fold(0u64, |acc, s| acc.wrapping_add(s.read(at)))
    }
}

#[cfg(all(test, not(dcc_mcp_loom)))]
mod tests {
    use super::*;

    #[test]
    fn cell_locations_are_dense_and_segmented() {
        assert_eq!(CellAt::of(0), CellAt { seg: 0, off: 0 });
        assert_eq!(CellAt::of(17), CellAt { seg: 0, off: 17 });
        assert_eq!(CellAt::of(63), CellAt { seg: 0, off: 63 });
        assert_eq!(CellAt::of(64), CellAt { seg: 1, off: 0 });
        assert_eq!(CellAt::of(191), CellAt { seg: 1, off: 127 });
        assert_eq!(CellAt::of(192), CellAt { seg: 2, off: 0 });
        assert_eq!(segment_start(2), 192);
        assert_eq!(CellAt::of(CAPACITY - 1).seg as usize, SEGMENTS - 1);
    }

    #[test]
    fn owner_writes_are_read_back_and_unallocated_reads_zero() {
        let set = ShardSet::new();
        let at = CellAt::of(200);
        assert_eq!(set.sum(at), 0);
        set.add(at, 5);
        set.add(at, 2);
        assert_eq!(set.sum(at), 7);
        assert_eq!(set.local().read(CellAt::of(0)), 0);
        assert_eq!(set.local().allocated_bytes(), 256 * 8);
    }
}
