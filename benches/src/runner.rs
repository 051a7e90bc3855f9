//! Runs one operation on N threads at the same time and reports the time per operation per thread.
//!
//! Why: a metrics library is only interesting under concurrent recording — a shared atomic costs a
//! few nanoseconds on one thread and hundreds when two cores fight over its cache line. Criterion
//! times one closure on one thread, so the benches hand it [`parallel`] through `iter_custom`: every
//! thread waits at a barrier, then runs `iters` operations and times itself; the slowest thread's
//! time is the sample. Criterion's "time per iteration" is then the time per operation per thread,
//! and the aggregate throughput is `threads / time`.
//!
//! Thread counts come from the environment so that bigger machines can go further than the default
//! 1 and 2 (see [`thread_counts`]).

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Environment variable with the thread counts to measure, e.g. `1,2,4` or `max`.
pub const THREADS_ENV: &str = "DCC_MCP_BENCH_THREADS";

/// Number of cores available to this process (at least 1).
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Thread counts to benchmark: `DCC_MCP_BENCH_THREADS` (comma-separated counts, or `max` for
/// 1, 2, 4, … up to the core count), else `1,2`. Counts are clamped to the number of cores, since
/// more recording threads than cores measure the scheduler, not the library; duplicates are removed.
pub fn thread_counts() -> Vec<usize> {
    parse_thread_counts(std::env::var(THREADS_ENV).ok().as_deref(), available_cores())
}

/// [`thread_counts`] for a given variable value and core count.
pub fn parse_thread_counts(spec: Option<&str>, cores: usize) -> Vec<usize> {
    let cores = cores.max(1);
    let mut counts: Vec<usize> = match spec.map(str::trim) {
        Some("max") => std::iter::successors(Some(1usize), |n| n.checked_mul(2))
            .take_while(|n| *n < cores)
            .chain(std::iter::once(cores))
            .collect(),
        Some(s) if !s.is_empty() => s
            .split(',')
            .filter_map(|t| t.trim().parse::<usize>().ok())
            .filter(|n| *n > 0)
            .map(|n| n.min(cores))
            .collect(),
        _ => vec![1, 2.min(cores)],
    };
    counts.sort_unstable();
    counts.dedup();
    if counts.is_empty() {
        counts.push(1);
    }
    counts
}

/// A barrier that spins instead of sleeping: a thread woken from a futex is often placed on the
/// waker's core for the first milliseconds, so two "parallel" threads would share one core and
/// never contend. Spinning keeps every thread runnable, so the scheduler spreads them over the
/// cores before the timed loop starts.
struct SpinBarrier {
    arrived: AtomicUsize,
    threads: usize,
}

impl SpinBarrier {
    fn wait(&self) {
        self.arrived.fetch_add(1, Ordering::AcqRel);
        while self.arrived.load(Ordering::Acquire) < self.threads {
            std::hint::spin_loop();
        }
    }
}

/// Runs `op` `iters` times on each of `threads` threads, all started together, and returns the
/// slowest thread's elapsed time (use it as criterion's `iter_custom` result).
///
/// `op` receives the thread's index (`0..threads`), so a benchmark can give each thread its own
/// label value or handle. It is generic, so the call inlines into the timed loop.
pub fn parallel<F>(threads: usize, iters: u64, op: &F) -> Duration
where
    F: Fn(usize) + Sync,
{
    let threads = threads.max(1);
    let barrier = SpinBarrier {
        arrived: AtomicUsize::new(0),
        threads,
    };
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || {
                    // Touch the library once before timing, so first-use work (thread-local slot
                    // creation, series creation) is not part of the sample.
                    op(t);
                    barrier.wait();
                    let start = Instant::now();
                    for _ in 0..iters {
                        op(black_box(t));
                    }
                    start.elapsed()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_default())
            .max()
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn default_is_one_and_two_threads() {
        assert_eq!(parse_thread_counts(None, 2), vec![1, 2]);
        assert_eq!(parse_thread_counts(None, 1), vec![1]);
        assert_eq!(parse_thread_counts(Some(""), 8), vec![1, 2]);
    }

    #[test]
    fn explicit_counts_are_clamped_sorted_and_deduplicated() {
        assert_eq!(parse_thread_counts(Some("4, 1,2,64,x,0"), 8), vec![1, 2, 4, 8]);
        assert_eq!(parse_thread_counts(Some("3,3"), 2), vec![2]);
        assert_eq!(parse_thread_counts(Some("0"), 2), vec![1]);
    }

    #[test]
    fn max_doubles_up_to_the_core_count() {
        assert_eq!(parse_thread_counts(Some("max"), 12), vec![1, 2, 4, 8, 12]);
        assert_eq!(parse_thread_counts(Some("max"), 1), vec![1]);
    }

    #[test]
    fn every_thread_runs_every_iteration_plus_one_warm_up() {
        let calls = AtomicU64::new(0);
        let per_thread: Vec<AtomicU64> = (0..3).map(|_| AtomicU64::new(0)).collect();
        parallel(3, 1000, &|t| {
            calls.fetch_add(1, Ordering::Relaxed);
            per_thread[t].fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(calls.load(Ordering::Relaxed), 3 * 1001);
        for c in &per_thread {
            assert_eq!(c.load(Ordering::Relaxed), 1001);
        }
    }
}
