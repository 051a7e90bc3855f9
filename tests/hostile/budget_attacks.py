"""Attacks on the shared budgets: connection slots (stalled bodies, unread streams, silent sockets)
and outbox memory (many sessions that queue notifications and never open a stream).

Each is ``attack(server, stop, **params) -> dict`` like those of :mod:`attacks`, run next to the
well-behaved client by :func:`harness.run_attack`; ``test_budgets`` asserts on what they return.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from typing import Any, Dict, List

import httpx

from .attacks import MIB, Attack
from .harness import (
    ACCEPT,
    GOOD_ADDR,
    PROTOCOL,
    Server,
    Session,
    http_client,
    initialize_message,
    raw_connection,
)

STALL_ADDR = "127.0.0.2"
STREAM_ADDR = "127.0.0.3"
SILENT_ADDR = "127.0.0.4"
ASYNC_META = {"dcc-mcp/async": True}


def _is_closed(sock: socket.socket) -> bool:
    """True when the server closed ``sock`` (end of stream or reset) without answering on it."""
    sock.setblocking(False)
    try:
        data = sock.recv(1, socket.MSG_PEEK)
        return data == b""
    except (BlockingIOError, InterruptedError):
        return False
    except (ConnectionResetError, BrokenPipeError):
        return True


def _answered(sock: socket.socket) -> bool:
    """True when the server wrote a response on ``sock``."""
    sock.setblocking(False)
    try:
        return bool(sock.recv(1, socket.MSG_PEEK))
    except (BlockingIOError, InterruptedError, ConnectionResetError, BrokenPipeError):
        return False


def fresh_client_probe(server: Server) -> Dict[str, int]:
    """A client that was not there before the attack: a new connection, ``initialize``, one
    ``tools/call echo``, one ``GET /metrics``. Returns the three status codes."""
    with http_client(GOOD_ADDR, timeout=30.0) as client:
        session = Session(server.url, client)
        call = session.request("tools/call", {"name": "echo", "arguments": {"text": "fresh"}})
        ok = call.status_code == 200 and call.json()["result"]["content"][0]["text"] == "fresh"
        metrics = client.get(server.metrics_url)
        session.delete()
    return {"initialize": 200, "call": 200 if ok else -call.status_code, "metrics": metrics.status_code}


def connection_slots(
    server: Server,
    stop: threading.Event,
    stalls: int = 150,
    streams: int = 100,
    silent: int = 100,
    probes: int = 5,
) -> Dict[str, Any]:
    """On default budgets (256 connections, 128 streams, 64 streams and 192 connections per address):

    1. from ``127.0.0.2``, ``stalls`` connections send the headers of a 1 MB ``POST`` and 10 bytes of
       its body, then nothing;
    2. from ``127.0.0.3``, ``streams`` sessions each open a ``GET /mcp`` stream that is never read;
    3. once the bodies have stalled (1 s), from ``127.0.0.4``, ``silent`` connections that send
       nothing push the server past ``max_connections``;
    4. while all of that is held, ``probes`` fresh clients initialize, call a tool and scrape.
    """
    held: List[socket.socket] = []
    body_head = (
        f"POST /mcp HTTP/1.1\r\nhost: {server.host}:{server.port}\r\ncontent-type: application/json\r\n"
        f"accept: {ACCEPT}\r\ncontent-length: 1000000\r\n\r\n"
    ).encode() + b'{"jsonrpc"'
    stall_socks = []
    for _ in range(stalls):
        sock = raw_connection(server, STALL_ADDR)
        sock.sendall(body_head)
        stall_socks.append(sock)
    stream_statuses: Counter = Counter()
    stream_socks: List[socket.socket] = []
    with http_client(STREAM_ADDR, timeout=30.0) as client:
        sessions = []
        for _ in range(streams):
            response = client.post(server.url, headers={"Accept": ACCEPT}, json=initialize_message())
            session_id = response.headers["mcp-session-id"]
            sessions.append(session_id)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.bind((STREAM_ADDR, 0))
            sock.settimeout(10.0)
            sock.connect((server.host, server.port))
            sock.sendall(
                (
                    f"GET /mcp HTTP/1.1\r\nhost: {server.host}:{server.port}\r\naccept: text/event-stream\r\n"
                    f"mcp-session-id: {session_id}\r\nmcp-protocol-version: {PROTOCOL}\r\n\r\n"
                ).encode()
            )
            head = sock.recv(12)
            stream_statuses[int(head.split(b" ")[1]) if head.startswith(b"HTTP/1.1 ") else 0] += 1
            stream_socks.append(sock)
        # Let the bodies stall past the shedding threshold (1 s without a byte).
        time.sleep(1.2)
        silent_socks = [raw_connection(server, SILENT_ADDR) for _ in range(silent)]
        probe_results = [fresh_client_probe(server) for _ in range(probes)]
        # Hold everything until the run ends (seconds in the tests, minutes in the soak).
        stop.wait()
        # Give the server a moment to close what it shed, then look at every stalled body.
        time.sleep(0.2)
        stalls_shed = sum(1 for sock in stall_socks if _is_closed(sock))
        stalls_answered = sum(1 for sock in stall_socks if _answered(sock))
        silent_closed = sum(1 for sock in silent_socks if _is_closed(sock))
        for sock in stall_socks + stream_socks + silent_socks + held:
            sock.close()
        for session_id in sessions:
            client.delete(server.url, headers={"Mcp-Session-Id": session_id, "MCP-Protocol-Version": PROTOCOL})
    return {
        "stream_statuses": dict(stream_statuses),
        "stalls_shed": stalls_shed,
        "stalls_answered": stalls_answered,
        "silent_closed": silent_closed,
        "probes": probe_results,
        # Each probe's echo is one more success in /metrics.
        "echo_successes": sum(1 for probe in probe_results if probe["call"] == 200),
    }


def _jobs_settled(server: Server) -> bool:
    """True when no job runs and the outbox gauge did not move for 0.3 s."""
    from .harness import scrape

    first = scrape(server.metrics_url)
    time.sleep(0.3)
    second = scrape(server.metrics_url)
    running = sum(sample.value for sample in second.samples.get("dcc_mcp_jobs_in_flight", []))
    return running == 0 and first.value("dcc_mcp_outbox_bytes") == second.value("dcc_mcp_outbox_bytes")


def outbox_flood(
    server: Server, stop: threading.Event, sessions: int = 10, calls: int = 17, blob: int = 61_000
) -> Dict[str, Any]:
    """``sessions`` sessions each start ``calls`` async ``blob`` jobs of ``blob`` bytes (their
    completion notifications carry the result) and never open a stream — all of them, however long
    it takes, then again round after round until the run ends; the attacker scrapes
    ``dcc_mcp_outbox_bytes`` as it goes. Ends by waiting for its jobs, then deleting every session."""
    from .harness import scrape

    statuses: Counter = Counter()
    accepted = 0
    peak_outbox = 0.0
    opened: List[Session] = []
    rounds = 0
    with http_client(STALL_ADDR, timeout=30.0) as client:
        while rounds == 0 or not stop.is_set():
            rounds += 1
            for _ in range(sessions):
                session = Session(server.url, client)
                opened.append(session)
                for _ in range(calls):
                    try:
                        response = session.request(
                            "tools/call", {"name": "blob", "arguments": {"bytes": blob}, "_meta": ASYNC_META}
                        )
                    except httpx.HTTPError:
                        statuses["error"] += 1
                        continue
                    statuses[response.status_code] += 1
                    if response.status_code == 200 and not response.json()["result"].get("isError"):
                        accepted += 1
                peak_outbox = max(peak_outbox, scrape(server.metrics_url).value("dcc_mcp_outbox_bytes"))
        deadline = time.monotonic() + 30
        while not _jobs_settled(server) and time.monotonic() < deadline:
            pass
        peak_outbox = max(peak_outbox, scrape(server.metrics_url).value("dcc_mcp_outbox_bytes"))
        for session in opened:
            session.delete()
    return {
        "sessions": len(opened),
        "statuses": dict(statuses),
        "jobs_accepted": accepted,
        "peak_outbox_bytes": peak_outbox,
    }


#: The shared-budget attacks, for ``scripts/soak.sh`` (``test_budgets`` runs them with its own asserts).
BUDGET_ATTACKS: Dict[str, Attack] = {
    "connection_slots": Attack(
        connection_slots,
        (),
        "defaults: 256 connections (192 per address), 128 streams (64 per address); shed stalled bodies first",
        ("connection_shed", "client_stream_limit"),
        120 * MIB,
    ),
    "outbox_flood": Attack(
        outbox_flood,
        ("--max-outbox-bytes-total", str(8 * 1024 * 1024)),
        "8 MiB of outboxes in all; 1 MiB per session",
        ("outbox_budget",),
        200 * MIB,
    ),
}
