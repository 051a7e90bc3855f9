//! `dcc-mcp-server`: serve MCP tools over Streamable HTTP (and, with `--prometheus`, metrics at
//! `/metrics`) from the command line. With `--demo-tools` it serves `echo`, `add`, `fail`, `sleep` and `block`,
//! which is how the end-to-end tests and the benchmarks drive the server.

mod demo;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use dcc_mcp_http::{BasicAuth, McpHttpConfig, McpHttpServer, ToolRegistry};

/// Command-line options.
#[derive(Debug, Parser)]
#[command(
    name = "dcc-mcp-server",
    version,
    about = "MCP Streamable HTTP server for DCC tools"
)]
struct Cli {
    /// Interface to bind (loopback by default; use 0.0.0.0 to accept remote clients).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// TCP port (0 picks a free port; the URL is printed on start).
    #[arg(long, default_value_t = 8765)]
    port: u16,
    /// Server name reported to clients.
    #[arg(long, default_value = "dcc-mcp")]
    server_name: String,
    /// Serve the demo tools echo, add, fail, sleep and block.
    #[arg(long)]
    demo_tools: bool,
    /// Execution kind of the non-blocking demo tools (echo, add, fail): `inline` runs them on the
    /// I/O worker, `worker` on the blocking worker threads (to compare the two paths).
    #[arg(long, value_enum, default_value_t = demo::DemoHandlers::Inline, requires = "demo_tools")]
    demo_handlers: demo::DemoHandlers,
    /// Deadline of one synchronous tool call, in milliseconds.
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    request_timeout_ms: Option<u64>,
    /// Most blocking (worker) handlers of sync calls running at once.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    sync_concurrency: Option<u64>,
    /// How long a sync call waits for a free worker before "server busy", in milliseconds.
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    sync_queue_wait_ms: Option<u64>,
    /// Additional allowed Origin (repeatable); `*` allows any.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    allowed_origins: Vec<String>,
    /// Serve Prometheus metrics at GET /metrics.
    #[arg(long)]
    prometheus: bool,
    /// Protect /metrics with HTTP Basic auth, given as USER:PASS (prefer --metrics-basic-auth-file).
    #[arg(
        long,
        value_name = "USER:PASS",
        conflicts_with = "metrics_basic_auth_file",
        requires = "prometheus"
    )]
    metrics_basic_auth: Option<String>,
    /// Read the /metrics Basic-auth USER:PASS from this file (first line).
    #[arg(long, value_name = "PATH", requires = "prometheus")]
    metrics_basic_auth_file: Option<PathBuf>,
}

fn parse_credentials(text: &str) -> Result<BasicAuth, String> {
    let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
    match line.split_once(':') {
        Some((user, pass)) if !user.is_empty() && !pass.is_empty() => {
            Ok(BasicAuth::new(user, pass))
        }
        _ => Err("Basic-auth credentials must look like USER:PASS (both non-empty)".to_owned()),
    }
}

fn config_from(cli: &Cli) -> Result<McpHttpConfig, String> {
    let prometheus_basic_auth = match (&cli.metrics_basic_auth, &cli.metrics_basic_auth_file) {
        (Some(inline), _) => Some(parse_credentials(inline)?),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
            Some(parse_credentials(&text)?)
        }
        (None, None) => None,
    };
    let defaults = McpHttpConfig::default();
    let millis = |ms: Option<u64>, default| ms.map_or(default, Duration::from_millis);
    Ok(McpHttpConfig {
        request_timeout: millis(cli.request_timeout_ms, defaults.request_timeout),
        sync_concurrency: cli.sync_concurrency.map_or(defaults.sync_concurrency, |n| {
            usize::try_from(n).unwrap_or(usize::MAX)
        }),
        sync_queue_wait: millis(cli.sync_queue_wait_ms, defaults.sync_queue_wait),
        host: cli.host.clone(),
        port: cli.port,
        server_name: cli.server_name.clone(),
        allowed_origins: cli.allowed_origins.clone(),
        enable_prometheus: cli.prometheus,
        prometheus_basic_auth,
        ..defaults
    })
}

/// Print a status line; a closed stdout (the parent went away) must not abort a graceful shutdown.
fn say(line: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

/// Resolves on Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let config = config_from(&cli)?;
    let registry = ToolRegistry::new();
    if cli.demo_tools {
        demo::register(&registry, cli.demo_handlers).map_err(|error| error.to_string())?;
    }
    let server = McpHttpServer::new(registry, config).map_err(|error| error.to_string())?;
    let handle = server.start().map_err(|error| error.to_string())?;
    say(&format!("dcc-mcp-server listening on {}", handle.mcp_url()));
    if cli.prometheus && cfg!(feature = "prometheus") {
        say(&format!("metrics at {}", handle.metrics_url()));
    } else if cli.prometheus {
        tracing::warn!("built without the `prometheus` feature: GET /metrics answers 404");
    }
    let signals = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot set up signal handling: {error}"))?;
    signals.block_on(shutdown_signal());
    tracing::info!("shutting down");
    handle.shutdown().map_err(|error| error.to_string())?;
    say("dcc-mcp-server stopped");
    Ok(())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("dcc-mcp-server: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_parse() {
        let auth = parse_credentials("scraper:pa:ss\n").unwrap();
        assert_eq!(
            (auth.username.as_str(), auth.password.as_str()),
            ("scraper", "pa:ss")
        );
        assert!(parse_credentials("nocolon").is_err());
        assert!(parse_credentials(":pass").is_err());
    }

    #[test]
    fn cli_maps_to_config() {
        let cli = Cli::parse_from([
            "dcc-mcp-server",
            "--port",
            "0",
            "--server-name",
            "maya",
            "--prometheus",
            "--metrics-basic-auth",
            "u:p",
        ]);
        let config = config_from(&cli).unwrap();
        assert_eq!(config.port, 0);
        assert_eq!(config.server_name, "maya");
        assert!(config.enable_prometheus);
        assert_eq!(config.prometheus_basic_auth, Some(BasicAuth::new("u", "p")));
    }
}
