//! Catalog changes in the session era: who of the live sessions hears of them.
//!
//! The registries only call their observers (see [`crate::catalog_events`]); this module turns
//! their events into session notifications on each session's `GET /mcp` stream (the outbox keeps
//! them until the stream drains it):
//! - `notifications/resources/list_changed` and `notifications/prompts/list_changed` go to every live
//!   session (the server declares `listChanged: true` for both);
//! - `notifications/resources/updated` goes only to the sessions subscribed to the URI
//!   (`resources/subscribe`).
//!
//! `notifications/tools/list_changed` is not sent from here: in the session era the embedder
//! decides when a batch of registry changes is done (`McpHttpServer::tools_list_notifier`).
//!
//! The store is held weakly: a registry may outlive the server whose sessions it told.

use std::sync::{Arc, Weak};

use serde_json::json;

use crate::catalog_events::CatalogEvent;
use crate::resource_registry::ResourceSubscriptions;
use crate::session::SessionStore;
use dcc_mcp_protocol::resources;

/// Sends a catalog event to the sessions that should hear it.
pub(crate) fn catalog_event(
    sessions: &SessionStore,
    subscriptions: &ResourceSubscriptions,
    event: &CatalogEvent,
) {
    match event {
        CatalogEvent::ResourcesListChanged => {
            sessions.notify_all(resources::LIST_CHANGED, &json!({}));
        }
        CatalogEvent::PromptsListChanged => {
            sessions.notify_all(dcc_mcp_protocol::prompts::LIST_CHANGED, &json!({}));
        }
        CatalogEvent::ResourceUpdated(uri) => {
            let subscribers = subscriptions.subscribers(uri);
            sessions.notify_ids(&subscribers, resources::UPDATED, &json!({"uri": uri}));
        }
    }
}

/// The observer that feeds catalog events to `sessions`.
pub(crate) fn catalog_observer(
    sessions: Weak<SessionStore>,
    subscriptions: Arc<ResourceSubscriptions>,
) -> crate::catalog_events::CatalogObserver {
    Arc::new(move |event| {
        if let Some(sessions) = sessions.upgrade() {
            catalog_event(&sessions, &subscriptions, event);
        }
    })
}
