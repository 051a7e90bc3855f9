//! MCP Streamable HTTP server (work in progress).
