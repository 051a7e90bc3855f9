//! The backends' resources, resource templates and prompts at the gateway, and the catalog methods
//! that reach them (`resources/list`, `resources/templates/list`, `resources/read`,
//! `prompts/list`, `prompts/get`, `completion/complete`).
//!
//! Each backend's lists are read when it comes up (and again when it reports a change, see
//! `relay`) and kept here already namespaced: prompt `p` of backend `a` is `a__p`, resource
//! `test://x` is `mcp-gateway://a/test://x` and template `test://{id}` is
//! `mcp-gateway://a/test://{id}` (see [`crate::names`]). Lists are served from here, merged with the
//! gateway's own catalog, sorted by URI or name and paged like the server's own lists; reads, gets
//! and completions are sent to the owner with the names and URIs it knows.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock, Weak};

use dcc_mcp_client::{ClientError, McpClient};
use dcc_mcp_http::catalog::RESOURCE_NOT_FOUND;
use dcc_mcp_http::catalog_proxy::{CatalogFuture, CatalogProxy};
use dcc_mcp_http::protocol::tools::{decode_cursor, encode_cursor};
use dcc_mcp_http::protocol::{codes, completion, prompts, resources, RpcError};
use dcc_mcp_http::{Catalog, ToolsListNotifier};
use serde_json::{json, Map, Value};

use crate::backend::{Backend, Health};
use crate::fleet::Fleet;
use crate::names::{namespaced, namespaced_uri, split, split_uri};

/// Most resources, templates or prompts kept per backend and kind; the rest are not served (and
/// a warning names the backend).
pub const MAX_CATALOG_ENTRIES: usize = 1000;

/// Entries per page of the merged `resources/list` and `prompts/list`.
pub const PAGE_SIZE: usize = 100;

/// One backend's catalog, namespaced.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct BackendCatalog {
    resources: Vec<Value>,
    templates: Vec<Value>,
    prompts: Vec<Value>,
}

/// Read the catalog `client`'s server declares (what it does not declare is empty).
pub(crate) async fn fetch(client: &McpClient) -> Result<RawCatalog, ClientError> {
    let capabilities = client
        .server_info()
        .get("capabilities")
        .cloned()
        .unwrap_or(Value::Null);
    let mut raw = RawCatalog::default();
    if capabilities.get("resources").is_some() {
        raw.resources = list_all(client, resources::LIST, "resources").await?;
        raw.templates = list_all(client, resources::TEMPLATES_LIST, "resourceTemplates").await?;
    }
    if capabilities.get("prompts").is_some() {
        raw.prompts = list_all(client, prompts::LIST, "prompts").await?;
    }
    Ok(raw)
}

/// A backend's catalog as it listed it.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawCatalog {
    resources: Vec<Value>,
    templates: Vec<Value>,
    prompts: Vec<Value>,
}

async fn list_all(client: &McpClient, method: &str, key: &str) -> Result<Vec<Value>, ClientError> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let params = match &cursor {
            Some(cursor) => json!({ "cursor": cursor }),
            None => json!({}),
        };
        let page = client.request(method, params).await?;
        if let Some(items) = page.get(key).and_then(Value::as_array) {
            out.extend(items.iter().cloned());
        }
        if out.len() >= MAX_CATALOG_ENTRIES {
            out.truncate(MAX_CATALOG_ENTRIES);
            return Ok(out);
        }
        match page.get("nextCursor").and_then(Value::as_str) {
            Some(next) if Some(next) != cursor.as_deref() => cursor = Some(next.to_owned()),
            _ => return Ok(out),
        }
    }
}

/// `items` with `key` rewritten by `rename`, dropping entries without it, sorted by it.
fn renamed(items: &[Value], key: &str, rename: impl Fn(&str) -> String) -> Vec<Value> {
    let mut out: Vec<Value> = items
        .iter()
        .filter_map(|item| {
            let name = item.get(key)?.as_str()?;
            let mut item = item.clone();
            item[key] = Value::String(rename(name));
            Some(item)
        })
        .collect();
    out.sort_by(|a, b| sort_key(a, key).cmp(sort_key(b, key)));
    out.dedup_by(|a, b| sort_key(a, key) == sort_key(b, key));
    out
}

fn sort_key<'a>(item: &'a Value, key: &str) -> &'a str {
    item.get(key).and_then(Value::as_str).unwrap_or_default()
}

