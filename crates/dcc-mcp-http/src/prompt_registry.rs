//! The prompt catalog: prompts with declared arguments, each filled by a handler at `prompts/get`.
//!
//! Required arguments are checked before the handler runs, so a handler can index them. Adding or
//! removing a prompt tells the observers ([`CatalogEvent::PromptsListChanged`]).

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use dcc_mcp_protocol::prompts::{GetPromptResult, Prompt};

use crate::catalog_events::{CatalogEvent, CatalogObserver, Observers};
use crate::peer::InputRequest;
use serde_json::Value;

/// Prompts per `prompts/list` page.
pub const PROMPT_PAGE_SIZE: usize = 100;

/// Why a prompt operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptError {
    /// No prompt of this name.
    #[error("unknown prompt: {0}")]
    NotFound(String),
    /// A prompt of this name is already registered.
    #[error("prompt {0:?} is already registered")]
    Duplicate(String),
    /// A required argument was not given.
    #[error("prompt {prompt:?} needs the argument {argument:?}")]
    MissingArgument {
        /// The prompt.
        prompt: String,
        /// The argument.
        argument: String,
    },
    /// The handler failed.
    #[error("prompt {prompt:?} failed: {message}")]
    Handler {
        /// The prompt.
        prompt: String,
        /// What the handler said.
        message: String,
    },
}

/// Fills a prompt from its arguments.
pub type PromptHandler =
    Arc<dyn Fn(&BTreeMap<String, String>) -> Result<GetPromptResult, String> + Send + Sync>;

/// Fills a prompt from its arguments and the client's answers to the prompt's input requests
/// (in the order they were declared; see [`PromptRegistry::add_asking`]).
pub type AskingPromptHandler = Arc<
    dyn Fn(&BTreeMap<String, String>, &[Value]) -> Result<GetPromptResult, String> + Send + Sync,
>;

struct Entry {
    prompt: Prompt,
    handler: AskingPromptHandler,
    /// What the prompt asks the client before it is filled (empty for most prompts).
    inputs: Vec<InputRequest>,
}

/// The prompt catalog (cheap to clone; clones share it).
#[derive(Clone, Default)]
pub struct PromptRegistry {
    inner: Arc<RwLock<BTreeMap<String, Entry>>>,
    observers: Observers,
}

impl std::fmt::Debug for PromptRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromptRegistry").finish_non_exhaustive()
    }
}

impl PromptRegistry {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    /// Observe additions and removals.
    pub fn observe(&self, observer: CatalogObserver) {
        self.observers.add(observer);
    }

    /// Register a prompt.
    pub fn add(&self, prompt: Prompt, handler: PromptHandler) -> Result<(), PromptError> {
        let handler: AskingPromptHandler = Arc::new(move |arguments, _answers| handler(arguments));
        self.insert(prompt, handler, Vec::new())
    }

    /// Register a prompt that asks the client first (an elicitation, a sampling, the roots): the
    /// server asks `inputs` — on the session's stream, or with an `InputRequiredResult` in
    /// 2026-07-28 — and fills the prompt with their answers.
    pub fn add_asking(
        &self,
        prompt: Prompt,
        inputs: Vec<InputRequest>,
        handler: AskingPromptHandler,
    ) -> Result<(), PromptError> {
        self.insert(prompt, handler, inputs)
    }

    /// What prompt `name` asks before it is filled; `None` for a prompt that asks nothing (or none).
    pub(crate) fn inputs(&self, name: &str) -> Option<Vec<InputRequest>> {
        let inner = self.inner.read().ok()?;
        let entry = inner.get(name)?;
        (!entry.inputs.is_empty()).then(|| entry.inputs.clone())
    }

    fn insert(
        &self,
        prompt: Prompt,
        handler: AskingPromptHandler,
        inputs: Vec<InputRequest>,
    ) -> Result<(), PromptError> {
        {
            let mut inner = self
                .inner
                .write()
                .map_err(|_| PromptError::Duplicate(prompt.name.clone()))?;
            if inner.contains_key(&prompt.name) {
                return Err(PromptError::Duplicate(prompt.name));
            }
            inner.insert(
                prompt.name.clone(),
                Entry {
                    prompt,
                    handler,
                    inputs,
                },
            );
        }
        self.observers.emit(&CatalogEvent::PromptsListChanged);
        Ok(())
    }

    /// Remove a prompt; whether it existed.
    pub fn remove(&self, name: &str) -> bool {
        let removed = self
            .inner
            .write()
            .is_ok_and(|mut inner| inner.remove(name).is_some());
        if removed {
            self.observers.emit(&CatalogEvent::PromptsListChanged);
        }
        removed
    }

