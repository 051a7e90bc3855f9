"""Fat slow bodies against the global budget of body bytes being read (``max_body_bytes_in_flight``,
64 MiB by default), on default budgets.

Before that budget, the real bound was ``max_connections x max_body_bytes`` (about 1 GiB): 200
connections held 821 MiB for 30 s. Now the holders together get at most the budget, and a body
whose next bytes do not fit is refused (``503``, counted as ``body_budget``) at once.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from typing import Any, Dict, List, Optional

from .attacks import MIB, Attack
from .budget_attacks import fresh_client_probe
from .harness import ACCEPT, HANG_GUARD_SECONDS, Server, raw_connection, scrape

HOLD_ADDR = "127.0.0.2"
REFUSED_ADDR = "127.0.0.4"
#: `max_body_bytes_in_flight` and `max_body_bytes` by default.
BODY_BUDGET = 64 * 1024 * 1024
MAX_BODY = 4 * 1024 * 1024


def _head(server: Server, length: int) -> bytes:
    return (
        f"POST /mcp HTTP/1.1\r\nhost: {server.host}:{server.port}\r\ncontent-type: application/json\r\n"
        f"accept: {ACCEPT}\r\ncontent-length: {length}\r\n\r\n"
    ).encode()


def _reading(server: Server) -> float:
    return scrape(server.metrics_url).value("dcc_mcp_body_bytes_reading")


def body_budget(
    server: Server, stop: threading.Event, holders: int = 16, refused: int = 4, room: int = 1024
) -> Dict[str, Any]:
    """1. From ``127.0.0.2``, ``holders`` connections each declare a 4 MiB body and send all of it
    but a little, so that together they hold the budget less ``room`` bytes (64 MiB - 1 KiB), one
    after the other (each once the gauge ``dcc_mcp_body_bytes_reading`` shows its bytes), then stall;
    2. from ``127.0.0.4``, ``refused`` connections each send a 64 KiB body in one write: its first
    frame (several KiB) does not fit in the room left, so each gets ``503`` — while requests of a few
    hundred bytes (the well-behaved client's, a newcomer's) still fit;
    3. a fresh client initializes, calls a tool and scrapes while the budget is held."""
    hold = (BODY_BUDGET - room) // holders
    assert hold <= MAX_BODY, "each holder's body must be one the server accepts"
    held: List[socket.socket] = []
    deadline = time.monotonic() + HANG_GUARD_SECONDS
    chunk = b" " * 65536
    for n in range(holders):
        sock = raw_connection(server, HOLD_ADDR, timeout=30.0)
        sock.sendall(_head(server, MAX_BODY))
        left = hold
        while left:
            sent = sock.send(chunk[: min(left, len(chunk))])
            left -= sent
        held.append(sock)
        while _reading(server) < (n + 1) * hold and time.monotonic() < deadline:
            time.sleep(0.02)
    reading_held = _reading(server)
    statuses: Counter = Counter()
    closed = 0
    for _ in range(refused):
        sock = raw_connection(server, REFUSED_ADDR, timeout=30.0)
        try:
            sock.sendall(_head(server, 65536) + chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        head = b""
        try:
            while b"\r\n" not in head:
                data = sock.recv(4096)
                if not data:
                    break
                head += data
            # After the answer the server closes the connection (the bytes read are freed at once).
            while sock.recv(65536):
                pass
            closed += 1
        except (ConnectionResetError, socket.timeout, TimeoutError):
            closed += 1 if head else 0
        parts = head.split(b" ", 2)
        statuses[int(parts[1]) if len(parts) > 1 and parts[0].startswith(b"HTTP/") else 0] += 1
        sock.close()
    probe: Optional[Dict[str, int]] = fresh_client_probe(server)
    stop.wait()
    for sock in held:
        sock.close()
    return {
        "hold_bytes": hold,
        "reading_held": reading_held,
        "refused_statuses": dict(statuses),
        "refused_closed": closed,
        "probe": probe,
        "echo_successes": 1 if probe and probe["call"] == 200 else 0,
    }


#: For ``scripts/soak.sh`` (``test_budgets`` runs it with its own asserts). Held for minutes, the
#: stalled holders get ``408`` after the 30 s ``body_read_timeout``.
BODY_ATTACKS: Dict[str, Attack] = {
    "body_budget": Attack(
        body_budget,
        (),
        "defaults: 64 MiB of bodies being read, 4 MiB per body, 30 s to read a body",
        ("body_budget", "body_timeout"),
        200 * MIB,
    ),
}
