//! One backend as the gateway sees it: where it is, its pooled client (one upstream session shared
//! by every downstream session), its concurrency budget, its health and the tools it put in the
//! gateway's registry.
//!
//! The state here is only data and small transitions; who probes (`health`), who proxies
//! (`proxy`) and who lists (`catalog`) live above it.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::SystemTime;

use dcc_mcp_client::McpClient;
use serde_json::{json, Value};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::metrics::{BackendMetrics, ErrorKind};

/// Where a backend came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `--backend NAME=URL`: always there.
    Static,
    /// An entry of the discovery directory.
    Registry {
        /// The host's process id, as it wrote it.
        pid: Option<u32>,
        /// The host's (or its DCC's) version, as it wrote it.
        version: Option<String>,
    },
}

/// Health of a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Answering; its tools are listed.
    Up,
    /// Not answering (or not yet reached); its tools are not listed.
    Down,
}

impl Health {
    /// `"up"` or `"down"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
        }
    }
}

/// What changes as the backend is probed.
struct Status {
    health: Health,
    /// Namespaced names this backend has in the gateway's registry.
    tools: Vec<String>,
    last_error: Option<String>,
    since: SystemTime,
}

/// One backend.
pub(crate) struct Backend {
    pub(crate) name: String,
    pub(crate) url: String,
    pub(crate) dcc_type: Option<String>,
    pub(crate) origin: Origin,
    client: RwLock<Option<Arc<McpClient>>>,
    /// Calls in flight to this backend (its concurrency budget).
    pub(crate) budget: Semaphore,
    max_in_flight: usize,
    status: Mutex<Status>,
    /// Consecutive failures of probes and of calls that got no answer.
    failures: AtomicU32,
    /// A failed call asks the prober to look now instead of at its next tick.
    pub(crate) wake: Notify,
    /// Cancelled when the backend is removed (its prober stops).
    pub(crate) removed: CancellationToken,
    pub(crate) metrics: BackendMetrics,
}

impl Backend {
    pub(crate) fn new(
        name: String,
        url: String,
        dcc_type: Option<String>,
        origin: Origin,
        max_in_flight: usize,
        metrics: BackendMetrics,
    ) -> Self {
        metrics.set_up(false);
        Self {
            name,
            url,
            dcc_type,
            origin,
            client: RwLock::new(None),
            budget: Semaphore::new(max_in_flight),
            max_in_flight,
            status: Mutex::new(Status {
                health: Health::Down,
                tools: Vec::new(),
                last_error: None,
                since: SystemTime::now(),
            }),
            failures: AtomicU32::new(0),
            wake: Notify::new(),
            removed: CancellationToken::new(),
            metrics,
        }
    }

    /// The size of its concurrency budget.
    pub(crate) fn max_in_flight(&self) -> usize {
        self.max_in_flight
    }

    /// The connected client, when there is one.
    pub(crate) fn client(&self) -> Option<Arc<McpClient>> {
        self.client
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replace (or drop, with `None`) the client.
    pub(crate) fn set_client(&self, client: Option<Arc<McpClient>>) {
        *self.client.write().unwrap_or_else(PoisonError::into_inner) = client;
    }

    pub(crate) fn health(&self) -> Health {
        self.lock().health
    }

    /// Mark up (its tools are registered next, see [`set_tools`](Self::set_tools)).
    pub(crate) fn mark_up(&self) {
        // The gauge first: whoever sees the backend up (a call, /health) then sees `backend_up` 1.
        self.metrics.set_up(true);
        let mut status = self.lock();
        if status.health != Health::Up {
            status.health = Health::Up;
            status.since = SystemTime::now();
        }
        status.last_error = None;
    }

    /// Take the names of the tools it has registered (to unregister them), keeping its health.
    pub(crate) fn take_tools(&self) -> Vec<String> {
        std::mem::take(&mut self.lock().tools)
    }

    /// Record the names of the tools it has registered.
    pub(crate) fn set_tools(&self, tools: Vec<String>) {
        self.lock().tools = tools;
    }

    /// Mark down; returns the tools it had registered (to unregister), empty when it was down.
    pub(crate) fn mark_down(&self, error: Option<String>) -> Vec<String> {
        let mut status = self.lock();
        if error.is_some() {
            status.last_error = error;
        }
        if status.health == Health::Down {
            return std::mem::take(&mut status.tools);
        }
        self.metrics.set_up(false);
        status.health = Health::Down;
        status.since = SystemTime::now();
        std::mem::take(&mut status.tools)
    }

    /// The last error seen, if any.
    pub(crate) fn last_error(&self) -> Option<String> {
        self.lock().last_error.clone()
    }

    /// Keep the last error seen (for `/instances`).
    pub(crate) fn set_last_error(&self, error: String) {
        self.lock().last_error = Some(error);
    }

    /// A probe or call failed (`kind`); returns the consecutive failures so far.
    pub(crate) fn note_failure(&self, kind: ErrorKind) -> u32 {
        self.metrics.error(kind);
        self.failures
            .fetch_add(1, Ordering::AcqRel)
            .saturating_add(1)
    }

    /// A probe or call got an answer.
    pub(crate) fn note_success(&self) {
        self.failures.store(0, Ordering::Release);
    }

    /// The `/instances` entry.
    pub(crate) fn describe(&self) -> Value {
        let status = self.lock();
        let since = status
            .since
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let (source, pid, version) = match &self.origin {
            Origin::Static => ("static", None, None),
            Origin::Registry { pid, version } => ("registry", *pid, version.clone()),
        };
        json!({
            "name": self.name,
            "url": self.url,
            "dcc_type": self.dcc_type,
            "source": source,
            "pid": pid,
            "version": version,
            "state": status.health.as_str(),
            "since": since,
            "tools": status.tools.len(),
            "in_flight": self.max_in_flight - self.budget.available_permits(),
            "max_in_flight": self.max_in_flight,
            "last_error": status.last_error,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
