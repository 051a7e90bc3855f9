//! The fuzz targets in CI: every target's invariants (`fuzz/checks/mod.rs`, the code the `cargo fuzz`
//! targets run) over the checked-in corpus (`fuzz/corpus/<target>/`), the regression inputs of past
//! findings (`fuzz/regressions/<target>/`), and a fixed number of mutants of each seed.
//!
//! Why not `cargo fuzz` itself: its AddressSanitizer build took 48 minutes on the CI machine. This
//! runs on stable, in the debug build the suite already has, in seconds; the mutants come from a
//! seeded generator (bit flips, interesting bytes, cuts, duplications, splices of two seeds), so a
//! failure reproduces exactly and names its input. Long coverage-guided runs stay with
//! `./scripts/fuzz.sh` (docs in `fuzz/README.md`).
//!
//! `DCC_MCP_FUZZ_MUTANTS` sets the mutants per seed (default [`MUTANTS_PER_SEED`]).

#![cfg(all(feature = "fuzzing", feature = "prometheus"))]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../../../fuzz/checks/mod.rs"]
mod checks;

use std::path::{Path, PathBuf};

/// Mutants of each seed per run.
const MUTANTS_PER_SEED: usize = 2000;

/// Bytes that tend to matter to parsers.
const INTERESTING: &[u8] = b"\0\n\r\t \"\\{}[],:.-+=%/@eE0189aA\x7f\x80\xc3\xe2\xff";

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The files of `dir`, sorted (none when it does not exist).
fn inputs(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect()
}

/// xorshift64*: a small, seeded, reproducible generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// One mutant of `seed` (`other` is a second seed to splice with): one to four edits.
fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(7) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 => data.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
            2 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            3 => {
                let end = (at + 1 + rng.below(16)).min(data.len());
                data.drain(at.min(end)..end);
            }
            4 => {
                let end = (at + 1 + rng.below(32)).min(data.len());
                let piece = data[at.min(end)..end].to_vec();
                data.splice(at..at, piece);
            }
            5 => data.truncate(at),
            _ => {
                let from = rng.below(other.len() + 1);
                let end = (from + rng.below(64)).min(other.len());
                data.splice(at..at, other[from..end].iter().copied());
            }
        }
    }
    data
}

/// Runs `check` on `data`; on a panic, fails naming the input (written out for `cargo fuzz run`).
fn run(target: &str, check: fn(&[u8]), data: &[u8], what: &str) {
    if std::panic::catch_unwind(|| check(data)).is_err() {
        let out = std::env::temp_dir().join(format!("dcc-mcp-fuzz-{target}-failure"));
        let _ = std::fs::write(&out, data);
        panic!(
            "fuzz target {target} failed on {what} (input written to {}; add it to \
             fuzz/regressions/{target}/ once fixed): {:?}",
            out.display(),
            String::from_utf8_lossy(data)
        );
    }
}

#[test]
fn every_target_holds_its_invariants_on_the_corpus_and_its_mutants() {
    let mutants: usize = std::env::var("DCC_MCP_FUZZ_MUTANTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(MUTANTS_PER_SEED);
    let mut counts = Vec::new();
    for (target, check) in checks::TARGETS {
        let seeds = inputs(&fuzz_dir().join("corpus").join(target));
        assert!(!seeds.is_empty(), "fuzz/corpus/{target} has no seeds");
        let regressions = inputs(&fuzz_dir().join("regressions").join(target));
        for (path, data) in seeds.iter().chain(&regressions) {
            run(target, check, data, &path.display().to_string());
        }
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ target.len() as u64);
        for (i, (path, seed)) in seeds.iter().enumerate() {
            let other = &seeds[(i + 1) % seeds.len()].1;
            for n in 0..mutants {
                let data = mutate(&mut rng, seed, other);
                run(
                    target,
                    check,
                    &data,
                    &format!("mutant {n} of {}", path.display()),
                );
            }
        }
        counts.push((
            target,
            seeds.len() + regressions.len(),
            seeds.len() * mutants,
        ));
    }
    // Every target of the cargo-fuzz crate is replayed here.
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    let bins = manifest.matches("[[bin]]").count();
    assert_eq!(bins, checks::TARGETS.len(), "{counts:?}");
}

#[test]
fn the_label_parser_of_the_round_trip_refuses_what_it_must() {
    let prefix = "m{v=\"";
    assert_eq!(
        checks::parse_label_value("m{v=\"a\\\"b\\\\\\n\"} 1", prefix).as_deref(),
        Some("a\"b\\\n")
    );
    assert_eq!(checks::parse_label_value("m{v=\"a\\tb\"} 1", prefix), None);
    assert_eq!(checks::parse_label_value("m{v=\"open} 1", prefix), None);
    assert_eq!(checks::parse_label_value("m{v=\"a\"b\"} 1", prefix), None);
}
