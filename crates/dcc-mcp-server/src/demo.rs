//! Demo tools (`--demo-tools`): small, deterministic tools that exercise every result path of the
//! server — text, structured numbers, tool errors, an async job that reports progress, and a result of
//! a chosen size (for the result budgets).

use std::sync::Arc;
use std::time::Duration;

use dcc_mcp_http::{
    Execution, Handler, RegistryError, ToolContext, ToolError, ToolRegistry, ToolSpec,
};
use serde_json::{json, Value};

/// Longest `sleep` the demo accepts, in milliseconds.
pub(crate) const MAX_SLEEP_MS: u64 = 600_000;

/// Number of progress reports a `sleep` job sends.
pub(crate) const SLEEP_STEPS: u64 = 5;

/// How often `sleep` looks at `is_cancelled()` while it sleeps.
const CANCEL_POLL: Duration = Duration::from_millis(20);

/// Largest `blob` the demo returns, in bytes.
pub(crate) const MAX_BLOB_BYTES: u64 = 16 * 1024 * 1024;

/// Which execution kind the non-blocking demo tools (`echo`, `add`, `fail`) use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub(crate) enum DemoHandlers {
    /// Inline on the I/O worker: they never block, so this is the cheap path.
    #[default]
    Inline,
    /// On the blocking worker threads, as a blocking handler would run (for comparisons).
    Worker,
}

impl DemoHandlers {
    /// A handler of this kind from a non-blocking function.
    fn handler(self, f: fn(&Value) -> Result<Value, ToolError>) -> Handler {
        match self {
            Self::Inline => {
                Handler::inline(move |args: Value, _ctx: ToolContext| std::future::ready(f(&args)))
            }
            Self::Worker => Handler::worker(move |args: Value, _ctx: &ToolContext| f(&args)),
        }
    }
}

/// The demo tools, in the order they are registered.
pub(crate) const NAMES: [&str; 6] = ["echo", "add", "fail", "sleep", "block", "blob"];

/// Register `echo`, `add`, `fail`, `sleep`, `block` and `blob`; `kind` is the execution kind of the
/// first three.
pub(crate) fn register(registry: &ToolRegistry, kind: DemoHandlers) -> Result<(), RegistryError> {
    register_only(registry, kind, &NAMES)
}

/// Register the demo tools named in `only` (`--demo-tool NAME`, each one of [`NAMES`]). This is how
/// one binary plays DCC hosts with different tool sets, e.g. in the fleet test.
pub(crate) fn register_only(
    registry: &ToolRegistry,
    kind: DemoHandlers,
    only: &[&str],
) -> Result<(), RegistryError> {
    let wanted = |spec: &ToolSpec| only.contains(&spec.name.as_str());
    let spec = ToolSpec::new("echo")
        .description("Return the `text` argument unchanged.")
        .input_schema(json!({
            "type": "object",
            "properties": {"text": {"type": "string"}},
            "required": ["text"]
        }));
    if wanted(&spec) {
        registry.register_with(spec, kind.handler(echo))?;
    }
    let spec = ToolSpec::new("add")
        .description("Add two numbers `a` and `b`.")
        .input_schema(json!({
            "type": "object",
            "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
            "required": ["a", "b"]
        }));
    if wanted(&spec) {
        registry.register_with(spec, kind.handler(add))?;
    }
    let spec = ToolSpec::new("fail")
        .description("Always fails: returns an error result (isError: true).")
        .input_schema(json!({"type": "object"}));
    if wanted(&spec) {
        registry.register_with(spec, kind.handler(fail))?;
    }
    let spec = ToolSpec::new("sleep")
        .description(
            "Async job: sleep `ms` milliseconds, reporting progress; returns {\"slept_ms\": ms}.",
        )
        .input_schema(json!({
            "type": "object",
            "properties": {"ms": {"type": "integer", "minimum": 0, "maximum": MAX_SLEEP_MS}},
            "required": ["ms"]
        }))
        .execution(Execution::Async);
    if wanted(&spec) {
        registry.register_with_handler(
            spec,
            Arc::new(|args: Value, ctx: &ToolContext| sleep(&args, ctx)),
        )?;
    }
    let spec = ToolSpec::new("block")
            .description("Sync worker tool: block a worker thread for `ms` milliseconds, ignoring cancellation (a runaway handler).")
            .input_schema(json!({
                "type": "object",
                "properties": {"ms": {"type": "integer", "minimum": 0, "maximum": MAX_SLEEP_MS}},
                "required": ["ms"]
            }));
    if wanted(&spec) {
        registry.register_with(
            spec,
            Handler::worker(|args: Value, _ctx: &ToolContext| block(&args)),
        )?;
    }
    let spec = ToolSpec::new("blob")
        .description("Return a text of `bytes` letters x (at most 16 MiB).")
        .input_schema(json!({
            "type": "object",
            "properties": {"bytes": {"type": "integer", "minimum": 0, "maximum": MAX_BLOB_BYTES}},
            "required": ["bytes"]
        }));
    if wanted(&spec) {
        registry.register_with(
            spec,
            Handler::worker(|args: Value, _ctx: &ToolContext| blob(&args)),
        )?;
    }
    Ok(())
}

