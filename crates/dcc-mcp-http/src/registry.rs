//! The tool registry: tool specs, their compiled JSON Schemas and their handlers.
//!
//! The registry is shared (`Clone` is an `Arc` clone) between the user who registers tools and every
//! server that serves them, so tools registered after `start()` are served at once. Servers observe
//! it to record tool (un)registration.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use serde_json::{json, Value};

use serde::de::DeserializeOwned;

use crate::content::{classify, HandlerValue};
use crate::error::RegistryError;
use crate::peer::{decode_all, decode_one, Asked, ClientPeer, InputRequest, Pending};
use crate::record::ClientRequestKind;
use crate::request_context::RequestContext;
use dcc_mcp_protocol::client_requests::{
    CreateMessageParams, CreateMessageResult, ElicitResult, ListRootsResult,
};
use dcc_mcp_protocol::logging::LoggingLevel;
use dcc_mcp_protocol::tools::{error_result, value_result};

/// Longest accepted tool name, in characters.
pub const MAX_TOOL_NAME_CHARS: usize = 128;

/// How a tool runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Execution {
    /// The call waits for the handler and returns its result (bounded by `request_timeout`).
    #[default]
    Sync,
    /// The call returns a job id at once; the handler runs as a job on the bounded job queue
    /// (needs the `workflow` Cargo feature).
    Async,
}

/// Everything a client learns about a tool from `tools/list`.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    /// Unique name (1..=128 characters, no control characters).
    pub name: String,
    /// Human-readable description.
    pub description: String,
    /// JSON Schema the arguments must match.
    pub input_schema: Value,
    /// Optional JSON Schema of `structuredContent`.
    pub output_schema: Option<Value>,
    /// Sync or async (job) execution.
    pub execution: Execution,
    /// Optional human-readable display name (`title` in `tools/list`); clients show it instead of
    /// `name` when present.
    pub title: Option<String>,
    /// Optional behaviour hints for clients (`annotations` in `tools/list`).
    pub annotations: Option<ToolAnnotations>,
}

/// MCP tool annotations: hints a client uses to decide, for example, whether to ask the user before
/// a call. They are hints about the tool, not guarantees the server enforces. `None` leaves a hint
/// out of `tools/list` (the client then assumes the protocol's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ToolAnnotations {
    /// `readOnlyHint`: the tool does not modify its environment (default `false`).
    pub read_only_hint: Option<bool>,
    /// `destructiveHint`: a modifying tool may destroy or overwrite data (default `true`).
    pub destructive_hint: Option<bool>,
    /// `idempotentHint`: calling again with the same arguments has no further effect (default `false`).
    pub idempotent_hint: Option<bool>,
    /// `openWorldHint`: the tool talks to things outside the host, e.g. the network (default `true`).
    pub open_world_hint: Option<bool>,
}

impl ToolAnnotations {
    /// The `annotations` object of `tools/list`: only the hints that are set, in camelCase.
    pub fn to_wire(&self) -> Value {
        let mut map = serde_json::Map::new();
        for (key, hint) in [
            ("readOnlyHint", self.read_only_hint),
            ("destructiveHint", self.destructive_hint),
            ("idempotentHint", self.idempotent_hint),
            ("openWorldHint", self.open_world_hint),
        ] {
            if let Some(hint) = hint {
                map.insert(key.to_owned(), Value::Bool(hint));
            }
        }
        Value::Object(map)
    }
}

