//! The backends' resources, resource templates and prompts at the gateway.
//!
//! Each backend's lists are read when it comes up (and again when it reports a change, see
//! `follow`) and kept here already namespaced: prompt `p` of backend `a` is `a__p`, resource
//! `test://x` is `mcp-gateway://a/test://x` and template `test://{id}` is
//! `mcp-gateway://a/test://{id}` (see [`crate::names`]). A change is announced downstream
//! (`notifications/resources/list_changed`, `notifications/prompts/list_changed`) only when the
//! namespaced list really changed. The methods that read them are in `catalog_methods`.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use dcc_mcp_client::{ClientError, McpClient};
use dcc_mcp_http::protocol::{prompts, resources};
use dcc_mcp_http::ToolsListNotifier;
use serde_json::{json, Value};

use crate::backend::{Backend, Health};
use crate::endpoints::Views;
use crate::names::{namespaced, namespaced_uri};

/// Most resources, templates or prompts kept per backend and kind; the rest are not served (and
/// a warning names the backend).
pub const MAX_CATALOG_ENTRIES: usize = 1000;

/// One backend's catalog, namespaced.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct BackendCatalog {
    pub(crate) resources: Vec<Value>,
    pub(crate) templates: Vec<Value>,
    pub(crate) prompts: Vec<Value>,
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

pub(crate) fn sort_key<'a>(item: &'a Value, key: &str) -> &'a str {
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
    views: Arc<Views>,
}

impl Surface {
    pub(crate) fn new(notifier: Option<ToolsListNotifier>, views: Arc<Views>) -> Self {
        Self {
            catalogs: RwLock::new(BTreeMap::new()),
            notifier,
            views,
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
        let resources = before.resources != after.resources || before.templates != after.templates;
        let prompts = before.prompts != after.prompts;
        for (changed, kind) in [(resources, true), (prompts, false)] {
            if changed {
                if let Some(notifier) = &self.notifier {
                    notifier.notify_catalog(kind);
                }
                self.views.notify_catalog(kind);
            }
        }
    }

    /// The entries `pick` chooses of the backends `admit` lets through.
    pub(crate) fn collect(
        &self,
        admit: impl Fn(&str) -> bool,
        pick: impl Fn(&BackendCatalog) -> &Vec<Value>,
    ) -> Vec<Value> {
        self.catalogs
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(name, _)| admit(name))
            .flat_map(|(_, c)| pick(c).iter().cloned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogs_are_namespaced_and_sorted() {
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
    }
}
