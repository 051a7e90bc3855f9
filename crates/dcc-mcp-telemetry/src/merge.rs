//! The scrape's merge: every shard's committed chunks walked once, into one accumulator.
//!
//! Why shard by shard: merging series by series visits every shard for every series, so its cost
//! grows with shards × registry size even where a shard never recorded (10,000 series × 128
//! shards took 253 ms). Here each shard hands out the chunks it committed
//! ([`Shard::for_each_chunk`]), and only the series whose cells lie in those chunks are read, into
//! an accumulator indexed by global cell: the cost follows the cells that were recorded, and the
//! reads of one shard are sequential in memory. The families then build their snapshots from the
//! accumulator ([`Merged`]).
//!
//! Which series a chunk holds comes from the registry's *layout*: one [`SeriesCells`] per series
//! with cells, in allocation order, so ascending by cell. A series is read at the chunk of its
//! *anchor* cell — a counter's value, a histogram's sequence cell — which every write to the series
//! commits first, so a shard that recorded into a series always has that chunk.
//!
//! Consistency is the per-series merge's: each shard's histogram series is read inside its write
//! window (every observation wholly in or out), and the whole walk is repeated when a retire moved
//! values while it ran ([`ShardSet::consistent_merge`]), so a value is counted exactly once.

use crate::exemplar::{Exemplar, SLOT_CELLS};
use crate::shard::{CellAt, ChunkRef, Shard, ShardSet, CHUNK_CELLS};
use crate::sync::backoff;
use std::borrow::Cow;
use std::collections::HashMap;

/// What the cells of one series hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// One cell: the count.
    Counter,
    /// The count, a sequence cell, an exemplar slot.
    CounterExemplar,
    /// `counts` bucket cells (the last is `+Inf`), the sum, the sequence cell, then `slots`
    /// exemplar cells and `native` native-bucket cells.
    Histogram {
        counts: usize,
        slots: usize,
        native: usize,
    },
}

/// Where one series' cells are, for the merge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SeriesCells {
    /// The series' first cell.
    pub(crate) base: usize,
    /// What its cells hold.
    pub(crate) shape: Shape,
}

impl SeriesCells {
    /// The cell every write to the series goes through (so its chunk is committed first).
    fn anchor(&self) -> usize {
        match self.shape {
            Shape::Counter | Shape::CounterExemplar => self.base,
            Shape::Histogram { counts, .. } => self.base + counts + 1,
        }
    }

    /// Cells of the series.
    pub(crate) fn len(&self) -> usize {
        match self.shape {
            Shape::Counter => 1,
            Shape::CounterExemplar => 2 + SLOT_CELLS,
            Shape::Histogram {
                counts,
                slots,
                native,
            } => counts + 2 + slots + native,
        }
    }
}

/// Every shard's values, merged: counts summed (saturating), sums added as `f64` (in their own
/// cell, as bits), the newest exemplar per slot. Cells the merge did not cover (a series created
/// after it started) read as zero.
#[derive(Default)]
pub(crate) struct Merged {
    acc: Vec<u64>,
    exemplars: HashMap<usize, Exemplar>,
    /// Mutant `count_reread`: each histogram's `_count` from a second read of its cells.
    #[cfg(dcc_mcp_loom_mutant = "count_reread")]
    pub(crate) recounts: HashMap<usize, u64>,
}

impl Merged {
    /// The merged count of cell `index`.
    pub(crate) fn count(&self, index: usize) -> u64 {
        self.acc.get(index).copied().unwrap_or(0)
    }

    /// The merged `f64` sum held in cell `index`.
    pub(crate) fn sum(&self, index: usize) -> f64 {
        f64::from_bits(self.count(index))
    }

    /// The merged cells `from .. from + len` (zeros past the merge's end).
    pub(crate) fn cells(&self, from: usize, len: usize) -> Cow<'_, [u64]> {
        match self.acc.get(from..from + len) {
            Some(s) => Cow::Borrowed(s),
            None => Cow::Owned((from..from + len).map(|i| self.count(i)).collect()),
        }
    }

    /// The newest exemplar of the slot starting at cell `index`.
    pub(crate) fn exemplar(&self, index: usize) -> Option<Exemplar> {
        self.exemplars.get(&index).copied()
    }

    fn add_count(&mut self, index: usize, v: u64) {
        if let Some(c) = self.acc.get_mut(index) {
            *c = c.saturating_add(v);
        }
    }

    fn add_sum(&mut self, index: usize, v: f64) {
        if let Some(c) = self.acc.get_mut(index) {
            *c = (f64::from_bits(*c) + v).to_bits();
        }
    }

    fn offer_exemplar(&mut self, index: usize, cells: &[u64]) {
        if let Some(e) = Exemplar::from_cells(cells) {
            let have = self.exemplars.entry(index).or_insert(e);
            if have.timestamp_ns < e.timestamp_ns {
                *have = e;
            }
        }
    }
}

