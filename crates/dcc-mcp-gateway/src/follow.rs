//! The follower of one backend connection: when the backend reports a list change (see `relay`),
//! list again what changed, serve it, and let the fleet and the surface tell the downstream
//! sessions. One follower per upstream client; it ends when the client is dropped (a reconnect
//! replaces it) or the backend is removed.

use std::sync::{Arc, Weak};

use dcc_mcp_client::McpClient;

use crate::backend::{Backend, Health};
use crate::fleet::Fleet;
use crate::relay::{Changes, PROMPTS, RESOURCES, TOOLS};

/// Follow the list changes `client` of `backend` reports: list again what changed and tell the
/// downstream sessions. Ends when the backend is removed or `client` is replaced.
pub(crate) async fn follow(
    fleet: Arc<Fleet>,
    backend: Arc<Backend>,
    client: Weak<McpClient>,
    changes: Arc<Changes>,
) {
    loop {
        tokio::select! {
            () = backend.removed.cancelled() => return,
            () = changes.closed.cancelled() => return,
            () = changes.wake.notified() => {}
        }
        let Some(client) = client.upgrade() else {
            return;
        };
        let current = backend.client();
        if !current.is_some_and(|c| Arc::ptr_eq(&c, &client)) || backend.health() != Health::Up {
            return;
        }
        let kinds = changes.take();
        if kinds & TOOLS != 0 {
            match client.list_all_tools().await {
                Ok(tools) => fleet.bring_up(&backend, &tools),
                Err(error) => {
                    tracing::debug!(backend = %backend.name, %error, "relisting tools failed");
                    backend.wake.notify_one();
                }
            }
        }
        if kinds & (RESOURCES | PROMPTS) != 0 {
            match crate::surface::fetch(&client).await {
                Ok(catalog) => fleet.surface.set(&backend, catalog),
                Err(error) => {
                    tracing::debug!(backend = %backend.name, %error, "relisting the catalog failed");
                    backend.wake.notify_one();
                }
            }
        }
    }
}
