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
    parse_thread_counts(
        std::env::var(THREADS_ENV).ok().as_deref(),
        available_cores(),
    )
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

/// Nanoseconds the calling thread has spent runnable but waiting for a CPU, from Linux'
/// `/proc/thread-self/schedstat` (second field; `None` elsewhere). Unlike the on-CPU time (first
/// field, updated only at scheduler ticks), a wait is accounted exactly when the thread gets a CPU
/// back, which it must do before its loop can finish.
fn thread_run_delay_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// One sample of [`parallel_sample`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// The slowest thread's elapsed time for its `iters` operations.
    pub wall: Duration,
    /// The smallest share of its elapsed time that any thread was not kept waiting for a CPU
    /// (1.0 = never preempted; `NaN` where the kernel does not say). Below ~0.9 the sample was
    /// disturbed by other load: the threads did not all run at once.
    pub cpu_share: f64,
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
    parallel_sample(threads, iters, op).wall
}

/// [`parallel`], also reporting how much of the time the threads were actually running.
pub fn parallel_sample<F>(threads: usize, iters: u64, op: &F) -> Sample
where
    F: Fn(usize) + Sync,
{
    let threads = threads.max(1);
    let barrier = SpinBarrier {
        arrived: AtomicUsize::new(0),
        threads,
    };
    let results: Vec<(Duration, Option<u64>)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || {
                    // Touch the library once before timing, so first-use work (thread-local slot
                    // creation, series creation) is not part of the sample.
                    op(t);
                    barrier.wait();
                    let delay0 = thread_run_delay_ns();
                    let start = Instant::now();
                    for _ in 0..iters {
                        op(black_box(t));
                    }
                    let wall = start.elapsed();
                    let delay = thread_run_delay_ns()
                        .zip(delay0)
                        .map(|(b, a)| b.saturating_sub(a));
                    (wall, delay)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_default())
            .collect()
    });
    let wall = results.iter().map(|r| r.0).max().unwrap_or_default();
    let cpu_share = results
        .iter()
        .map(|(w, delay)| match delay {
            Some(d) if !w.is_zero() => (1.0 - *d as f64 / w.as_nanos() as f64).clamp(0.0, 1.0),
            _ => f64::NAN,
        })
        .fold(f64::INFINITY, f64::min);
    Sample {
        wall,
        cpu_share: if cpu_share.is_finite() {
            cpu_share
        } else {
            f64::NAN
        },
    }
}

/// Environment variable naming the directory where benches append side results (the CPU-share
/// log); `scripts/bench.sh` sets it to `target/bench-results`.
pub const RESULTS_ENV: &str = "DCC_MCP_BENCH_RESULTS";

/// Appends `group,function,threads,cpu share` to `$DCC_MCP_BENCH_RESULTS/cpu_share.csv` (and
/// prints it), where the share is the samples' [`Sample::cpu_share`] weighted by their duration
/// (short samples are dominated by the kernel's accounting lag). The report uses it to flag
/// multi-thread results measured while other load kept the threads from running at once.
pub fn log_cpu_share(group: &str, function: &str, threads: usize, samples: &[Sample]) {
    let (mut weighted, mut total) = (0.0, 0.0);
    for s in samples.iter().filter(|s| s.cpu_share.is_finite()) {
        let w = s.wall.as_secs_f64();
        weighted += s.cpu_share * w;
        total += w;
    }
    if total <= 0.0 {
        return;
    }
    let share = weighted / total;
    eprintln!("cpu share {group}/{function}/{threads}: {share:.3}");
    if let Ok(dir) = std::env::var(RESULTS_ENV) {
        use std::io::Write;
        let path = std::path::Path::new(&dir).join("cpu_share.csv");
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{group},{function},{threads},{share:.3}");
        }
    }
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
        assert_eq!(
            parse_thread_counts(Some("4, 1,2,64,x,0"), 8),
            vec![1, 2, 4, 8]
        );
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
        let sample = parallel_sample(3, 1000, &|t| {
            calls.fetch_add(1, Ordering::Relaxed);
            per_thread[t].fetch_add(1, Ordering::Relaxed);
        });
        assert!(sample.cpu_share.is_nan() || (0.0..=1.0).contains(&sample.cpu_share));
        assert_eq!(calls.load(Ordering::Relaxed), 3 * 1001);
        for c in &per_thread {
            assert_eq!(c.load(Ordering::Relaxed), 1001);
        }
    }
}