impl ToolSpec {
    /// A sync tool with an empty description that accepts any object.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            description: String::new(),
            input_schema: json!({"type": "object"}),
            output_schema: None,
            execution: Execution::Sync,
            title: None,
            annotations: None,
        }
    }

    /// Set the display title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Set the behaviour hints.
    pub fn annotations(mut self, annotations: ToolAnnotations) -> Self {
        self.annotations = Some(annotations);
        self
    }

    /// Set the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Set the input JSON Schema.
    pub fn input_schema(mut self, schema: Value) -> Self {
        self.input_schema = schema;
        self
    }

    /// Set the output JSON Schema.
    pub fn output_schema(mut self, schema: Value) -> Self {
        self.output_schema = Some(schema);
        self
    }

    /// Set sync or async execution.
    pub fn execution(mut self, execution: Execution) -> Self {
        self.execution = execution;
        self
    }

    /// The `tools/list` entry for this tool.
    pub(crate) fn to_wire(&self) -> Value {
        let mut tool = json!({
            "name": self.name,
            "description": self.description,
            "inputSchema": self.input_schema,
        });
        if let Some(map) = tool.as_object_mut() {
            if let Some(title) = &self.title {
                map.insert("title".into(), Value::String(title.clone()));
            }
            if let Some(schema) = &self.output_schema {
                map.insert("outputSchema".into(), schema.clone());
            }
            if let Some(annotations) = &self.annotations {
                map.insert("annotations".into(), annotations.to_wire());
            }
        }
        tool
    }
}

/// Says why a `tools/call` names no registered tool (e.g. a gateway: "backend 'b' is down"); `None`
/// leaves the plain `Unknown tool: NAME` message. Runs on the I/O worker: keep it short.
pub type UnknownToolHint = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

pub use crate::error::ToolError;

/// Where a handler's progress reports go (a session's SSE stream, a job's state).
pub(crate) trait ProgressSink: Send + Sync {
    fn report(&self, progress: f64, total: Option<f64>, message: Option<&str>);
}

/// What a handler gets besides its arguments: progress reporting, cancellation, log messages to the
/// client, and requests to the client (elicitation, sampling, roots) that work in both MCP eras.
#[derive(Clone)]
pub struct ToolContext {
    tool_name: String,
    cancelled: Arc<AtomicBool>,
    progress: Option<Arc<dyn ProgressSink>>,
    peer: Option<Arc<dyn ClientPeer>>,
    /// The request's context; `None` in the session era and for detached contexts.
    request: Option<Arc<RequestContext>>,
}

impl fmt::Debug for ToolContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolContext")
            .field("tool_name", &self.tool_name)
            .field("cancelled", &self.is_cancelled())
            .finish_non_exhaustive()
    }
}

thread_local! {
    /// The context of the catalog request (`resources/read`, `prompts/get`,
    /// `completion/complete`) this thread is answering: catalog readers are called synchronously
    /// on the thread that serves the request, so they find it here ([`ToolContext::for_catalog`]).
    static CATALOG_CONTEXT: std::cell::RefCell<Option<ToolContext>> =
        const { std::cell::RefCell::new(None) };
}

/// Puts back the catalog context that was current before [`ToolContext::serving_catalog`].
struct RestoreCatalogContext(Option<ToolContext>);

impl Drop for RestoreCatalogContext {
    fn drop(&mut self) {
        let previous = self.0.take();
        CATALOG_CONTEXT.with(|current| *current.borrow_mut() = previous);
    }
}

impl ToolContext {
    /// The context of the catalog request this thread is answering, named `name` (for example
    /// `"resource 'scene://current'"`): for a reader, prompt or completion provider that wants to
    /// log to the client or report progress. In the session era its log messages and progress go
    /// to the request's client as a tool's do; it is never cancelled. Detached (see
    /// [`detached`](Self::detached)) when the thread answers no catalog request of a session, as in
    /// 2026-07-28.
    pub fn for_catalog(name: impl Into<String>) -> Self {
        let name = name.into();
        match CATALOG_CONTEXT.with(|current| current.borrow().clone()) {
            Some(mut context) => {
                context.tool_name = name;
                context
            }
            None => Self::detached(name),
        }
    }