impl BackendCatalog {
    /// `raw` of `backend`, namespaced.
    pub(crate) fn of(backend: &str, raw: &RawCatalog) -> Self {
        Self {
            resources: renamed(&raw.resources, "uri", |u| namespaced_uri(backend, u)),
            templates: renamed(&raw.templates, "uriTemplate", |u| {
                namespaced_uri(backend, u)
            }),
            prompts: renamed(&raw.prompts, "name", |n| namespaced(backend, n)),
        }
    }
}

/// Every backend's catalog.
pub(crate) struct Surface {
    catalogs: RwLock<BTreeMap<String, BackendCatalog>>,
    notifier: Option<ToolsListNotifier>,
}

impl Surface {
    pub(crate) fn new(notifier: Option<ToolsListNotifier>) -> Self {
        Self {
            catalogs: RwLock::new(BTreeMap::new()),
            notifier,
        }
    }

    /// `backend` listed `raw`: serve it, and tell the downstream sessions what changed.
    pub(crate) fn set(&self, backend: &Backend, raw: RawCatalog) {
        if backend.removed.is_cancelled() || backend.health() != Health::Up {
            return;
        }
        let catalog = BackendCatalog::of(&backend.name, &raw);
        let previous = self
            .catalogs
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(backend.name.clone(), catalog.clone())
            .unwrap_or_default();
        self.announce(&previous, &catalog);
    }

    /// `backend` left (down or removed): its entries leave.
    pub(crate) fn clear(&self, backend: &str) {
        let previous = self
            .catalogs
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(backend);
        if let Some(previous) = previous {
            self.announce(&previous, &BackendCatalog::default());
        }
    }

    fn announce(&self, before: &BackendCatalog, after: &BackendCatalog) {
        let Some(notifier) = &self.notifier else {
            return;
        };
        if before.resources != after.resources || before.templates != after.templates {
            notifier.notify_catalog(true);
        }
        if before.prompts != after.prompts {
            notifier.notify_catalog(false);
        }
    }

    fn collect(&self, pick: impl Fn(&BackendCatalog) -> &Vec<Value>) -> Vec<Value> {
        self.catalogs
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .flat_map(|c| pick(c).iter().cloned())
            .collect()
    }
}

/// The gateway's [`CatalogProxy`]: lists from the [`Surface`], the rest sent to the owner.
pub(crate) struct GatewayCatalog {
    pub(crate) fleet: Weak<Fleet>,
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
            .is_some_and(|fleet| fleet.get(name).is_some())
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
        match method {
            resources::LIST => {
                let mut items = local_list(local, method, "resources");
                items.extend(surface.collect(|c| &c.resources));
                ready(page(items, "uri", "resources", params))
            }
            resources::TEMPLATES_LIST => {
                let mut items = local_list(local, method, "resourceTemplates");
                items.extend(surface.collect(|c| &c.templates));
                items.sort_by(|a, b| sort_key(a, "uriTemplate").cmp(sort_key(b, "uriTemplate")));
                ready(Ok(json!({ "resourceTemplates": items })))
            }
            prompts::LIST => {
                let mut items = local_list(local, method, "prompts");
                items.extend(surface.collect(|c| &c.prompts));
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
    fn catalogs_are_namespaced_sorted_and_paged() {
        let raw = RawCatalog {
            resources: vec![
                json!({"uri": "test://z", "name": "z"}),
                json!({"uri": "test://a", "name": "a", "mimeType": "text/plain"}),
                json!({"name": "no uri"}),
            ],
            templates: vec![json!({"uriTemplate": "test://t/{id}", "name": "t"})],
            prompts: vec![json!({"name": "p"}), json!({"name": "b"})],
        };
        let catalog = BackendCatalog::of("maya", &raw);
        assert_eq!(
            catalog.resources,
            vec![
                json!({"uri": "mcp-gateway://maya/test://a", "name": "a", "mimeType": "text/plain"}),
                json!({"uri": "mcp-gateway://maya/test://z", "name": "z"}),
            ]
        );
        assert_eq!(
            catalog.templates,
            vec![json!({"uriTemplate": "mcp-gateway://maya/test://t/{id}", "name": "t"})]
        );
        assert_eq!(
            catalog.prompts,
            vec![json!({"name": "maya__b"}), json!({"name": "maya__p"})]
        );

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
