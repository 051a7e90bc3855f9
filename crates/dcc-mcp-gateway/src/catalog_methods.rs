//! The catalog methods at the gateway: `resources/list`, `resources/templates/list` and
//! `prompts/list` merge the gateway's own catalog with every backend's (from the surface), sorted
//! by URI or name and paged like the server's own lists; `resources/read`, `prompts/get` and
//! `completion/complete` of a namespaced URI or name go to its owner with the URI or name the owner
//! knows, and the owner's answer (its errors too) comes back with URIs namespaced again.
//! Subscriptions to backend resources are refused (not relayed).

use std::sync::{Arc, Weak};

use dcc_mcp_client::{ClientError, McpClient};
use dcc_mcp_http::catalog::RESOURCE_NOT_FOUND;
use dcc_mcp_http::catalog_proxy::{CatalogFuture, CatalogProxy};
use dcc_mcp_http::protocol::tools::{decode_cursor, encode_cursor};
use dcc_mcp_http::protocol::{codes, completion, prompts, resources, RpcError};
use dcc_mcp_http::Catalog;
use serde_json::{json, Map, Value};

use crate::backend::{Backend, Health};
use crate::endpoints::Scope;
use crate::fleet::Fleet;
use crate::names::{namespaced_uri, split, split_uri};
use crate::surface::sort_key;

/// Entries per page of the merged `resources/list` and `prompts/list`.
pub const PAGE_SIZE: usize = 100;

/// The gateway's [`CatalogProxy`]: lists from the [`Surface`], the rest sent to the owner.
pub(crate) struct GatewayCatalog {
    pub(crate) fleet: Weak<Fleet>,
    /// The backends served (`None`: all of them, at `/mcp`).
    pub(crate) scope: Option<Scope>,
}

fn invalid(message: String) -> RpcError {
    RpcError::new(codes::INVALID_PARAMS, message)
}

fn ready(outcome: Result<Value, RpcError>) -> Option<CatalogFuture> {
    Some(Box::pin(async move { outcome }))
}

/// One page of `items` (sorted by `key`) after `cursor`.
fn page(
    mut items: Vec<Value>,
    key: &str,
    list: &str,
    params: Option<&Value>,
) -> Result<Value, RpcError> {
    items.sort_by(|a, b| sort_key(a, key).cmp(sort_key(b, key)));
    let after = match params.and_then(|p| p.get("cursor")) {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => {
            Some(decode_cursor(text).ok_or_else(|| invalid("invalid cursor".to_owned()))?)
        }
        Some(_) => return Err(invalid("cursor must be a string".to_owned())),
    };
    let start = match &after {
        Some(after) => items.partition_point(|item| sort_key(item, key) <= after.as_str()),
        None => 0,
    };
    let rest = items.split_off(start.min(items.len()));
    let more = rest.len() > PAGE_SIZE;
    let shown: Vec<Value> = rest.into_iter().take(PAGE_SIZE).collect();
    let mut result = Map::new();
    if more {
        if let Some(last) = shown.last() {
            result.insert(
                "nextCursor".into(),
                encode_cursor(sort_key(last, key)).into(),
            );
        }
    }
    result.insert(list.into(), Value::Array(shown));
    Ok(Value::Object(result))
}

fn local_list(local: &Catalog, method: &str, key: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<Value> = None;
    loop {
        let params = cursor.clone().map(|c| json!({ "cursor": c }));
        let Some(Ok(page)) = local.handle("", method, params.as_ref()) else {
            return out;
        };
        if let Some(items) = page.get(key).and_then(Value::as_array) {
            out.extend(items.iter().cloned());
        }
        match page.get("nextCursor") {
            Some(next) if next.is_string() && Some(next) != cursor.as_ref() => {
                cursor = Some(next.clone())
            }
            _ => return out,
        }
    }
}

/// The upstream error as the downstream client should see it.
fn upstream_error(backend: &str, error: ClientError) -> RpcError {
    match error {
        ClientError::Rpc(error) => error,
        other => RpcError::new(
            codes::INTERNAL_ERROR,
            format!("backend '{backend}': {other}"),
        ),
    }
}

impl GatewayCatalog {
    /// The live client of backend `name`, or the error to answer.
    fn owner(&self, name: &str) -> Result<(Arc<Backend>, Arc<McpClient>), RpcError> {
        let backend = self
            .fleet
            .upgrade()
            .and_then(|fleet| fleet.get(name))
            .ok_or_else(|| invalid(format!("the gateway has no backend named '{name}'")))?;
        match (backend.health(), backend.client()) {
            (Health::Up, Some(client)) => Ok((backend, client)),
            _ => Err(invalid(format!("backend '{name}' is down"))),
        }
    }

    fn is_backend(&self, name: &str) -> bool {
        self.fleet
            .upgrade()
            .and_then(|fleet| fleet.get(name))
            .is_some_and(|backend| self.admits(&backend))
    }

    /// Whether this endpoint serves `backend`.
    fn admits(&self, backend: &Backend) -> bool {
        match &self.scope {
            None => true,
            Some(Scope::Backend(name)) => &backend.name == name,
            Some(Scope::DccType(dcc_type)) => backend.dcc_type.as_ref() == Some(dcc_type),
        }
    }