    /// Runs `f` with this context as the thread's catalog context ([`for_catalog`](Self::for_catalog)).
    pub(crate) fn serving_catalog<R>(self, f: impl FnOnce() -> R) -> R {
        let previous = CATALOG_CONTEXT.with(|current| current.borrow_mut().replace(self));
        let _restore = RestoreCatalogContext(previous);
        f()
    }

    /// A context not attached to any client: progress goes nowhere and it is never cancelled.
    /// Useful to call a handler directly (tests, scripts).
    pub fn detached(tool_name: impl Into<String>) -> Self {
        Self {
            tool_name: tool_name.into(),
            cancelled: Arc::new(AtomicBool::new(false)),
            progress: None,
            peer: None,
            request: None,
        }
    }

    pub(crate) fn attached(
        tool_name: &str,
        cancelled: Arc<AtomicBool>,
        progress: Option<Arc<dyn ProgressSink>>,
        request: Option<Arc<RequestContext>>,
    ) -> Self {
        Self {
            tool_name: tool_name.to_owned(),
            cancelled,
            progress,
            peer: None,
            request,
        }
    }

    /// The same context, with log messages and client requests going to `peer`.
    pub(crate) fn with_peer(mut self, peer: Arc<dyn ClientPeer>) -> Self {
        self.peer = Some(peer);
        self
    }

    /// Send a log message (`notifications/message`) to the client, if its level allows: the level it
    /// set with `logging/setLevel` (session era) or the request's `_meta` log level (2026-07-28).
    /// Messages past the log budget (`max_log_messages_per_sec`) are dropped and counted.
    pub fn log(&self, level: LoggingLevel, data: Value) {
        if let Some(peer) = &self.peer {
            peer.log(level, None, data);
        }
    }

    /// [`log`](Self::log) under a logger name.
    pub fn log_as(&self, logger: &str, level: LoggingLevel, data: Value) {
        if let Some(peer) = &self.peer {
            peer.log(level, Some(logger), data);
        }
    }

    /// Close the SSE answer of this call's `POST` now, before the result, and go on running: the
    /// client reconnects with `GET` and `Last-Event-ID` and gets the rest of the call's messages and
    /// its result there (2025-11-25 SSE polling; frees the connection during a long call). True when
    /// the call's answer is such a stream: a session-era `tools/call` of a 2025-11-25 session whose
    /// client accepts `text/event-stream`. Otherwise nothing happens and the answer is unchanged.
    pub fn close_stream(&self) -> bool {
        self.peer.as_ref().is_some_and(|peer| peer.close_stream())
    }

    /// True when the client declared the capability `kind` needs (`elicitation`, `sampling`,
    /// `roots`). Asking without it is refused with a clear error, so check first to offer a fallback.
    pub fn client_supports(&self, kind: ClientRequestKind) -> bool {
        self.peer.as_ref().is_some_and(|peer| peer.supports(kind))
    }

    /// Ask the user for input (`elicitation/create`, form mode).
    pub fn elicit(&self, message: &str, requested_schema: Value) -> Pending<ElicitResult> {
        self.ask_one(InputRequest::elicit(message, requested_schema))
    }

    /// Ask the client's model for a message (`sampling/createMessage`).
    pub fn sample(&self, params: &CreateMessageParams) -> Pending<CreateMessageResult> {
        self.ask_one(InputRequest::sample(params))
    }

    /// Ask for the client's roots (`roots/list`).
    pub fn list_roots(&self) -> Pending<ListRootsResult> {
        self.ask_one(InputRequest::list_roots())
    }

