//! The resources, prompts and completions a server offers next to its tools, and the MCP methods
//! that read them: `resources/list`, `resources/templates/list`, `resources/read`,
//! `resources/subscribe`, `resources/unsubscribe`, `prompts/list`, `prompts/get` and
//! `completion/complete`.
//!
//! Transport-agnostic: [`Catalog::handle`] takes a method, its params and the calling session's id and
//! returns the JSON-RPC outcome, so the HTTP layer only routes to it. List cursors are opaque (the
//! hex of the last key of the page, as `tools/list` uses).

use std::sync::Arc;

use dcc_mcp_protocol::codes;
use dcc_mcp_protocol::completion::{self, CompleteParams, CompleteResult, Reference};
use dcc_mcp_protocol::prompts::{self, GetPromptParams, ListPromptsResult};
use dcc_mcp_protocol::resources::{
    self, ListResourceTemplatesResult, ListResourcesResult, UriParams,
};
use dcc_mcp_protocol::tools::{decode_cursor, encode_cursor};
use dcc_mcp_protocol::RpcError;
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

use crate::completion_providers::CompletionProviders;
use crate::prompt_registry::{PromptError, PromptRegistry};
use crate::resource_registry::{ResourceError, ResourceRegistry, ResourceSubscriptions};

/// MCP's error code for a resource that does not exist (session era).
pub const RESOURCE_NOT_FOUND: i64 = -32002;

/// What a server offers besides tools. Cheap to clone; clones share the catalogs, so resources and
/// prompts added after the server started are served at once.
#[derive(Clone)]
pub struct Catalog {
    /// Resources and resource templates.
    pub resources: ResourceRegistry,
    /// Prompts.
    pub prompts: PromptRegistry,
    /// Completion providers for prompt arguments and template variables.
    pub completions: CompletionProviders,
    subscriptions: Arc<ResourceSubscriptions>,
}

impl Default for Catalog {
    fn default() -> Self {
        Self::with_subscription_budget(ResourceSubscriptions::DEFAULT_MAX_PER_SESSION)
    }
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog").finish_non_exhaustive()
    }
}

fn params<T: DeserializeOwned>(method: &str, params: Option<&Value>) -> Result<T, RpcError> {
    serde_json::from_value(params.cloned().unwrap_or_else(|| json!({})))
        .map_err(|error| RpcError::new(codes::INVALID_PARAMS, format!("{method}: {error}")))
}

fn cursor(params: Option<&Value>) -> Result<Option<String>, RpcError> {
    match params.and_then(|p| p.get("cursor")) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => decode_cursor(text)
            .map(Some)
            .ok_or_else(|| RpcError::new(codes::INVALID_PARAMS, "invalid cursor")),
        Some(_) => Err(RpcError::new(
            codes::INVALID_PARAMS,
            "cursor must be a string",
        )),
    }
}

fn to_value<T: serde::Serialize>(value: &T) -> Result<Value, RpcError> {
    serde_json::to_value(value)
        .map_err(|error| RpcError::new(codes::INTERNAL_ERROR, error.to_string()))
}

fn resource_error(error: ResourceError) -> RpcError {
    match error {
        ResourceError::NotFound(uri) => {
            RpcError::new(RESOURCE_NOT_FOUND, format!("Resource not found: {uri}"))
                .with_data(json!({"uri": uri}))
        }
        other => RpcError::new(codes::INTERNAL_ERROR, other.to_string()),
    }
}

pub(crate) fn prompt_error(error: PromptError) -> RpcError {
    match error {
        PromptError::Handler { .. } => RpcError::new(codes::INTERNAL_ERROR, error.to_string()),
        other => RpcError::new(codes::INVALID_PARAMS, other.to_string()),
    }
}

impl Catalog {
    /// An empty catalog allowing `max_per_session` resource subscriptions per session.
    pub fn with_subscription_budget(max_per_session: usize) -> Self {
        Catalog {
            resources: ResourceRegistry::new(),
            prompts: PromptRegistry::new(),
            completions: CompletionProviders::new(),
            subscriptions: Arc::new(ResourceSubscriptions::new(max_per_session)),
        }
    }

    /// The per-session resource subscriptions.
    pub fn subscriptions(&self) -> &ResourceSubscriptions {
        &self.subscriptions
    }

