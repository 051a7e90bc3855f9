//! Interpreter exit: nothing of ours may be on a thread's stack when CPython ends that thread.
//!
//! From the moment `Py_FinalizeEx` marks the runtime as finalizing, CPython 3.9–3.13 ends every
//! other thread that tries to take the GIL with `pthread_exit`. On glibc that is a *forced unwind*:
//! it runs the landing pads of every frame on the thread's stack. C and Python frames have none, so
//! a thread that is only running Python code ends cleanly; but a Rust frame with a `catch_unwind`
//! (ours, pyo3's trampolines, tokio's and std's thread roots) or an `extern "C"` boundary turns it
//! into an abort of the whole host — SIGABRT, the artist's unsaved scene gone.
//!
//! So the package keeps two rules:
//!
//! 1. **Rust threads never take the GIL.** Worker-thread tool handlers run on Python threads
//!    (see [`super::pool`]), whose stacks are C and Python frames only while the handler runs.
//! 2. **Rust frames that may give up the GIL on a Python thread are a [`Section`].** Waiting,
//!    shutting down, pumping and the calls around a handler enter one; once the interpreter exits,
//!    the package's `atexit` hook ([`at_exit`]) refuses new sections on any thread but the one
//!    running the hook, stops every server and handler pool (which wakes every waiting section),
//!    and waits, with the GIL released, until the sections in progress have left. `atexit` hooks
//!    run before CPython marks the runtime as finalizing, so after the hook returns no thread can
//!    be inside our frames when it is ended.
//!
//! The hook is registered when the module is imported; it runs after hooks the plug-in registered
//! later (`atexit` is last-in, first-out), so a plug-in's own `shutdown()` at exit still runs first.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use pyo3::prelude::*;

use dcc_mcp_http::McpServerHandle;

/// Something with threads of ours waiting in it, which the exit hook wakes and ends.
pub(crate) trait Close: Send + Sync {
    /// Wake every waiter and stop taking work. Idempotent.
    fn close(&self);
}

/// The longest the exit hook waits for sections still in progress on other threads.
const EXIT_DRAIN: Duration = Duration::from_secs(5);

/// How often the exit hook looks whether the sections have left.
const EXIT_POLL: Duration = Duration::from_millis(2);

static EXITING: AtomicBool = AtomicBool::new(false);
static ACTIVE: AtomicUsize = AtomicUsize::new(0);
static EXIT_THREAD: OnceLock<ThreadId> = OnceLock::new();

/// What the exit hook must stop: every started server, handler pool and `on_pending` notifier,
/// held weakly.
#[derive(Default)]
struct Live {
    servers: Vec<Weak<McpServerHandle>>,
    pools: Vec<Weak<dyn Close>>,
}

fn live() -> std::sync::MutexGuard<'static, Live> {
    static LIVE: OnceLock<Mutex<Live>> = OnceLock::new();
    LIVE.get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// Remembers a started server so the exit hook stops it.
pub(crate) fn track_server(handle: &Arc<McpServerHandle>) {
    let mut live = live();
    live.servers.retain(|s| s.strong_count() > 0);
    live.servers.push(Arc::downgrade(handle));
}

/// Remembers a handler pool or notifier so the exit hook closes it.
pub(crate) fn track<T: Close + 'static>(closable: &Arc<T>) {
    let closable: Arc<dyn Close> = closable.clone();
    let mut live = live();
    live.pools.retain(|p| p.strong_count() > 0);
    live.pools.push(Arc::downgrade(&closable));
}

/// True once the exit hook started.
pub(crate) fn exiting() -> bool {
    EXITING.load(Ordering::SeqCst)
}

/// A stretch of Rust code that may release the GIL (or run Python code that may) on the current
/// thread. While one is alive the exit hook waits for it.
pub(crate) struct Section {
    counted: bool,
}

impl Section {
    /// `None` once the interpreter exits, on every thread but the one running the exit hook (which
    /// CPython never ends): the caller must then return without releasing the GIL or calling Python.
    ///
    /// Entering and the hook's refusal are ordered by the GIL, which both hold: a section entered
    /// before the hook set the flag is counted before the hook starts waiting.
    pub(crate) fn enter(_py: Python<'_>) -> Option<Self> {
        if exiting() {
            return (EXIT_THREAD.get() == Some(&std::thread::current().id()))
                .then_some(Self { counted: false });
        }
        ACTIVE.fetch_add(1, Ordering::SeqCst);
        Some(Self { counted: true })
    }
}

impl Drop for Section {
    fn drop(&mut self) {
        if self.counted {
            ACTIVE.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// The `atexit` hook: refuse new sections elsewhere, stop every handler pool and server, then wait
/// (GIL released) for the sections in progress to leave, at most [`EXIT_DRAIN`].
#[pyfunction]
#[pyo3(name = "_at_exit")]
pub(crate) fn at_exit(py: Python<'_>) {
    let _ = EXIT_THREAD.set(std::thread::current().id());
    EXITING.store(true, Ordering::SeqCst);
    let (servers, pools) = {
        let mut live = live();
        (
            std::mem::take(&mut live.servers),
            std::mem::take(&mut live.pools),
        )
    };
    py.detach(|| {
        // Pools first: a call waiting for a Python handler is answered at once, so stopping the
        // servers does not wait `shutdown_timeout` for handlers that will never return.
        for pool in pools.iter().filter_map(Weak::upgrade) {
            pool.close();
        }
        for server in servers.iter().filter_map(Weak::upgrade) {
            let _ = server.shutdown();
        }
        let deadline = Instant::now() + EXIT_DRAIN;
        while ACTIVE.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(EXIT_POLL);
        }
    });
}

/// Registers [`at_exit`] with Python's `atexit`.
pub(crate) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let hook = wrap_pyfunction!(at_exit, module)?;
    module
        .py()
        .import("atexit")?
        .call_method1("register", (hook,))?;
    Ok(())
}
