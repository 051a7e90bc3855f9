//! Forwards the server's own warnings and errors (`tracing` events from `dcc-mcp-http`) to Python's
//! `logging`, logger `dcc_mcp_core`, so they show in the host's Script Editor or console.
//!
//! Why a queue and a thread of its own: events are emitted on the server's I/O threads, which must
//! never wait for the GIL (a host can hold it for seconds, and `/metrics` must still answer). The
//! layer only formats the event and `try_send`s it to a bounded queue; one delivery thread takes
//! the GIL to call `logging`. Two bounds keep a flood from reaching the host: a token bucket per
//! call site ([`PER_SECOND`] records a second, bursts of [`BURST`]: one noisy warning cannot hide
//! the others) and the queue's capacity; what they drop is counted and said in the next record that
//! gets through.
//!
//! Never during finalization: an interpreter that is finalizing ends a thread that attaches to it
//! (`pthread_exit`), which must not happen to a Rust thread. An `atexit` hook, run while the
//! interpreter is still whole, sets [`FINALIZING`] under the same lock the delivery thread holds
//! while it is attached; after that the thread never attaches again (and `Python::try_attach`
//! also declines once finalization has begun).

use pyo3::prelude::*;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Mutex, PoisonError};
use tracing::callsite::Identifier;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

use crate::rate_limit::TokenBucket;

/// Records forwarded per second, on average.
const PER_SECOND: f64 = 10.0;
/// Records forwarded in a burst before the rate applies.
const BURST: f64 = 20.0;
/// Records waiting for the delivery thread.
const QUEUE: usize = 256;

/// Set once the interpreter is exiting: the delivery thread no longer attaches.
static FINALIZING: AtomicBool = AtomicBool::new(false);
/// Held by the delivery thread while it is attached, and by the `atexit` hook while it sets
/// [`FINALIZING`].
static ATTACHED: Mutex<()> = Mutex::new(());

struct Record {
    /// Python `logging` level (`logging.ERROR` = 40, `logging.WARNING` = 30).
    level: i32,
    target: String,
    message: String,
}

/// The `tracing_subscriber` layer: WARN and ERROR events to the delivery queue.
struct PythonLogging {
    sender: SyncSender<Record>,
    limiters: Mutex<HashMap<Identifier, TokenBucket>>,
    dropped: AtomicU64,
}

/// `message` first, then the other fields as `key=value`.
#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.rest, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.rest, " {}={value}", field.name());
        }
    }
}

impl<S: Subscriber> Layer<S> for PythonLogging {
    fn enabled(&self, metadata: &tracing::Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        *metadata.level() <= Level::WARN
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        if level > Level::WARN {
            return;
        }
        let allowed = self
            .limiters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(event.metadata().callsite())
            .or_insert_with(|| TokenBucket::new(PER_SECOND, BURST))
            .allow();
        if !allowed {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut message = fields.message;
        message.push_str(&fields.rest);
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            let _ = write!(
                message,
                " ({dropped} earlier server messages were not logged: rate limit)"
            );
        }
        let record = Record {
            level: if level == Level::ERROR { 40 } else { 30 },
            target: event.metadata().target().to_owned(),
            message,
        };
        match self.sender.try_send(record) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

fn deliver(receiver: Receiver<Record>) {
    while let Ok(record) = receiver.recv() {
        let _attached = ATTACHED.lock().unwrap_or_else(PoisonError::into_inner);
        if FINALIZING.load(Ordering::SeqCst) {
            return;
        }
        let _ = Python::try_attach(|py| {
            let logged = (|| -> PyResult<()> {
                py.import("logging")?
                    .call_method1("getLogger", ("dcc_mcp_core",))?
                    .call_method1(
                        "log",
                        (
                            record.level,
                            "%s (%s)",
                            record.message.as_str(),
                            record.target.as_str(),
                        ),
                    )?;
                Ok(())
            })();
            if let Err(err) = logged {
                err.write_unraisable(py, None);
            }
        });
    }
}

/// Called by `atexit`: stops the delivery thread from attaching again.
#[pyfunction]
fn _stop_log_bridge(py: Python<'_>) {
    py.detach(|| {
        let _attached = ATTACHED.lock().unwrap_or_else(PoisonError::into_inner);
        FINALIZING.store(true, Ordering::SeqCst);
    });
}

/// Installs the bridge as the process's global `tracing` subscriber, unless one is set already (a
/// Rust host that embeds the module keeps its own), and registers the `atexit` hook.
pub(crate) fn install(module: &Bound<'_, PyModule>) -> PyResult<()> {
    // Not added to the module: only `atexit` holds it.
    let stop = wrap_pyfunction!(_stop_log_bridge, module)?;
    let (sender, receiver) = sync_channel(QUEUE);
    let layer = PythonLogging {
        sender,
        limiters: Mutex::new(HashMap::new()),
        dropped: AtomicU64::new(0),
    };
    let subscriber = tracing_subscriber::registry().with(layer);
    if tracing::subscriber::set_global_default(subscriber).is_err() {
        return Ok(());
    }
    std::thread::Builder::new()
        .name("dcc-mcp-log-bridge".to_owned())
        .spawn(move || deliver(receiver))
        .map_err(|err| pyo3::exceptions::PyRuntimeError::new_err(err.to_string()))?;
    module
        .py()
        .import("atexit")?
        .call_method1("register", (stop,))?;
    Ok(())
}