    /// One page of prompts sorted by name, after the name `after`; the second value is the name to
    /// resume after, when more follow.
    pub fn list(&self, after: Option<&str>) -> (Vec<Prompt>, Option<String>) {
        let Ok(inner) = self.inner.read() else {
            return (Vec::new(), None);
        };
        let mut page: Vec<Prompt> = inner
            .values()
            .filter(|e| after.is_none_or(|after| e.prompt.name.as_str() > after))
            .take(PROMPT_PAGE_SIZE + 1)
            .map(|e| e.prompt.clone())
            .collect();
        let next = (page.len() > PROMPT_PAGE_SIZE).then(|| {
            page.truncate(PROMPT_PAGE_SIZE);
            page.last().map(|p| p.name.clone()).unwrap_or_default()
        });
        (page, next)
    }

    /// The declared prompt `name`.
    pub fn prompt(&self, name: &str) -> Option<Prompt> {
        self.inner.read().ok()?.get(name).map(|e| e.prompt.clone())
    }

    /// Fill prompt `name` with `arguments` (the handler runs outside the catalog lock).
    pub fn get(
        &self,
        name: &str,
        arguments: &BTreeMap<String, String>,
    ) -> Result<GetPromptResult, PromptError> {
        self.get_answered(name, arguments, &[])
    }

    /// Fill prompt `name` with `arguments` and the answers to its input requests.
    pub(crate) fn get_answered(
        &self,
        name: &str,
        arguments: &BTreeMap<String, String>,
        answers: &[Value],
    ) -> Result<GetPromptResult, PromptError> {
        let (prompt, handler) = {
            let inner = self
                .inner
                .read()
                .map_err(|_| PromptError::NotFound(name.to_owned()))?;
            let entry = inner
                .get(name)
                .ok_or_else(|| PromptError::NotFound(name.to_owned()))?;
            (entry.prompt.clone(), entry.handler.clone())
        };
        if let Some(missing) = prompt
            .arguments
            .iter()
            .find(|a| a.required == Some(true) && !arguments.contains_key(&a.name))
        {
            return Err(PromptError::MissingArgument {
                prompt: prompt.name,
                argument: missing.name.clone(),
            });
        }
        handler(arguments, answers).map_err(|message| PromptError::Handler {
            prompt: prompt.name,
            message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog_events::test_support::recording;
    use dcc_mcp_protocol::content::{ContentBlock, Role};
    use dcc_mcp_protocol::prompts::{PromptArgument, PromptMessage};
    use serde_json::json;

    fn with_args() -> Prompt {
        Prompt {
            name: "test_prompt_with_arguments".into(),
            title: None,
            description: None,
            arguments: ["arg1", "arg2"]
                .map(|name| PromptArgument {
                    name: name.into(),
                    title: None,
                    description: None,
                    required: Some(name == "arg1"),
                })
                .to_vec(),
        }
    }

    fn echo_handler() -> PromptHandler {
        Arc::new(|args| {
            Ok(GetPromptResult {
                description: None,
                messages: vec![PromptMessage {
                    role: Role::User,
                    content: ContentBlock::text(format!(
                        "arg1={} arg2={}",
                        args["arg1"],
                        args.get("arg2").map_or("-", String::as_str)
                    )),
                }],
            })
        })
    }

    #[test]
    fn get_fills_arguments_and_checks_required_ones() {
        let registry = PromptRegistry::new();
        registry.add(with_args(), echo_handler()).unwrap();
        let args = BTreeMap::from([("arg1".to_owned(), "a".to_owned())]);
        assert_eq!(
            serde_json::to_value(registry.get("test_prompt_with_arguments", &args).unwrap())
                .unwrap(),
            json!({"messages": [{"role": "user", "content": {"type": "text", "text": "arg1=a arg2=-"}}]})
        );
        assert_eq!(
            registry.get("test_prompt_with_arguments", &BTreeMap::new()),
            Err(PromptError::MissingArgument {
                prompt: "test_prompt_with_arguments".into(),
                argument: "arg1".into()
            })
        );
        assert_eq!(
            registry.get("nope", &args),
            Err(PromptError::NotFound("nope".into()))
        );
        assert_eq!(
            registry.add(with_args(), echo_handler()),
            Err(PromptError::Duplicate("test_prompt_with_arguments".into()))
        );
    }

    #[test]
    fn list_is_sorted_and_changes_reach_observers() {
        let registry = PromptRegistry::new();
        let (observer, seen) = recording();
        registry.observe(observer);
        for name in ["b", "a"] {
            let mut prompt = with_args();
            prompt.name = name.into();
            registry.add(prompt, echo_handler()).unwrap();
        }
        let (page, next) = registry.list(None);
        assert_eq!(
            page.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(next, None);
        assert_eq!(registry.list(Some("a")).0.len(), 1);
        assert!(registry.remove("a"));
        assert_eq!(seen.lock().unwrap().len(), 3);
    }
}