    /// Ask one request and decode its answer as `T` (for keyed requests, see [`InputRequest::key`]).
    pub fn ask_one<T: DeserializeOwned + Send + 'static>(
        &self,
        request: InputRequest,
    ) -> Pending<T> {
        Pending::new(self.ask_raw(vec![request]), decode_one::<T>)
    }

    /// Ask several requests at once; the answers come back in order, as JSON. In 2026-07-28 they
    /// all go in one `InputRequiredResult`.
    pub fn ask_all(&self, requests: Vec<InputRequest>) -> Pending<Vec<Value>> {
        Pending::new(self.ask_raw(requests), decode_all)
    }

    fn ask_raw(&self, requests: Vec<InputRequest>) -> Asked {
        match &self.peer {
            Some(peer) => peer.ask(requests),
            None => Asked::Ready(Err(ToolError::new(
                "this call has no client to ask (the context is detached, or the call runs as a job)",
            ))),
        }
    }

    /// The context of the request that called the tool (its era, version, the client's declared
    /// capabilities and log level), when the request carried one: every 2026-07-28 request does;
    /// `None` in the session era and for a detached context.
    pub fn request(&self) -> Option<&RequestContext> {
        self.request.as_deref()
    }

    /// `Ok` unless this is a 2026-07-28 request whose client did not declare capability `name`;
    /// then the request answers `-32021` (MissingRequiredClientCapability) whatever the handler
    /// returns next, and the error is for the handler to return.
    pub fn require_client_capability(&self, name: &str) -> Result<(), ToolError> {
        match &self.request {
            Some(request) => request.require_capability(name).map_err(ToolError),
            None => Ok(()),
        }
    }

    /// Report progress to the client (`notifications/progress` on the session's SSE stream).
    /// `progress` should increase with every report; `total` is optional.
    pub fn report_progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) {
        if let Some(sink) = &self.progress {
            sink.report(progress, total, message);
        }
    }

    /// Whether the client asked for progress (`_meta.progressToken`): without it,
    /// [`report_progress`](Self::report_progress) sends nothing, so a handler (a gateway asking a
    /// backend for progress) can skip the work of producing it.
    pub fn wants_progress(&self) -> bool {
        self.progress.is_some()
    }

    /// True once the call timed out, its job was cancelled, or the server is stopping.
    /// Long-running handlers should poll this and return early.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// The name of the tool being called.
    pub fn tool_name(&self) -> &str {
        &self.tool_name
    }
}

/// A blocking tool implementation: a function from arguments to a JSON value.
///
/// It runs as [`Handler::Worker`] (on a bounded set of blocking threads) or [`Handler::MainThread`]. A returned `Value::String(s)` becomes a text content item;
/// any other value becomes text holding its JSON, plus `structuredContent` when it is an object.
pub type ToolHandler = Arc<dyn Fn(Value, &ToolContext) -> Result<Value, ToolError> + Send + Sync>;

/// The future an [`AsyncToolHandler`] returns.
pub type ToolFuture = Pin<Box<dyn Future<Output = Result<Value, ToolError>> + Send + 'static>>;

/// A non-blocking tool implementation, polled on the I/O worker that serves the request.
///
/// It must never block (no file or network I/O without `.await`, no long computation): a blocking
/// inline handler stalls every request on that worker. Use a [`ToolHandler`] for those.
pub type AsyncToolHandler = Arc<dyn Fn(Value, ToolContext) -> ToolFuture + Send + Sync>;

/// A tool handler and the execution kind it runs as.
#[derive(Clone)]
pub enum Handler {
    /// Polled on the I/O worker: cheapest, for handlers that never block.
    Inline(AsyncToolHandler),
    /// Run on the bounded set of blocking worker threads (`sync_concurrency`).
    Worker(ToolHandler),
    /// Queued for the host's main thread; runs inside [`MainThreadExecutor::pump`].
    MainThread(ToolHandler),
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Inline(_) => "Handler::Inline",
            Self::Worker(_) => "Handler::Worker",
            Self::MainThread(_) => "Handler::MainThread",
        })
    }
}

