//! The resource catalog: static resources by URI and templates by RFC 6570 URI template, each with a
//! reader that produces text or binary contents when a client reads it.
//!
//! A reader runs at every `resources/read`, so a DCC plug-in can serve live data ("the current scene")
//! as a resource; `notify_updated` tells subscribers that it changed. Adding or removing a resource or
//! template tells the observers ([`CatalogEvent::ResourcesListChanged`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use dcc_mcp_protocol::base64;
use dcc_mcp_protocol::content::ResourceContents;
use dcc_mcp_protocol::resources::{ReadResourceResult, Resource, ResourceTemplate};

use crate::catalog_events::{CatalogEvent, CatalogObserver, Observers};
use crate::uri_template::{TemplateError, UriTemplate};

/// Resources or templates per `resources/list` page.
pub const RESOURCE_PAGE_SIZE: usize = 100;

/// The body a reader returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceBody {
    /// UTF-8 text.
    Text(String),
    /// Bytes (sent base64 as `blob`).
    Binary(Vec<u8>),
}

/// Why a resource operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    /// No resource and no template matches the URI.
    #[error("unknown resource: {0}")]
    NotFound(String),
    /// A resource with this URI, or a template with this text, is already registered.
    #[error("resource {0:?} is already registered")]
    Duplicate(String),
    /// The template does not parse.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// The reader failed.
    #[error("reading {uri} failed: {message}")]
    Read {
        /// The URI read.
        uri: String,
        /// What the reader said.
        message: String,
    },
}

/// Reads a static resource: gets its URI.
pub type ResourceReader = Arc<dyn Fn(&str) -> Result<ResourceBody, String> + Send + Sync>;
/// Reads a templated resource: gets the URI and the template's variables.
pub type TemplateReader =
    Arc<dyn Fn(&str, &BTreeMap<String, String>) -> Result<ResourceBody, String> + Send + Sync>;

struct StaticEntry {
    resource: Resource,
    reader: ResourceReader,
}

struct TemplateEntry {
    template: ResourceTemplate,
    parsed: UriTemplate,
    reader: TemplateReader,
}

#[derive(Default)]
struct Inner {
    statics: BTreeMap<String, StaticEntry>,
    templates: Vec<TemplateEntry>,
}

/// The resource catalog (cheap to clone; clones share it).
#[derive(Clone, Default)]
pub struct ResourceRegistry {
    inner: Arc<RwLock<Inner>>,
    observers: Observers,
}

impl std::fmt::Debug for ResourceRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceRegistry").finish_non_exhaustive()
    }
}

fn contents(uri: &str, mime: Option<&str>, body: ResourceBody) -> ResourceContents {
    match body {
        ResourceBody::Text(text) => ResourceContents::text(uri, mime, text),
        ResourceBody::Binary(bytes) => ResourceContents::blob(uri, mime, base64::encode(&bytes)),
    }
}

impl ResourceRegistry {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    /// Observe additions, removals and [`notify_updated`](Self::notify_updated).
    pub fn observe(&self, observer: CatalogObserver) {
        self.observers.add(observer);
    }

    /// Register a resource whose contents `reader` produces at each read.
    pub fn add(&self, resource: Resource, reader: ResourceReader) -> Result<(), ResourceError> {
        {
            let mut inner = self.inner.write().map_err(|_| poisoned())?;
            if inner.statics.contains_key(&resource.uri) {
                return Err(ResourceError::Duplicate(resource.uri));
            }
            inner
                .statics
                .insert(resource.uri.clone(), StaticEntry { resource, reader });
        }
        self.observers.emit(&CatalogEvent::ResourcesListChanged);
        Ok(())
    }

    /// Register a resource with fixed contents.
    pub fn add_fixed(&self, resource: Resource, body: ResourceBody) -> Result<(), ResourceError> {
        self.add(resource, Arc::new(move |_| Ok(body.clone())))
    }

