//! Label-value keys: validation of names, a fast hash, and the per-thread lookup cache.
//!
//! The by-label-values path (`with_label_values`) must not take a lock or hash with SipHash on
//! every call. Each thread keeps, per family, a map from the label values to the resolved series,
//! keyed by a multiply-rotate hash of the values (collisions are resolved by comparing the values).
//! The hash is keyed: every family draws two random 64-bit keys ([`HashKey::random`]) that seed
//! and finish it, so label values crafted to share one hash (a flood that would turn every lookup
//! into a long list walk under the family lock) collide only for the key they were made for.
//! Only series that exist in the family are cached, so a thread's cache is bounded by the family's
//! series cap; lookups that land in the overflow series are not cached (they are counted instead).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

const K: u64 = 0xf135_7aea_2e62_a9c5;

/// A family's random hash key; see the module docs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HashKey(u64, u64);

impl HashKey {
    /// Two keys from the standard library's per-process random source (`RandomState`, seeded
    /// from the operating system, with a fresh per-instance offset).
    pub(crate) fn random() -> Self {
        use std::hash::BuildHasher;
        let s = std::collections::hash_map::RandomState::new();
        HashKey(s.hash_one(0x9e37_79b9_u64), s.hash_one(0x7f4a_7c15_u64))
    }
}

/// Hashes a list of label values (length-prefixed per value, so `["ab", ""]` != `["a", "b"]`)
/// under `key`: the first key seeds the state, the second is mixed in last.
#[inline]
pub(crate) fn hash_values(key: HashKey, values: &[&str]) -> u64 {
    let mut h = key.0 ^ values.len() as u64;
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
    h = (h ^ key.1).wrapping_mul(K);
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
        let k = HashKey::random();
        assert_ne!(hash_values(k, &["ab", ""]), hash_values(k, &["a", "b"]));
        assert_ne!(
            hash_values(k, &["abcdefgh1"]),
            hash_values(k, &["abcdefgh2"])
        );
        assert_eq!(hash_values(k, &["x", "y"]), hash_values(k, &["x", "y"]));
    }

    /// The hash as it was before it was keyed (fixed seed, no final key).
    fn unkeyed(values: &[&str]) -> u64 {
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

    /// The flood: 16-byte ASCII values built so that the second word cancels the state the first
    /// left (`h1 ^ w1` is one constant), so all share one hash under the old fixed key. Under a
    /// family's random key they spread out.
    #[test]
    fn values_crafted_to_collide_under_the_fixed_key_do_not_collide_under_a_random_one() {
        const TARGET: u64 = 0x2a2a_2a2a_2a2a_2a2a;
        const N: usize = if cfg!(miri) { 8 } else { 16_384 };
        let mut flood: Vec<String> = Vec::with_capacity(N);
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        while flood.len() < N {
            // xorshift64, masked to ASCII bytes; a distinct w0 gives a distinct value.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let w0 = x & 0x7f7f_7f7f_7f7f_7f7f;
            let h1 = (1 ^ w0).wrapping_mul(K).rotate_left(26);
            let w1 = h1 ^ TARGET;
            let bytes = [w0.to_le_bytes(), w1.to_le_bytes()].concat();
            if bytes.iter().all(|b| b.is_ascii()) {
                flood.push(String::from_utf8(bytes).unwrap_or_default());
            }
        }
        flood.sort();
        flood.dedup();
        assert_eq!(flood.len(), N, "the flood has repeated values");
        let one = unkeyed(&[&flood[0]]);
        assert!(
            flood.iter().all(|v| unkeyed(&[v]) == one),
            "the flood collides"
        );
        let k = HashKey::random();
        let mut per_hash = std::collections::HashMap::<u64, usize>::new();
        for v in &flood {
            *per_hash.entry(hash_values(k, &[v])).or_default() += 1;
        }
        let worst = per_hash.values().max().copied().unwrap_or(0);
        assert!(worst <= 2, "{worst} of {N} values share one keyed hash");
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
