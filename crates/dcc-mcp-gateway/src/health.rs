//! The prober of one backend: connect (`initialize`, then `tools/list`), then `ping` every
//! `probe_interval`, and sooner when a call got no answer.
//!
//! `failure_threshold` consecutive failures (probes, and calls that got no answer) take the backend
//! down; the next successful connect brings it back with a fresh tool list. With the defaults
//! (1 s interval, 1 s probe deadline, threshold 2) a backend that dies leaves `tools/list` within
//! about 2 s of its last answer, 3 s at most when it hangs instead of refusing connections.

use std::sync::Arc;

use dcc_mcp_client::{ClientConfig, ClientError, McpClient, RequestOptions};
use dcc_mcp_http::protocol::methods;
use serde_json::{Map, Value};

use crate::backend::Backend;
use crate::fleet::Fleet;
use crate::metrics::ErrorKind;
use crate::proxy::kind_of;

/// Probe `backend` until it is removed.
pub(crate) async fn supervise(fleet: Arc<Fleet>, backend: Arc<Backend>) {
    let interval = fleet.config.probe_interval;
    loop {
        probe_once(&fleet, &backend).await;
        tokio::select! {
            () = backend.removed.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
            () = backend.wake.notified() => {}
        }
    }
}

/// One probe, and the transition it calls for.
async fn probe_once(fleet: &Arc<Fleet>, backend: &Arc<Backend>) {
    let outcome = match backend.client() {
        Some(client) => ping(fleet, &client).await,
        None => connect(fleet, backend).await,
    };
    match outcome {
        Ok(()) => backend.note_success(),
        Err(error) => {
            if matches!(error, ClientError::SessionNotFound { .. }) {
                // The backend restarted: its session is gone. Connect again at once.
                backend.set_client(None);
                if connect(fleet, backend).await.is_ok() {
                    backend.note_success();
                    return;
                }
            }
            let kind = kind_of(&error);
            let failures = backend.note_failure(ErrorKind::Probe);
            tracing::debug!(backend = %backend.name, ?kind, failures, %error, "probe failed");
            let message = error.to_string();
            if failures >= fleet.config.failure_threshold {
                fleet.take_down(backend, message);
            } else {
                backend.set_last_error(message);
            }
        }
    }
}

async fn ping(fleet: &Fleet, client: &McpClient) -> Result<(), ClientError> {
    let options = RequestOptions::new().timeout(fleet.config.probe_timeout);
    client
        .request_with(methods::PING, Value::Object(Map::new()), options)
        .await
        .map(|_| ())
}

/// Open a session with `backend`, list its tools and bring it up.
async fn connect(fleet: &Arc<Fleet>, backend: &Arc<Backend>) -> Result<(), ClientError> {
    let mut config = ClientConfig::new(backend.url.clone())
        .request_timeout(fleet.config.probe_timeout.max(fleet.config.call_timeout));
    config.connect_timeout = fleet.config.probe_timeout;
    config.client_info.name = "dcc-mcp-gateway".to_owned();
    let deadline = fleet.config.probe_timeout.saturating_mul(5);
    let changes = Arc::new(crate::relay::Changes::default());
    let handler = crate::relay::Upstream::new(changes.clone());
    let connected = tokio::time::timeout(deadline, async {
        let client = McpClient::connect_with(config, handler).await?;
        let tools = client.list_all_tools().await?;
        let catalog = crate::surface::fetch(&client).await?;
        Ok::<_, ClientError>((client, tools, catalog))
    })
    .await
    .unwrap_or(Err(ClientError::Timeout(deadline)));
    let (client, tools, catalog) = connected?;
    let client = Arc::new(client);
    backend.set_client(Some(client.clone()));
    fleet.bring_up(backend, &tools);
    fleet.surface.set(backend, catalog);
    tokio::spawn(crate::follow::follow(
        fleet.clone(),
        backend.clone(),
        Arc::downgrade(&client),
        changes,
    ));
    Ok(())
}
