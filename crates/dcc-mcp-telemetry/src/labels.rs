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
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K).rotate_left(26);
        }
        let rest = chunks.remainder();
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K).rotate_left(26);
        h = (h ^ bytes.len() as u64).wrapping_mul(K).rotate_left(26);
    }
    h ^ (h >> 32)
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
    stored.len() == values.len() && stored.iter().zip(values).all(|(a, b)| &**a == *b)
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
