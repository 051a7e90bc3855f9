//! Compiling a tool's JSON Schema so that validating a client's arguments takes linear time.
//!
//! `jsonschema` runs `pattern` and `patternProperties` with `fancy-regex` by default, a backtracking
//! engine: a schema such as `{"pattern": "^(?=(a+)+$)"}` (a look-around over nested quantifiers)
//! costs exponential time on a string of `a`s ending in `b`, and that validation runs on the I/O
//! worker of the request. We choose linear time over a deadline: schemas are compiled with the
//! `regex` crate (finite automata, time linear in the input, no backtracking), so no argument can
//! stall a worker, and nothing needs a timer or a thread. The price is that patterns needing
//! look-around or backreferences do not compile: registering such a tool fails with
//! `RegistryError::InvalidSchema` naming the pattern, at registration, never at call time.
//!
//! Each compiled pattern is also held to [`PATTERN_SIZE_LIMIT`] bytes, so a registered schema
//! cannot make one automaton take unbounded memory.

use jsonschema::{PatternOptions, ValidationError, Validator};
use serde_json::Value;

/// Largest compiled size of one `pattern` (the `regex` crate's `size_limit`): 1 MiB, far above any
/// pattern a tool schema needs (`^[a-z]{1,64}$` compiles to a few KiB).
pub(crate) const PATTERN_SIZE_LIMIT: usize = 1024 * 1024;

/// Compile `schema` with linear-time patterns (see the module docs).
pub(crate) fn compile(schema: &Value) -> Result<Validator, ValidationError<'static>> {
    jsonschema::options()
        .with_pattern_options(PatternOptions::regex().size_limit(PATTERN_SIZE_LIMIT))
        .build(schema)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn string_schema(pattern: &str) -> Value {
        json!({"type": "object", "properties": {"s": {"type": "string", "pattern": pattern}}})
    }

    #[test]
    fn nested_quantifiers_validate_in_linear_time_with_the_exact_answer() {
        // Catastrophic for a backtracking engine: 2^n ways to split the a's before the final b.
        let validator = compile(&string_schema("^(a|aa)+$")).ok();
        let Some(validator) = validator else {
            panic!("the pattern compiles with the regex crate");
        };
        let evil = format!("{}b", "a".repeat(100_000));
        assert!(!validator.is_valid(&json!({ "s": evil })));
        assert!(validator.is_valid(&json!({ "s": "a".repeat(100_000) })));
    }

    #[test]
    fn look_around_and_backreferences_are_refused_at_compile_time() {
        for pattern in ["^(?=(a+)+$)", "^(?!b)a+$", "^(a+)\\1$"] {
            let error = compile(&string_schema(pattern)).err();
            assert!(error.is_some(), "{pattern} must not compile");
        }
    }

    #[test]
    fn ordinary_patterns_keep_their_ecma_meaning() {
        let validator = compile(&string_schema("^\\d{3}-[a-z]+$")).ok();
        let Some(validator) = validator else {
            panic!("an ordinary pattern compiles");
        };
        assert!(validator.is_valid(&json!({"s": "123-abc"})));
        assert!(!validator.is_valid(&json!({"s": "12-abc"})));
        assert!(!validator.is_valid(&json!({"s": "123-ABC"})));
    }

    #[test]
    fn a_pattern_past_the_size_limit_is_refused() {
        let error = compile(&string_schema("^(\\w{1000}){1000}$")).err();
        assert!(error.is_some());
    }
}
