//! `Origin` validation against DNS-rebinding attacks: a browser page on a foreign site must not be able
//! to drive a server bound to localhost.

use axum::http::{header, HeaderMap};

use crate::config::McpHttpConfig;

/// The DNS-rebinding rule of every endpoint (`/mcp` and `/metrics`): the `Origin` header, when
/// present, must be allowed, and so must the `Host` header. A page whose name was rebound to
/// 127.0.0.1 reads a same-origin `GET` without sending `Origin`, but its `Host` still names the
/// foreign site. `Err` holds the message of the `403`.
pub(crate) fn check_host_and_origin(
    config: &McpHttpConfig,
    headers: &HeaderMap,
) -> Result<(), &'static str> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        match origin.to_str() {
            Ok(origin) if origin_allowed(config, origin) => {}
            _ => return Err("Forbidden: Origin not allowed (add it to allowed_origins)"),
        }
    }
    if let Some(host) = headers.get(header::HOST) {
        match host.to_str() {
            Ok(host) if host_allowed(config, host) => {}
            _ => return Err("Forbidden: Host not allowed (add its origin to allowed_origins)"),
        }
    }
    Ok(())
}

/// The DNS-rebinding rule of `/metrics`: [`check_host_and_origin`] on a loopback bind, and on every
/// other bind too, with a `Host` rule of its own ([`metrics_host_allowed`]). A page on a foreign
/// site whose name was rebound to the server's LAN address reads a same-origin `GET /metrics`
/// without sending `Origin`; its `Host` still names the foreign site, so it is refused.
#[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
pub(crate) fn check_metrics_host_and_origin(
    config: &McpHttpConfig,
    headers: &HeaderMap,
) -> Result<(), &'static str> {
    check_host_and_origin(config, headers)?;
    if let Some(host) = headers.get(header::HOST) {
        match host.to_str() {
            Ok(host) if metrics_host_allowed(config, host) => {}
            _ => {
                return Err(
                    "Forbidden: Host not allowed for /metrics (scrape by IP address, or \
                     add http://NAME:PORT to allowed_origins)",
                )
            }
        }
    }
    Ok(())
}

/// True when `/metrics` may answer a request carrying this `Host` header, on any bind: an IP
/// literal (DNS rebinding needs a name), a loopback name, the configured bind host, or the host of
/// an entry of `allowed_origins` (`*` allows all).
#[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
pub(crate) fn metrics_host_allowed(config: &McpHttpConfig, host: &str) -> bool {
    let host = host.trim();
    if host_is_ip_literal(host) || is_localhost_origin(&format!("http://{host}")) {
        return true;
    }
    let name = strip_port(host);
    let port = &host[name.len()..];
    let bind = config.host.trim();
    if !bind.is_empty() && bind.eq_ignore_ascii_case(name) && (port.is_empty() || valid_port(port))
    {
        return true;
    }
    config.allowed_origins.iter().any(|allowed| {
        allowed == "*"
            || allowed
                .trim_end_matches('/')
                .split_once("://")
                .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
    })
}

/// `host` without its `:port` (an IPv6 literal keeps its brackets).
#[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split_once(']')
            .map_or(host, |(v6, _)| &host[..=v6.len()]);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

/// An IPv4 literal with an optional port, or a bracketed IPv6 literal with an optional port.
#[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
fn host_is_ip_literal(host: &str) -> bool {
    if let Some(rest) = host.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((v6, port)) => {
                v6.parse::<std::net::Ipv6Addr>().is_ok() && (port.is_empty() || valid_port(port))
            }
            None => false,
        };
    }
    let (ip, port) = match host.split_once(':') {
        Some((ip, port)) => (ip, Some(port)),
        None => (host, None),
    };
    ip.parse::<std::net::Ipv4Addr>().is_ok()
        && port.is_none_or(|port| valid_port(&format!(":{port}")))
}

/// True when a request carrying this `Host` header may proceed. On a loopback bind only loopback
/// names (any port) and the hosts of `allowed_origins` pass; on other binds every host passes (the
/// server cannot know the names it is reached by, and rebinding targets loopback services).
pub(crate) fn host_allowed(config: &McpHttpConfig, host: &str) -> bool {
    if !config.binds_loopback() {
        return true;
    }
    let host = host.trim();
    if is_localhost_origin(&format!("http://{host}")) {
        return true;
    }
    config.allowed_origins.iter().any(|allowed| {
        allowed == "*"
            || allowed
                .trim_end_matches('/')
                .split_once("://")
                .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
    })
}

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
    fn hosts_on_loopback() {
        let config = McpHttpConfig::default();
        for host in ["127.0.0.1:8765", "localhost", "[::1]:80", "LOCALHOST:1"] {
            assert!(host_allowed(&config, host), "{host}");
        }
        for host in ["evil.example", "evil.example:8765", "127.0.0.1.evil:80", ""] {
            assert!(!host_allowed(&config, host), "{host}");
        }
        let config = McpHttpConfig {
            allowed_origins: vec!["https://studio.example:8443".into()],
            ..Default::default()
        };
        assert!(host_allowed(&config, "studio.example:8443"));
        assert!(!host_allowed(&config, "studio.example"));
        let config = McpHttpConfig {
            host: "0.0.0.0".into(),
            ..Default::default()
        };
        assert!(host_allowed(&config, "anything.example"));
    }

    #[test]
    fn metrics_hosts_on_every_bind() {
        for bind in ["127.0.0.1", "0.0.0.0", "10.0.0.5"] {
            let config = McpHttpConfig {
                host: bind.into(),
                ..Default::default()
            };
            for host in [
                "10.0.0.5:8765",
                "127.0.0.1",
                "[::1]:80",
                "[fe80::1]",
                "localhost:1",
            ] {
                assert!(metrics_host_allowed(&config, host), "{bind} {host}");
            }
            for host in [
                "evil.example",
                "evil.example:8765",
                "10.0.0.5.evil:80",
                "10.0.0.5:notaport",
                "[::1",
                "",
            ] {
                assert!(!metrics_host_allowed(&config, host), "{bind} {host}");
            }
        }
        let config = McpHttpConfig {
            host: "houdini-01".into(),
            allowed_origins: vec!["http://prometheus.studio:9090".into()],
            ..Default::default()
        };
        assert!(metrics_host_allowed(&config, "houdini-01:8765"));
        assert!(metrics_host_allowed(&config, "prometheus.studio:9090"));
        assert!(!metrics_host_allowed(&config, "prometheus.studio"));
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