fn blob(args: &Value) -> Result<Value, ToolError> {
    let bytes = args["bytes"]
        .as_u64()
        .filter(|&bytes| bytes <= MAX_BLOB_BYTES)
        .ok_or_else(|| ToolError::from("bytes must be an integer from 0 to 16777216"))?;
    let len = usize::try_from(bytes).map_err(|_| ToolError::from("bytes is too large"))?;
    Ok(Value::String("x".repeat(len)))
}

fn block(args: &Value) -> Result<Value, ToolError> {
    let ms = args["ms"]
        .as_u64()
        .ok_or_else(|| ToolError::from("ms must be a non-negative integer"))?;
    std::thread::sleep(Duration::from_millis(ms));
    Ok(json!({ "blocked_ms": ms }))
}

fn echo(args: &Value) -> Result<Value, ToolError> {
    Ok(args
        .get("text")
        .cloned()
        .unwrap_or(Value::String(String::new())))
}

fn fail(_args: &Value) -> Result<Value, ToolError> {
    Err(ToolError::from("fail always fails"))
}

fn add(args: &Value) -> Result<Value, ToolError> {
    let (a, b) = (&args["a"], &args["b"]);
    if let (Some(a), Some(b)) = (a.as_i64(), b.as_i64()) {
        if let Some(sum) = a.checked_add(b) {
            return Ok(json!(sum));
        }
    }
    match (a.as_f64(), b.as_f64()) {
        (Some(a), Some(b)) => Ok(json!(a + b)),
        _ => Err(ToolError::from("a and b must be numbers")),
    }
}

fn sleep(args: &Value, ctx: &ToolContext) -> Result<Value, ToolError> {
    let ms = args["ms"]
        .as_u64()
        .ok_or_else(|| ToolError::from("ms must be a non-negative integer"))?;
    let step = Duration::from_millis(ms) / SLEEP_STEPS as u32;
    let total = ms as f64;
    for done in 1..=SLEEP_STEPS {
        let until = std::time::Instant::now() + step;
        loop {
            if ctx.is_cancelled() {
                return Err(ToolError::from("sleep was cancelled"));
            }
            let left = until.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(CANCEL_POLL));
        }
        let progress = total * done as f64 / SLEEP_STEPS as f64;
        ctx.report_progress(
            progress,
            Some(total),
            Some(&format!("slept {progress:.0} of {ms} ms")),
        );
    }
    Ok(json!({ "slept_ms": ms }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_keeps_integers_exact() {
        assert_eq!(add(&json!({"a": 2, "b": 3})).unwrap(), json!(5));
        assert_eq!(add(&json!({"a": 1.5, "b": 2})).unwrap(), json!(3.5));
        assert_eq!(
            add(&json!({"a": i64::MAX, "b": 1})).unwrap(),
            json!(i64::MAX as f64 + 1.0)
        );
    }

    #[test]
    fn demo_tools_register_once() {
        let registry = ToolRegistry::new();
        register(&registry, DemoHandlers::Inline).unwrap();
        let names: Vec<_> = registry.list().into_iter().map(|spec| spec.name).collect();
        assert_eq!(names, ["add", "blob", "block", "echo", "fail", "sleep"]);
        assert!(register(&registry, DemoHandlers::Worker).is_err());
    }

    #[test]
    fn register_only_picks_a_subset() {
        let registry = ToolRegistry::new();
        register_only(&registry, DemoHandlers::Inline, &["sleep", "echo"]).unwrap();
        let names: Vec<_> = registry.list().into_iter().map(|spec| spec.name).collect();
        assert_eq!(names, ["echo", "sleep"]);
    }

    #[test]
    fn blob_has_the_asked_size() {
        assert_eq!(blob(&json!({"bytes": 3})).unwrap(), json!("xxx"));
        assert!(blob(&json!({"bytes": MAX_BLOB_BYTES + 1})).is_err());
    }

    #[test]
    fn sleep_reports_every_step() {
        let ctx = ToolContext::detached("sleep");
        assert_eq!(
            sleep(&json!({"ms": 0}), &ctx).unwrap(),
            json!({"slept_ms": 0})
        );
    }
}