impl Handler {
    /// An inline handler from an async function or closure.
    pub fn inline<F, Fut>(handler: F) -> Self
    where
        F: Fn(Value, ToolContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, ToolError>> + Send + 'static,
    {
        Self::Inline(Arc::new(move |arguments, context| {
            Box::pin(handler(arguments, context)) as ToolFuture
        }))
    }

    /// A worker handler from a blocking function or closure.
    pub fn worker<F>(handler: F) -> Self
    where
        F: Fn(Value, &ToolContext) -> Result<Value, ToolError> + Send + Sync + 'static,
    {
        Self::Worker(Arc::new(handler))
    }

    /// A main-thread handler from a blocking function or closure.
    pub fn main_thread<F>(handler: F) -> Self
    where
        F: Fn(Value, &ToolContext) -> Result<Value, ToolError> + Send + Sync + 'static,
    {
        Self::MainThread(Arc::new(handler))
    }
}

/// One registered tool: spec, compiled schemas, handler.
pub(crate) struct ToolEntry {
    pub(crate) spec: ToolSpec,
    pub(crate) input_validator: jsonschema::Validator,
    pub(crate) output_validator: Option<jsonschema::Validator>,
    pub(crate) handler: Option<Handler>,
    /// `(argument, header suffix)` of every input property marked `x-mcp-header`: 2026-07-28
    /// requests repeat those arguments in `Mcp-Param-<suffix>` headers (read once, at registration).
    pub(crate) param_headers: Vec<(String, String)>,
}

/// The `x-mcp-header` properties of an input schema, as `(argument, header suffix)`.
fn param_headers(schema: &Value) -> Vec<(String, String)> {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    properties
        .iter()
        .filter_map(|(name, property)| {
            let suffix = property.get(PARAM_HEADER_KEYWORD)?.as_str()?;
            Some((name.clone(), suffix.to_owned()))
        })
        .collect()
}

/// The input-schema keyword naming the `Mcp-Param-*` header that repeats an argument (2026-07-28).
pub const PARAM_HEADER_KEYWORD: &str = "x-mcp-header";

/// Told about every change of a registry it observes (the Prometheus adapter keeps one metric series
/// per registered tool this way). Called with the registry's lock released; must not block.
pub(crate) trait RegistryObserver: Send + Sync {
    /// `name` was registered.
    fn tool_registered(&self, name: &str);
    /// `name` was unregistered.
    fn tool_unregistered(&self, name: &str);
}

struct Observer {
    id: u64,
    observer: Arc<dyn RegistryObserver>,
}

#[derive(Default)]
struct Inner {
    tools: RwLock<BTreeMap<String, Arc<ToolEntry>>>,
    observers: Mutex<Vec<Observer>>,
    next_observer: AtomicU64,
}

/// The set of tools a server serves. `Clone` shares the same set.
#[derive(Clone, Default)]
pub struct ToolRegistry {
    inner: Arc<Inner>,
}

impl fmt::Debug for ToolRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolRegistry")
            .field("tools", &self.len())
            .finish()
    }
}

/// A successful result: strings become text; other values become their JSON text, and objects are
/// also `structuredContent`; a [`CallToolResult`](crate::CallToolResult) is sent as is. A value that
/// breaks the tool's `outputSchema` becomes an error result.
pub(crate) fn success_result(entry: &ToolEntry, value: Value) -> Value {
    let value = match classify(value) {
        HandlerValue::Data(value) => value,
        HandlerValue::Result(result) => return checked_result(entry, result),
        HandlerValue::Invalid(message) => {
            return error_result(&format!(
                "tool '{}' returned an invalid CallToolResult: {message}",
                entry.spec.name
            ))
        }
    };
    if let (Some(validator), false) = (&entry.output_validator, value.is_string()) {
        if let Some(error) = validator.iter_errors(&value).next() {
            return error_result(&format!(
                "tool '{}' returned output that does not match its outputSchema: {error}",
                entry.spec.name
            ));
        }
    }
    value_result(value)
}

