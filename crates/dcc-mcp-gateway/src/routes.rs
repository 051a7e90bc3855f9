//! The gateway's HTTP routes next to `/mcp`: `GET /instances` (every backend and its state, as
//! JSON) and `GET /health` (the gateway itself answers; the body counts backends up and down).

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::backend::Health;
use crate::fleet::Fleet;

/// The routes, over `fleet`.
pub(crate) fn routes(fleet: Arc<Fleet>) -> Router {
    Router::new()
        .route("/instances", get(instances))
        .route("/health", get(health))
        .with_state(fleet)
}

async fn instances(State(fleet): State<Arc<Fleet>>) -> Json<Value> {
    let instances: Vec<Value> = fleet.backends().iter().map(|b| b.describe()).collect();
    Json(json!({ "instances": instances }))
}

/// `200` while the gateway runs: `status` is `ok` when every backend is up (or there are none) and
/// `degraded` otherwise, so a load balancer keeps a gateway whose backends are restarting.
async fn health(State(fleet): State<Arc<Fleet>>) -> Json<Value> {
    let backends = fleet.backends();
    let up = backends.iter().filter(|b| b.health() == Health::Up).count();
    let down = backends.len() - up;
    let status = if down == 0 { "ok" } else { "degraded" };
    Json(json!({"status": status, "backends_up": up, "backends_down": down}))
}
