"""The stream attack of the second review, on default budgets: one address opens a session and an
unread ``GET /mcp`` stream per ``initialize`` and makes the server write to every stream until the
kernel's send buffers are full, while a connected client pauses longer than the header timeout.

What it measures besides the statuses: the kernel memory the streams pin, read per socket from
``ss -tm`` (``skmem``: ``w`` is the bytes queued for sending, ``tb`` the send buffer), since that
memory is outside the server's RSS and outside the ``process_*`` metrics; and ``/proc/net/sockstat``
for the whole machine's TCP memory, as a figure.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import threading
import time
from collections import Counter
from typing import Any, Dict, List, Optional, Tuple

import httpx

from .attacks import MIB, Attack
from .budget_attacks import ASYNC_META, fresh_client_probe
from .harness import (
    ACCEPT,
    GOOD_ADDR,
    PROTOCOL,
    Server,
    Session,
    http_client,
    initialize_message,
    raw_connection,
    raw_request,
)

STREAM_ADDR = "127.0.0.3"
#: How long the connected client stays silent between two requests: past the 10 s header timeout
#: (which used to close idle keep-alive connections), within the 60 s ``keep_alive_timeout``.
PAUSE_SECONDS = 12.0
#: Largest ``tb`` (send buffer) counted as a stream socket's: the default 64 KiB doubled is 128 KiB;
#: an ordinary loopback connection autotunes to several MB.
BOUNDED_SEND_BUFFER = 256 * 1024


def socket_memory(port: int) -> List[Dict[str, int]]:
    """``skmem`` of every established TCP socket whose local port is ``port`` (the server's side),
    as ``{"w": queued bytes, "tb": send buffer, ...}``."""
    out = subprocess.run(
        ["ss", "-tmnH", "state", "established", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [
        {key: int(value) for key, value in re.findall(r"([a-z]+)(\d+)", fields)}
        for fields in re.findall(r"skmem:\(([^)]*)\)", out)
    ]


def sockstat_tcp_pages() -> int:
    """The machine's TCP memory in pages (``/proc/net/sockstat``, ``TCP: ... mem N``)."""
    with open("/proc/net/sockstat") as stat:
        for line in stat:
            if line.startswith("TCP:"):
                fields = line.split()
                return int(fields[fields.index("mem") + 1])
    return 0


def unread_streams(
    server: Server,
    stop: threading.Event,
    sessions: int = 100,
    jobs_per_stream: int = 4,
    text_bytes: int = 48_000,
) -> Dict[str, Any]:
    """On default budgets (128 streams, 64 per address; 64 KiB stream send buffer; 30 s write
    timeout):

    1. a client from ``127.0.0.1`` connects, initializes on a raw keep-alive socket, and goes silent;
    2. from ``127.0.0.3``, ``sessions`` sessions each open a ``GET /mcp`` stream with a 4 KiB
       receive buffer and never read it (64 are served, the rest get ``503``);
    3. each streaming session starts ``jobs_per_stream`` async ``echo`` jobs of ``text_bytes``
       letters, whose completion notifications the server writes to its stream until the kernel's
       buffers are full;
    4. for the rest of the silent client's ``PAUSE_SECONDS``, the server's stream sockets are read
       with ``ss -tm`` every 0.2 s (the peak of the queued bytes is kept), and a fresh client
       initializes, calls a tool and scrapes;
    5. the silent client sends its next request on the same connection.
    """
    stream_statuses: Counter = Counter()
    job_statuses: Counter = Counter()
    # 1. The client that pauses.
    paused = raw_connection(server, GOOD_ADDR, timeout=30.0)
    paused_at = time.monotonic()
    init_status, paused_session = raw_request(paused, server, json.dumps(initialize_message()))
    streams: List[Tuple[Session, socket.socket]] = []
    baseline_pages = sockstat_tcp_pages()
    with http_client(STREAM_ADDR, timeout=30.0) as client:
        refused: List[Session] = []
        # 2. The streams.
        for _ in range(sessions):
            session = Session(server.url, client)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.bind((STREAM_ADDR, 0))
            sock.settimeout(10.0)
            sock.connect((server.host, server.port))
            sock.sendall(
                (
                    f"GET /mcp HTTP/1.1\r\nhost: {server.host}:{server.port}\r\naccept: text/event-stream\r\n"
                    f"mcp-session-id: {session.id}\r\nmcp-protocol-version: {PROTOCOL}\r\n\r\n"
                ).encode()
            )
            head = sock.recv(12)
            status = int(head.split(b" ")[1]) if head.startswith(b"HTTP/1.1 ") else 0
            stream_statuses[status] += 1
            if status == 200:
                streams.append((session, sock))
            else:
                sock.close()
                refused.append(session)
        # 3. Fill every stream: each job's completion notification carries its text.
        text = "x" * text_bytes
        accepted = 0
        for session, _sock in streams:
            started = 0
            for _ in range(4 * jobs_per_stream):
                if started == jobs_per_stream:
                    break
                response = session.request(
                    "tools/call", {"name": "echo", "arguments": {"text": text}, "_meta": ASYNC_META}
                )
                job_statuses[response.status_code] += 1
                if response.status_code == 200 and not response.json()["result"].get("isError"):
                    started += 1
                else:
                    # The address's share of the job queue is full: let the workers catch up.
                    time.sleep(0.05)
            accepted += started
        # 4. Hold, measure, and serve a newcomer.
        peak_queued = 0
        peak_pages = baseline_pages
        send_buffers: Counter = Counter()
        probe: Optional[Dict[str, int]] = None
        while time.monotonic() - paused_at < PAUSE_SECONDS:
            # The stream sockets: those whose send buffer was bounded (an autotuned one is MBs).
            memory = [m for m in socket_memory(server.port) if m.get("tb", 0) <= BOUNDED_SEND_BUFFER]
            queued = sum(m.get("w", 0) for m in memory)
            if queued >= peak_queued:
                peak_queued = queued
                send_buffers = Counter(m.get("tb", 0) for m in memory)
            peak_pages = max(peak_pages, sockstat_tcp_pages())
            if probe is None:
                probe = fresh_client_probe(server)
            time.sleep(0.2)
        # 5. The paused client's next request, on the same connection.
        ping, _ = raw_request(paused, server, json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"}), paused_session)
        paused_for = time.monotonic() - paused_at
        stop.wait()
        for session, sock in streams:
            session.delete()
            sock.close()
        for session in refused:
            session.delete()
    paused.close()
    return {
        "stream_statuses": dict(stream_statuses),
        "job_statuses": dict(job_statuses),
        "jobs_accepted": accepted,
        "paused_client": {"initialize": init_status, "after_pause": ping, "paused_seconds": round(paused_for, 1)},
        "probe": probe,
        "peak_queued_bytes": peak_queued,
        "send_buffers": dict(send_buffers),
        "sockstat_tcp_pages": {"before": baseline_pages, "peak": peak_pages},
        # The jobs ran `echo`: each is one more echo success in /metrics, and so is the probe's call.
        "echo_successes": accepted + (1 if probe and probe["call"] == 200 else 0),
    }


#: For ``scripts/soak.sh`` (``test_budgets`` runs it with its own asserts). Held for minutes, the
#: unread streams are cut by the 30 s ``write_timeout``.
STREAM_ATTACKS: Dict[str, Attack] = {
    "unread_streams": Attack(
        unread_streams,
        (),
        "defaults: 128 streams (64 per address), 64 KiB stream send buffer, 30 s write timeout, 60 s keep-alive",
        ("client_stream_limit", "write_timeout"),
        160 * MIB,
    ),
}
