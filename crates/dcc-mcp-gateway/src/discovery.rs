//! Discovery through a shared directory: a DCC host joins by writing one small JSON entry,
//! `<name>.json`, and keeps it alive by rewriting it (its `heartbeat`, Unix seconds) more often than
//! the gateway's `registry_ttl`. An entry whose heartbeat is older than the TTL has expired, and
//! its backend leaves the gateway; a host that stops cleanly removes its entry.
//!
//! Entries are written atomically (temporary file + rename), so the gateway never reads half of
//! one. An entry that does not parse, or names a bad backend name or URL, is skipped with a
//! warning. The entry format:
//!
//! ```json
//! {"name": "maya-01", "dcc_type": "maya", "url": "http://127.0.0.1:51234/mcp",
//!  "pid": 4242, "version": "2025.1", "heartbeat": 1764636000.5}
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::atomic_file::write_atomic;
use crate::backend::Origin;
use crate::config::BackendSpec;
use crate::fleet::Fleet;
use crate::names::check_backend_name;

/// One host's entry in the discovery directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistryEntry {
    /// The backend name (its tools' namespace).
    pub name: String,
    /// The DCC type (`maya`, `blender`, `houdini`, …).
    #[serde(default)]
    pub dcc_type: Option<String>,
    /// The host's MCP endpoint.
    pub url: String,
    /// The host's process id.
    #[serde(default)]
    pub pid: Option<u32>,
    /// The host's (or its DCC's) version.
    #[serde(default)]
    pub version: Option<String>,
    /// When the entry was last written, Unix seconds.
    pub heartbeat: f64,
}

impl RegistryEntry {
    /// An entry for this process, with the heartbeat set to now.
    pub fn new(name: &str, dcc_type: Option<&str>, url: &str, version: Option<&str>) -> Self {
        Self {
            name: name.to_owned(),
            dcc_type: dcc_type.map(str::to_owned),
            url: url.to_owned(),
            pid: Some(std::process::id()),
            version: version.map(str::to_owned),
            heartbeat: unix_now(),
        }
    }

    /// Whether the heartbeat is older than `ttl` at `now` (Unix seconds); a heartbeat that is not
    /// a number (NaN) has expired too.
    pub fn is_expired(&self, ttl: Duration, now: f64) -> bool {
        let age = now - self.heartbeat;
        age.is_nan() || age > ttl.as_secs_f64()
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The entry file of backend `name` in `dir`.
pub fn entry_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.json"))
}

/// Write (or refresh) `entry` in `dir` atomically, its heartbeat set to now.
pub fn write_entry(dir: &Path, entry: &RegistryEntry) -> std::io::Result<()> {
    check_backend_name(&entry.name)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    std::fs::create_dir_all(dir)?;
    let mut entry = entry.clone();
    entry.heartbeat = unix_now();
    let bytes = serde_json::to_vec(&entry)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    write_atomic(&entry_path(dir, &entry.name), &bytes)
}

/// Remove backend `name`'s entry from `dir` (a host leaving cleanly). A missing entry is fine.
pub fn remove_entry(dir: &Path, name: &str) -> std::io::Result<()> {
    match std::fs::remove_file(entry_path(dir, name)) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// The entries of `dir` that have not expired, by name (a missing directory has none).
pub fn live_entries(dir: &Path, ttl: Duration) -> BTreeMap<String, RegistryEntry> {
    let now = unix_now();
    let mut live = BTreeMap::new();
    let Ok(read) = std::fs::read_dir(dir) else {
        return live;
    };
    for file in read.flatten() {
        let path = file.path();
        let is_entry = path.extension().is_some_and(|e| e == "json")
            && !path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'));
        if !is_entry {
            continue;
        }
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let entry: RegistryEntry = match serde_json::from_slice(&bytes) {
            Ok(entry) => entry,
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "discovery entry skipped");
                continue;
            }
        };
        if entry.is_expired(ttl, now) {
            continue;
        }
        if let Err(error) = BackendSpec::new(&entry.name, &entry.url, entry.dcc_type.clone()) {
            tracing::warn!(path = %path.display(), %error, "discovery entry skipped");
            continue;
        }
        live.insert(entry.name.clone(), entry);
    }
    live
}

/// Keep this process's entry alive: rewrite it every `interval` on a thread of its own until the
/// [`Heartbeat`] is dropped, which removes the entry.
pub struct Heartbeat {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    dir: PathBuf,
    name: String,
}

