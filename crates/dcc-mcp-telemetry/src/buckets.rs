//! A histogram family's bucket bounds and the bucket search of the recording hot path.
//!
//! Its own module so that both the family (which validates and stores the bounds) and the
//! histogram handles (which search them on every observation) depend on it, not on each other.

use crate::exemplar::SLOT_CELLS;
use crate::native::NativeLayout;

/// Up to this many bounds, the bucket is found by counting; more use a binary search.
const LINEAR_MAX: usize = 32;

/// A histogram family's finite bucket upper bounds (ascending; `+Inf` is implied) and the bucket
/// search of the recording hot path. Dereferences to the bounds.
///
/// Aligned to a (prefetch-paired) cache line, so that inside the family's `Arc<Buckets>` the
/// reference count (written when a thread's first anchor is made, see `family::Anchor`) is not on
/// the line every `observe` reads.
#[repr(align(128))]
pub(crate) struct Buckets {
    finite: Box<[f64]>,
    /// Whether each series keeps an exemplar slot per bucket (see `exemplar.rs`).
    exemplars: bool,
    /// The native buckets of each series, if the family has them (see `native.rs`). Boxed so the
    /// hot path's test is one pointer beside the bounds.
    native: Option<Box<NativeLayout>>,
    /// With at most `TABLE` bounds: the bounds padded with `+Inf` (which no non-NaN value is
    /// above), counted with a fixed number of compares and no loop.
    table: [f64; TABLE],
}

/// Size of the padded table of [`Buckets`].
const TABLE: usize = 16;

/// `Buckets::table_count` loads exactly 16 entries on x86-64.
const _: () = assert!(TABLE == 16);

impl Buckets {
    /// Wraps validated bounds: finite and strictly increasing.
    pub(crate) fn new(finite: Vec<f64>) -> Self {
        Self::with_extras(finite, false, None)
    }

    /// Like [`new`](Self::new), with exemplar slots and native buckets per series.
    pub(crate) fn with_extras(
        finite: Vec<f64>,
        exemplars: bool,
        native: Option<NativeLayout>,
    ) -> Self {
        let mut table = [f64::INFINITY; TABLE];
        for (t, b) in table.iter_mut().zip(&finite) {
            *t = *b;
        }
        Buckets {
            finite: finite.into_boxed_slice(),
            exemplars,
            native: native.map(Box::new),
            table,
        }
    }

    /// Cells of one series: the classic block (a count per bucket, the sum, the sequence cell),
    /// then the exemplar slots (one per bucket), then the native block.
    pub(crate) fn cells(&self) -> usize {
        self.finite.len() + 3 + self.extra_cells()
    }

    /// Cells after the classic block, read and written inside its sequence window.
    pub(crate) fn extra_cells(&self) -> usize {
        self.exemplar_cells() + self.native().map_or(0, NativeLayout::cells)
    }

    /// Cells of the exemplar slots (0 without exemplars); they start right after the classic block.
    pub(crate) fn exemplar_cells(&self) -> usize {
        if self.exemplars {
            SLOT_CELLS * (self.finite.len() + 1)
        } else {
            0
        }
    }

    /// Whether series keep exemplars.
    #[inline]
    pub(crate) fn exemplars(&self) -> bool {
        self.exemplars
    }

    /// The native layout, if any.
    #[inline]
    pub(crate) fn native(&self) -> Option<&NativeLayout> {
        self.native.as_deref()
    }

    /// Whether an observation has cells to write besides the classic ones even without a trace.
    #[inline(always)]
    pub(crate) fn has_native(&self) -> bool {
        self.native.is_some()
    }

    /// Index of the bucket `v` falls in: the first bound with `v <= bound`; NaN and values above
    /// every bound go to `+Inf` (index `len`).
    ///
    /// Up to `LINEAR_MAX` bounds this counts the bounds below `v`: no data-dependent branch, the
    /// compares are independent of each other (two per SSE2 instruction), so the result is ready
    /// after one compare's latency. A branchless binary search (4 dependent steps for 14 bounds)
    /// executes fewer instructions but measured slower on the recording paths (see
    /// `docs/architecture.md`). Longer bound lists use a binary search.
    #[inline(always)]
    pub(crate) fn bucket_of(&self, v: f64) -> usize {
        let len = self.finite.len();
        if v.is_nan() {
            return len;
        }
        if len <= TABLE {
            return self.table_count(v);
        }
        if len > LINEAR_MAX {
            return self.finite.partition_point(|b| *b < v);
        }
        self.finite.iter().map(|b| usize::from(*b < v)).sum()
    }
}