/// Merges every shard of `shards` over the series of `layout` (ascending by cell).
pub(crate) fn merge(shards: &ShardSet, layout: &[SeriesCells]) -> Merged {
    let cells = layout.last().map_or(0, |s| s.base + s.len());
    shards.consistent_merge(|before| {
        let mut m = Merged {
            acc: vec![0; cells],
            exemplars: HashMap::new(),
            #[cfg(dcc_mcp_loom_mutant = "count_reread")]
            recounts: HashMap::new(),
        };
        let mut extra = Vec::new();
        for shard in shards.iter() {
            let mut rest = layout;
            let whole = shard.for_each_chunk(cells, |g, chunk| {
                let start = g * CHUNK_CELLS;
                // Past the series of chunks this shard never committed: a binary search, so a
                // sparse shard does not pay for them.
                if rest.first().is_some_and(|s| s.anchor() < start) {
                    let skip = rest.partition_point(|s| s.anchor() < start);
                    rest = &rest[skip..];
                }
                let end = start + CHUNK_CELLS;
                let here = rest.iter().take_while(|s| s.anchor() < end).count();
                let (series, after) = rest.split_at(here);
                rest = after;
                series.iter().all(|s| {
                    let read = Read {
                        shards,
                        shard,
                        chunk,
                        start,
                        before,
                    };
                    read.series(&mut m, s, &mut extra)
                })
            });
            if !whole {
                return None;
            }
        }
        Some(m)
    })
}

/// One shard's part of one chunk, as the merge reads it.
struct Read<'a> {
    shards: &'a ShardSet,
    shard: &'a Shard,
    /// The chunk holding the series' anchor, and its first cell.
    chunk: ChunkRef<'a>,
    start: usize,
    /// The retire sequence the merge started from.
    before: u64,
}

impl Read<'_> {
    /// Adds this shard's values of series `s` into `m`; `false` when a retire moved values
    /// meanwhile (the merge starts over).
    fn series(&self, m: &mut Merged, s: &SeriesCells, extra: &mut Vec<u64>) -> bool {
        match s.shape {
            Shape::Counter => {
                m.add_count(s.base, self.chunk.read(s.base - self.start));
                true
            }
            Shape::CounterExemplar => {
                m.add_count(s.base, self.chunk.read(s.base - self.start));
                let mut slot = [0u64; SLOT_CELLS];
                let at = CellAt::of(s.base);
                self.retry(|| {
                    self.shard
                        .try_read_window(at.offset(1), at.offset(2), &mut slot)
                }) && {
                    m.offer_exemplar(s.base + 2, &slot);
                    true
                }
            }
            Shape::Histogram {
                counts,
                slots,
                native,
            } => {
                extra.clear();
                extra.resize(slots + native, 0);
                // The hint serves the classic block only when it lies in the anchor's chunk.
                let hint = (s.base >= self.start).then_some(self.chunk);
                let at = CellAt::of(s.base);
                let mut sum = 0.0;
                let Some(acc) = m.acc.get_mut(s.base..s.base + counts) else {
                    return true;
                };
                let whole =
                    self.retry(
                        || match self.shard.try_read_histogram_in(hint, at, acc, extra) {
                            Some(v) => {
                                sum = v;
                                true
                            }
                            None => false,
                        },
                    );
                if !whole {
                    return false;
                }
                // Mutant: `_count` from a second read of the cells, outside the window.
                #[cfg(dcc_mcp_loom_mutant = "count_reread")]
                {
                    let mut again = vec![0u64; counts];
                    self.shard.add_into(at, &mut again);
                    let n = again.iter().fold(0u64, |a, b| a.saturating_add(*b));
                    let c = m.recounts.entry(s.base).or_insert(0);
                    *c = c.saturating_add(n);
                }
                m.add_sum(s.base + counts, sum);
                let from = s.base + counts + 2;
                for (b, cells) in extra[..slots].chunks_exact(SLOT_CELLS).enumerate() {
                    m.offer_exemplar(from + b * SLOT_CELLS, cells);
                }
                for (i, v) in extra[slots..].iter().enumerate() {
                    m.add_count(from + slots + i, *v);
                }
                true
            }
        }
    }

    /// Runs the one-attempt read `attempt` until it succeeds (`true`), or answers `false` once a
    /// retire has started: a stale read can then spin on cells that now belong to another series.
    fn retry(&self, mut attempt: impl FnMut() -> bool) -> bool {
        let mut tries = 0u32;
        loop {
            if attempt() {
                return true;
            }
            if self.shards.retire_moved(self.before) {
                return false;
            }
            tries += 1;
            backoff(tries);
        }
    }
}