impl Heartbeat {
    /// Write `entry` into `dir` now, then every `interval`.
    pub fn start(dir: &Path, entry: RegistryEntry, interval: Duration) -> std::io::Result<Self> {
        write_entry(dir, &entry)?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread_dir = dir.to_owned();
        let thread_entry = entry.clone();
        let thread = std::thread::Builder::new()
            .name("dcc-mcp-heartbeat".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(interval)
                {
                    if let Err(error) = write_entry(&thread_dir, &thread_entry) {
                        tracing::warn!(%error, "cannot refresh the discovery entry");
                    }
                }
            })?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
            dir: dir.to_owned(),
            name: entry.name,
        })
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = remove_entry(&self.dir, &self.name);
    }
}

impl std::fmt::Debug for Heartbeat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Heartbeat")
            .field("dir", &self.dir)
            .field("name", &self.name)
            .finish()
    }
}

/// Follow `dir`: add the backends of new entries, remove those whose entry expired or went away
/// (or changed URL), until `stop` is cancelled.
pub(crate) async fn watch(
    fleet: Arc<Fleet>,
    dir: PathBuf,
    spawn: impl Fn(Arc<crate::backend::Backend>) + Send,
    stop: tokio_util::sync::CancellationToken,
) {
    loop {
        let live = live_entries(&dir, fleet.config.registry_ttl);
        sync(&fleet, &live, &spawn);
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(fleet.config.registry_poll) => {}
        }
    }
}

fn sync(
    fleet: &Fleet,
    live: &BTreeMap<String, RegistryEntry>,
    spawn: &impl Fn(Arc<crate::backend::Backend>),
) {
    for backend in fleet.backends() {
        if !matches!(backend.origin, Origin::Registry { .. }) {
            continue;
        }
        let keep = live
            .get(&backend.name)
            .is_some_and(|entry| entry.url == backend.url);
        if !keep {
            tracing::info!(backend = %backend.name, "discovery entry gone or expired; backend removed");
            fleet.remove(&backend.name);
        }
    }
    for entry in live.values() {
        if fleet.get(&entry.name).is_some() {
            continue;
        }
        let Ok(spec) = BackendSpec::new(&entry.name, &entry.url, entry.dcc_type.clone()) else {
            continue;
        };
        let origin = Origin::Registry {
            pid: entry.pid,
            version: entry.version.clone(),
        };
        match fleet.add(&spec, origin) {
            Ok(backend) => {
                tracing::info!(backend = %spec.name, url = %spec.url, "backend discovered");
                spawn(backend);
            }
            Err(error) => {
                tracing::warn!(backend = %spec.name, %error, "discovered backend not added")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_expire_and_leave() {
        let dir = std::env::temp_dir().join(format!("dcc-mcp-discovery-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let entry = RegistryEntry::new("maya-01", Some("maya"), "http://127.0.0.1:1/mcp", None);
        write_entry(&dir, &entry).unwrap();
        std::fs::write(dir.join("broken.json"), b"{not json").unwrap();
        std::fs::write(
            dir.join("bad.json"),
            br#"{"name": "a__b", "url": "http://x/mcp", "heartbeat": 1e12}"#,
        )
        .unwrap();
        let stale = RegistryEntry {
            heartbeat: 1.0,
            ..RegistryEntry::new("old", None, "http://127.0.0.1:2/mcp", None)
        };
        std::fs::write(entry_path(&dir, "old"), serde_json::to_vec(&stale).unwrap()).unwrap();
        let live = live_entries(&dir, Duration::from_secs(10));
        assert_eq!(live.keys().collect::<Vec<_>>(), ["maya-01"]);
        assert_eq!(live["maya-01"].dcc_type.as_deref(), Some("maya"));
        assert_eq!(live["maya-01"].pid, Some(std::process::id()));
        assert!(stale.is_expired(Duration::from_secs(10), unix_now()));
        remove_entry(&dir, "maya-01").unwrap();
        remove_entry(&dir, "maya-01").unwrap();
        assert!(live_entries(&dir, Duration::from_secs(10)).is_empty());
        {
            let _beat = Heartbeat::start(&dir, entry, Duration::from_millis(10)).unwrap();
            assert!(entry_path(&dir, "maya-01").exists());
        }
        assert!(!entry_path(&dir, "maya-01").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