impl Buckets {
    /// Number of table entries below `v` (not NaN), x86-64: SSE2 (part of the x86-64 baseline)
    /// compares, packed to one bit per entry, and a bit scan. The table ascends, so the entries
    /// below `v` are a prefix and their number is the count of trailing ones; the portable count
    /// below compiles to a population count instead, which SSE2-only targets emulate with a dozen
    /// instructions.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn table_count(&self, v: f64) -> usize {
        use std::arch::x86_64::{
            __m128i, _mm_castpd_si128, _mm_cmplt_pd, _mm_loadu_pd, _mm_movemask_epi8,
            _mm_packs_epi16, _mm_packs_epi32, _mm_set1_pd,
        };
        let t = self.table.as_ptr();
        // SAFETY: SSE2 is always available on x86-64; every load reads two of the `TABLE` (16)
        // entries of `self.table` (`k * 2 + 1 < TABLE`), unaligned loads being allowed.
        unsafe {
            let vv = _mm_set1_pd(v);
            let lt = |k: usize| -> __m128i {
                _mm_castpd_si128(_mm_cmplt_pd(_mm_loadu_pd(t.add(2 * k)), vv))
            };
            // Each pack halves the width of the all-ones/zero masks, keeping the entries in order.
            let w0 = _mm_packs_epi32(_mm_packs_epi32(lt(0), lt(1)), _mm_packs_epi32(lt(2), lt(3)));
            let w1 = _mm_packs_epi32(_mm_packs_epi32(lt(4), lt(5)), _mm_packs_epi32(lt(6), lt(7)));
            let below = _mm_movemask_epi8(_mm_packs_epi16(w0, w1)) as u32;
            (!below).trailing_zeros() as usize
        }
    }

    /// Number of table entries below `v` (not NaN).
    #[cfg(not(target_arch = "x86_64"))]
    #[inline(always)]
    fn table_count(&self, v: f64) -> usize {
        let mut acc = [0u64; 2];
        for pair in self.table.chunks_exact(2) {
            acc[0] += u64::from(pair[0] < v);
            acc[1] += u64::from(pair[1] < v);
        }
        (acc[0] + acc[1]) as usize
    }
}

impl std::ops::Deref for Buckets {
    type Target = [f64];

    fn deref(&self) -> &[f64] {
        &self.finite
    }
}

#[cfg(all(test, not(dcc_mcp_loom)))]
mod tests {
    use super::Buckets;

    /// The definition: the first bound with `v <= bound`, else `+Inf` (`len`).
    fn reference(bounds: &[f64], v: f64) -> usize {
        bounds.iter().position(|b| v <= *b).unwrap_or(bounds.len())
    }

    #[test]
    fn the_arc_count_is_not_on_the_bounds_line() {
        // `ArcInner` is `{ strong, weak, data }`: data aligned to 128 starts on the next line.
        assert_eq!(std::mem::align_of::<Buckets>(), 128);
        let a = std::sync::Arc::new(Buckets::new(vec![1.0]));
        assert_eq!(std::sync::Arc::as_ptr(&a) as usize % 128, 0);
    }

    #[test]
    fn buckets_are_upper_inclusive_and_nan_goes_to_inf() {
        let b = Buckets::new(vec![0.1, 1.0]);
        assert_eq!(b.bucket_of(0.1), 0);
        assert_eq!(b.bucket_of(0.5), 1);
        assert_eq!(b.bucket_of(1.0), 1);
        assert_eq!(b.bucket_of(2.0), 2);
        assert_eq!(b.bucket_of(f64::NAN), 2);
        assert_eq!(b.bucket_of(f64::INFINITY), 2);
        assert_eq!(b.bucket_of(f64::NEG_INFINITY), 0);
        assert_eq!(&*b, &[0.1, 1.0]);
    }

    #[test]
    fn search_matches_the_definition_for_every_length() {
        // 0..=40 bounds covers the counting path (<= 32) and the binary search path (> 32).
        for len in 0..=40usize {
            let bounds: Vec<f64> = (0..len).map(|i| i as f64 - 3.0).collect();
            let b = Buckets::new(bounds.clone());
            let mut probes = vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0, 0.0];
            for x in &bounds {
                probes.extend([*x, x - 0.5, x + 0.5, x - 1e-12, x + 1e-12]);
            }
            for v in probes {
                let want = if v.is_nan() {
                    len
                } else {
                    reference(&bounds, v)
                };
                assert_eq!(b.bucket_of(v), want, "len {len}, v {v}");
            }
        }
    }
}
