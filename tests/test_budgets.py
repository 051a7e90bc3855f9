"""The connection, stream, body and outbox budgets from Python: every one is a keyword argument of
``McpHttpConfig`` as well as a property, checked by the server's own rules and shown by ``repr``;
``sse_idle_close`` closes an idle session stream on a real server; and a tool schema's ``pattern``
runs in linear time, so catastrophic inputs cost a client nothing but its own calls.

The same budgets under attack against the ``dcc-mcp-server`` binary: ``tests/hostile/``.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any, Dict, List

import httpx
import pytest

from dcc_mcp_core import McpHttpConfig, McpHttpServer, ToolRegistry

from conftest import HANG_GUARD_SECONDS

PROTOCOL = "2025-06-18"
ACCEPT = "application/json, text/event-stream"

#: Each budget keyword, a value other than its default, and what the property reads back.
BUDGETS: Dict[str, Any] = {
    "max_streams": 40,
    "max_streams_per_client": 10,
    "max_connections_per_client": 50,
    "max_body_bytes_in_flight": 8_000_000,
    "max_outbox_bytes_total": 9_000_000,
    "stream_send_buffer_bytes": 32768,
    "keep_alive_timeout": 20.0,
    "outbox_unattached_timeout": 2.5,
    "sse_idle_close": 0.5,
}


def test_every_budget_is_a_keyword_a_property_and_in_the_repr() -> None:
    cfg = McpHttpConfig(port=0, max_connections=100, **BUDGETS)
    assert {name: getattr(cfg, name) for name in BUDGETS} == BUDGETS
    assert cfg.max_connections == 100
    text = repr(cfg)
    assert (
        "max_streams=40, max_streams_per_client=10, max_connections_per_client=50, "
        "max_body_bytes_in_flight=8000000, max_outbox_bytes_total=9000000, outbox_unattached_timeout=2.5, "
        "stream_send_buffer_bytes=32768, keep_alive_timeout=20.0, sse_idle_close=0.5, "
    ) in text
    # The server is built with them.
    server = McpHttpServer(ToolRegistry(), cfg)
    assert {name: getattr(server.config, name) for name in BUDGETS} == BUDGETS


def test_budget_keywords_default_to_the_server_defaults() -> None:
    cfg = McpHttpConfig(port=0)
    assert {name: getattr(cfg, name) for name in BUDGETS} == {
        "max_streams": 128,
        "max_streams_per_client": 64,
        "max_connections_per_client": 192,
        "max_body_bytes_in_flight": 64 * 1024 * 1024,
        "max_outbox_bytes_total": 64 * 1024 * 1024,
        "stream_send_buffer_bytes": 65536,
        "keep_alive_timeout": 60.0,
        "outbox_unattached_timeout": 30.0,
        "sse_idle_close": 300.0,
    }
    assert "keep_alive_timeout=60.0, sse_idle_close=300.0, " in repr(cfg)
    # None keeps the default, as for every other option.
    assert McpHttpConfig(port=0, max_streams=None, sse_idle_close=None).sse_idle_close == 300.0


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("max_streams", 0, "max_streams must be"),
        ("max_streams_per_client", -1, "max_streams_per_client must be"),
        ("max_connections_per_client", 0, "max_connections_per_client must be"),
        ("max_body_bytes_in_flight", 0, "max_body_bytes_in_flight must be"),
        ("max_outbox_bytes_total", 0, "max_outbox_bytes_total must be"),
        ("stream_send_buffer_bytes", 0, "stream_send_buffer_bytes must be"),
        ("keep_alive_timeout", -1.0, "keep_alive_timeout must be"),
        ("outbox_unattached_timeout", float("nan"), "outbox_unattached_timeout must be"),
        ("sse_idle_close", 0.0, "sse_idle_close"),
        ("sse_idle_close", -2.0, "sse_idle_close must be"),
    ],
)
def test_a_bad_budget_keyword_is_refused_and_a_bad_assignment_changes_nothing(name: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        McpHttpConfig(port=0, **{name: value})
    cfg = McpHttpConfig(port=0)
    before = getattr(cfg, name)
    with pytest.raises(ValueError, match=message):
        setattr(cfg, name, value)
    assert getattr(cfg, name) == before


def test_budget_keywords_are_checked_against_each_other() -> None:
    with pytest.raises(ValueError, match="max_streams must be below max_connections"):
        McpHttpConfig(port=0, max_connections=8, max_streams=8)
    with pytest.raises(ValueError, match="max_body_bytes is larger than max_body_bytes_in_flight"):
        McpHttpConfig(port=0, max_body_bytes=2048, max_body_bytes_in_flight=1024)
    cfg = McpHttpConfig(port=0, max_connections=8, max_streams=7)
    cfg.sse_idle_close = 1.25
    assert (cfg.max_streams, cfg.sse_idle_close) == (7, 1.25)


# ------------------------------------------------------------------------------------------------
# sse_idle_close on a real server


def _initialize(client: httpx.Client, url: str) -> str:
    response = client.post(
        url,
        headers={"Accept": ACCEPT},
        json={
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
        },
    )
    assert response.status_code == 200
    session_id = response.headers["mcp-session-id"]
    client.post(
        url,
        headers={"Accept": ACCEPT, "Mcp-Session-Id": session_id, "MCP-Protocol-Version": PROTOCOL},
        json={"jsonrpc": "2.0", "method": "notifications/initialized"},
    )
    return session_id


def _read_stream(port: int, session_id: str, last_event_id: str = "") -> bytes:
    """Opens the session's GET stream on a raw socket and reads it until the server ends it (the last
    chunk of its chunked body; the connection itself stays open for the next request)."""
    resume = f"last-event-id: {last_event_id}\r\n" if last_event_id else ""
    with socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD_SECONDS) as sock:
        sock.sendall(
            (
                f"GET /mcp HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\naccept: text/event-stream\r\n"
                f"mcp-session-id: {session_id}\r\nmcp-protocol-version: {PROTOCOL}\r\n{resume}\r\n"
            ).encode()
        )
        received = b""
        while True:
            data = sock.recv(65536)
            received += data
            if not data or received.endswith(b"\r\n0\r\n\r\n"):
                return received


def _events(raw: bytes) -> List[str]:
    """The SSE events of a chunked ``text/event-stream`` response, as text."""
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert b"transfer-encoding: chunked" in head.lower(), head
    text = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        text += rest[:size]
        body = rest[size + 2 :]
    return [event for event in text.decode().split("\n\n") if event]


def test_sse_idle_close_ends_an_idle_stream_and_the_client_resumes(start_server) -> None:
    running = start_server(tools={"echo": lambda args: args["text"]}, sse_idle_close=0.5)
    with httpx.Client(timeout=HANG_GUARD_SECONDS) as client:
        session_id = _initialize(client, running.url)
        # Nothing to send: the server ends the stream (a clean end of the chunked body) after the
        # priming event that names the resume point and the reconnect delay.
        assert _events(_read_stream(running.handle.port, session_id)) == ["id: 0\nretry: 1000"]
        # The client reconnects with Last-Event-ID and is served again, the same way.
        assert _events(_read_stream(running.handle.port, session_id, last_event_id="0")) == ["id: 0\nretry: 1000"]
        # The session is alive: a call still works.
        response = client.post(
            running.url,
            headers={"Accept": ACCEPT, "Mcp-Session-Id": session_id, "MCP-Protocol-Version": PROTOCOL},
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "hi"}}},
        )
        assert response.json()["result"]["content"][0]["text"] == "hi"


# ------------------------------------------------------------------------------------------------
# ReDoS: a tool's schema pattern in linear time

#: A pattern a backtracking engine takes exponential time on: nested quantifiers, then a mismatch
#: at the end. For ``"a" * n + "!"`` a backtracking engine tries about 2^n ways to split the `a`s;
#: at n = 28 that is seconds per string, at n = 100,000 it would never end.
CATASTROPHIC = "^(a+)+$"


def _redos_server(start_server):
    registry = ToolRegistry()
    registry.register(
        "match",
        description="Takes a string of letters a.",
        input_schema={"type": "object", "properties": {"s": {"type": "string", "pattern": CATASTROPHIC}},
                      "required": ["s"]},
    )
    registry.register("echo", input_schema={"type": "object", "properties": {"text": {"type": "string"}}})
    return start_server(tools={"match": lambda args: "matched", "echo": lambda args: args["text"]}, registry=registry)


def test_a_pattern_that_needs_backtracking_is_refused_at_registration() -> None:
    registry = ToolRegistry()
    for pattern in ("^(?=(a+)+$)", "^(a+)\\1$"):
        expected = f'tool "t" has an invalid inputSchema: {json.dumps(pattern)} is not a "regex"'
        with pytest.raises(ValueError) as refused:
            registry.register("t", input_schema={"type": "object", "properties": {"s": {"type": "string", "pattern": pattern}}})
        assert str(refused.value) == expected
        assert "t" not in registry


def test_catastrophic_pattern_inputs_are_answered_and_other_clients_are_served(start_server) -> None:
    running = _redos_server(start_server)
    url = running.url
    stop = threading.Event()
    good: List[str] = []

    def good_client() -> None:
        with httpx.Client(timeout=HANG_GUARD_SECONDS) as client:
            session_id = _initialize(client, url)
            headers = {"Accept": ACCEPT, "Mcp-Session-Id": session_id, "MCP-Protocol-Version": PROTOCOL}
            n = 0
            while not stop.is_set():
                n += 1
                reply = client.post(url, headers=headers, json={
                    "jsonrpc": "2.0", "id": n, "method": "tools/call",
                    "params": {"name": "echo", "arguments": {"text": f"good-{n}"}}}).json()
                good.append("ok" if reply.get("result", {}).get("content", [{}])[0].get("text") == f"good-{n}" else json.dumps(reply))

    thread = threading.Thread(target=good_client, daemon=True)
    thread.start()
    outcomes: List[Any] = []
    try:
        with httpx.Client(timeout=HANG_GUARD_SECONDS) as attacker:
            session_id = _initialize(attacker, url)
            headers = {"Accept": ACCEPT, "Mcp-Session-Id": session_id, "MCP-Protocol-Version": PROTOCOL}
            # 50 strings of 28 letters and a mismatch (seconds each for a backtracking engine),
            # then one of 100,000 (never ending for it), then one that matches.
            for n, text in enumerate(["a" * 28 + "!"] * 50 + ["a" * 100_000 + "!", "a" * 100_000], start=1):
                reply = attacker.post(url, headers=headers, json={
                    "jsonrpc": "2.0", "id": n, "method": "tools/call",
                    "params": {"name": "match", "arguments": {"s": text}}}).json()
                result = reply["result"]
                outcomes.append((bool(result.get("isError")), result["content"][0]["text"]))
    finally:
        stop.set()
        thread.join(HANG_GUARD_SECONDS)
    # Each mismatch is answered with the tool error that names it; the matching string runs the tool.
    refusal = "invalid arguments for tool 'match': /s: \"{}\" does not match \"^(a+)+$\""
    assert outcomes[:50] == [(True, refusal.format("a" * 28 + "!"))] * 50, outcomes[:2]
    assert outcomes[50] == (True, refusal.format("a" * 100_000 + "!")), outcomes[50][1][:80]
    assert outcomes[51] == (False, "matched")
    # The other client was served throughout, every call correct.
    assert good and good == ["ok"] * len(good), [g for g in good if g != "ok"][:3]
