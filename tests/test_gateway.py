"""The gateway (``dcc-mcp-server --gateway``) in front of two real ``dcc-mcp-server`` backends, seen
through the official MCP Python client.

* ``a`` serves ``echo`` and ``add``, ``b`` serves ``add`` and ``fail``; the gateway lists them as
  ``a__echo``, ``a__add``, ``b__add``, ``b__fail`` and the client gets the backends' exact results;
* after known traffic the gateway's ``dcc_mcp_tool_calls_total`` of ``NAME__tool`` equals the
  backend's count of ``tool``, and ``dcc_mcp_gateway_backend_requests_total`` counts the same calls;
* ``b`` killed with SIGKILL leaves ``tools/list`` and ``dcc_mcp_gateway_backend_up{backend="b"}``
  drops to 0;
* a third server started with ``--registry-dir DIR --port 0`` joins through the discovery
  directory (its tools appear as ``c__echo``, ``/instances`` shows its DCC type and pid) and leaves
  when it stops (its entry is removed).

Self-contained (no conftest helpers), so it also runs with ``pytest --noconftest`` against a venv
that has only ``mcp`` and ``httpx``.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, List

import httpx
import pytest

from gateway_processes import (
    HANG_GUARD_SECONDS,
    SERVER_BIN,
    free_port,
    needs_server_binary,
    run,
    sample,
    spawn,
    stop,
    wait_until,
)

pytestmark = needs_server_binary


async def _session(url: str, body: Any) -> Any:
    from mcp import Client

    async with Client(url, mode="auto", read_timeout_seconds=HANG_GUARD_SECONDS) as client:
        return await body(client)


def names(url: str) -> List[str]:
    async def body(client: Any) -> List[str]:
        return [t.name for t in (await client.list_tools()).tools]

    return run(_session(url, body))


def text(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


@pytest.fixture
def fleet(tmp_path: Path):
    ports = {"a": free_port(), "b": free_port(), "gw": free_port()}
    procs: Dict[str, subprocess.Popen] = {}
    try:
        procs["a"] = spawn("--port", str(ports["a"]), "--demo-tool", "echo", "--demo-tool", "add")
        procs["b"] = spawn("--port", str(ports["b"]), "--demo-tool", "add", "--demo-tool", "fail")
        procs["gw"] = spawn(
            "--gateway",
            "--port",
            str(ports["gw"]),
            "--backend",
            f"a=http://127.0.0.1:{ports['a']}/mcp",
            "--backend",
            f"b=http://127.0.0.1:{ports['b']}/mcp",
            "--registry-dir",
            str(tmp_path / "registry"),
        )
        health = f"http://127.0.0.1:{ports['gw']}/health"
        wait_until("both backends up", lambda: httpx.get(health).json()["backends_up"] == 2)
        yield ports, procs, tmp_path / "registry"
    finally:
        for proc in procs.values():
            stop(proc)


def test_official_client_through_the_gateway_exact_results_counts_and_a_killed_backend(fleet):
    ports, procs, registry = fleet
    url = f"http://127.0.0.1:{ports['gw']}/mcp"
    proxied = [n for n in names(url) if "__" in n and "__jobs." not in n]
    assert proxied == ["a__add", "a__echo", "b__add", "b__fail"]

    async def traffic(client: Any) -> List[Any]:
        results = [await client.call_tool("a__echo", {"text": f"hello {i}"}) for i in range(3)]
        results.append(await client.call_tool("a__add", {"a": 2, "b": 40}))
        results.append(await client.call_tool("b__add", {"a": 1.5, "b": 2}))
        results.append(await client.call_tool("b__fail", {}))
        results.append(await client.call_tool("b__fail", {}))
        return results

    results = run(_session(url, traffic))
    assert [text(r) for r in results] == [
        "hello 0",
        "hello 1",
        "hello 2",
        "42",
        "3.5",
        "fail always fails",
        "fail always fails",
    ]
    assert [bool(r.is_error) for r in results] == [False] * 5 + [True] * 2

    calls = 'dcc_mcp_tool_calls_total{{status="{}",tool="{}"}}'
    for backend, tool, status, count in [
        ("a", "echo", "success", 3),
        ("a", "add", "success", 1),
        ("b", "add", "success", 1),
        ("b", "fail", "error", 2),
    ]:
        assert sample(ports["gw"], calls.format(status, f"{backend}__{tool}")) == count
        assert sample(ports[backend], calls.format(status, tool)) == count
    requests = 'dcc_mcp_gateway_backend_requests_total{{backend="{}",status="{}"}}'
    assert sample(ports["gw"], requests.format("a", "success")) == 4
    assert sample(ports["gw"], requests.format("b", "success")) == 1
    assert sample(ports["gw"], requests.format("b", "error")) == 2
    assert sample(ports["gw"], 'dcc_mcp_gateway_backend_up{backend="b"}') == 1

    procs["b"].send_signal(signal.SIGKILL)
    procs["b"].wait(timeout=5)
    killed = time.monotonic()
    wait_until("b's tools to leave tools/list", lambda: not any(n.startswith("b__") for n in names(url)))
    print(f"killed backend left tools/list after {time.monotonic() - killed:.2f} s")
    assert sample(ports["gw"], 'dcc_mcp_gateway_backend_up{backend="b"}') == 0
    # The gauges are set just after the tools leave.
    wait_until("backends{state=down} == 1",
               lambda: sample(ports["gw"], 'dcc_mcp_gateway_backends{state="down"}') == 1)
    assert [n for n in names(url) if "__" in n and "__jobs." not in n] == ["a__add", "a__echo"]
    instances = httpx.get(f"http://127.0.0.1:{ports['gw']}/instances").json()["instances"]
    assert [(i["name"], i["state"]) for i in instances] == [("a", "up"), ("b", "down")]

    # A host joins through the discovery directory on an ephemeral port, then leaves.
    joined = spawn("--port", "0", "--demo-tool", "echo", "--registry-dir", str(registry),
                   "--instance-name", "c", "--dcc-type", "maya")
    try:
        wait_until("c to join", lambda: "c__echo" in names(url))
        # Its state turns "up" just after its tools are registered.
        entry = wait_until("c up in /instances", lambda: next(
            (i for i in httpx.get(f"http://127.0.0.1:{ports['gw']}/instances").json()["instances"]
             if i["name"] == "c" and i["state"] == "up"), None))
        assert (entry["source"], entry["dcc_type"], entry["pid"], entry["state"]) == (
            "registry", "maya", joined.pid, "up")

        async def call_c(client: Any) -> Any:
            return await client.call_tool("c__echo", {"text": "joined"})

        assert text(run(_session(url, call_c))) == "joined"
    finally:
        stop(joined)
    assert not (registry / "c.json").exists()
    wait_until("c to leave", lambda: "c__echo" not in names(url))
