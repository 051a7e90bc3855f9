//! Label-value keys: validation of names, a fast hash, and the per-thread lookup cache.
//!
//! The by-label-values path (`with_label_values`) must not take a lock or hash with SipHash on
//! every call. Each thread keeps, per family, a map from the label values to the resolved series,
//! keyed by a multiply-rotate hash of the values (collisions are resolved by comparing the values).
//! Only series that exist in the family are cached, so a thread's cache is bounded by the family's
//! series cap; lookups that land in the overflow series are not cached (they are counted instead).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

const K: u64 = 0xf135_7aea_2e62_a9c5;

/// Hashes a list of label values (length-prefixed per value, so `["ab", ""]` != `["a", "b"]`).
#[inline]
pub(crate) fn hash_values(values: &[&str]) -> u64 {
    let mut h = values.len() as u64;
    for v in values {
        let bytes = v.as_bytes();
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            h = (h ^ le_u64(c)).wrapping_mul(K).rotate_left(26);
        }
        h = (h ^ tail_word(chunks.remainder()))
            .wrapping_mul(K)
            .rotate_left(26);
        h = (h ^ bytes.len() as u64).wrapping_mul(K).rotate_left(26);
    }
    h ^ (h >> 32)
}

/// The first 8 bytes of `b` (which has at least 8) as a little-endian word.
#[inline(always)]
fn le_u64(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[..8]);
    u64::from_le_bytes(w)
}

/// The first 4 bytes of `b` (which has at least 4) as a little-endian word.
#[inline(always)]
fn le_u32(b: &[u8]) -> u64 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[..4]);
    u64::from(u32::from_le_bytes(w))
}

/// A word determined by the bytes of `b` (fewer than 8), without a variable-length copy: two
/// overlapping 4-byte reads for 4..=7 bytes, three single bytes for 1..=3. Given the length
/// (which the hash also mixes in) the word determines every byte.
#[inline(always)]
fn tail_word(b: &[u8]) -> u64 {
    let n = b.len();
    if n >= 4 {
        le_u32(b) | le_u32(&b[n - 4..]) << 32
    } else if n > 0 {
        u64::from(b[0]) | u64::from(b[n / 2]) << 8 | u64::from(b[n - 1]) << 16
    } else {
        0
    }
}

/// Byte-string equality; strings of up to 16 bytes are compared with two overlapping word reads
/// per side instead of a call to `memcmp` (label values are usually short).
#[inline(always)]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if (8..=16).contains(&n) {
        let tail = n - 8;
        return le_u64(a) == le_u64(b) && le_u64(&a[tail..]) == le_u64(&b[tail..]);
    }
    if n < 8 {
        return tail_word(a) == tail_word(b);
    }
    a == b
}

/// A hasher for keys that are already hashes.
#[derive(Default)]
pub(crate) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(K);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Owned label values.
type Key = Box<[Box<str>]>;

/// `hash -> [(values, V)]`, compared by value on lookup.
pub(crate) struct ValueMap<V> {
    map: HashMap<u64, Vec<(Key, V)>, BuildHasherDefault<PassThrough>>,
}

impl<V> Default for ValueMap<V> {
    fn default() -> Self {
        ValueMap {
            map: HashMap::default(),
        }
    }
}

fn same(stored: &[Box<str>], values: &[&str]) -> bool {
    stored.len() == values.len()
        && stored
            .iter()
            .zip(values)
            .all(|(a, b)| same_bytes(a.as_bytes(), b.as_bytes()))
}

impl<V> ValueMap<V> {
    /// The value stored for `values` (whose hash is `h`).
    #[inline]
    pub(crate) fn get(&self, h: u64, values: &[&str]) -> Option<&V> {
        self.map
            .get(&h)?
            .iter()
            .find(|(k, _)| same(k, values))
            .map(|(_, v)| v)
    }

    /// Stores `v` for `values`; the caller has checked that it is absent.
    pub(crate) fn insert(&mut self, h: u64, values: &[&str], v: V) {
        let key: Key = values.iter().map(|s| Box::<str>::from(*s)).collect();
        self.map.entry(h).or_default().push((key, v));
    }
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
pub(crate) fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__` (reserved by Prometheus).
pub(crate) fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

#[cfg(all(test, not(dcc_mcp_loom)))]
mod tests {
    use super::*;

    #[test]
    fn hash_separates_value_boundaries() {
        assert_ne!(hash_values(&["ab", ""]), hash_values(&["a", "b"]));
        assert_ne!(hash_values(&["abcdefgh1"]), hash_values(&["abcdefgh2"]));
        assert_eq!(hash_values(&["x", "y"]), hash_values(&["x", "y"]));
    }

    #[test]
    fn short_and_long_values_compare_by_every_byte() {
        let words = [
            "",
            "a",
            "b",
            "ab",
            "ba",
            "abc",
            "abd",
            "xbc",
            "abcd",
            "abce",
            "abcdefg",
            "abcdefh",
            "bbcdefg",
            "abcdefgh",
            "abcdefgi",
            "bbcdefgh",
            "render_scene",
            "render_scenf",
            "sender_scene",
            "abcdefghijklmnop",
            "abcdefghijklmnoq",
            "bbcdefghijklmnop",
            "abcdefghijklmnopq",
            "abcdefghijklmnopr",
            "bbcdefghijklmnopq",
        ];
        for a in words {
            for b in words {
                assert_eq!(
                    same_bytes(a.as_bytes(), b.as_bytes()),
                    a == b,
                    "{a:?} {b:?}"
                );
                if a != b && a.len() == b.len() && a.len() < 8 {
                    // Short values of equal length never share a tail word.
                    assert_ne!(
                        tail_word(a.as_bytes()),
                        tail_word(b.as_bytes()),
                        "{a:?} {b:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn value_map_compares_values_not_just_hashes() {
        let mut m = ValueMap::default();
        m.insert(7, &["a", "b"], 1);
        m.insert(7, &["c", "d"], 2);
        assert_eq!(m.get(7, &["a", "b"]), Some(&1));
        assert_eq!(m.get(7, &["c", "d"]), Some(&2));
        assert_eq!(m.get(7, &["a", "d"]), None);
        assert_eq!(m.get(8, &["a", "b"]), None);
    }

    #[test]
    fn names_are_validated() {
        assert!(valid_metric_name("dcc_mcp:calls_total"));
        assert!(!valid_metric_name("9lives"));
        assert!(!valid_metric_name(""));
        assert!(!valid_metric_name("a-b"));
        assert!(valid_label_name("tool"));
        assert!(!valid_label_name("__name"));
        assert!(!valid_label_name("a:b"));
    }
}