/// A handler's complete result: its `structuredContent` is checked against the `outputSchema`.
fn checked_result(entry: &ToolEntry, result: serde_json::Map<String, Value>) -> Value {
    let is_error = result.get("isError") == Some(&Value::Bool(true));
    if let (Some(validator), false) = (&entry.output_validator, is_error) {
        let Some(structured) = result.get("structuredContent") else {
            return error_result(&format!(
                "tool '{}' has an outputSchema but returned a result without structuredContent",
                entry.spec.name
            ));
        };
        if let Some(error) = validator.iter_errors(structured).next() {
            return error_result(&format!(
                "tool '{}' returned output that does not match its outputSchema: {error}",
                entry.spec.name
            ));
        }
    }
    Value::Object(result)
}

fn validate_name(name: &str) -> Result<(), RegistryError> {
    if let Some(reason) = dcc_mcp_protocol::reserved::reserved_reason(name) {
        return Err(RegistryError::ReservedName {
            name: name.to_owned(),
            reason,
        });
    }
    let invalid = |reason| RegistryError::InvalidName {
        name: name.to_owned(),
        reason,
    };
    let chars = name.chars().count();
    if chars == 0 {
        return Err(invalid("a tool name must not be empty"));
    }
    if chars > MAX_TOOL_NAME_CHARS {
        return Err(invalid("a tool name must be at most 128 characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid("a tool name must not contain control characters"));
    }
    Ok(())
}

fn compile(
    name: &str,
    which: &'static str,
    schema: &Value,
) -> Result<jsonschema::Validator, RegistryError> {
    let invalid = |message: String| RegistryError::InvalidSchema {
        name: name.to_owned(),
        which,
        message,
    };
    let Some(root) = schema.as_object() else {
        return Err(invalid("a schema must be a JSON object".to_owned()));
    };
    // MCP requires `"type": "object"` at the root of a tool's schemas; clients (the official SDKs
    // among them) refuse the whole `tools/list` answer when one tool breaks this.
    if root.get("type") != Some(&Value::String("object".to_owned())) {
        let found = match root.get("type") {
            None => "no \"type\"".to_owned(),
            Some(other) => format!("\"type\": {other}"),
        };
        return Err(invalid(format!(
            "the root of a tool schema must be an object schema ({{\"type\": \"object\", …}}), \
             found {found}"
        )));
    }
    // Linear-time patterns: a client's arguments cannot stall the I/O worker (see `schema`).
    crate::schema::compile(schema).map_err(|error| RegistryError::InvalidSchema {
        name: name.to_owned(),
        which,
        message: error.to_string(),
    })
}

impl ToolRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Register a tool without a handler yet; calls return an `isError` "no handler" result until
    /// [`set_handler`](Self::set_handler) is called.
    pub fn register(&self, spec: ToolSpec) -> Result<(), RegistryError> {
        self.insert(spec, None)
    }

    /// Register a tool with a blocking handler that runs on the worker threads ([`Handler::Worker`]).
    pub fn register_with_handler(
        &self,
        spec: ToolSpec,
        handler: ToolHandler,
    ) -> Result<(), RegistryError> {
        self.insert(spec, Some(Handler::Worker(handler)))
    }

    /// Register a tool with a handler of any execution kind (inline, worker, main thread).
    pub fn register_with(&self, spec: ToolSpec, handler: Handler) -> Result<(), RegistryError> {
        self.insert(spec, Some(handler))
    }

    fn insert(&self, spec: ToolSpec, handler: Option<Handler>) -> Result<(), RegistryError> {
        validate_name(&spec.name)?;
        if spec.execution == Execution::Async && !cfg!(feature = "workflow") {
            return Err(RegistryError::AsyncUnavailable(spec.name));
        }
        let input_validator = compile(&spec.name, "inputSchema", &spec.input_schema)?;
        let output_validator = match &spec.output_schema {
            Some(schema) => Some(compile(&spec.name, "outputSchema", schema)?),
            None => None,
        };
        let name = spec.name.clone();
        {
            let mut tools = self
                .inner
                .tools
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            if tools.contains_key(&name) {
                return Err(RegistryError::Duplicate(name));
            }
            tools.insert(
                name.clone(),
                Arc::new(ToolEntry {
                    param_headers: param_headers(&spec.input_schema),
                    spec,
                    input_validator,
                    output_validator,
                    handler,
                }),
            );
        }
        for observer in self.observers() {
            observer.tool_registered(&name);
        }
        Ok(())
    }

    /// Attach or replace the handler of a registered tool with a blocking worker handler.
    pub fn set_handler(&self, name: &str, handler: ToolHandler) -> Result<(), RegistryError> {
        self.set_handler_with(name, Handler::Worker(handler))
    }

    /// Attach or replace the handler of a registered tool, with any execution kind.
    pub fn set_handler_with(&self, name: &str, handler: Handler) -> Result<(), RegistryError> {
        let mut tools = self
            .inner
            .tools
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let entry = tools
            .get(name)
            .ok_or_else(|| RegistryError::UnknownTool(name.to_owned()))?;
        let replaced = ToolEntry {
            spec: entry.spec.clone(),
            input_validator: entry.input_validator.clone(),
            output_validator: entry.output_validator.clone(),
            handler: Some(handler),
            param_headers: entry.param_headers.clone(),
        };
        tools.insert(name.to_owned(), Arc::new(replaced));
        Ok(())
    }

    /// Remove a tool; returns whether it existed. Calls already running finish normally.
    pub fn unregister(&self, name: &str) -> bool {
        let removed = self
            .inner
            .tools
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name)
            .is_some();
        if removed {
            for observer in self.observers() {
                observer.tool_unregistered(name);
            }
        }
        removed
    }

    /// All tool specs, sorted by name.
    pub fn list(&self) -> Vec<ToolSpec> {
        self.read(|tools| tools.values().map(|entry| entry.spec.clone()).collect())
    }

    /// The spec of one tool.
    pub fn get(&self, name: &str) -> Option<ToolSpec> {
        self.read(|tools| tools.get(name).map(|entry| entry.spec.clone()))
    }

    /// Number of registered tools.
    pub fn len(&self) -> usize {
        self.read(BTreeMap::len)
    }

    /// True when no tool is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when a tool with this name is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.read(|tools| tools.contains_key(name))
    }

    fn read<T>(&self, f: impl FnOnce(&BTreeMap<String, Arc<ToolEntry>>) -> T) -> T {
        f(&self
            .inner
            .tools
            .read()
            .unwrap_or_else(PoisonError::into_inner))
    }

    pub(crate) fn entry(&self, name: &str) -> Option<Arc<ToolEntry>> {
        self.read(|tools| tools.get(name).cloned())
    }

    /// Up to `limit` specs whose names sort after `after` (all when `after` is `None`).
    pub(crate) fn page_after(&self, after: Option<&str>, limit: usize) -> Vec<ToolSpec> {
        use std::ops::Bound;
        self.read(|tools| {
            let range = match after {
                Some(after) => tools.range::<str, _>((Bound::Excluded(after), Bound::Unbounded)),
                None => tools.range::<str, _>(..),
            };
            range
                .take(limit)
                .map(|(_, entry)| entry.spec.clone())
                .collect()
        })
    }

    /// Start telling `observer` about (un)registrations; returns the id for [`remove_observer`](Self::remove_observer).
    #[allow(dead_code)]
    pub(crate) fn add_observer(&self, observer: Arc<dyn RegistryObserver>) -> u64 {
        let id = self.inner.next_observer.fetch_add(1, Ordering::Relaxed);
        self.inner
            .observers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Observer { id, observer });
        id
    }

    /// Stop telling the observer `id` about changes.
    #[allow(dead_code)]
    pub(crate) fn remove_observer(&self, id: u64) {
        self.inner
            .observers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|observer| observer.id != id);
    }

    fn observers(&self) -> Vec<Arc<dyn RegistryObserver>> {
        self.inner
            .observers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|observer| observer.observer.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo() -> ToolHandler {
        Arc::new(|args: Value, _ctx: &ToolContext| Ok(args))
    }

    #[test]
    fn a_catalog_reader_finds_the_context_of_the_request_it_serves() {
        // Outside a catalog request: detached, under the given name.
        let outside = ToolContext::for_catalog("resource 'a://x'");
        assert_eq!(outside.tool_name(), "resource 'a://x'");
        assert!(outside.peer.is_none());
        let cancelled = Arc::new(AtomicBool::new(true));
        let request = ToolContext::attached("resources/read", cancelled, None, None);
        let (inside, nested) = request.serving_catalog(|| {
            let nested = ToolContext::detached("inner")
                .serving_catalog(|| ToolContext::for_catalog("prompt 'p'").is_cancelled());
            (ToolContext::for_catalog("resource 'a://x'"), nested)
        });
        // The request's context (its cancellation flag), renamed; a nested one is restored after.
        assert_eq!(inside.tool_name(), "resource 'a://x'");
        assert!(inside.is_cancelled());
        assert!(!nested);
        assert!(!ToolContext::for_catalog("after").is_cancelled());
    }

    #[test]
    fn names_are_validated_and_unicode_round_trips() {
        let registry = ToolRegistry::new();
        for name in ["a", "quote\"back\\slash", "résumé.导出", &"x".repeat(128)] {
            registry.register(ToolSpec::new(name)).unwrap();
            assert_eq!(registry.get(name).unwrap().name, name);
        }
        assert_eq!(registry.len(), 4);
        assert!(matches!(
            registry.register(ToolSpec::new("")),
            Err(RegistryError::InvalidName { .. })
        ));
        assert!(matches!(
            registry.register(ToolSpec::new("x".repeat(129))),
            Err(RegistryError::InvalidName { .. })
        ));
        assert!(matches!(
            registry.register(ToolSpec::new("tab\there")),
            Err(RegistryError::InvalidName { .. })
        ));
        assert_eq!(
            registry.register(ToolSpec::new("a")),
            Err(RegistryError::Duplicate("a".into()))
        );
    }

    #[test]
    fn invalid_schema_is_rejected() {
        let registry = ToolRegistry::new();
        let err = registry
            .register(ToolSpec::new("bad").input_schema(json!({"type": "no-such-type"})))
            .unwrap_err();
        assert!(matches!(
            err,
            RegistryError::InvalidSchema {
                which: "inputSchema",
                ..
            }
        ));
        let err = registry
            .register(ToolSpec::new("bad").input_schema(json!(42)))
            .unwrap_err();
        assert!(matches!(err, RegistryError::InvalidSchema { .. }));
        assert!(registry.is_empty());
    }

    #[test]
    fn list_is_sorted_and_unregister_works() {
        let registry = ToolRegistry::new();
        for name in ["b", "c", "a"] {
            registry
                .register_with_handler(ToolSpec::new(name), echo())
                .unwrap();
        }
        let names: Vec<_> = registry.list().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert!(registry.unregister("b"));
        assert!(!registry.unregister("b"));
        assert!(!registry.contains("b"));
        assert_eq!(registry.len(), 2);
        let page: Vec<_> = registry
            .page_after(Some("a"), 10)
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(page, ["c"]);
    }

    #[test]
    fn set_handler_needs_a_known_tool() {
        let registry = ToolRegistry::new();
        assert_eq!(
            registry.set_handler("nope", echo()),
            Err(RegistryError::UnknownTool("nope".into()))
        );
        registry.register(ToolSpec::new("later")).unwrap();
        assert!(registry.entry("later").unwrap().handler.is_none());
        registry.set_handler("later", echo()).unwrap();
        assert!(registry.entry("later").unwrap().handler.is_some());
    }
}
