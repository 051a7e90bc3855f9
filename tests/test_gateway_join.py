"""A Python-served plug-in joins a gateway through ``McpHttpConfig(gateway_registry_dir=…)``.

The plug-in binds ``port=0``; once bound, its real URL is in the directory, the gateway lists its
tool as ``NAME__tool`` and proxies calls to it with the exact result; ``shutdown()`` removes the
entry and the tool leaves the gateway. Bad names are refused when the configuration is built.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from dcc_mcp_core import McpHttpConfig, McpHttpServer, ToolRegistry
from test_gateway import _session, free_port, names, run, spawn, stop, text, wait_until


def test_a_python_plugin_on_port_0_joins_the_gateway_and_leaves_at_shutdown(tmp_path: Path) -> None:
    registry_dir = tmp_path / "registry"
    port = free_port()
    gateway = spawn("--gateway", "--port", str(port), "--registry-dir", str(registry_dir))
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        config = McpHttpConfig(port=0, server_name="maya-py", gateway_registry_dir=registry_dir,
                               gateway_dcc_type="maya")
        assert (config.gateway_registry_dir, config.gateway_instance_name, config.gateway_dcc_type) == (
            str(registry_dir), None, "maya")
        server = McpHttpServer(ToolRegistry(), config)

        @server.tool()
        def shout(text: str) -> str:
            """Upper-case the text."""
            return text.upper()

        handle = server.start()
        entry = json.loads((registry_dir / "maya-py.json").read_text(encoding="utf-8"))
        assert handle.port != 0
        assert (entry["name"], entry["dcc_type"], entry["url"]) == ("maya-py", "maya", handle.mcp_url())

        wait_until("maya-py__shout listed", lambda: "maya-py__shout" in names(url))

        async def call(client: Any) -> Any:
            return await client.call_tool("maya-py__shout", {"text": "joined"})

        result = run(_session(url, call))
        assert (text(result), bool(result.is_error)) == ("JOINED", False)
        instances = httpx.get(f"http://127.0.0.1:{port}/instances").json()["instances"]
        assert [(i["name"], i["dcc_type"], i["state"]) for i in instances] == [("maya-py", "maya", "up")]

        handle.shutdown()
        assert not (registry_dir / "maya-py.json").exists()
        wait_until("maya-py__shout gone", lambda: "maya-py__shout" not in names(url))
    finally:
        stop(gateway)


def test_a_name_that_cannot_namespace_tools_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="gateway_instance_name"):
        McpHttpConfig(gateway_registry_dir=tmp_path, gateway_instance_name="a__b")
    with pytest.raises(ValueError, match="gateway_instance_name"):
        McpHttpConfig(gateway_registry_dir=str(tmp_path), server_name="has space")
    # Without a directory the names are not checked (the server joins nothing).
    assert McpHttpConfig(server_name="has space").gateway_registry_dir is None
