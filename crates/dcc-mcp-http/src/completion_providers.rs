//! Completion providers for `completion/complete`: suggestions for a prompt argument or a
//! resource-template variable, registered per (reference, argument).
//!
//! A provider gets the partial value and the arguments already chosen and returns candidates; the
//! result is capped at the protocol's 100 values with `total` and `hasMore` set. An argument without a
//! provider completes to nothing, as the spec allows.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use dcc_mcp_protocol::completion::{CompleteContext, CompleteParams, Completion, Reference};

/// Suggests values: gets the partial value and the context.
pub type CompletionProvider = Arc<dyn Fn(&str, &CompleteContext) -> Vec<String> + Send + Sync>;

/// A provider that offers those of `values` that start with the partial value.
pub fn prefix_provider(values: Vec<String>) -> CompletionProvider {
    Arc::new(move |partial, _| {
        values
            .iter()
            .filter(|v| v.starts_with(partial))
            .cloned()
            .collect()
    })
}

/// The providers of a server (cheap to clone; clones share them).
#[derive(Clone, Default)]
pub struct CompletionProviders {
    by_key: Arc<RwLock<HashMap<(Reference, String), CompletionProvider>>>,
}

impl std::fmt::Debug for CompletionProviders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompletionProviders")
            .finish_non_exhaustive()
    }
}

impl CompletionProviders {
    /// No providers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Complete `argument` of `reference` with `provider` (replaces an earlier one).
    pub fn add(&self, reference: Reference, argument: &str, provider: CompletionProvider) {
        if let Ok(mut map) = self.by_key.write() {
            map.insert((reference, argument.to_owned()), provider);
        }
    }

    /// Whether any provider is registered (the `completions` capability is then declared).
    pub fn is_empty(&self) -> bool {
        self.by_key.read().map_or(true, |map| map.is_empty())
    }

    /// Answer a `completion/complete`.
    pub fn complete(&self, params: &CompleteParams) -> Completion {
        let provider = self.by_key.read().ok().and_then(|map| {
            map.get(&(params.reference.clone(), params.argument.name.clone()))
                .cloned()
        });
        let Some(provider) = provider else {
            return Completion::default();
        };
        let context = params.context.clone().unwrap_or_default();
        Completion::capped(provider(&params.argument.value, &context))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dcc_mcp_protocol::completion::CompleteArgument;
    use serde_json::json;

    fn params(reference: Reference, name: &str, value: &str) -> CompleteParams {
        CompleteParams {
            reference,
            argument: CompleteArgument {
                name: name.into(),
                value: value.into(),
            },
            context: None,
        }
    }

    #[test]
    fn completes_prompt_arguments_and_template_variables() {
        let providers = CompletionProviders::new();
        assert!(providers.is_empty());
        let prompt = Reference::Prompt {
            name: "render".into(),
        };
        providers.add(
            prompt.clone(),
            "camera",
            prefix_provider(vec!["persp".into(), "top".into(), "perspLeft".into()]),
        );
        let template = Reference::Resource {
            uri: "scene://{shot}".into(),
        };
        providers.add(
            template.clone(),
            "shot",
            Arc::new(|partial, _| (0..300).map(|i| format!("{partial}{i:03}")).collect()),
        );
        assert_eq!(
            serde_json::to_value(providers.complete(&params(prompt.clone(), "camera", "pe")))
                .unwrap(),
            json!({"values": ["persp", "perspLeft"], "total": 2, "hasMore": false})
        );
        let many = providers.complete(&params(template, "shot", "sh"));
        assert_eq!(
            (many.values.len(), many.total, many.has_more),
            (100, Some(300), Some(true))
        );
        assert_eq!(many.values[0], "sh000");
        assert_eq!(
            providers.complete(&params(prompt, "other", "")),
            Completion::default()
        );
    }
}
