//! Conversions from the loosely typed values Python hands us to the typed values `dcc-mcp-http` wants.
//!
//! Why a separate, pyo3-free module: every check the Python classes perform on an argument lives here,
//! so it is unit-tested with plain `cargo test` (no interpreter to link against), and the Rust test of
//! the "wheel without `prometheus`" path (`tests/metrics_off.rs`) builds its configuration through
//! exactly the functions the Python constructor uses. The error messages are the `ValueError` texts
//! Python users see, so they name the argument and say what is accepted.

use std::time::Duration;

use dcc_mcp_http::{BasicAuth, Execution};

/// A rejected argument value; its text becomes the message of a Python `ValueError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidValue(pub String);

impl std::fmt::Display for InvalidValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidValue {}

/// Cargo features compiled into this build, as the Python package reports them in `FEATURES`.
///
/// Tests use it to pick the behaviour they expect (for example `/metrics` → 404 without
/// `prometheus`); users can check it before relying on an optional capability.
pub const FEATURES: &[&str] = &[
    #[cfg(feature = "python-bindings")]
    "python-bindings",
    #[cfg(feature = "ext-module")]
    "ext-module",
    #[cfg(feature = "workflow")]
    "workflow",
    #[cfg(feature = "prometheus")]
    "prometheus",
];

/// A TCP port: `0` (let the OS choose) through `65535`.
pub fn port(value: i64) -> Result<u16, InvalidValue> {
    u16::try_from(value).map_err(|_| {
        InvalidValue(format!(
            "port must be an integer from 0 to 65535 (0 picks a free port), got {value}"
        ))
    })
}

/// A timeout given in seconds (a Python `float` or `int`): finite and greater than zero.
pub fn seconds(name: &str, value: f64) -> Result<Duration, InvalidValue> {
    if !value.is_finite() || value <= 0.0 {
        return Err(InvalidValue(format!(
            "{name} must be a finite number of seconds greater than 0, got {value}"
        )));
    }
    Duration::try_from_secs_f64(value)
        .map_err(|_| InvalidValue(format!("{name} is too large: {value} seconds")))
}

/// A timeout that may be zero (`McpServerHandle.wait(timeout=0)` only looks): finite and at least 0.
pub fn seconds_or_zero(name: &str, value: f64) -> Result<Duration, InvalidValue> {
    if !value.is_finite() || value < 0.0 {
        return Err(InvalidValue(format!(
            "{name} must be a finite number of seconds, at least 0, got {value}"
        )));
    }
    Duration::try_from_secs_f64(value)
        .map_err(|_| InvalidValue(format!("{name} is too large: {value} seconds")))
}

/// A time budget given in milliseconds (`MainThreadExecutor.pump(budget_ms=…)`): finite and greater
/// than 0.
pub fn milliseconds(name: &str, value: f64) -> Result<Duration, InvalidValue> {
    if !value.is_finite() || value <= 0.0 {
        return Err(InvalidValue(format!(
            "{name} must be a finite number of milliseconds greater than 0, got {value}"
        )));
    }
    Duration::try_from_secs_f64(value / 1000.0)
        .map_err(|_| InvalidValue(format!("{name} is too large: {value} milliseconds")))
}

/// A size or count that must be at least 1 (`max_body_bytes`, `job_queue_capacity`, …).
pub fn positive(name: &str, value: i64) -> Result<usize, InvalidValue> {
    match usize::try_from(value) {
        Ok(v) if v >= 1 => Ok(v),
        _ => Err(InvalidValue(format!(
            "{name} must be an integer of at least 1, got {value}"
        ))),
    }
}

/// `prometheus_basic_auth=(user, password)`: both parts non-empty. (The server's own validation adds
/// that the user name may not contain `:`.)
pub fn basic_auth(username: &str, password: &str) -> Result<BasicAuth, InvalidValue> {
    if username.is_empty() || password.is_empty() {
        return Err(InvalidValue(
            "prometheus_basic_auth must be a (username, password) tuple of two non-empty strings"
                .to_owned(),
        ));
    }
    Ok(BasicAuth {
        username: username.to_owned(),
        password: password.to_owned(),
    })
}

