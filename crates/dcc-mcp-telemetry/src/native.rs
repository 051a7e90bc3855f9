//! Native (sparse exponential) histogram buckets: the bucket math of the recording path and the
//! merge's schema reduction.
//!
//! Why fixed cells: a shard has a single writer and a fixed cell layout per series, so a native
//! bucket is one more cell of the series, written in the same sequence window as the classic bucket
//! and the sum (see `ShardSet::observe_with`), never a map that grows under a lock. The price is a
//! fixed range: bucket indices from just above the zero threshold up to the bucket holding
//! [`NativeHistogram::max_value`], for each sign, at the family's schema. An observation with
//! `|v| <= zero_threshold` counts in the zero bucket; one above the range (and NaN, like the classic
//! `+Inf` bucket) counts in the highest bucket of its sign. Cells are committed per 64-cell chunk
//! only when a shard first records into them, so a histogram whose traffic lands in a few buckets
//! costs a few chunks, not the whole range.
//!
//! Bucket `i` of schema `s` holds `(2^((i-1)/2^s), 2^(i/2^s)]` (upper-inclusive, as in every
//! Prometheus client). At scrape time, past [`NativeHistogram::max_buckets`] populated buckets the
//! merged histogram is reduced one schema at a time (bucket `i` goes to `(i+1) >> 1`) until it fits:
//! Prometheus 2.42 has no server-side limit, so the client must bound it.

/// Opt-in native buckets for a histogram family (see the module docs). Prometheus 2.42 with
/// `--enable-feature=native-histograms` reads them from the protobuf exposition and then ignores
/// the family's classic buckets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NativeHistogram {
    /// Resolution: bucket boundaries grow by `2^(2^-schema)`; `0..=8`.
    pub schema: i32,
    /// Observations with `|v|` at most this count in the zero bucket; positive, finite.
    pub zero_threshold: f64,
    /// Observations with `|v|` above this count in the highest bucket; above `zero_threshold`.
    pub max_value: f64,
    /// At most this many populated buckets (both signs) in a scrape; past it the schema is reduced.
    pub max_buckets: usize,
}

impl Default for NativeHistogram {
    /// Schema 3 (each bucket 9 % wider than the last), zero threshold 2^-16 s (15 µs), highest
    /// bucket at 2^12 s (68 min), at most 160 buckets: 224 cells per sign.
    fn default() -> Self {
        NativeHistogram {
            schema: 3,
            zero_threshold: pow2(-16),
            max_value: pow2(12),
            max_buckets: 160,
        }
    }
}

/// A validated [`NativeHistogram`] with its bucket range: what the recording path needs.
#[derive(Debug, Clone)]
pub(crate) struct NativeLayout {
    pub(crate) config: NativeHistogram,
    /// The `2^schema` boundaries of one octave, `2^(j/2^schema) / 2`, ascending from 0.5.
    octave: Box<[f64]>,
    /// Lowest and highest positive bucket index of the range.
    lo: i32,
    hi: i32,
}

impl NativeLayout {
    /// Validates `config`; `None` when a field is out of range.
    pub(crate) fn new(config: NativeHistogram) -> Option<Self> {
        let c = config;
        let ok = (0..=8).contains(&c.schema)
            && c.zero_threshold.is_finite()
            && c.zero_threshold >= f64::MIN_POSITIVE
            && c.max_value.is_finite()
            && c.max_value > c.zero_threshold
            && c.max_buckets >= 1;
        if !ok {
            return None;
        }
        let per = 1usize << c.schema;
        let octave: Box<[f64]> = (0..per).map(|j| octave_factor(j, per) / 2.0).collect();
        let mut layout = NativeLayout {
            config: c,
            octave,
            lo: 0,
            hi: 0,
        };
        layout.lo = layout.index_of(c.zero_threshold) + 1;
        layout.hi = layout.index_of(c.max_value);
        // At most 2^8 buckets per octave over the f64 exponent range: far below the cell cap, and
        // the registry refuses a layout it cannot allocate.
        (layout.hi - layout.lo <= 1 << 16).then_some(layout)
    }

    /// Buckets per sign.
    pub(crate) fn width(&self) -> usize {
        (self.hi - self.lo + 1) as usize
    }

