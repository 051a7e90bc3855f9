//! Python resources and prompts: `@server.resource(uri)` and `@server.prompt()` put a Python function
//! behind an entry of the server's resource or prompt catalog (`dcc_mcp_http::Catalog`).
//!
//! The catalog calls its readers and fillers synchronously, on the runtime thread that serves
//! `resources/read` or `prompts/get`. That thread must not take the GIL (see [`super::exit`]), and
//! in a DCC the function must usually run on the host's main thread, so a reader here only hands the
//! call over — to the server's Python threads ([`super::pool`]) or to the `MainThreadExecutor` queue
//! the host pumps — and waits for it, at most `request_timeout`, inside `block_in_place`, so the
//! runtime keeps serving other requests meanwhile. The Python side (`dcc_mcp_core._catalog`) builds
//! the entry from the function's signature and turns its return value into the JSON read here:
//! `{"text": …}` or `{"blob": <base64>}` for a resource, a `GetPromptResult` for a prompt.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::runtime::{Handle, RuntimeFlavor};

use dcc_mcp_http::protocol::prompts::{GetPromptResult, Prompt};
use dcc_mcp_http::protocol::resources::{Resource, ResourceTemplate};
use dcc_mcp_http::resource_registry::ResourceBody;
use dcc_mcp_http::{MainThreadExecutor, ToolContext, ToolHandler};

/// Where a catalog function runs, and how long its caller waits for it.
#[derive(Clone)]
pub(crate) struct Place {
    /// `Some`: on the host's main thread, queued on this executor; `None`: on a Python thread.
    pub(crate) main_thread: Option<MainThreadExecutor>,
    /// The server's `request_timeout`.
    pub(crate) timeout: Duration,
}

/// Runs `handler` (a Python function behind a pool or main-thread adapter) for the catalog entry
/// `label`, waiting at most `place.timeout` for it.
pub(crate) fn run(
    handler: &ToolHandler,
    place: &Place,
    label: &str,
    arguments: Value,
) -> Result<Value, String> {
    let runtime = match Handle::try_current() {
        Ok(runtime) if runtime.runtime_flavor() == RuntimeFlavor::MultiThread => runtime,
        _ => {
            return Err(format!(
            "{label}: a Python resource or prompt can only be served by the server's own runtime"
        ))
        }
    };
    // Found on this thread: the catalog calls its readers on the thread serving the request.
    let context = ToolContext::for_catalog(label);
    let waited = |outcome: Option<Result<Value, String>>| {
        outcome.unwrap_or_else(|| {
            Err(format!(
                "{label} did not answer within {:.3} s (request_timeout)",
                place.timeout.as_secs_f64()
            ))
        })
    };
    tokio::task::block_in_place(|| match &place.main_thread {
        Some(executor) => runtime.block_on(async {
            waited(
                tokio::time::timeout(
                    place.timeout,
                    executor.call(handler.clone(), arguments, context),
                )
                .await
                .ok(),
            )
        }),
        None => {
            let handler = handler.clone();
            let work = runtime
                .spawn_blocking(move || handler(arguments, &context).map_err(|error| error.0));
            runtime.block_on(async {
                match tokio::time::timeout(place.timeout, work).await {
                    Ok(Ok(outcome)) => outcome,
                    Ok(Err(join)) => Err(format!("{label} failed: {join}")),
                    Err(_elapsed) => waited(None),
                }
            })
        }
    })
}

/// The contents a resource function's wrapper returned: `{"text": str}` or `{"blob": base64}`.
pub(crate) fn body(label: &str, value: Value) -> Result<ResourceBody, String> {
    let Value::Object(mut map) = value else {
        return Err(format!("{label}: the reader returned no resource contents"));
    };
    match (map.remove("text"), map.remove("blob")) {
        (Some(Value::String(text)), None) => Ok(ResourceBody::Text(text)),
        (None, Some(Value::String(blob))) => dcc_mcp_http::protocol::base64::decode(&blob)
            .map(ResourceBody::Binary)
            .ok_or_else(|| format!("{label}: the reader returned invalid base64")),
        _ => Err(format!("{label}: the reader returned no resource contents")),
    }
}

/// A template's variables, or a prompt's arguments, as the function's keyword arguments.
pub(crate) fn variables(vars: &BTreeMap<String, String>) -> Value {
    Value::Object(
        vars.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect::<Map<String, Value>>(),
    )
}

/// A filled prompt from what the prompt function's wrapper returned.
pub(crate) fn prompt_result(label: &str, value: Value) -> Result<GetPromptResult, String> {
    serde_json::from_value(value).map_err(|error| {
        format!("{label}: the function returned no valid prompt messages: {error}")
    })
}

/// The values a completion function's wrapper returned: a list of strings.
pub(crate) fn completion_values(label: &str, value: Value) -> Result<Vec<String>, String> {
    serde_json::from_value(value)
        .map_err(|error| format!("{label}: the function returned no list of str: {error}"))
}

/// The entry of a static resource, from its wire form (`uri`, `name`, `title`, …).
pub(crate) fn resource(spec: Value) -> Result<Resource, String> {
    serde_json::from_value(spec).map_err(|error| format!("invalid resource: {error}"))
}

/// The entry of a resource template, from its wire form (`uriTemplate`, `name`, …).
pub(crate) fn template(spec: Value) -> Result<ResourceTemplate, String> {
    serde_json::from_value(spec).map_err(|error| format!("invalid resource template: {error}"))
}

/// The entry of a prompt, from its wire form (`name`, `title`, `description`, `arguments`).
pub(crate) fn prompt(spec: Value) -> Result<Prompt, String> {
    serde_json::from_value(spec).map_err(|error| format!("invalid prompt: {error}"))
}
