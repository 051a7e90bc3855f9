//! Shared pieces of the `dcc-mcp-benches` package.
//!
//! The criterion benches (`benches/compare.rs`, `benches/scrape.rs`, `benches/recording.rs`) compare
//! the sharded engine against `prometheus`, `metrics` and `prometheus-client` at several thread
//! counts in one run; the binaries measure memory per series (`bench-memory`) and end-to-end
//! throughput of `dcc-mcp-server` (`loadgen`). Everything they share lives here so that each
//! measurement is made the same way: [`runner`] runs an operation on N threads at once and reports
//! the per-thread time, [`fixtures`] builds identical series sets for every library, and [`http1`]
//! is the minimal keep-alive HTTP/1.1 client of the load generator's `/metrics` scraper (its MCP
//! traffic goes through `dcc-mcp-client`).
//!
//! Run everything with `./scripts/bench.sh` (see `docs/benchmarks.md`).

pub mod fixtures;
pub mod http1;
pub mod runner;