    /// The subscriptions, shared (for the observer that tells subscribed sessions of updates).
    pub(crate) fn subscriptions_shared(&self) -> Arc<ResourceSubscriptions> {
        Arc::clone(&self.subscriptions)
    }

    /// The capabilities this catalog adds to `initialize`: `resources`, `prompts` and `completions`,
    /// each only when something of its kind is registered.
    pub fn capabilities(&self) -> Map<String, Value> {
        let mut caps = Map::new();
        if !self.resources.list(None).0.is_empty() || !self.resources.templates().is_empty() {
            caps.insert(
                "resources".into(),
                json!({"subscribe": true, "listChanged": true}),
            );
        }
        if !self.prompts.list(None).0.is_empty() {
            caps.insert("prompts".into(), json!({"listChanged": true}));
        }
        if !self.completions.is_empty() {
            caps.insert("completions".into(), json!({}));
        }
        caps
    }

    /// Answer `method` for the session `session`; `None` when the method is not one of the catalog's.
    pub fn handle(
        &self,
        session: &str,
        method: &str,
        raw: Option<&Value>,
    ) -> Option<Result<Value, RpcError>> {
        Some(match method {
            resources::LIST => self.list_resources(raw),
            resources::TEMPLATES_LIST => to_value(&ListResourceTemplatesResult {
                resource_templates: self.resources.templates(),
                next_cursor: None,
            }),
            resources::READ => params::<UriParams>(method, raw).and_then(|p| {
                self.resources
                    .read(&p.uri)
                    .map_err(resource_error)
                    .and_then(|r| to_value(&r))
            }),
            resources::SUBSCRIBE => params::<UriParams>(method, raw).and_then(|p| {
                self.subscriptions
                    .subscribe(session, &p.uri)
                    .map(|()| json!({}))
                    .map_err(|e| RpcError::new(codes::INVALID_REQUEST, e.to_string()))
            }),
            resources::UNSUBSCRIBE => params::<UriParams>(method, raw).map(|p| {
                self.subscriptions.unsubscribe(session, &p.uri);
                json!({})
            }),
            prompts::LIST => self.list_prompts(raw),
            prompts::GET => params::<GetPromptParams>(method, raw).and_then(|p| {
                self.prompts
                    .get(&p.name, &p.arguments)
                    .map_err(prompt_error)
                    .and_then(|r| to_value(&r))
            }),
            completion::COMPLETE => params::<CompleteParams>(method, raw).and_then(|p| {
                self.check_reference(&p.reference)?;
                to_value(&CompleteResult {
                    completion: self.completions.complete(&p),
                })
            }),
            _ => return None,
        })
    }

    fn list_resources(&self, raw: Option<&Value>) -> Result<Value, RpcError> {
        let after = cursor(raw)?;
        let (resources, next) = self.resources.list(after.as_deref());
        to_value(&ListResourcesResult {
            resources,
            next_cursor: next.as_deref().map(encode_cursor),
        })
    }

    fn list_prompts(&self, raw: Option<&Value>) -> Result<Value, RpcError> {
        let after = cursor(raw)?;
        let (prompts, next) = self.prompts.list(after.as_deref());
        to_value(&ListPromptsResult {
            prompts,
            next_cursor: next.as_deref().map(encode_cursor),
        })
    }

    fn check_reference(&self, reference: &Reference) -> Result<(), RpcError> {
        let known = match reference {
            Reference::Prompt { name } => self.prompts.prompt(name).is_some(),
            Reference::Resource { uri } => self.resources.template_variables(uri).is_some(),
        };
        if known {
            Ok(())
        } else {
            Err(RpcError::new(
                codes::INVALID_PARAMS,
                format!("completion/complete: unknown reference {reference:?}"),
            ))
        }
    }