    /// Cells of a series' native block: the zero bucket, then the positive, then the negative range.
    pub(crate) fn cells(&self) -> usize {
        1 + 2 * self.width()
    }

    /// Index (schema `config.schema`) of the bucket holding the positive, normal `v`.
    fn index_of(&self, v: f64) -> i32 {
        let bits = v.to_bits();
        // v = frac * 2^exp with frac in [0.5, 1).
        let exp = ((bits >> 52) & 0x7ff) as i32 - 1022;
        let frac = f64::from_bits((bits & ((1u64 << 52) - 1)) | (1022u64 << 52));
        let below = self.octave.iter().filter(|b| **b < frac).count() as i32;
        below + (exp - 1) * self.octave.len() as i32
    }

    /// The cell (from the start of the native block) an observation of `v` increments.
    #[inline]
    pub(crate) fn cell_of(&self, v: f64) -> usize {
        let a = v.abs();
        if a <= self.config.zero_threshold {
            return 0;
        }
        let i = if a.is_finite() && a <= self.config.max_value {
            self.index_of(a).clamp(self.lo, self.hi)
        } else {
            self.hi
        };
        let k = (i - self.lo) as usize;
        if v.is_sign_negative() && !v.is_nan() {
            1 + self.width() + k
        } else {
            1 + k
        }
    }

    /// Builds the merged native state from a series' block of summed cells.
    pub(crate) fn snapshot(&self, cells: &[u64]) -> NativeSnapshot {
        let w = self.width();
        let side = |from: usize| -> Vec<(i32, u64)> {
            cells[from..from + w]
                .iter()
                .enumerate()
                .filter(|(_, c)| **c != 0)
                .map(|(k, c)| (self.lo + k as i32, *c))
                .collect()
        };
        let mut snap = NativeSnapshot {
            schema: self.config.schema,
            zero_threshold: self.config.zero_threshold,
            zero_count: cells.first().copied().unwrap_or(0),
            positive: side(1),
            negative: side(1 + w),
        };
        while snap.positive.len() + snap.negative.len() > self.config.max_buckets
            && snap.schema > -4
        {
            snap.reduce();
        }
        snap
    }
}

/// A merged native histogram: sparse buckets as `(index, count)`, ascending by index, non-zero.
#[derive(Debug, Clone, PartialEq)]
pub struct NativeSnapshot {
    /// The schema of the indices (the family's, or lower after reduction).
    pub schema: i32,
    /// Width of the zero bucket.
    pub zero_threshold: f64,
    /// Observations with `|v| <= zero_threshold`.
    pub zero_count: u64,
    /// Buckets of positive observations.
    pub positive: Vec<(i32, u64)>,
    /// Buckets of negative observations (index of `|v|`).
    pub negative: Vec<(i32, u64)>,
}

impl NativeSnapshot {
    /// Halves the resolution: bucket `i` of schema `s` becomes `(i + 1) >> 1` of `s - 1`, exact
    /// because every boundary of schema `s - 1` is one of schema `s`.
    fn reduce(&mut self) {
        self.schema -= 1;
        for side in [&mut self.positive, &mut self.negative] {
            let mut merged: Vec<(i32, u64)> = Vec::with_capacity(side.len());
            for &(i, c) in side.iter() {
                let j = (i + 1) >> 1;
                match merged.last_mut() {
                    Some((k, n)) if *k == j => *n = n.saturating_add(c),
                    _ => merged.push((j, c)),
                }
            }
            *side = merged;
        }
    }

    /// Upper bound of bucket `i`: `2^(i / 2^schema)`, exact when that is a power of two.
    pub fn upper_bound(&self, i: i32) -> f64 {
        if self.schema <= 0 {
            return pow2(i.saturating_mul(1 << -self.schema));
        }
        let per = 1i32 << self.schema;
        pow2(i.div_euclid(per)) * octave_factor(i.rem_euclid(per) as usize, per as usize)
    }
}

/// `2^(j / per)` for `0 <= j < per`: exactly 1 for `j == 0` (not left to `exp2`, whose last bit
/// varies between math libraries), else `exp2`.
fn octave_factor(j: usize, per: usize) -> f64 {
    if j == 0 {
        1.0
    } else {
        (j as f64 / per as f64).exp2()
    }
}

