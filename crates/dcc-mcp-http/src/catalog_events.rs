//! Change events of the catalogs a client lists (resources, prompts): what the transport turns into
//! `notifications/*/list_changed` and `notifications/resources/updated`.
//!
//! The registries only call their observers; who is told (every session's stream, a
//! `subscriptions/listen` stream, only subscribers of one URI) is decided above them, so the domain
//! knows nothing of sessions or HTTP.

use std::sync::{Arc, RwLock};

/// Something a client may want to hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogEvent {
    /// A resource or resource template was added or removed.
    ResourcesListChanged,
    /// A prompt was added or removed.
    PromptsListChanged,
    /// The contents of the resource with this URI changed.
    ResourceUpdated(String),
}

/// An observer of catalog changes. It runs on the thread that made the change: keep it short.
pub type CatalogObserver = Arc<dyn Fn(&CatalogEvent) + Send + Sync>;

/// The observers of one catalog.
#[derive(Clone, Default)]
pub struct Observers {
    list: Arc<RwLock<Vec<CatalogObserver>>>,
}

impl Observers {
    /// Add an observer.
    pub fn add(&self, observer: CatalogObserver) {
        if let Ok(mut list) = self.list.write() {
            list.push(observer);
        }
    }

    /// Tell every observer.
    pub fn emit(&self, event: &CatalogEvent) {
        let observers = match self.list.read() {
            Ok(list) => list.clone(),
            Err(_) => return,
        };
        for observer in observers {
            observer(event);
        }
    }
}

impl std::fmt::Debug for Observers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.list.read().map(|l| l.len()).unwrap_or(0);
        f.debug_struct("Observers").field("count", &count).finish()
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use std::sync::Mutex;

    /// An observer that keeps what it saw.
    pub(crate) fn recording() -> (CatalogObserver, Arc<Mutex<Vec<CatalogEvent>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let observer: CatalogObserver = Arc::new(move |event: &CatalogEvent| {
            if let Ok(mut seen) = sink.lock() {
                seen.push(event.clone());
            }
        });
        (observer, seen)
    }
}
