"""``McpHttpConfig.bearer_tokens`` from Python: validated like the Rust field, hidden in ``repr``, and
enforced by a server started from Python (``401`` without the token, ``200`` with it)."""

from __future__ import annotations

import httpx
import pytest

from dcc_mcp_core import McpHttpConfig, McpHttpServer, ToolRegistry

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def test_field_round_trips_and_is_redacted() -> None:
    cfg = McpHttpConfig(port=0, bearer_tokens=["tok-1", "tok-2"])
    assert cfg.bearer_tokens == ["tok-1", "tok-2"]
    assert "bearer_tokens=<2 redacted>" in repr(cfg)
    assert "tok-1" not in repr(cfg)
    assert McpHttpConfig().bearer_tokens == []
    with pytest.raises(ValueError, match="bearer token #1"):
        cfg.bearer_tokens = ["ok", "has space"]
    assert cfg.bearer_tokens == ["tok-1", "tok-2"]
    with pytest.raises(ValueError, match="bearer token #0"):
        McpHttpConfig(bearer_tokens=[""])


def test_server_from_python_requires_the_token() -> None:
    server = McpHttpServer(ToolRegistry(), McpHttpConfig(port=0, bearer_tokens=["py-token"]))
    with server.start() as handle:
        url = handle.mcp_url()
        missing = httpx.post(url, json=INITIALIZE, headers=HEADERS, timeout=30)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == 'Bearer realm="dcc-mcp"'
        good = httpx.post(url, json=INITIALIZE, headers={**HEADERS, "Authorization": "Bearer py-token"}, timeout=30)
        assert good.status_code == 200
