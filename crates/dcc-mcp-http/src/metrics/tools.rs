//! Per-tool metric handles, resolved once when a tool is registered.
//!
//! Why: looking a series up by label values dominates the cost of recording (DESIGN §4), and the
//! record points only know the tool's name. Registration resolves every handle of the tool
//! (`calls{success}`, `calls{error}`, the duration histogram, the job series) and stores them in a
//! shared table; each worker thread then keeps its own copy of the table entries it has used, in a
//! `thread_local::ThreadLocal` map with an FNV hash. A recording thread therefore touches only its
//! own cache and then its own engine shard: no lock, no shared reference count, no `lock`-prefixed
//! instruction on the hot path. The shared table (behind an `RwLock`) is read once per thread per
//! tool.
//!
//! Series are never removed when a tool is unregistered: counters stay monotonic, and a tool that
//! comes back continues its series. Cached handles of an unregistered tool stay valid for the same
//! reason, so the caches need no invalidation. Memory stays bounded by the names ever registered
//! (and by the engine's per-family series cap).

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use dcc_mcp_telemetry::{Counter, Gauge, Histogram};
use thread_local::ThreadLocal;

use super::Families;

/// FNV-1a: tool names are short and registered by the server owner (not chosen by clients), so a
/// fast non-keyed hash is the right trade.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type FnvMap<V> = HashMap<Box<str>, V, BuildHasherDefault<Fnv>>;

/// The series of one tool call label set (`tool`), both statuses.
pub(crate) struct CallHandles {
    /// Indexed by [`super::status_index`].
    pub(crate) calls: [Counter; 2],
    pub(crate) duration: Histogram,
}

impl CallHandles {
    pub(crate) fn resolve(f: &Families, tool: &str) -> Self {
        Self {
            calls: super::STATUSES.map(|s| f.tool_calls.with_label_values(&[tool, s])),
            duration: f.tool_duration.with_label_values(&[tool]),
        }
    }
}

/// The job series of one tool.
pub(crate) struct JobHandles {
    pub(crate) in_flight: Gauge,
    pub(crate) wait: Histogram,
    /// Indexed by [`super::job_result_index`].
    pub(crate) created: [Counter; super::JOB_RESULTS.len()],
}

impl JobHandles {
    fn resolve(f: &Families, tool: &str) -> Self {
        Self {
            in_flight: f.jobs_in_flight.with_label_values(&[tool]),
            wait: f.job_wait.with_label_values(&[tool]),
            created: super::JOB_RESULTS.map(|r| f.job_created.with_label_values(&[tool, r])),
        }
    }
}

/// Every series of one tool. A registered tool gets its job series at registration; a built-in
/// tool (which never runs as a job) only if a job event ever names it.
pub(crate) struct ToolHandles {
    pub(crate) call: CallHandles,
    jobs: OnceLock<JobHandles>,
}

impl ToolHandles {
    /// Resolves (and so creates, at zero) the call series of `tool`, and its job series too when
    /// `with_jobs`.
    fn resolve(f: &Families, tool: &str, with_jobs: bool) -> Self {
        let jobs = OnceLock::new();
        if with_jobs {
            let _ = jobs.set(JobHandles::resolve(f, tool));
        }
        Self {
            call: CallHandles::resolve(f, tool),
            jobs,
        }
    }

    /// The job series (resolved now if this tool had none yet).
    pub(crate) fn jobs(&self, f: &Families, tool: &str) -> &JobHandles {
        self.jobs.get_or_init(|| JobHandles::resolve(f, tool))
    }
}

/// Registered tools' handles plus each thread's cache of them.
#[derive(Default)]
pub(crate) struct ToolTable {
    shared: RwLock<FnvMap<Arc<ToolHandles>>>,
    local: ThreadLocal<RefCell<FnvMap<Arc<ToolHandles>>>>,
}

impl ToolTable {
    /// Resolves `name`'s handles now (creating its series at zero) and publishes them; job series
    /// too when `with_jobs`.
    pub(crate) fn register(&self, families: &Families, name: &str, with_jobs: bool) {
        let handles = Arc::new(ToolHandles::resolve(families, name, with_jobs));
        self.shared
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.into(), handles);
    }

    /// Forgets `name` for future lookups from threads that have not cached it. Its series stay.
    pub(crate) fn unregister(&self, name: &str) {
        self.shared
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
    }

    /// Runs `f` with `name`'s handles: from this thread's cache, else from the shared table, else
    /// (a name no longer registered, e.g. a job outliving its tool) resolved from the families.
    pub(crate) fn with<R>(
        &self,
        families: &Families,
        name: &str,
        f: impl FnOnce(&ToolHandles) -> R,
    ) -> R {
        let cell = self.local.get_or(Default::default);
        // A re-entrant borrow cannot happen (`f` only records), but never panic on a request path.
        let Ok(mut cache) = cell.try_borrow_mut() else {
            return f(&self.lookup_shared(families, name));
        };
        if let Some(h) = cache.get(name) {
            return f(h);
        }
        let handles = self.lookup_shared(families, name);
        let r = f(&handles);
        cache.insert(name.into(), handles);
        r
    }

    fn lookup_shared(&self, families: &Families, name: &str) -> Arc<ToolHandles> {
        let found = self
            .shared
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned();
        found.unwrap_or_else(|| Arc::new(ToolHandles::resolve(families, name, false)))
    }
}
