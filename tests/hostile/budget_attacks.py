"""Attacks on the shared budgets: connection slots (stalled bodies, unread streams, silent sockets)
and outbox memory (many sessions that queue notifications and never open a stream).

Each is ``attack(server, stop, **params) -> dict`` like those of :mod:`attacks`, run next to the
well-behaved client by :func:`harness.run_attack`; ``test_budgets`` asserts on what they return.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from typing import Any, Dict, List, Tuple

import httpx

from .attacks import MIB, Attack
from .harness import (
    ACCEPT,
    BATCH_PROTOCOL,
    GOOD_ADDR,
    HANG_GUARD_SECONDS,
    PROTOCOL,
    Server,
    Session,
    http_client,
    initialize_message,
    raw_connection,
    raw_request,
)

STALL_ADDR = "127.0.0.2"
STREAM_ADDR = "127.0.0.3"
SILENT_ADDR = "127.0.0.4"
ASYNC_META = {"dcc-mcp/async": True}
#: Peak RSS of the outbox flood on default budgets: 64 MiB of outboxes, up to 64 MiB of finished
#: job results kept for ``jobs.get`` (``max_finished_job_bytes``), the runtime and the allocator's
#: slack.
OUTBOX_FLOOD_RSS_KIB = 256 * MIB


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


def _wait_outbox(server: Server, at_least: float) -> float:
    """Polls ``dcc_mcp_outbox_bytes`` until it reaches ``at_least`` (or the hang guard); returns it."""
    from .harness import HANG_GUARD_SECONDS, scrape

    deadline = time.monotonic() + HANG_GUARD_SECONDS
    value = scrape(server.metrics_url).value("dcc_mcp_outbox_bytes")
    while value < at_least and time.monotonic() < deadline:
        time.sleep(0.02)
        value = scrape(server.metrics_url).value("dcc_mcp_outbox_bytes")
    return value


def outbox_flood(
    server: Server,
    stop: threading.Event,
    sessions: int = 72,
    calls: int = 16,
    blob: int = 61_000,
    rounds: int = 0,
    total_budget: int = 64 * 1024 * 1024,
) -> Dict[str, Any]:
    """``sessions`` sessions each start ``calls`` async ``blob`` jobs of ``blob`` bytes in one batch
    ``POST`` (their completion notifications carry the result) and never open a stream — all of
    them, however long it takes, then again round after round until the run ends (or for ``rounds``
    rounds when not 0). The first round goes on past ``sessions`` until the jobs accepted pass
    ``total_budget`` (``max_outbox_bytes_total``) by 5 %.

    Every completion notification of one flood has the same size (the job id is 32 hex digits, the
    result the same letters), so the attacker first measures it — one job on the first session, and
    the gauge ``dcc_mcp_outbox_bytes`` — and reports it as ``notification_bytes``: on a fresh server
    the outboxes then keep exactly ``min(jobs, max_outbox_bytes_total // notification_bytes)``
    notifications. Ends by waiting for its jobs (``outbox_bytes`` is the gauge then), then deleting
    every session."""
    from .harness import scrape

    statuses: Counter = Counter()
    accepted = 0
    peak_outbox = 0.0
    notification_bytes = 0.0
    opened: List[Session] = []
    done = 0
    probe: Dict[str, int] = {}

    def call(request_id: int) -> Dict[str, Any]:
        return {
            "jsonrpc": "2.0",
            "id": request_id,
            "method": "tools/call",
            "params": {"name": "blob", "arguments": {"bytes": blob}, "_meta": ASYNC_META},
        }

    def start_jobs(session: Session, first: int, count: int) -> None:
        """``count`` async calls in one batch POST (one request instead of ``count``)."""
        nonlocal accepted
        try:
            response = session.post([call(first + n) for n in range(count)])
        except httpx.HTTPError:
            statuses["error"] += 1
            return
        statuses[response.status_code] += 1
        if response.status_code == 200:
            for reply in response.json():
                if "result" in reply and not reply["result"].get("isError"):
                    accepted += 1

    with http_client(STALL_ADDR, timeout=30.0) as client:
        while done == 0 or (not stop.is_set() and (rounds == 0 or done < rounds)):
            done += 1
            n = 0
            # `sessions` of them, and more while the jobs accepted do not pass the outbox budget by
            # 5 % (the address's share of the job queue refuses some when the workers lag).
            while n < sessions or (done == 1 and accepted * notification_bytes <= 1.05 * total_budget):
                n += 1
                session = Session(server.url, client, version=BATCH_PROTOCOL)
                opened.append(session)
                if done == 1 and n == 1:
                    start_jobs(session, 100, 1)
                    notification_bytes = _wait_outbox(server, 1)
                    start_jobs(session, 101, calls - 1)
                else:
                    start_jobs(session, 100, calls)
                if n % 10 == 0:
                    peak_outbox = max(peak_outbox, scrape(server.metrics_url).value("dcc_mcp_outbox_bytes"))
            if done == 1:
                # The flood is in (its jobs finish and fill the outboxes meanwhile): a newcomer is served.
                probe = fresh_client_probe(server)
        deadline = time.monotonic() + 30
        while not _jobs_settled(server) and time.monotonic() < deadline:
            pass
        outbox_bytes = scrape(server.metrics_url).value("dcc_mcp_outbox_bytes")
        peak_outbox = max(peak_outbox, outbox_bytes)
        for session in opened:
            session.delete()
    return {
        "sessions": len(opened),
        "rounds": done,
        "statuses": dict(statuses),
        "jobs_accepted": accepted,
        "notification_bytes": notification_bytes,
        "outbox_bytes": outbox_bytes,
        "peak_outbox_bytes": peak_outbox,
        "probe": probe,
        "echo_successes": 1 if probe["call"] == 200 else 0,
    }


def busy_keepalive(
    server: Server,
    stop: threading.Event,
    pools: Tuple[Tuple[str, int], ...] = (("127.0.0.2", 192), ("127.0.0.5", 63)),
    interval: float = 0.01,
    probes: int = 5,
) -> Dict[str, Any]:
    """A busy client with a pool of keep-alive connections at the connection cap, on default budgets
    (256 connections, 192 per address): from each ``(address, count)`` of ``pools`` (255 in all, so
    that with the well-behaved client's connection every slot is taken) it opens ``count``
    connections, then pings on them in turn, one every ``interval`` s, so each idles about 2.5 s
    between its requests. A connection it finds closed (shed to make room) is counted and replaced at
    once, which at the cap sheds another. Meanwhile ``probes`` fresh clients initialize, call a tool
    and scrape, each on a new connection past the cap. At the end every connection still held is
    checked: the attacker has then seen every connection the server shed."""
    statuses: Counter = Counter()
    shed_seen = 0
    opener = raw_connection(server, pools[0][0], timeout=30.0)
    _, session_id = raw_request(opener, server, json.dumps(initialize_message()))
    opener.close()
    ping = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"})

    def connect(address: str) -> socket.socket:
        sock = raw_connection(server, address, timeout=30.0)
        status, _ = raw_request(sock, server, ping, session_id)
        statuses[status] += 1
        return sock

    pool: List[Tuple[str, socket.socket]] = []
    for address, count in pools:
        pool.extend((address, connect(address)) for _ in range(count))
    probe_results: List[Dict[str, int]] = []
    prober = threading.Thread(
        target=lambda: probe_results.extend(fresh_client_probe(server) for _ in range(probes)), daemon=True
    )
    started = False
    turn = 0
    while not stop.is_set() or prober.is_alive() or not started:
        if not started and turn == len(pool):
            # Every connection has idled past the 1 s shedding threshold once: send the newcomers.
            prober.start()
            started = True
        address, sock = pool[turn % len(pool)]
        status, _ = raw_request(sock, server, ping, session_id)
        if status == 0:
            shed_seen += 1
            sock.close()
            sock = connect(address)
            pool[turn % len(pool)] = (address, sock)
        else:
            statuses[status] += 1
        turn += 1
        time.sleep(interval)
    prober.join(HANG_GUARD_SECONDS)
    time.sleep(0.2)
    shed_at_end = sum(1 for _, sock in pool if _is_closed(sock))
    for _, sock in pool:
        sock.close()
    return {
        "connections": len(pool),
        "ping_statuses": dict(statuses),
        "shed_seen": shed_seen + shed_at_end,
        "probes": probe_results,
        "echo_successes": sum(1 for probe in probe_results if probe["call"] == 200),
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
        (),
        "defaults: 64 MiB of outboxes in all; 1 MiB per session; 30 s to open a stream",
        ("outbox_budget",),
        OUTBOX_FLOOD_RSS_KIB,
    ),
    "busy_keepalive": Attack(
        busy_keepalive,
        (),
        "defaults: 256 connections (192 per address); shed the connection idle longest (1 s or more)",
        ("connection_shed", "connection_limit"),
        120 * MIB,
    ),
}
