//! The Prometheus `file_sd` file of the live backends, so that the gateway's routing and the
//! scraping share one source of truth: a backend that is down or removed leaves both.
//!
//! Each target is the backend's `host:port` with `__metrics_path__ = /metrics` and the labels
//! `backend` (its name) and `dcc` (its DCC type, when known). The file is rewritten atomically and
//! only when its contents change.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{json, Value};

use crate::atomic_file::write_atomic;
use crate::backend::Backend;

/// The writer of one `file_sd` file.
pub(crate) struct FileSd {
    path: PathBuf,
    last: Mutex<Option<Vec<u8>>>,
}

impl FileSd {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            last: Mutex::new(None),
        }
    }

    /// Write the targets of `live` (when they differ from the last write).
    pub(crate) fn write(&self, live: &[&Arc<Backend>]) -> std::io::Result<()> {
        let groups: Vec<Value> = live
            .iter()
            .filter_map(|backend| {
                let target = host_port(&backend.url)?;
                let mut labels = json!({"backend": backend.name, "__metrics_path__": "/metrics"});
                if let (Some(dcc), Some(map)) = (&backend.dcc_type, labels.as_object_mut()) {
                    map.insert("dcc".to_owned(), Value::String(dcc.clone()));
                }
                Some(json!({"targets": [target], "labels": labels}))
            })
            .collect();
        let mut bytes = serde_json::to_vec_pretty(&Value::Array(groups))
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        bytes.push(b'\n');
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if last.as_deref() == Some(bytes.as_slice()) {
            return Ok(());
        }
        write_atomic(&self.path, &bytes)?;
        *last = Some(bytes);
        Ok(())
    }
}

/// `host:port` of an `http://host:port/path` URL (port 80 when none is given).
pub(crate) fn host_port(url: &str) -> Option<String> {
    let rest = url.strip_prefix("http://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() {
        return None;
    }
    let has_port = match authority.rfind(']') {
        Some(bracket) => authority[bracket..].contains(':'),
        None => authority.contains(':'),
    };
    Some(if has_port {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_host_port() {
        assert_eq!(
            host_port("http://127.0.0.1:9000/mcp").as_deref(),
            Some("127.0.0.1:9000")
        );
        assert_eq!(host_port("http://maya/mcp").as_deref(), Some("maya:80"));
        assert_eq!(
            host_port("http://[::1]:81/mcp").as_deref(),
            Some("[::1]:81")
        );
        assert_eq!(host_port("http://[::1]/mcp").as_deref(), Some("[::1]:80"));
        assert_eq!(host_port("https://x/mcp"), None);
        assert_eq!(host_port("http:///mcp"), None);
    }
}
