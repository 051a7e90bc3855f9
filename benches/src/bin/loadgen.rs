//! `loadgen`: fixed-concurrency load on an MCP server's `tools/call`, over keep-alive HTTP/1.1.
//!
//! Each of `--connections` connections is one [`McpClient`] (`dcc-mcp-client`, its own pooled
//! keep-alive connection and its own MCP session: `initialize`, then `notifications/initialized`)
//! that sends `tools/call echo` back to back, one request in flight per connection (a closed loop,
//! like `wrk`). The client accepts `application/json, text/event-stream`, so the same generator
//! drives servers that answer JSON and servers that answer each request on a short SSE stream; a
//! server that keeps no sessions (no `Mcp-Session-Id` on `initialize`) is driven without the
//! header. `--era stateless` drives the 2026-07-28 revision instead (no session: `server/discover`,
//! then `_meta` and routing headers on each call). The clients open no `GET` stream (nothing is sent on it during the run). After `--warmup` seconds it measures for
//! `--duration` seconds and prints one JSON line on stdout: requests/s and latency percentiles.
//! With `--scrape-url`, another connection GETs that URL every `--scrape-interval-ms` (what a
//! Prometheus server does, much more often) and the line also reports the scrapes.
//!
//! ```text
//! loadgen --url http://127.0.0.1:8765/mcp --connections 16 --duration 10 \
//!         --scrape-url http://127.0.0.1:8765/metrics --label exporter-scraped
//! ```

use std::io;
use std::time::{Duration, Instant};

use clap::Parser;
use dcc_mcp_benches::http1::{build_request, split_url, Conn};
use dcc_mcp_client::{
    ClientConfig, ClientError, McpClient, ProtocolMode, ProtocolVersion, ResponseFraming,
};
use serde_json::json;

/// Command-line options.
#[derive(Debug, Parser)]
#[command(name = "loadgen", about = "Closed-loop MCP tools/call load generator")]
struct Args {
    /// MCP endpoint.
    #[arg(long, default_value = "http://127.0.0.1:8765/mcp")]
    url: String,
    /// Concurrent keep-alive connections (one MCP session and one request in flight each).
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Unmeasured seconds before measuring.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Tokio worker threads of the generator (1 leaves the most CPU to the server).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Tool to call (its arguments are `{"text": "hello"}`).
    #[arg(long, default_value = "echo")]
    tool: String,
    /// Also GET this URL periodically (e.g. the server's /metrics).
    #[arg(long)]
    scrape_url: Option<String>,
    /// Period of the scraper.
    #[arg(long, default_value_t = 100)]
    scrape_interval_ms: u64,
    /// Name of this run in the JSON output.
    #[arg(long, default_value = "run")]
    label: String,
    /// Protocol era of every connection: `session` (initialize, then a session at 2025-06-18) or
    /// `stateless` (2026-07-28: `server/discover`, no session, `_meta` and routing headers on each
    /// request).
    #[arg(long, default_value = "session", value_parser = ["session", "stateless"])]
    era: String,
    /// Process id of the server (Linux): also report the CPU time it used per request during the
    /// measured window, a cost figure that background load disturbs far less than requests/s.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Make exactly this many calls on each connection, then stop (no warm-up, no time limit; every
    /// call is counted): a fixed request count for instruction counting under `valgrind`.
    /// `--server-pid` still samples the `--duration` window.
    #[arg(long)]
    calls: Option<u64>,
}

/// CPU seconds (user + system, all threads) used so far by process `pid`, from `/proc/PID/stat`
/// (fields 14 and 15, in clock ticks of 1/100 s: Linux' fixed `USER_HZ` on x86 and arm).
fn process_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; fields after it are space-separated.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace().skip(11); // field 3 is rest[0]; utime is field 14
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// The revision every session asks for.
const PROTOCOL_VERSION: ProtocolVersion = ProtocolVersion::V2025_06_18;

/// Latencies and errors of one connection's measured window.
#[derive(Default)]
struct Tally {
    latencies_ns: Vec<u64>,
    errors: u64,
    bytes: u64,
    /// Framing of the last successful response.
    framing: Option<ResponseFraming>,
}

/// Opens a client of `era` on its own pooled connection (a session era client opens no `GET`
/// stream).
async fn open_session(url: &str, era: &str) -> io::Result<McpClient> {
    let mode = match era {
        "stateless" => ProtocolMode::Stateless,
        _ => ProtocolMode::Session(PROTOCOL_VERSION),
    };
    let config = ClientConfig {
        pool_max_idle_per_host: 1,
        ..ClientConfig::new(url).mode(mode).open_stream(false)
    };
    McpClient::connect(config)
        .await
        .map_err(|e| io::Error::other(format!("initialize failed: {e}")))
}

/// One connection's closed loop until `end` (or until `calls` calls were made); records only
/// requests started after `measure_from`.
async fn drive(
    client: McpClient,
    tool: String,
    measure_from: Instant,
    end: Instant,
    calls: Option<u64>,
) -> Tally {
    let mut tally = Tally::default();
    let arguments = json!({"text": "hello"});
    let mut made = 0u64;
    loop {
        let t0 = Instant::now();
        match calls {
            Some(calls) if made >= calls => break,
            Some(_) => made += 1,
            None if t0 >= end => break,
            None => {}
        }
        let result = client.call_tool(&tool, arguments.clone()).await;
        let ok = matches!(&result, Ok(r) if !r.is_error());
        if t0 >= measure_from {
            if ok {
                tally.latencies_ns.push(t0.elapsed().as_nanos() as u64);
                if tally.framing.is_none() {
                    tally.framing = client.last_response_framing();
                }
            } else {
                tally.errors += 1;
            }
        }
        // A broken connection ends this connection's loop, as before.
        if matches!(
            result,
            Err(ClientError::Connection(_) | ClientError::Body(_))
        ) {
            break;
        }
    }
    tally
}