/// `execution="sync"` or `"async"`. (Registering an async tool in a build without the `workflow`
/// feature is refused by the registry, with a message that says so.)
pub fn execution(value: &str) -> Result<Execution, InvalidValue> {
    match value {
        "sync" => Ok(Execution::Sync),
        "async" => Ok(Execution::Async),
        other => Err(InvalidValue(format!(
            "execution must be \"sync\" or \"async\", got {other:?}"
        ))),
    }
}

/// The name Python shows for an [`Execution`].
pub fn execution_name(value: &Execution) -> &'static str {
    match value {
        Execution::Sync => "sync",
        Execution::Async => "async",
    }
}

/// A JSON Schema given as JSON text: it must parse and be a JSON object.
pub fn schema_from_json_text(name: &str, text: &str) -> Result<serde_json::Value, InvalidValue> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| InvalidValue(format!("{name} is not valid JSON: {e}")))?;
    schema_object(name, value)
}

/// A JSON Schema value must be a JSON object (`{"type": "object", …}`).
pub fn schema_object(
    name: &str,
    value: serde_json::Value,
) -> Result<serde_json::Value, InvalidValue> {
    if !value.is_object() {
        return Err(InvalidValue(format!(
            "{name} must be a JSON Schema object (a dict or a JSON string holding an object)"
        )));
    }
    Ok(value)
}

/// Python-style single-quoted `repr` of a string, used by the classes' `__repr__`.
pub fn py_repr_str(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_range() {
        assert_eq!(port(0), Ok(0));
        assert_eq!(port(65535), Ok(65535));
        assert_eq!(
            port(65536).unwrap_err().0,
            "port must be an integer from 0 to 65535 (0 picks a free port), got 65536"
        );
        assert!(port(-1).is_err());
    }

    #[test]
    fn seconds_rejects_non_positive_and_non_finite() {
        assert_eq!(
            seconds("request_timeout", 1.5),
            Ok(Duration::from_millis(1500))
        );
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(seconds("request_timeout", bad).is_err(), "{bad}");
        }
        assert!(seconds("request_timeout", 1e300).is_err());
    }

    #[test]
    fn seconds_or_zero_accepts_zero_only_as_the_lowest_value() {
        assert_eq!(seconds_or_zero("timeout", 0.0), Ok(Duration::ZERO));
        assert_eq!(
            seconds_or_zero("timeout", 0.25),
            Ok(Duration::from_millis(250))
        );
        for bad in [-0.001, -1.0, f64::NAN, f64::INFINITY, 1e300] {
            assert!(seconds_or_zero("timeout", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn milliseconds_rejects_non_positive_and_non_finite() {
        assert_eq!(
            milliseconds("budget_ms", 2.5),
            Ok(Duration::from_micros(2500))
        );
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(milliseconds("budget_ms", bad).is_err(), "{bad}");
        }
        assert_eq!(
            milliseconds("budget_ms", 0.0).unwrap_err().0,
            "budget_ms must be a finite number of milliseconds greater than 0, got 0"
        );
    }

    #[test]
    fn positive_counts() {
        assert_eq!(positive("job_concurrency", 4), Ok(4));
        assert_eq!(
            positive("job_concurrency", 0).unwrap_err().0,
            "job_concurrency must be an integer of at least 1, got 0"
        );
    }

    #[test]
    fn basic_auth_needs_two_non_empty_parts() {
        let auth = basic_auth("scraper", "change-me").unwrap();
        assert_eq!(
            (auth.username.as_str(), auth.password.as_str()),
            ("scraper", "change-me")
        );
        assert!(basic_auth("", "x").is_err());
        assert!(basic_auth("x", "").is_err());
    }

    #[test]
    fn execution_names() {
        assert!(matches!(execution("sync"), Ok(Execution::Sync)));
        assert_eq!(
            execution("later").unwrap_err().0,
            "execution must be \"sync\" or \"async\", got \"later\""
        );
        assert!(matches!(execution("async"), Ok(Execution::Async)));
    }

    #[test]
    fn schemas_must_be_objects() {
        assert!(schema_from_json_text("input_schema", r#"{"type":"object"}"#).is_ok());
        assert!(schema_from_json_text("input_schema", "[1]").is_err());
        assert!(schema_from_json_text("input_schema", "{").is_err());
    }

    #[test]
    fn python_repr_quoting() {
        assert_eq!(py_repr_str("a'b\\c\n"), r"'a\'b\\c\n'");
        assert_eq!(py_repr_str("名前"), "'名前'");
    }
}
