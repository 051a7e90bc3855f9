//! Loom models of the sharded metrics engine live in `tests/models.rs`; they only build with
//! `RUSTFLAGS="--cfg dcc_mcp_loom"`, which switches `dcc-mcp-telemetry`'s `sync` shim onto loom.
//! See `README.md` for the preemption bound and run time.