    /// Register a template; URIs that match it and no static resource are read by `reader`.
    pub fn add_template(
        &self,
        template: ResourceTemplate,
        reader: TemplateReader,
    ) -> Result<(), ResourceError> {
        let parsed = UriTemplate::parse(&template.uri_template)?;
        {
            let mut inner = self.inner.write().map_err(|_| poisoned())?;
            if inner
                .templates
                .iter()
                .any(|t| t.template.uri_template == template.uri_template)
            {
                return Err(ResourceError::Duplicate(template.uri_template));
            }
            inner.templates.push(TemplateEntry {
                template,
                parsed,
                reader,
            });
        }
        self.observers.emit(&CatalogEvent::ResourcesListChanged);
        Ok(())
    }

    /// Remove a resource (by URI) or a template (by its template text); whether one was removed.
    pub fn remove(&self, uri_or_template: &str) -> bool {
        let removed = match self.inner.write() {
            Ok(mut inner) => {
                let before = inner.templates.len();
                inner
                    .templates
                    .retain(|t| t.template.uri_template != uri_or_template);
                inner.statics.remove(uri_or_template).is_some() || inner.templates.len() != before
            }
            Err(_) => false,
        };
        if removed {
            self.observers.emit(&CatalogEvent::ResourcesListChanged);
        }
        removed
    }

    /// Tell observers that the contents of `uri` changed.
    pub fn notify_updated(&self, uri: &str) {
        self.observers
            .emit(&CatalogEvent::ResourceUpdated(uri.to_owned()));
    }

    /// One page of resources, sorted by URI, starting after `after` (a URI from the previous page);
    /// the second value is the URI to resume after, when more follow.
    pub fn list(&self, after: Option<&str>) -> (Vec<Resource>, Option<String>) {
        let Ok(inner) = self.inner.read() else {
            return (Vec::new(), None);
        };
        let mut page: Vec<Resource> = inner
            .statics
            .values()
            .filter(|entry| after.is_none_or(|after| entry.resource.uri.as_str() > after))
            .take(RESOURCE_PAGE_SIZE + 1)
            .map(|entry| entry.resource.clone())
            .collect();
        let next = (page.len() > RESOURCE_PAGE_SIZE).then(|| {
            page.truncate(RESOURCE_PAGE_SIZE);
            page.last().map(|r| r.uri.clone()).unwrap_or_default()
        });
        (page, next)
    }

    /// Every template, in registration order.
    pub fn templates(&self) -> Vec<ResourceTemplate> {
        self.inner
            .read()
            .map(|inner| inner.templates.iter().map(|t| t.template.clone()).collect())
            .unwrap_or_default()
    }

    /// Whether `uri` names a registered resource or matches a template.
    pub fn exists(&self, uri: &str) -> bool {
        self.inner.read().is_ok_and(|inner| {
            inner.statics.contains_key(uri)
                || inner
                    .templates
                    .iter()
                    .any(|t| t.parsed.match_uri(uri).is_some())
        })
    }

    /// Read `uri`: the static resource of that URI, else the first template that matches it. The
    /// reader runs outside the catalog lock, so a slow reader never blocks a registration.
    pub fn read(&self, uri: &str) -> Result<ReadResourceResult, ResourceError> {
        enum Found {
            Static(ResourceReader, Option<String>),
            Template(TemplateReader, Option<String>, BTreeMap<String, String>),
        }
        let found = {
            let inner = self.inner.read().map_err(|_| poisoned())?;
            if let Some(entry) = inner.statics.get(uri) {
                Found::Static(entry.reader.clone(), entry.resource.mime_type.clone())
            } else {
                inner
                    .templates
                    .iter()
                    .find_map(|t| {
                        t.parsed.match_uri(uri).map(|vars| {
                            Found::Template(t.reader.clone(), t.template.mime_type.clone(), vars)
                        })
                    })
                    .ok_or_else(|| ResourceError::NotFound(uri.to_owned()))?
            }
        };
        let (body, mime) = match found {
            Found::Static(reader, mime) => (reader(uri), mime),
            Found::Template(reader, mime, vars) => (reader(uri, &vars), mime),
        };
        let body = body.map_err(|message| ResourceError::Read {
            uri: uri.to_owned(),
            message,
        })?;
        Ok(ReadResourceResult {
            contents: vec![contents(uri, mime.as_deref(), body)],
        })
    }

