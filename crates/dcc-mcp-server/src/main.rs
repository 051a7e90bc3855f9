//! `dcc-mcp-server` (work in progress).
fn main() {}