    /// Forget the subscriptions of an ended session.
    pub fn end_session(&self, session: &str) {
        self.subscriptions.end_session(session);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::completion_providers::prefix_provider;
    use crate::resource_registry::ResourceBody;
    use dcc_mcp_protocol::content::{ContentBlock, Role};
    use dcc_mcp_protocol::prompts::{GetPromptResult, Prompt, PromptArgument, PromptMessage};
    use dcc_mcp_protocol::resources::Resource;

    fn catalog() -> Catalog {
        let catalog = Catalog::with_subscription_budget(1);
        let mut resource = Resource::new("test://static-text", "static-text");
        resource.mime_type = Some("text/plain".into());
        catalog
            .resources
            .add_fixed(resource, ResourceBody::Text("hello".into()))
            .unwrap();
        catalog
            .prompts
            .add(
                Prompt {
                    name: "p".into(),
                    title: None,
                    description: Some("d".into()),
                    arguments: vec![PromptArgument {
                        name: "a".into(),
                        title: None,
                        description: None,
                        required: Some(true),
                    }],
                },
                Arc::new(|args| {
                    Ok(GetPromptResult {
                        description: None,
                        messages: vec![PromptMessage {
                            role: Role::User,
                            content: ContentBlock::text(format!("a={}", args["a"])),
                        }],
                    })
                }),
            )
            .unwrap();
        catalog.completions.add(
            Reference::Prompt { name: "p".into() },
            "a",
            prefix_provider(vec!["paris".into(), "park".into(), "rome".into()]),
        );
        catalog
    }

    fn call(catalog: &Catalog, method: &str, params: Value) -> Result<Value, RpcError> {
        catalog.handle("s1", method, Some(&params)).unwrap()
    }

    #[test]
    fn methods_answer_with_the_wire_shapes() {
        let catalog = catalog();
        assert_eq!(
            Value::Object(catalog.capabilities()),
            json!({"resources": {"subscribe": true, "listChanged": true}, "prompts": {"listChanged": true}, "completions": {}})
        );
        assert_eq!(
            call(&catalog, "resources/list", json!({})).unwrap(),
            json!({"resources": [{"uri": "test://static-text", "name": "static-text", "mimeType": "text/plain"}]})
        );
        assert_eq!(
            call(
                &catalog,
                "resources/read",
                json!({"uri": "test://static-text"})
            )
            .unwrap(),
            json!({"contents": [{"uri": "test://static-text", "mimeType": "text/plain", "text": "hello"}]})
        );
        let missing = call(&catalog, "resources/read", json!({"uri": "test://none"})).unwrap_err();
        assert_eq!(
            missing.into_value(),
            json!({"code": -32002, "message": "Resource not found: test://none", "data": {"uri": "test://none"}})
        );
        assert_eq!(
            call(
                &catalog,
                "prompts/get",
                json!({"name": "p", "arguments": {"a": "x"}})
            )
            .unwrap(),
            json!({"messages": [{"role": "user", "content": {"type": "text", "text": "a=x"}}]})
        );
        assert_eq!(
            call(&catalog, "prompts/get", json!({"name": "p"}))
                .unwrap_err()
                .code,
            codes::INVALID_PARAMS
        );
        assert_eq!(
            call(&catalog, "completion/complete", json!({"ref": {"type": "ref/prompt", "name": "p"}, "argument": {"name": "a", "value": "par"}})).unwrap(),
            json!({"completion": {"values": ["paris", "park"], "total": 2, "hasMore": false}})
        );
        assert_eq!(
            call(&catalog, "completion/complete", json!({"ref": {"type": "ref/prompt", "name": "q"}, "argument": {"name": "a", "value": ""}})).unwrap_err().code,
            codes::INVALID_PARAMS
        );
        assert_eq!(
            call(&catalog, "resources/list", json!({"cursor": "zz"}))
                .unwrap_err()
                .code,
            codes::INVALID_PARAMS
        );
        assert!(catalog.handle("s1", "tools/list", None).is_none());
        assert_eq!(Value::Object(Catalog::default().capabilities()), json!({}));
    }

    #[test]
    fn subscriptions_are_per_session_and_budgeted() {
        let catalog = catalog();
        assert_eq!(
            call(&catalog, "resources/subscribe", json!({"uri": "test://a"})).unwrap(),
            json!({})
        );
        let over = call(&catalog, "resources/subscribe", json!({"uri": "test://b"})).unwrap_err();
        assert_eq!(over.code, codes::INVALID_REQUEST);
        assert_eq!(catalog.subscriptions().subscribers("test://a"), ["s1"]);
        assert_eq!(
            call(
                &catalog,
                "resources/unsubscribe",
                json!({"uri": "test://a"})
            )
            .unwrap(),
            json!({})
        );
        assert_eq!(
            catalog.subscriptions().subscribers("test://a"),
            Vec::<String>::new()
        );
        assert_eq!(
            call(&catalog, "resources/subscribe", json!({}))
                .unwrap_err()
                .code,
            codes::INVALID_PARAMS
        );
    }
}