    /// The variable names of the template whose text is `uri_template` (for completion).
    pub fn template_variables(&self, uri_template: &str) -> Option<Vec<String>> {
        let inner = self.inner.read().ok()?;
        let entry = inner
            .templates
            .iter()
            .find(|t| t.template.uri_template == uri_template)?;
        Some(entry.parsed.variables().map(str::to_owned).collect())
    }
}

fn poisoned() -> ResourceError {
    ResourceError::Read {
        uri: String::new(),
        message: "resource catalog lock poisoned".into(),
    }
}

/// Per-session subscriptions to resource updates, with a budget per session.
#[derive(Debug)]
pub struct ResourceSubscriptions {
    max_per_session: usize,
    by_session: RwLock<HashMap<String, std::collections::BTreeSet<String>>>,
}

/// A session asked for more subscriptions than its budget.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("subscription budget reached: this session already has {0} resource subscriptions (max_subscriptions_per_session)")]
pub struct SubscriptionBudgetExceeded(pub usize);

impl ResourceSubscriptions {
    /// Subscriptions allowed per session by default.
    pub const DEFAULT_MAX_PER_SESSION: usize = 256;

    /// An empty table allowing `max_per_session` URIs per session.
    pub fn new(max_per_session: usize) -> Self {
        ResourceSubscriptions {
            max_per_session,
            by_session: RwLock::new(HashMap::new()),
        }
    }

    /// URIs one session (or one `subscriptions/listen` stream) may subscribe to.
    pub fn max_per_session(&self) -> usize {
        self.max_per_session
    }

    /// Subscribe `session` to `uri` (again subscribing to the same URI is a no-op, never over budget).
    pub fn subscribe(&self, session: &str, uri: &str) -> Result<(), SubscriptionBudgetExceeded> {
        let Ok(mut map) = self.by_session.write() else {
            return Ok(());
        };
        let uris = map.entry(session.to_owned()).or_default();
        if uris.contains(uri) {
            return Ok(());
        }
        if uris.len() >= self.max_per_session {
            return Err(SubscriptionBudgetExceeded(uris.len()));
        }
        uris.insert(uri.to_owned());
        Ok(())
    }

    /// Unsubscribe; whether the session was subscribed.
    pub fn unsubscribe(&self, session: &str, uri: &str) -> bool {
        self.by_session.write().is_ok_and(|mut map| {
            let removed = map.get_mut(session).is_some_and(|uris| uris.remove(uri));
            if map.get(session).is_some_and(|uris| uris.is_empty()) {
                map.remove(session);
            }
            removed
        })
    }

    /// Forget every subscription of an ended session.
    pub fn end_session(&self, session: &str) {
        if let Ok(mut map) = self.by_session.write() {
            map.remove(session);
        }
    }

