//! `subscriptions/listen` streams (2026-07-28): who is listening for which change, and the fan-out
//! of a change to them.
//!
//! With no session, a client that wants `notifications/*/list_changed` or
//! `notifications/resources/updated` keeps one `subscriptions/listen` request open; its response is
//! the stream. Each open stream is a [`Listener`] here: the filter the client asked for and the
//! outbox (an ephemeral [`Session`]) its response drains. The registries' observers call
//! [`ListenHub::tools_changed`] and [`ListenHub::catalog_event`]; each notification goes only to
//! the streams whose filter asked for it, tagged with the stream's id
//! (`_meta["io.modelcontextprotocol/subscriptionId"]`, the JSON-RPC id of the listen request).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use dcc_mcp_protocol::resources;
use dcc_mcp_protocol::stateless::{SubscriptionFilter, META_SUBSCRIPTION_ID_KEY};
use serde_json::{json, Value};

use crate::catalog_events::CatalogEvent;
use crate::registry::RegistryObserver;
use crate::session::Session;

/// `notifications/tools/list_changed`.
pub(crate) const TOOLS_LIST_CHANGED: &str = "notifications/tools/list_changed";

/// One open `subscriptions/listen` stream.
struct Listener {
    key: u64,
    /// The listen request's JSON-RPC id: the subscription id.
    id: Value,
    filter: SubscriptionFilter,
    outbox: Arc<Session>,
}

/// Every open listen stream of a server.
#[derive(Default)]
pub(crate) struct ListenHub {
    listeners: Mutex<Vec<Listener>>,
    next_key: AtomicU64,
}

/// Keeps a listener registered; dropping it (the stream ended) removes it.
pub(crate) struct ListenGuard {
    hub: Arc<ListenHub>,
    key: u64,
}

impl Drop for ListenGuard {
    fn drop(&mut self) {
        self.hub
            .listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|listener| listener.key != self.key);
    }
}

impl ListenHub {
    /// Register the stream of listen request `id` with `filter`, delivering into `outbox`.
    pub(crate) fn add(
        self: &Arc<Self>,
        id: Value,
        filter: SubscriptionFilter,
        outbox: Arc<Session>,
    ) -> ListenGuard {
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        self.listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Listener {
                key,
                id,
                filter,
                outbox,
            });
        ListenGuard {
            hub: Arc::clone(self),
            key,
        }
    }

    /// The tool list changed.
    pub(crate) fn tools_changed(&self) {
        self.send(TOOLS_LIST_CHANGED, None, |filter| {
            filter.tools_list_changed == Some(true)
        });
    }

    /// A resource or prompt catalog changed.
    pub(crate) fn catalog_event(&self, event: &CatalogEvent) {
        match event {
            CatalogEvent::ResourcesListChanged => {
                self.send(resources::LIST_CHANGED, None, |filter| {
                    filter.resources_list_changed == Some(true)
                })
            }
            CatalogEvent::PromptsListChanged => {
                self.send(dcc_mcp_protocol::prompts::LIST_CHANGED, None, |filter| {
                    filter.prompts_list_changed == Some(true)
                })
            }
            CatalogEvent::ResourceUpdated(uri) => {
                self.send(resources::UPDATED, Some(uri), |filter| {
                    filter
                        .resource_subscriptions
                        .as_ref()
                        .is_some_and(|uris| uris.iter().any(|wanted| wanted == uri))
                })
            }
        }
    }

    fn send(&self, method: &str, uri: Option<&str>, wants: impl Fn(&SubscriptionFilter) -> bool) {
        let listeners = self
            .listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for listener in listeners.iter().filter(|listener| wants(&listener.filter)) {
            let mut params = json!({"_meta": {META_SUBSCRIPTION_ID_KEY: listener.id}});
            if let (Some(uri), Some(map)) = (uri, params.as_object_mut()) {
                map.insert("uri".into(), Value::String(uri.to_owned()));
            }
            listener.outbox.notify(method, params);
        }
    }
}

/// Tells a hub about tool registry changes (held weakly: the registry may outlive the server).
pub(crate) struct ToolsObserver(pub(crate) Weak<ListenHub>);

impl RegistryObserver for ToolsObserver {
    fn tool_registered(&self, _name: &str) {
        if let Some(hub) = self.0.upgrade() {
            hub.tools_changed();
        }
    }

    fn tool_unregistered(&self, _name: &str) {
        if let Some(hub) = self.0.upgrade() {
            hub.tools_changed();
        }
    }
}
