//! Namespacing: a backend `maya-01`'s tool `create_sphere` is `maya-01__create_sphere` at the
//! gateway (the convention of the DCC gateways users already know), and backend names are checked
//! so that the split is never ambiguous and a name is safe as a metric label and a URL segment.

/// Separator between the backend name and the tool name.
pub const SEPARATOR: &str = "__";

/// Longest backend name, in bytes.
pub const MAX_BACKEND_NAME: usize = 64;

/// Why a backend name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty or longer than [`MAX_BACKEND_NAME`].
    #[error("backend name {0:?} must be 1..=64 characters")]
    Length(String),
    /// A character other than ASCII letters, digits, `-`, `_` and `.`.
    #[error("backend name {0:?} may only hold ASCII letters, digits, '-', '_' and '.'")]
    Character(String),
    /// Holds the separator `__` (the split would be ambiguous) or ends with `_`.
    #[error("backend name {0:?} must not contain \"__\" or end with '_'")]
    Separator(String),
}

/// Check a backend name.
pub fn check_backend_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() || name.len() > MAX_BACKEND_NAME {
        return Err(NameError::Length(name.to_owned()));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(NameError::Character(name.to_owned()));
    }
    if name.contains(SEPARATOR) || name.ends_with('_') {
        return Err(NameError::Separator(name.to_owned()));
    }
    Ok(())
}

/// The gateway's name of `backend`'s tool `tool`.
pub fn namespaced(backend: &str, tool: &str) -> String {
    format!("{backend}{SEPARATOR}{tool}")
}

/// Split a gateway tool name into `(backend, tool)` at the first separator (backend names hold none).
pub fn split(name: &str) -> Option<(&str, &str)> {
    name.split_once(SEPARATOR)
        .filter(|(backend, tool)| !backend.is_empty() && !tool.is_empty())
}

/// Scheme of the gateway's resource URIs: `mcp-gateway://BACKEND/ORIGINAL-URI`.
pub const URI_SCHEME: &str = "mcp-gateway";

/// The gateway's URI (or URI template) of `backend`'s resource `uri`.
pub fn namespaced_uri(backend: &str, uri: &str) -> String {
    format!("{URI_SCHEME}://{backend}/{uri}")
}

/// Split a gateway resource URI into `(backend, original URI)`.
pub fn split_uri(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix(URI_SCHEME)?.strip_prefix("://")?;
    rest.split_once('/')
        .filter(|(backend, original)| !backend.is_empty() && !original.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bad_names_are_refused() {
        assert_eq!(namespaced("a", "echo"), "a__echo");
        assert_eq!(split("maya-01__my__tool"), Some(("maya-01", "my__tool")));
        assert_eq!(split("__tool"), None);
        assert_eq!(split("echo"), None);
        assert!(check_backend_name("maya-01.studio").is_ok());
        assert_eq!(
            check_backend_name("a__b"),
            Err(NameError::Separator("a__b".into()))
        );
        assert_eq!(
            check_backend_name("a_"),
            Err(NameError::Separator("a_".into()))
        );
        assert_eq!(
            check_backend_name("a/b"),
            Err(NameError::Character("a/b".into()))
        );
        assert_eq!(
            check_backend_name(""),
            Err(NameError::Length(String::new()))
        );
        assert!(check_backend_name(&"x".repeat(65)).is_err());
        assert_eq!(
            namespaced_uri("maya-01", "test://a/b"),
            "mcp-gateway://maya-01/test://a/b"
        );
        assert_eq!(
            split_uri("mcp-gateway://maya-01/test://a/b"),
            Some(("maya-01", "test://a/b"))
        );
        assert_eq!(split_uri("mcp-gateway://maya-01/"), None);
        assert_eq!(split_uri("test://a"), None);
    }
}
