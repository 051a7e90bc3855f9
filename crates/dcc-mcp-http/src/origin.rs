//! `Origin` validation against DNS-rebinding attacks: a browser page on a foreign site must not be able
//! to drive a server bound to localhost.

use crate::config::McpHttpConfig;

/// True when a request carrying this `Origin` header may proceed.
pub(crate) fn origin_allowed(config: &McpHttpConfig, origin: &str) -> bool {
    let origin = origin.trim().trim_end_matches('/');
    if config
        .allowed_origins
        .iter()
        .any(|allowed| allowed == "*" || allowed.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return true;
    }
    config.binds_loopback() && is_localhost_origin(origin)
}

fn is_localhost_origin(origin: &str) -> bool {
    let lower = origin.to_ascii_lowercase();
    let Some(rest) = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"))
    else {
        return false;
    };
    let host = if let Some(v6) = rest.strip_prefix('[') {
        match v6.split_once(']') {
            Some((host, port)) if port.is_empty() || valid_port(port) => host,
            _ => return false,
        }
    } else {
        match rest.split_once(':') {
            Some((host, port)) if valid_port(&format!(":{port}")) => host,
            Some(_) => return false,
            None => rest,
        }
    };
    matches!(host, "localhost" | "127.0.0.1" | "::1")
}

fn valid_port(port_with_colon: &str) -> bool {
    port_with_colon
        .strip_prefix(':')
        .is_some_and(|port| !port.is_empty() && port.parse::<u16>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_origins_allowed_on_loopback() {
        let config = McpHttpConfig::default();
        for origin in [
            "http://localhost",
            "http://localhost:3000",
            "https://127.0.0.1:8765/",
            "http://[::1]:80",
        ] {
            assert!(origin_allowed(&config, origin), "{origin}");
        }
        for origin in [
            "http://evil.example",
            "http://localhost.evil.example",
            "http://127.0.0.1.evil:80",
            "null",
            "file://",
            "http://localhost:notaport",
        ] {
            assert!(!origin_allowed(&config, origin), "{origin}");
        }
    }

    #[test]
    fn configured_origins_and_wildcard() {
        let config = McpHttpConfig {
            host: "0.0.0.0".into(),
            allowed_origins: vec!["https://studio.example".into()],
            ..Default::default()
        };
        assert!(origin_allowed(&config, "https://studio.example"));
        assert!(!origin_allowed(&config, "http://localhost:3000"));
        let config = McpHttpConfig {
            allowed_origins: vec!["*".into()],
            ..Default::default()
        };
        assert!(origin_allowed(&config, "http://anything.example"));
    }
}