    /// Send `method` with `params` to backend `name`; `fix` rewrites the result.
    fn forward(
        &self,
        name: &str,
        method: &'static str,
        params: Value,
        fix: fn(&str, Value) -> Value,
    ) -> Option<CatalogFuture> {
        let (backend, client) = match self.owner(name) {
            Ok(owner) => owner,
            Err(error) => return ready(Err(error)),
        };
        let timeout = self.fleet.upgrade().map(|fleet| fleet.config.call_timeout);
        Some(Box::pin(async move {
            let mut options = dcc_mcp_client::RequestOptions::new();
            if let Some(timeout) = timeout {
                options = options.timeout(timeout);
            }
            client
                .request_with(method, params, options)
                .await
                .map(|result| fix(&backend.name, result))
                .map_err(|error| upstream_error(&backend.name, error))
        }))
    }

    fn read(&self, params: Option<&Value>) -> Option<CatalogFuture> {
        let uri = params?.get("uri")?.as_str()?;
        let (name, upstream) = split_uri(uri)?;
        if !self.is_backend(name) {
            return ready(Err(RpcError::new(
                RESOURCE_NOT_FOUND,
                format!("Resource not found: {uri} (the gateway has no backend named '{name}')"),
            )));
        }
        let mut forwarded = params?.clone();
        forwarded["uri"] = upstream.into();
        self.forward(name, resources::READ, forwarded, |backend, mut result| {
            if let Some(contents) = result.get_mut("contents").and_then(Value::as_array_mut) {
                for item in contents {
                    if let Some(uri) = item.get("uri").and_then(Value::as_str) {
                        item["uri"] = namespaced_uri(backend, uri).into();
                    }
                }
            }
            result
        })
    }

    fn get_prompt(&self, params: Option<&Value>) -> Option<CatalogFuture> {
        let full = params?.get("name")?.as_str()?;
        let (name, prompt) = split(full)?;
        if !self.is_backend(name) {
            return None;
        }
        let mut forwarded = params?.clone();
        forwarded["name"] = prompt.into();
        self.forward(name, prompts::GET, forwarded, |_, result| result)
    }

    fn complete(&self, params: Option<&Value>) -> Option<CatalogFuture> {
        let reference = params?.get("ref")?;
        let mut forwarded = params?.clone();
        let name = match reference.get("type").and_then(Value::as_str)? {
            "ref/prompt" => {
                let (name, prompt) = split(reference.get("name")?.as_str()?)?;
                forwarded["ref"]["name"] = prompt.into();
                name
            }
            "ref/resource" => {
                let (name, uri) = split_uri(reference.get("uri")?.as_str()?)?;
                forwarded["ref"]["uri"] = uri.into();
                name
            }
            _ => return None,
        };
        if !self.is_backend(name) {
            return None;
        }
        self.forward(name, completion::COMPLETE, forwarded, |_, result| result)
    }
}

impl CatalogProxy for GatewayCatalog {
    fn capabilities(&self) -> Map<String, Value> {
        // Backends come and go: the gateway always has (possibly empty) lists that change.
        let mut caps = Map::new();
        caps.insert("resources".into(), json!({"listChanged": true}));
        caps.insert("prompts".into(), json!({"listChanged": true}));
        caps.insert("completions".into(), json!({}));
        caps
    }

    fn handle(
        &self,
        method: &str,
        params: Option<&Value>,
        local: &Catalog,
    ) -> Option<CatalogFuture> {
        let fleet = self.fleet.upgrade()?;
        let surface = &fleet.surface;
        let admit = |name: &str| fleet.get(name).is_some_and(|b| self.admits(&b));
        match method {
            resources::LIST => {
                let mut items = local_list(local, method, "resources");
                items.extend(surface.collect(admit, |c| &c.resources));
                ready(page(items, "uri", "resources", params))
            }
            resources::TEMPLATES_LIST => {
                let mut items = local_list(local, method, "resourceTemplates");
                items.extend(surface.collect(admit, |c| &c.templates));
                items.sort_by(|a, b| sort_key(a, "uriTemplate").cmp(sort_key(b, "uriTemplate")));
                ready(Ok(json!({ "resourceTemplates": items })))
            }
            prompts::LIST => {
                let mut items = local_list(local, method, "prompts");
                items.extend(surface.collect(admit, |c| &c.prompts));
                ready(page(items, "name", "prompts", params))
            }
            resources::READ => self.read(params),
            resources::SUBSCRIBE | resources::UNSUBSCRIBE => {
                let uri = params?.get("uri")?.as_str()?;
                split_uri(uri)?;
                ready(Err(invalid(format!(
                    "{method}: the gateway does not relay subscriptions to backend resources ({uri})"
                ))))
            }
            prompts::GET => self.get_prompt(params),
            completion::COMPLETE => self.complete(params),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_lists_are_paged_by_cursor() {
        let items: Vec<Value> = (0..250)
            .map(|i| json!({"name": format!("p{i:03}")}))
            .collect();
        let first = page(items.clone(), "name", "prompts", None).unwrap();
        assert_eq!(first["prompts"].as_array().unwrap().len(), 100);
        assert_eq!(first["prompts"][0]["name"], "p000");
        let cursor = first["nextCursor"].clone();
        let second = page(
            items.clone(),
            "name",
            "prompts",
            Some(&json!({"cursor": cursor})),
        )
        .unwrap();
        assert_eq!(second["prompts"][0]["name"], "p100");
        let third = page(
            items.clone(),
            "name",
            "prompts",
            Some(&json!({"cursor": second["nextCursor"]})),
        )
        .unwrap();
        assert_eq!(third["prompts"].as_array().unwrap().len(), 50);
        assert_eq!(third.get("nextCursor"), None);
        assert_eq!(
            page(items, "name", "prompts", Some(&json!({"cursor": 3})))
                .unwrap_err()
                .code,
            codes::INVALID_PARAMS
        );
    }
}