    /// The sessions subscribed to `uri`, sorted.
    pub fn subscribers(&self, uri: &str) -> Vec<String> {
        let mut sessions: Vec<String> = self
            .by_session
            .read()
            .map(|map| {
                map.iter()
                    .filter(|(_, uris)| uris.contains(uri))
                    .map(|(session, _)| session.clone())
                    .collect()
            })
            .unwrap_or_default();
        sessions.sort();
        sessions
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog_events::test_support::recording;
    use serde_json::json;

    fn text_resource(uri: &str) -> Resource {
        let mut resource = Resource::new(uri, uri.rsplit('/').next().unwrap_or(uri));
        resource.mime_type = Some("text/plain".into());
        resource
    }

    #[test]
    fn reads_text_binary_and_templated_contents() {
        let registry = ResourceRegistry::new();
        registry
            .add_fixed(
                text_resource("test://static-text"),
                ResourceBody::Text("hello".into()),
            )
            .unwrap();
        let mut binary = Resource::new("test://static-binary", "static-binary");
        binary.mime_type = Some("image/png".into());
        registry
            .add_fixed(binary, ResourceBody::Binary(vec![0x89, b'P', b'N', b'G']))
            .unwrap();
        registry
            .add_template(
                ResourceTemplate {
                    uri_template: "test://template/{id}/data".into(),
                    name: "t".into(),
                    title: None,
                    description: None,
                    mime_type: Some("application/json".into()),
                    annotations: None,
                },
                Arc::new(|_, vars| Ok(ResourceBody::Text(json!({"id": vars["id"]}).to_string()))),
            )
            .unwrap();
        assert_eq!(
            serde_json::to_value(registry.read("test://static-text").unwrap()).unwrap(),
            json!({"contents": [{"uri": "test://static-text", "mimeType": "text/plain", "text": "hello"}]})
        );
        assert_eq!(
            serde_json::to_value(registry.read("test://static-binary").unwrap()).unwrap(),
            json!({"contents": [{"uri": "test://static-binary", "mimeType": "image/png", "blob": "iVBORw=="}]})
        );
        assert_eq!(
            serde_json::to_value(registry.read("test://template/42/data").unwrap()).unwrap(),
            json!({"contents": [{"uri": "test://template/42/data", "mimeType": "application/json", "text": "{\"id\":\"42\"}"}]})
        );
        assert_eq!(
            registry.read("test://nope"),
            Err(ResourceError::NotFound("test://nope".into()))
        );
        assert!(registry.exists("test://template/x/data"));
        assert!(!registry.exists("test://template/x/y/data"));
        assert_eq!(
            registry.template_variables("test://template/{id}/data"),
            Some(vec!["id".into()])
        );
    }

    #[test]
    fn reader_errors_and_duplicates() {
        let registry = ResourceRegistry::new();
        registry
            .add(
                text_resource("test://fail"),
                Arc::new(|_| Err("disk gone".into())),
            )
            .unwrap();
        assert_eq!(
            registry.read("test://fail").unwrap_err().to_string(),
            "reading test://fail failed: disk gone"
        );
        assert_eq!(
            registry.add_fixed(
                text_resource("test://fail"),
                ResourceBody::Text(String::new())
            ),
            Err(ResourceError::Duplicate("test://fail".into()))
        );
    }

    #[test]
    fn pages_are_sorted_and_resume() {
        let registry = ResourceRegistry::new();
        for i in (0..250).rev() {
            registry
                .add_fixed(
                    text_resource(&format!("test://r/{i:03}")),
                    ResourceBody::Text(String::new()),
                )
                .unwrap();
        }
        let (first, next) = registry.list(None);
        assert_eq!(first.len(), 100);
        assert_eq!(first[0].uri, "test://r/000");
        assert_eq!(next.as_deref(), Some("test://r/099"));
        let (second, next) = registry.list(next.as_deref());
        assert_eq!(second[0].uri, "test://r/100");
        let (third, next) = registry.list(next.as_deref());
        assert_eq!((third.len(), next), (50, None));
    }

    #[test]
    fn changes_reach_observers() {
        let registry = ResourceRegistry::new();
        let (observer, seen) = recording();
        registry.observe(observer);
        registry
            .add_fixed(text_resource("test://a"), ResourceBody::Text(String::new()))
            .unwrap();
        registry.notify_updated("test://a");
        assert!(registry.remove("test://a"));
        assert!(!registry.remove("test://a"));
        assert_eq!(
            *seen.lock().unwrap(),
            [
                CatalogEvent::ResourcesListChanged,
                CatalogEvent::ResourceUpdated("test://a".into()),
                CatalogEvent::ResourcesListChanged,
            ]
        );
    }

    #[test]
    fn subscriptions_have_a_budget_per_session() {
        let subs = ResourceSubscriptions::new(2);
        subs.subscribe("s1", "test://a").unwrap();
        subs.subscribe("s1", "test://a").unwrap();
        subs.subscribe("s1", "test://b").unwrap();
        assert_eq!(
            subs.subscribe("s1", "test://c"),
            Err(SubscriptionBudgetExceeded(2))
        );
        subs.subscribe("s2", "test://a").unwrap();
        assert_eq!(subs.subscribers("test://a"), ["s1", "s2"]);
        assert!(subs.unsubscribe("s1", "test://a"));
        assert!(!subs.unsubscribe("s1", "test://a"));
        subs.subscribe("s1", "test://c").unwrap();
        subs.end_session("s2");
        assert_eq!(subs.subscribers("test://a"), Vec::<String>::new());
        assert_eq!(subs.subscribers("test://c"), ["s1"]);
    }
}
