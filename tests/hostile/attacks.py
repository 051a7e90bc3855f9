"""The attacks of the hostile-traffic suite, each ``attack(server, stop, **params) -> dict``.

Every attack runs until ``stop`` is set (a few seconds in the tests, minutes in the soak) and returns
counts of what the attacker saw. :data:`ATTACKS` lists, for each, the server flags that scale its
budget down so that the test reaches it within seconds, the budget in words (for the soak table), the
``dcc_mcp_rejected_total`` reasons it should drive, and the RSS budget the server must stay under.
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Sequence, Tuple

import httpx

from .harness import (
    ACCEPT,
    ATTACK_ADDRS,
    BATCH_PROTOCOL,
    PROTOCOL,
    Server,
    Session,
    SessionRefused,
    http_client,
    initialize_message,
    raw_connection,
)


def _status_of(sock: socket.socket) -> int:
    """The status code of the response at the start of ``sock`` (0 when closed without one)."""
    try:
        head = sock.recv(64)
    except (ConnectionResetError, socket.timeout, TimeoutError):
        return 0
    parts = head.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[0].startswith(b"HTTP/") else 0


# ------------------------------------------------------------------------------------------------
# Batch amplification


def batch_amplification(server: Server, stop: threading.Event, messages: int = 70_000, allowed: int = 64) -> Dict[str, Any]:
    """POSTs a ~4 MB batch of ``messages`` ``tools/list`` requests (refused whole), then a batch of
    ``allowed`` ones whose response passes the byte budget (cut short), over and over."""
    statuses: Counter = Counter()
    errors = Counter()
    biggest = 0
    with http_client(ATTACK_ADDRS[0], timeout=60.0) as client:
        session = Session(server.url, client, version=BATCH_PROTOCOL)
        huge = json.dumps([{"jsonrpc": "2.0", "id": i, "method": "tools/list"} for i in range(messages)]).encode()
        small = json.dumps([{"jsonrpc": "2.0", "id": i, "method": "tools/list"} for i in range(allowed)]).encode()
        headers = {**session.headers, "Content-Type": "application/json"}
        while not stop.is_set():
            for body in (huge, small):
                response = client.post(server.url, headers=headers, content=body)
                statuses[response.status_code] += 1
                biggest = max(biggest, len(response.content))
                if response.status_code == 200:
                    for reply in response.json():
                        if "error" in reply:
                            errors[reply["error"]["code"]] += 1
        session.delete()
    return {
        "statuses": dict(statuses),
        "error_codes": dict(errors),
        "largest_response_bytes": biggest,
        "huge_batch_bytes": len(huge),
    }


# ------------------------------------------------------------------------------------------------
# Session lockout


def _open_stream(server: Server, session_id: str, source: str) -> socket.socket:
    sock = raw_connection(server, source)
    sock.sendall(
        (
            f"GET /mcp HTTP/1.1\r\nhost: {server.host}:{server.port}\r\naccept: text/event-stream\r\n"
            f"mcp-session-id: {session_id}\r\nmcp-protocol-version: {PROTOCOL}\r\n\r\n"
        ).encode()
    )
    return sock


def session_lockout(server: Server, stop: threading.Event, pings: int = 4) -> Dict[str, Any]:
    """From two attack addresses: ``initialize`` in a tight loop and ping earlier sessions to keep
    them recent; the first address also holds a GET stream open on every session it gets."""
    lock = threading.Lock()
    statuses: Counter = Counter()
    ping_statuses: Counter = Counter()
    held = Counter()

    def one_address(source: str, streams: int) -> None:
        open_streams: List[Tuple[str, socket.socket]] = []
        ids: List[str] = []
        with http_client(source, timeout=30.0) as client:
            while not stop.is_set():
                try:
                    response = client.post(server.url, headers={"Accept": ACCEPT}, json=initialize_message())
                except httpx.HTTPError:
                    # An attacker keeps going when a connection drops; counted, not fatal.
                    with lock:
                        statuses["connection_error"] += 1
                    continue
                with lock:
                    statuses[response.status_code] += 1
                if response.status_code == 200:
                    session_id = response.headers["mcp-session-id"]
                    ids.append(session_id)
                    if len(open_streams) < streams:
                        sock = _open_stream(server, session_id, source)
                        if _status_of(sock) == 200:
                            open_streams.append((session_id, sock))
                        else:
                            sock.close()
                for session_id in random.sample(ids, min(pings, len(ids))):
                    try:
                        reply = client.post(
                            server.url,
                            headers={"Accept": ACCEPT, "Mcp-Session-Id": session_id, "MCP-Protocol-Version": PROTOCOL},
                            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                        )
                    except httpx.HTTPError:
                        with lock:
                            ping_statuses["connection_error"] += 1
                        continue
                    with lock:
                        ping_statuses[reply.status_code] += 1
                    if reply.status_code == 404:
                        ids.remove(session_id)
            with lock:
                held[source] = len(open_streams)
            # Ending the sessions ends their streams at once (a closed socket alone is noticed only
            # at the next keep-alive write).
            for session_id, sock in open_streams:
                client.delete(server.url, headers={"Mcp-Session-Id": session_id})
                sock.close()

    threads = [
        threading.Thread(target=one_address, args=(source, streams))
        for source, streams in zip(ATTACK_ADDRS, (1_000_000, 0))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"initialize": dict(statuses), "ping": dict(ping_statuses), "streams_held": dict(held)}


# ------------------------------------------------------------------------------------------------
# Stalled bodies


def stalled_bodies(server: Server, stop: threading.Event, connections: int = 100, declared: int = 1_000_000) -> Dict[str, Any]:
    """Keeps ``connections`` connections that sent their headers and 10 bytes of a ``declared``-byte
    body, then nothing; each one the server ends is replaced."""
    statuses: Counter = Counter()
    head = (
        f"POST /mcp HTTP/1.1\r\nhost: {server.host}:{server.port}\r\ncontent-type: application/json\r\n"
        f"accept: {ACCEPT}\r\ncontent-length: {declared}\r\n\r\n" + '[{"jsonrpc"'[:10]
    ).encode()
    opened = 0
    live: List[Tuple[socket.socket, float]] = []
    while not stop.is_set():
        while len(live) < connections and not stop.is_set():
            try:
                sock = raw_connection(server, ATTACK_ADDRS[opened % len(ATTACK_ADDRS)])
                sock.sendall(head)
            except OSError:
                statuses["connect_error"] += 1
                break
            sock.setblocking(False)
            live.append((sock, time.monotonic()))
            opened += 1
        still: List[Tuple[socket.socket, float]] = []
        for sock, since in live:
            try:
                data = sock.recv(4096)
            except BlockingIOError:
                still.append((sock, since))
                continue
            except OSError:
                data = b""
            parts = data.split(b" ", 2)
            status = int(parts[1]) if len(parts) > 1 and parts[0].startswith(b"HTTP/") else 0
            statuses[status] += 1
            sock.close()
        live = still
        stop.wait(0.05)
    for sock, _ in live:
        sock.close()
    return {"opened": opened, "ended_by_server": dict(statuses)}


# ------------------------------------------------------------------------------------------------
# Connection flood


def connection_flood(server: Server, stop: threading.Event, connections: int = 200) -> Dict[str, Any]:
    """Keeps ``connections`` idle connections open (no byte sent), reopening each one the server
    closes."""
    statuses: Counter = Counter()
    live: List[socket.socket] = []
    opened = 0
    while not stop.is_set():
        while len(live) < connections and not stop.is_set():
            try:
                sock = raw_connection(server, ATTACK_ADDRS[opened % len(ATTACK_ADDRS)])
            except OSError:
                statuses["connect_error"] += 1
                break
            sock.setblocking(False)
            live.append(sock)
            opened += 1
        still = []
        for sock in live:
            try:
                data = sock.recv(4096)
            except BlockingIOError:
                still.append(sock)
                continue
            except OSError:
                data = b""
            parts = data.split(b" ", 2)
            statuses[int(parts[1]) if len(parts) > 1 and parts[0].startswith(b"HTTP/") else 0] += 1
            sock.close()
        live = still
        stop.wait(0.02)
    for sock in live:
        sock.close()
    return {"opened": opened, "ended_by_server": dict(statuses)}


# ------------------------------------------------------------------------------------------------
# SSE stream whose client stopped reading


def sse_non_reader(
    server: Server, stop: threading.Event, streams: int = 2, jobs_per_round: int = 16, result_bytes: int = 48_000
) -> Dict[str, Any]:
    """Opens ``streams`` sessions whose GET stream is never read (a tiny receive buffer), and makes
    the server write to them: each round runs ``echo`` as jobs whose completion notifications (with
    a ``result_bytes`` result) go to the stream, until the kernel's buffers (several MB on loopback)
    are full. The client cannot see the server give up (the FIN waits behind unread data), so the
    test reads the server's side: ``write_timeout`` refusals and its file descriptors."""
    text = "x" * result_bytes
    accepted = 0
    job_calls: Counter = Counter()
    with http_client(ATTACK_ADDRS[0], timeout=30.0) as client:
        sessions: List[Tuple[Session, socket.socket]] = []
        for _ in range(streams):
            session = Session(server.url, client)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
            sock.bind((ATTACK_ADDRS[0], 0))
            sock.settimeout(5.0)
            sock.connect((server.host, server.port))
            sock.sendall(
                (
                    f"GET /mcp HTTP/1.1\r\nhost: {server.host}:{server.port}\r\naccept: text/event-stream\r\n"
                    f"mcp-session-id: {session.id}\r\nmcp-protocol-version: {PROTOCOL}\r\n\r\n"
                ).encode()
            )
            sessions.append((session, sock))
        while not stop.is_set():
            for session, _sock in sessions:
                for _ in range(jobs_per_round):
                    try:
                        response = session.request(
                            "tools/call",
                            {"name": "echo", "arguments": {"text": text}, "_meta": {"dcc-mcp/async": True}},
                        )
                    except httpx.HTTPError:
                        job_calls["error"] += 1
                        continue
                    job_calls[response.status_code] += 1
                    if response.status_code == 200 and not response.json()["result"].get("isError"):
                        accepted += 1
            stop.wait(0.05)
        for session, sock in sessions:
            session.delete()
            sock.close()
    # Each accepted job is one more `echo` success in /metrics.
    return {"streams": streams, "job_calls": dict(job_calls), "echo_successes": accepted}


