//! The authorization server's signing keys, fetched and cached for the token checks of `/mcp`.
//!
//! Why bounded: the keys are fetched because of requests, and an unauthenticated client chooses the
//! `kid` of the tokens it sends. So the keys are read on first use and then served from memory; a
//! token with an unknown `kid` (the issuer may have rotated its keys) causes at most one re-read per
//! `jwks_refresh_interval`, whoever sends it; a copy older than [`MAX_AGE`] is re-read on the next
//! request. Concurrent requests share one fetch (an async mutex), each fetch has a deadline
//! ([`FETCH_TIMEOUT`]) and a size cap ([`MAX_DOCUMENT_BYTES`]), redirects are not followed, and a
//! failed re-read keeps the keys already known. The hot path (keys cached and fresh) takes a read
//! lock only.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

use crate::jwt::KeySet;
use crate::oauth_config::JwksSource;

/// A fetched key set is re-read after this long, on the next request that needs it.
pub(crate) const MAX_AGE: Duration = Duration::from_secs(60 * 60);
/// Deadline of one fetch (connect, headers and body).
pub(crate) const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest JWKS document read.
pub(crate) const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;
/// With no key known yet, a failed fetch is retried no sooner than this.
pub(crate) const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

#[derive(Clone)]
struct Snapshot {
    keys: Arc<KeySet>,
    fetched: Instant,
}

/// The cache of one source's key set.
pub(crate) struct JwksCache {
    source: JwksSource,
    refresh_interval: Duration,
    current: RwLock<Option<Snapshot>>,
    /// Held while fetching; holds when the last attempt (success or failure) started.
    fetching: tokio::sync::Mutex<Option<Instant>>,
    client: Client<HttpConnector, Empty<Bytes>>,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl JwksCache {
    /// A cache reading `source`, re-reading on an unknown `kid` at most once per `refresh_interval`.
    pub(crate) fn new(source: JwksSource, refresh_interval: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(FETCH_TIMEOUT));
        Self {
            source,
            refresh_interval,
            current: RwLock::new(None),
            fetching: tokio::sync::Mutex::new(None),
            client: Client::builder(TokioExecutor::new()).build(connector),
        }
    }

    fn snapshot(&self) -> Option<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The keys to check a token with: the cached set while fresh, else a new read (the stale set if
    /// that fails). `None`: no key could be read at all.
    pub(crate) async fn keys(&self) -> Option<Arc<KeySet>> {
        if let Some(snap) = self.snapshot() {
            if snap.fetched.elapsed() < MAX_AGE {
                return Some(snap.keys);
            }
        }
        let mut last = self.fetching.lock().await;
        let now = Instant::now();
        match self.snapshot() {
            // Another request refreshed it while this one waited.
            Some(snap) if snap.fetched.elapsed() < MAX_AGE => return Some(snap.keys),
            Some(snap) if last.is_some_and(|t| now.duration_since(t) < self.refresh_interval) => {
                return Some(snap.keys)
            }
            None if last.is_some_and(|t| now.duration_since(t) < RETRY_AFTER_FAILURE) => {
                return None
            }
            _ => {}
        }
        *last = Some(now);
        self.fetch_and_store()
            .await
            .or_else(|| self.snapshot().map(|s| s.keys))
    }

    /// After a token named a `kid` missing from `seen`: a newer set if one was read meanwhile or can
    /// be read now (at most one read per refresh interval); `None` if nothing changed.
    pub(crate) async fn refreshed(&self, seen: &Arc<KeySet>) -> Option<Arc<KeySet>> {
        let mut last = self.fetching.lock().await;
        if let Some(snap) = self.snapshot() {
            if !Arc::ptr_eq(&snap.keys, seen) {
                return Some(snap.keys);
            }
        }
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < self.refresh_interval) {
            return None;
        }
        *last = Some(now);
        self.fetch_and_store().await
    }

    async fn fetch_and_store(&self) -> Option<Arc<KeySet>> {
        let document = match tokio::time::timeout(FETCH_TIMEOUT, self.read()).await {
            Ok(Ok(document)) => document,
            Ok(Err(why)) => {
                tracing::warn!(source = ?self.source, "cannot read the OAuth JWKS: {why}");
                return None;
            }
            Err(_) => {
                tracing::warn!(source = ?self.source, "reading the OAuth JWKS timed out");
                return None;
            }
        };
        match KeySet::parse(&document) {
            Ok(keys) => {
                if keys.len() == 0 {
                    tracing::warn!(source = ?self.source, "the OAuth JWKS holds no usable signing key");
                }
                let keys = Arc::new(keys);
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(Snapshot {
                    keys: Arc::clone(&keys),
                    fetched: Instant::now(),
                });
                Some(keys)
            }
            Err(why) => {
                tracing::warn!(source = ?self.source, "the OAuth JWKS is unusable: {why}");
                None
            }
        }
    }

    async fn read(&self) -> Result<Bytes, String> {
        match &self.source {
            JwksSource::File(path) => {
                let len = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
                if len > MAX_DOCUMENT_BYTES as u64 {
                    return Err(format!("larger than {MAX_DOCUMENT_BYTES} bytes"));
                }
                std::fs::read(path)
                    .map(Bytes::from)
                    .map_err(|e| e.to_string())
            }
            JwksSource::Url(url) => {
                let uri: hyper::Uri = url.parse().map_err(|e| format!("bad URL: {e}"))?;
                let request = hyper::Request::get(uri)
                    .header(hyper::header::ACCEPT, "application/json")
                    .body(Empty::new())
                    .map_err(|e| e.to_string())?;
                let response = self
                    .client
                    .request(request)
                    .await
                    .map_err(|e| e.to_string())?;
                if response.status() != hyper::StatusCode::OK {
                    return Err(format!("HTTP status {}", response.status()));
                }
                let body = Limited::new(response.into_body(), MAX_DOCUMENT_BYTES);
                body.collect()
                    .await
                    .map(|b| b.to_bytes())
                    .map_err(|e| e.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn file_source_is_read_once_then_refreshed_at_most_once_per_interval() {
        let dir = std::env::temp_dir().join(format!("dcc-mcp-jwks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("jwks.json");
        std::fs::write(&path, r#"{"keys": []}"#).unwrap();
        let cache = JwksCache::new(JwksSource::File(path.clone()), Duration::from_secs(3600));
        let first = cache.keys().await.unwrap();
        assert_eq!(first.len(), 0);
        // Served from memory: the same set.
        assert!(Arc::ptr_eq(&first, &cache.keys().await.unwrap()));
        // The refresh interval has not passed: an unknown kid reads nothing.
        std::fs::write(&path, "not json").unwrap();
        assert!(cache.refreshed(&first).await.is_none());
        std::fs::remove_file(&path).unwrap();
        // A missing file with nothing cached: no keys.
        let missing = JwksCache::new(JwksSource::File(path), Duration::from_secs(1));
        assert!(missing.keys().await.is_none());
        // Retried no sooner than RETRY_AFTER_FAILURE.
        assert!(missing.keys().await.is_none());
    }
}
