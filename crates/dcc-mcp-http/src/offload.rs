//! A small bounded pool for CPU-heavy request work that must not run on the I/O workers.
//!
//! The runtime has few I/O workers (two on a 2-core machine). Parsing a 4 MiB body of numbers
//! takes long enough that a handful of such requests, parsed in place, would stall every other
//! connection. Work above a size threshold runs here instead: on the blocking pool, at most
//! `threads` at once; the rest wait (asynchronously, holding no thread) for a permit. Small bodies
//! never come here, so the common request pays nothing.

use std::sync::Arc;

use tokio::sync::Semaphore;

/// Bodies of at least this many bytes are parsed on the pool; smaller ones in place.
pub(crate) const OFFLOAD_BODY_BYTES: usize = 64 * 1024;

/// Threads of the pool: large bodies parsed at once.
pub(crate) const OFFLOAD_THREADS: usize = 2;

/// The bounded pool (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct Offload {
    permits: Arc<Semaphore>,
}

impl Offload {
    /// A pool running at most `threads` pieces of work at once.
    pub(crate) fn new(threads: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(threads.max(1))),
        }
    }

    /// Run `work` on a blocking thread once a permit is free. `None` when it could not run to the end
    /// (it panicked, or the runtime is shutting down).
    pub(crate) async fn run<T, F>(&self, work: F) -> Option<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let permit = self.permits.clone().acquire_owned().await.ok()?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .ok()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn never_more_than_its_threads_at_once() {
        let pool = Offload::new(2);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let (pool, running, most) = (pool.clone(), running.clone(), most.clone());
                tokio::spawn(async move {
                    pool.run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                        i
                    })
                    .await
                })
            })
            .collect();
        let mut done = Vec::new();
        for task in tasks {
            done.push(task.await.unwrap().unwrap());
        }
        done.sort_unstable();
        assert_eq!(done, (0..8).collect::<Vec<_>>());
        let most = most.load(Ordering::SeqCst);
        assert!((1..=2).contains(&most), "{most} ran at once");
    }

    #[tokio::test]
    async fn a_panic_is_none_and_frees_its_permit() {
        let pool = Offload::new(1);
        assert_eq!(pool.run(|| -> u8 { panic!("boom") }).await, None);
        assert_eq!(pool.run(|| 7).await, Some(7));
    }
}