# ------------------------------------------------------------------------------------------------
# /metrics through DNS rebinding


def metrics_rebinding(server: Server, stop: threading.Event) -> Dict[str, Any]:
    """A page on a foreign site whose name was rebound to 127.0.0.1: same-origin ``GET /metrics``
    (foreign ``Host``, no ``Origin``), and cross-origin reads (foreign ``Origin``)."""
    statuses: Counter = Counter()
    leaked = 0
    with http_client(ATTACK_ADDRS[0], timeout=30.0) as client:
        while not stop.is_set():
            for headers in (
                {"Host": f"rebound.evil.example:{server.port}"},
                {"Origin": "http://rebound.evil.example"},
                {"Host": f"rebound.evil.example:{server.port}", "Origin": f"http://rebound.evil.example:{server.port}"},
            ):
                response = client.get(server.metrics_url, headers=headers)
                statuses[response.status_code] += 1
                leaked += "dcc_mcp_" in response.text
            stop.wait(0.01)
    return {"statuses": dict(statuses), "responses_with_metrics": leaked}


# ------------------------------------------------------------------------------------------------
# Large bodies: parsing must not take the I/O workers


def large_bodies(server: Server, stop: threading.Event, connections: int = 4, numbers: int = 1_900_000) -> Dict[str, Any]:
    """``connections`` clients each post, back to back, a ``tools/call add`` whose arguments carry a
    ~4 MiB array of numbers (the costliest JSON to parse per byte). Returns when each big call was
    answered (``time.monotonic()``) and how."""
    pad = ",".join("7" for _ in range(numbers))
    finished: List[float] = []
    statuses: Counter = Counter()
    lock = threading.Lock()

    def flood(n: int) -> None:
        with http_client(ATTACK_ADDRS[n % len(ATTACK_ADDRS)], timeout=60.0) as client:
            session = Session(server.url, client)
            headers = {**session.headers, "Content-Type": "application/json"}
            i = 0
            while not stop.is_set():
                i += 1
                body = (
                    f'{{"jsonrpc":"2.0","id":{i},"method":"tools/call","params":{{"name":"add",'
                    f'"arguments":{{"a":1,"b":2,"pad":[{pad}]}}}}}}'
                ).encode()
                try:
                    response = client.post(server.url, headers=headers, content=body)
                except httpx.HTTPError:
                    with lock:
                        statuses[0] += 1
                    continue
                ok = response.status_code == 200 and response.json().get("result", {}).get("content", [{}])[0].get("text") == "3"
                with lock:
                    statuses[response.status_code if ok else -response.status_code] += 1
                    finished.append(time.monotonic())
            session.delete()

    threads = [threading.Thread(target=flood, args=(n,), daemon=True) for n in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"finished": sorted(finished), "statuses": dict(statuses), "body_bytes": len(pad) + 120}


