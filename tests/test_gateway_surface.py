"""The gateway's protocol surface beyond tools, through the official MCP Python client, against the
real binary (``dcc-mcp-server --gateway``) in front of two real backend processes:

* ``a``: ``dcc-mcp-server --conformance-fixtures`` (resources, a template, prompts, completions);
* ``p``: the official Python SDK's ``MCPServer`` (``tests/gateway_sdk_backend.py``), which sends a
  call's log messages, elicitation and progress on that call's response stream, and
  ``notifications/tools/list_changed`` when its tools change.

It checks that resources (``mcp-gateway://NAME/URI``), templates, prompts (``NAME__prompt``) and
completion are namespaced, merged in order and answered exactly by their owner; that a call's log
messages and elicitation reach the client that made the call (and its answer the backend); and that
a backend's ``tools/list_changed`` is followed and announced downstream.

Self-contained (no conftest helpers), like ``tests/test_gateway.py``.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

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
SDK_BACKEND = Path(__file__).resolve().parent / "gateway_sdk_backend.py"


async def _session(url: str, body: Any, mode: str = "legacy", **callbacks: Any) -> Any:
    from mcp import Client

    async with Client(url, mode=mode, read_timeout_seconds=HANG_GUARD_SECONDS, **callbacks) as client:
        return await body(client)


def text(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


def tool_names(url: str) -> List[str]:
    async def body(client: Any) -> List[str]:
        return [t.name for t in (await client.list_tools()).tools]

    return run(_session(url, body))


@pytest.fixture(scope="module")
def surface(tmp_path_factory: pytest.TempPathFactory):
    """One gateway and its two backends for the whole module (starting the SDK backend takes
    seconds); the tests read what they need, and only the relay test changes a backend (it adds
    ``p__grown``)."""
    tmp_path = tmp_path_factory.mktemp("surface")
    ports = {"a": free_port(), "p": free_port(), "gw": free_port()}
    procs: Dict[str, subprocess.Popen] = {}
    try:
        procs["a"] = spawn("--port", str(ports["a"]), "--conformance-fixtures")
        procs["p"] = subprocess.Popen(
            [sys.executable, str(SDK_BACKEND), str(ports["p"])],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs["gw"] = spawn(
            "--gateway",
            "--port",
            str(ports["gw"]),
            "--backend",
            f"a=http://127.0.0.1:{ports['a']}/mcp",
            "--backend",
            f"p=http://127.0.0.1:{ports['p']}/mcp",
            "--registry-dir",
            str(tmp_path / "registry"),
        )
        health = f"http://127.0.0.1:{ports['gw']}/health"
        wait_until("both backends up", lambda: httpx.get(health).json()["backends_up"] == 2)
        yield ports, procs, tmp_path / "registry"
    finally:
        for proc in procs.values():
            stop(proc)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_resources_templates_prompts_and_completion_through_the_gateway(surface, mode):
    from mcp.types import PromptReference, ResourceTemplateReference

    ports, _, _ = surface
    gw = f"http://127.0.0.1:{ports['gw']}/mcp"
    direct = f"http://127.0.0.1:{ports['a']}/mcp"

    async def listing(client: Any) -> Dict[str, List[Any]]:
        return {
            "resources": [(r.uri, r.name, r.mime_type) for r in (await client.list_resources()).resources],
            "templates": [(t.uri_template, t.name) for t in (await client.list_resource_templates()).resource_templates],
            "prompts": [(p.name, [a.name for a in (p.arguments or [])]) for p in (await client.list_prompts()).prompts],
        }

    theirs = run(_session(direct, listing))
    ours = run(_session(gw, listing, mode=mode))
    # Every entry of a, namespaced, then p's; sorted by URI or name.
    assert ours["resources"] == sorted(
        [(f"mcp-gateway://a/{uri}", name, mime) for uri, name, mime in theirs["resources"]]
        + [("mcp-gateway://p/sdk://greeting", "greeting", "text/plain")]
    )
    assert len(ours["resources"]) == 4
    assert ours["templates"] == [("mcp-gateway://a/test://template/{id}/data", "template")]
    assert ours["prompts"] == sorted(
        [(f"a__{name}", args) for name, args in theirs["prompts"]] + [("p__welcome", ["who"])]
    )

    async def reads(client: Any) -> List[Any]:
        static = await client.read_resource("mcp-gateway://a/test://static-text")
        templated = await client.read_resource("mcp-gateway://a/test://template/42/data")
        sdk = await client.read_resource("mcp-gateway://p/sdk://greeting")
        prompt = await client.get_prompt("a__test_prompt_with_arguments", {"arg1": "x", "arg2": "y"})
        welcome = await client.get_prompt("p__welcome", {"who": "Ada"})
        by_prompt = await client.complete(
            PromptReference(type="ref/prompt", name="a__test_prompt_with_arguments"),
            {"name": "arg1", "value": "pa"},
        )
        by_template = await client.complete(
            ResourceTemplateReference(type="ref/resource", uri="mcp-gateway://a/test://template/{id}/data"),
            {"name": "id", "value": "12"},
        )
        return [
            [(c.uri, c.text) for c in static.contents],
            [(c.uri, c.text) for c in templated.contents],
            [(c.uri, c.text) for c in sdk.contents],
            [m.content.text for m in prompt.messages],
            [m.content.text for m in welcome.messages],
            by_prompt.completion.values,
            by_template.completion.values,
        ]

    counted = 'dcc_mcp_requests_total{{method="{}",status="success"}}'
    methods = ["resources/read", "prompts/get", "completion/complete"]

    def counts(port: int) -> List[float]:
        return [sample(port, counted.format(m)) or 0.0 for m in methods]

    gw_before, a_before = counts(ports["gw"]), counts(ports["a"])
    assert run(_session(gw, reads, mode=mode)) == [
        [("mcp-gateway://a/test://static-text", "This is the content of the static text resource.")],
        [("mcp-gateway://a/test://template/42/data",
          '{"data":"Data for ID: 42","id":"42","templateTest":true}')],
        [("mcp-gateway://p/sdk://greeting", "hi from the SDK")],
        ["Prompt with arguments: arg1='x', arg2='y'"],
        ["Welcome, Ada!"],
        ["paris", "park", "party"],
        ["123", "124"],
    ]
    # Exact counts at both hops: every request the gateway served went to its owner once
    # (3 reads, 2 of them a's; 2 prompts, 1 of them a's; 2 completions, both a's).
    delta = lambda after, before: [x - y for x, y in zip(after, before)]  # noqa: E731
    assert delta(counts(ports["gw"]), gw_before) == [3, 2, 2]
    assert delta(counts(ports["a"]), a_before) == [2, 1, 2]


def test_a_calls_logging_and_elicitation_reach_its_client_and_list_changes_are_followed(surface):
    from mcp.types import ElicitResult

    ports, _, _ = surface
    gw = f"http://127.0.0.1:{ports['gw']}/mcp"
    logs: List[Any] = []
    asked: List[str] = []
    progress: List[Any] = []
    notified: List[str] = []

    async def on_log(params: Any) -> None:
        logs.append((params.level, params.logger, params.data))

    async def on_elicit(context: Any, params: Any) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"name": "Ada"})

    async def on_message(message: Any) -> None:
        method = getattr(getattr(message, "root", message), "method", None)
        if isinstance(method, str):
            notified.append(method)

    async def calls(client: Any) -> List[Any]:
        async def on_progress(value: float, total: Optional[float], message: Optional[str]) -> None:
            progress.append((value, total, message))

        results = [
            await client.call_tool("p__chatty", {}),
            await client.call_tool("p__greet", {}),
            await client.call_tool("p__steps", {}, progress_callback=on_progress),
            await client.call_tool("p__grow", {}),
        ]
        # The gateway relists p after its tools/list_changed and tells this session.
        end = time.monotonic() + HANG_GUARD_SECONDS
        while "notifications/tools/list_changed" not in notified and time.monotonic() < end:
            await asyncio.sleep(0.05)
        results.append(await client.call_tool("p__grown", {}))
        return results

    results = run(_session(gw, calls, logging_callback=on_log, elicitation_callback=on_elicit,
                           message_handler=on_message))
    assert [text(r) for r in results] == ["chatted", "Hello Ada", "stepped", "added", "grown!"]
    assert [bool(r.is_error) for r in results] == [False] * 5
    assert logs == [("info", None, "one"), ("warning", "sdk", {"n": 2})]
    assert asked == ["Your name?"]
    assert progress == [(1.0, 2.0, "one"), (2.0, 2.0, "two")]
    assert notified.count("notifications/tools/list_changed") == 1
    assert [n for n in tool_names(gw) if n.startswith("p__")] == [
        "p__chatty", "p__greet", "p__grow", "p__grown", "p__steps"]

    # A client that cannot answer elicitation: the backend's question is refused, the tool fails.
    async def refused(client: Any) -> Any:
        return await client.call_tool("p__greet", {})

    result = run(_session(gw, refused))
    assert result.is_error

    calls = 'dcc_mcp_tool_calls_total{{status="{}",tool="{}"}}'
    assert sample(ports["gw"], calls.format("success", "p__greet")) == 1
    assert sample(ports["gw"], calls.format("error", "p__greet")) == 1
    assert sample(ports["gw"], calls.format("success", "p__grown")) == 1


def test_per_backend_and_per_dcc_type_endpoints(surface):
    ports, _, registry = surface
    base = f"http://127.0.0.1:{ports['gw']}/mcp"

    def proxied(url: str) -> List[str]:
        return [n for n in tool_names(url) if "__" in n and "__jobs." not in n]

    everything = proxied(base)
    only_p = proxied(f"{base}/p")
    assert only_p == [n for n in everything if n.startswith("p__")]
    assert {"p__chatty", "p__greet", "p__grow", "p__steps"} <= set(only_p)
    assert proxied(f"{base}/a") == [n for n in everything if n.startswith("a__")]
    assert len(proxied(f"{base}/a")) + len(only_p) == len(everything)

    async def through_p(client: Any) -> Any:
        resources = [r.uri for r in (await client.list_resources()).resources]
        prompts = [p.name for p in (await client.list_prompts()).prompts]
        result = await client.call_tool("p__steps", {})
        return resources, prompts, text(result)

    assert run(_session(f"{base}/p", through_p)) == (
        ["mcp-gateway://p/sdk://greeting"], ["p__welcome"], "stepped")
    # Static backends have no DCC type: no /mcp/dcc/TYPE view exists yet.
    missing = httpx.post(f"{base}/dcc/maya", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert missing.status_code == 404
    assert missing.json() == {"error": "the gateway has no backend of DCC type 'maya'"}
    assert httpx.post(f"{base}/zz", json={}).status_code == 404

    # A maya host joins through the directory: /mcp/dcc/maya and /mcp/c serve its tools only.
    joined = spawn("--port", "0", "--demo-tool", "echo", "--registry-dir", str(registry),
                   "--instance-name", "c", "--dcc-type", "maya")
    try:
        wait_until("c to join", lambda: "c__echo" in tool_names(base))
        assert proxied(f"{base}/dcc/maya") == ["c__echo"]
        assert proxied(f"{base}/c") == ["c__echo"]

        async def call_c(client: Any) -> str:
            return text(await client.call_tool("c__echo", {"text": "via maya"}))

        assert run(_session(f"{base}/dcc/maya", call_c, mode="auto")) == "via maya"
    finally:
        stop(joined)