/// GETs `url` every `interval` from `measure_from` until `end`.
async fn scrape(
    url: String,
    interval: Duration,
    measure_from: Instant,
    end: Instant,
) -> io::Result<Tally> {
    let (authority, path) = split_url(&url)?;
    let mut conn = Conn::connect(&authority).await?;
    let request = build_request("GET", &path, &authority, &[], b"");
    tokio::time::sleep_until(measure_from.into()).await;
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tally = Tally::default();
    loop {
        ticker.tick().await;
        let t0 = Instant::now();
        if t0 >= end {
            break;
        }
        let r = conn.round_trip(&request).await?;
        if r.head.status == 200 {
            tally.latencies_ns.push(t0.elapsed().as_nanos() as u64);
            tally.bytes = r.body.len() as u64;
        } else {
            tally.errors += 1;
        }
    }
    Ok(tally)
}

/// The `p`-quantile (0..=1) of sorted values, in microseconds.
fn quantile_us(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64 / 1000.0
}

async fn run(args: Args) -> io::Result<String> {
    let mut sessions = Vec::with_capacity(args.connections);
    for _ in 0..args.connections.max(1) {
        sessions.push(open_session(&args.url, &args.era).await?);
    }
    let started = Instant::now();
    let measure_from = match args.calls {
        Some(_) => started,
        None => started + Duration::from_secs_f64(args.warmup),
    };
    let end = measure_from + Duration::from_secs_f64(args.duration);
    let mut tasks = Vec::new();
    for client in sessions {
        tasks.push(tokio::spawn(drive(
            client,
            args.tool.clone(),
            measure_from,
            end,
            args.calls,
        )));
    }
    let cpu_probe = args.server_pid.map(|pid| {
        tokio::spawn(async move {
            tokio::time::sleep_until(measure_from.into()).await;
            let start = process_cpu_seconds(pid);
            tokio::time::sleep_until(end.into()).await;
            start.zip(process_cpu_seconds(pid)).map(|(a, b)| b - a)
        })
    });
    let scraper = args.scrape_url.clone().map(|url| {
        tokio::spawn(scrape(
            url,
            Duration::from_millis(args.scrape_interval_ms.max(1)),
            measure_from,
            end,
        ))
    });

    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut framing = None;
    for t in tasks {
        let tally = t.await.map_err(io::Error::other)?;
        latencies.extend(tally.latencies_ns);
        errors += tally.errors;
        framing = framing.or(tally.framing);
    }
    latencies.sort_unstable();
    // With a fixed call count the window is however long the calls took.
    let window = match args.calls {
        Some(_) => started.elapsed().as_secs_f64(),
        None => args.duration,
    };
    let scrape_tally = match scraper {
        Some(s) => Some(s.await.map_err(io::Error::other)??),
        None => None,
    };
    let server_cpu = match cpu_probe {
        Some(p) => p.await.map_err(io::Error::other)?,
        None => None,
    };
    let requests = latencies.len();
    let mut line = format!(
        concat!(
            r#"{{"label":"{}","connections":{},"duration_s":{},"requests":{},"errors":{},"#,
            r#""rps":{:.1},"p50_us":{:.1},"p90_us":{:.1},"p99_us":{:.1},"max_us":{:.1}"#
        ),
        args.label,
        args.connections,
        window,
        requests,
        errors,
        requests as f64 / window,
        quantile_us(&latencies, 0.50),
        quantile_us(&latencies, 0.90),
        quantile_us(&latencies, 0.99),
        quantile_us(&latencies, 1.0),
    );
    if let Some(framing) = framing {
        let media = match framing {
            ResponseFraming::Json => "application/json",
            ResponseFraming::EventStream => "text/event-stream",
        };
        line.push_str(&format!(r#","response_type":"{media}""#));
    }
    if let Some(cpu) = server_cpu {
        line.push_str(&format!(
            r#","server_cpu_s":{cpu:.2},"server_cpu_us_per_req":{:.2}"#,
            cpu * 1e6 / requests.max(1) as f64
        ));
    }
    if let Some(mut s) = scrape_tally {
        s.latencies_ns.sort_unstable();
        line.push_str(&format!(
            r#","scrapes":{},"scrape_errors":{},"scrape_p50_us":{:.1},"scrape_p99_us":{:.1},"scrape_bytes":{}"#,
            s.latencies_ns.len(),
            s.errors,
            quantile_us(&s.latencies_ns, 0.50),
            quantile_us(&s.latencies_ns, 0.99),
            s.bytes
        ));
    }
    line.push('}');
    Ok(line)
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let runtime = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    };
    let result = runtime.and_then(|rt| rt.block_on(run(args)));
    match result {
        Ok(line) => {
            println!("{line}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_cpu_time_is_readable() {
        let spent = process_cpu_seconds(std::process::id()).unwrap();
        assert!(spent >= 0.0);
        assert_eq!(process_cpu_seconds(u32::MAX), None);
    }

    #[test]
    fn quantiles_use_nearest_rank() {
        let v: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(quantile_us(&v, 0.5), 50.0);
        assert_eq!(quantile_us(&v, 0.99), 99.0);
        assert_eq!(quantile_us(&v, 1.0), 100.0);
        assert_eq!(quantile_us(&[], 0.5), 0.0);
    }
}