# ------------------------------------------------------------------------------------------------
# Log flood: handlers logging faster than the per-session log budget


def _sse_messages(response: httpx.Response) -> List[Dict[str, Any]]:
    """The JSON-RPC messages of a POST's answer: its SSE events, or the one JSON body."""
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        return [json.loads(line[len("data: "):]) for line in response.text.splitlines() if line.startswith("data: ")]
    return [response.json()]


def log_flood(server: Server, stop: threading.Event, sessions: int = 3) -> Dict[str, Any]:
    """``sessions`` sessions call ``test_tool_with_logging`` (three ``ctx.log`` messages per call)
    back to back, far past ``--max-log-messages-per-sec``. Every message is either delivered in-band
    on the call's own SSE response, before its result, or dropped and counted as ``log_rate``; then a
    fresh session's call gets all three of its messages (the budget is per session)."""
    counts: Counter = Counter()
    lock = threading.Lock()

    def flood(source: str) -> None:
        with http_client(source, timeout=30.0) as client:
            session = Session(server.url, client)
            while not stop.is_set():
                response = session.request("tools/call", {"name": "test_tool_with_logging", "arguments": {}})
                messages = _sse_messages(response)
                logs = [m for m in messages if m.get("method") == "notifications/message"]
                # The result comes last, after every message the call sent.
                last = messages[-1]
                with lock:
                    counts["calls"] += 1
                    counts["delivered"] += len(logs)
                    counts["result_last"] += int("result" in last and not last["result"].get("isError"))
            session.delete()

    threads = [threading.Thread(target=flood, args=(ATTACK_ADDRS[i % len(ATTACK_ADDRS)],)) for i in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with http_client(ATTACK_ADDRS[0], timeout=30.0) as client:
        fresh = Session(server.url, client)
        messages = _sse_messages(fresh.request("tools/call", {"name": "test_tool_with_logging", "arguments": {}}))
        fresh.delete()
    return {
        **dict(counts),
        "fresh_logs": [m["params"]["data"] for m in messages if m.get("method") == "notifications/message"],
        "fresh_result_last": "result" in messages[-1],
    }


# ------------------------------------------------------------------------------------------------
# The catalogue


@dataclass(frozen=True)
class Attack:
    fn: Callable[..., Dict[str, Any]]
    #: Server flags that scale the budget down for a run of seconds.
    flags: Tuple[str, ...]
    #: The budget in words, for the soak table.
    budget: str
    #: `dcc_mcp_rejected_total` reasons the attack drives.
    reasons: Tuple[str, ...]
    #: Peak RSS the server must stay under, KiB.
    rss_budget_kib: int
    params: Tuple[Tuple[str, Any], ...] = ()


MIB = 1024

ATTACKS: Dict[str, Attack] = {
    "batch_amplification": Attack(
        batch_amplification,
        ("--max-batch-messages", "64", "--max-response-bytes", "16384"),
        "64 messages per batch; 16 KiB per response",
        ("batch_too_large", "response_too_large"),
        160 * MIB,
    ),
    "session_lockout": Attack(
        session_lockout,
        ("--max-sessions", "48", "--max-sessions-per-client", "32"),
        "48 sessions, 32 per address, LRU idle eviction",
        ("session_evicted", "too_many_sessions"),
        120 * MIB,
    ),
    "stalled_bodies": Attack(
        stalled_bodies,
        ("--body-read-timeout", "1"),
        "whole body within 1 s",
        ("body_timeout",),
        120 * MIB,
        (("connections", 100),),
    ),
    "connection_flood": Attack(
        connection_flood,
        ("--max-connections", "64", "--header-read-timeout", "1"),
        "64 connections; headers within 1 s",
        ("connection_limit",),
        120 * MIB,
        (("connections", 200),),
    ),
    "sse_non_reader": Attack(
        sse_non_reader,
        ("--write-timeout", "1"),
        "a stalled write is cut after 1 s",
        ("write_timeout",),
        120 * MIB,
    ),
    "large_bodies": Attack(
        large_bodies,
        (),
        "bodies of 64 KiB and more parsed on a 2-thread pool, off the I/O workers",
        (),
        # Two ~4 MiB bodies parsed at once, each a ~60 MiB tree while its call runs, and four held
        # as bytes: well under this.
        400 * MIB,
    ),
    "log_flood": Attack(
        log_flood,
        ("--conformance-fixtures", "--max-log-messages-per-sec", "3"),
        "3 log messages per second per session, in bursts of 3",
        ("log_rate",),
        120 * MIB,
    ),
    "metrics_rebinding": Attack(
        metrics_rebinding,
        (),
        "Host and Origin rule of /mcp",
        (),
        120 * MIB,
    ),
}


def flags_for(names: Sequence[str]) -> List[str]:
    """The union of the flags of ``names`` (they touch different budgets)."""
    flags: List[str] = []
    for name in names:
        flags.extend(ATTACKS[name].flags)
    return flags