/// `2^e`, exact, for `e` in the normal range (clamped to it).
fn pow2(e: i32) -> f64 {
    f64::from_bits(((e.clamp(-1022, 1023) + 1023) as u64) << 52)
}

#[cfg(all(test, not(dcc_mcp_loom)))]
mod tests {
    use super::*;

    fn layout(schema: i32) -> NativeLayout {
        NativeLayout::new(NativeHistogram {
            schema,
            ..NativeHistogram::default()
        })
        .unwrap_or_else(|| panic!("valid"))
    }

    #[test]
    fn buckets_are_upper_inclusive_powers_of_the_base() {
        let l = layout(0);
        // Schema 0: bucket i is (2^(i-1), 2^i].
        assert_eq!(l.index_of(1.0), 0);
        assert_eq!(l.index_of(1.5), 1);
        assert_eq!(l.index_of(2.0), 1);
        assert_eq!(l.index_of(2.0000001), 2);
        assert_eq!(l.index_of(0.5), -1);
        assert_eq!(l.index_of(0.75), 0);
        let l = layout(3);
        assert_eq!(l.index_of(1.0), 0);
        assert_eq!(l.index_of(2.0), 8);
        assert_eq!(l.index_of(1.01), 1);
        assert_eq!(l.index_of(0.25), -16);
        // Every value lies in (upper(i-1), upper(i)].
        let snap = l.snapshot(&vec![0; l.cells()]);
        for v in [1e-4, 0.003, 0.1, 0.7, 3.3, 17.0, 1000.0] {
            let i = l.index_of(v);
            assert!(
                snap.upper_bound(i - 1) < v && v <= snap.upper_bound(i),
                "{v} {i}"
            );
        }
    }

    #[test]
    fn zero_bucket_clamping_and_signs() {
        let l = layout(3);
        assert_eq!(l.lo, -16 * 8 + 1);
        assert_eq!(l.hi, 12 * 8);
        assert_eq!(l.width(), 224);
        assert_eq!(l.cell_of(0.0), 0);
        assert_eq!(l.cell_of(-1e-9), 0);
        assert_eq!(l.cell_of(1.0), 1 + (0 - l.lo) as usize);
        assert_eq!(l.cell_of(-1.0), 1 + 224 + (0 - l.lo) as usize);
        assert_eq!(l.cell_of(1e9), 224);
        assert_eq!(l.cell_of(f64::NAN), 224);
        assert_eq!(l.cell_of(f64::INFINITY), 224);
        assert_eq!(l.cell_of(f64::NEG_INFINITY), 448);
    }

    #[test]
    fn reduction_merges_pairs_exactly() {
        let l = NativeLayout::new(NativeHistogram {
            schema: 1,
            max_buckets: 2,
            ..NativeHistogram::default()
        })
        .unwrap_or_else(|| panic!("valid"));
        let mut cells = vec![0; l.cells()];
        for v in [1.0, 1.2, 1.5, 2.0, 3.0] {
            cells[l.cell_of(v)] += 1;
        }
        // Schema 1: 1 -> 0, 1.2 -> 1, 1.5 -> 2, 2 -> 2, 3 -> 4; 4 buckets > 2: reduce twice.
        let s = l.snapshot(&cells);
        assert_eq!(s.schema, -1);
        assert_eq!(s.positive, vec![(0, 1), (1, 4)]);
        assert_eq!((s.upper_bound(0), s.upper_bound(1)), (1.0, 4.0));
    }

    #[test]
    fn invalid_configs_are_refused() {
        let bad = |c: NativeHistogram| NativeLayout::new(c).is_none();
        let d = NativeHistogram::default();
        assert!(bad(NativeHistogram { schema: 9, ..d }));
        assert!(bad(NativeHistogram { schema: -1, ..d }));
        assert!(bad(NativeHistogram {
            zero_threshold: 0.0,
            ..d
        }));
        assert!(bad(NativeHistogram {
            max_value: 1e-6,
            ..d
        }));
        assert!(bad(NativeHistogram {
            max_buckets: 0,
            ..d
        }));
        assert!(!bad(d));
    }
}
