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
#[repr(C, align(128))]
pub(crate) struct Line([AtomicU64; LINE_CELLS]);

impl Line {
    fn zeroed() -> Self {
        Line(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

/// Where cell `index` lives: segment, line within the segment, cell within the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CellAt {
    seg: u32,
    line: u32,
    cell: u32,
}

impl CellAt {
    /// Locates the global cell `index` (must be `< CAPACITY`).
    pub(crate) fn of(index: usize) -> Self {
        let j = index + FIRST_SEGMENT;
        let seg = (usize::BITS - 1 - j.leading_zeros()) - FIRST_SEGMENT_SHIFT;
        let off = j - (FIRST_SEGMENT << seg);
        CellAt {
            seg,
            line: (off / LINE_CELLS) as u32,
            cell: (off % LINE_CELLS) as u32,
        }
    }

    /// The segment holding the cell.
    pub(crate) fn seg(self) -> u32 {
        self.seg
    }

    /// The cell `n` places further on; the caller guarantees it is in the same segment.
    #[inline(always)]
    pub(crate) fn offset(self, n: usize) -> Self {
        let c = self.cell as usize + n;
        CellAt {
            seg: self.seg,
            line: self.line + (c / LINE_CELLS) as u32,
            cell: (c % LINE_CELLS) as u32,
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

    /// The owner's view of a cell, allocating its segment on first use.
    ///
    /// Must only be called by the thread that owns this shard (the one `ThreadSlots::get_or`
    /// returned it to): segment pointers have a single writer.
    #[inline(always)]
    fn owned_cell(&self, at: CellAt) -> &AtomicU64 {
        let slot = &self.segments[at.seg as usize];
        let mut seg = owner_load_ptr(slot);
        if seg.is_null() {
            seg = self.grow(at.seg as usize);
        }
        // SAFETY: `seg` is a live allocation of `segment_len(at.seg) / LINE_CELLS` lines (published
        // by this thread or by a previous owner whose exit happens-before us, and freed only by
        // `Drop` with `&mut self`), and `CellAt` only produces in-bounds line/cell indices.
        unsafe { &(*seg.add(at.line as usize)).0[at.cell as usize] }
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
        // SAFETY: as in `owned_cell`; the Acquire load pairs with the owner's Release store in
        // `grow`, so the segment's initialisation is visible.
        let cell = unsafe { &(*seg.add(at.line as usize)).0[at.cell as usize] };
        cell.load(Ordering::Relaxed)
    }

    /// Reads `n` consecutive cells starting at `at` (all in one segment) into `out[..n]` by adding.
    pub(crate) fn add_into(&self, at: CellAt, out: &mut [u64]) {
        for (i, o) in out.iter_mut().enumerate() {
            *o = o.wrapping_add(self.read(at.offset(i)));
        }
    }

    /// The owner adds `n` to a cell: Relaxed load + add + Relaxed store, no read-modify-write
    /// instruction. Sound because this thread is the cell's only writer; readers see either the
    /// old or the new value, never a torn one, and (per-location coherence) never an older one
    /// after a newer one.
    #[inline(always)]
    pub(crate) fn add(&self, at: CellAt, n: u64) {
        let c = self.owned_cell(at);
        c.store(owner_load_u64(c).wrapping_add(n), Ordering::Relaxed);
    }

    /// Histogram observation by the owner: bump bucket `bucket` of the series whose first cell is
    /// `base`, and add `v` to its sum cell (`sum_at`, stored as `f64` bits).
    #[inline(always)]
    pub(crate) fn observe(&self, base: CellAt, bucket: usize, sum_offset: usize, v: f64) {
        let b = self.owned_cell(base.offset(bucket));
        b.store(owner_load_u64(b).wrapping_add(1), Ordering::Relaxed);
        let s = self.owned_cell(base.offset(sum_offset));
        let sum = f64::from_bits(owner_load_u64(s)) + v;
        s.store(sum.to_bits(), Ordering::Relaxed);
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

    /// The calling thread's shard.
    #[inline(always)]
    pub(crate) fn local(&self) -> &Shard {
        self.slots.get_or(new_shard)
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
        assert_eq!(
            CellAt::of(0),
            CellAt {
                seg: 0,
                line: 0,
                cell: 0
            }
        );
        assert_eq!(
            CellAt::of(17),
            CellAt {
                seg: 0,
                line: 1,
                cell: 1
            }
        );
        assert_eq!(
            CellAt::of(63),
            CellAt {
                seg: 0,
                line: 3,
                cell: 15
            }
        );
        assert_eq!(
            CellAt::of(64),
            CellAt {
                seg: 1,
                line: 0,
                cell: 0
            }
        );
        assert_eq!(
            CellAt::of(191),
            CellAt {
                seg: 1,
                line: 7,
                cell: 15
            }
        );
        assert_eq!(
            CellAt::of(192),
            CellAt {
                seg: 2,
                line: 0,
                cell: 0
            }
        );
        assert_eq!(segment_start(2), 192);
        assert_eq!(CellAt::of(CAPACITY - 1).seg as usize, SEGMENTS - 1);
    }

    #[test]
    fn owner_writes_are_read_back_and_unallocated_reads_zero() {
        let set = ShardSet::new();
        let at = CellAt::of(200);
        assert_eq!(set.sum(at), 0);
        set.local().add(at, 5);
        set.local().add(at, 2);
        assert_eq!(set.sum(at), 7);
        assert_eq!(set.local().read(CellAt::of(0)), 0);
        assert_eq!(set.local().allocated_bytes(), 256 * 8);
    }
}
#[cfg(all(test, not(dcc_mcp_loom)))]
mod addr_probe {
    use super::*;
    #[test]
    fn print_addresses() {
        let set = ShardSet::new();
        let at = CellAt::of(2);
        set.local().add(at, 1);
        let shard = set.local();
        let seg = shard.segments[0].load(Ordering::Relaxed);
        let cell = shard.owned_cell(at) as *const _ as usize;
        eprintln!("shard header {:#x} seg ptr slot {:#x} seg {:#x} cell {:#x}", shard as *const _ as usize, &shard.segments[0] as *const _ as usize, seg as usize, cell);
    }
}
