"""Shared budgets against the real ``dcc-mcp-server`` on its default budgets (see ``budget_attacks``,
``stream_attacks``, ``body_attacks``): connection slots that stalled bodies, unread streams, silent
sockets or a busy keep-alive pool cannot take; outbox memory that sessions without a stream cannot
grow past its budget, by an exact count; body bytes in flight held to their budget, each refusal
counted; the kernel memory of unread streams; a client paused past the header timeout keeping its
connection. While each attack runs, a fresh client initializes, calls a tool and scrapes.

Wall time of each on the shared 2-core machine, debug build: outbox flood 8-22 s, unread streams
13 s (a 12 s pause), busy keep-alive 6 s, connection slots 4-7 s, bodies 5-7 s, the rest 1-2 s."""

from __future__ import annotations

import os
import time

import pytest

from .budget_attacks import OUTBOX_FLOOD_RSS_KIB, busy_keepalive, connection_slots, outbox_flood
from .body_attacks import BODY_BUDGET, body_budget
from .stream_attacks import PAUSE_SECONDS, unread_streams
from .harness import (
    PROTOCOL,
    SERVER_BIN,
    Server,
    Session,
    assert_survived,
    http_client,
    raw_connection,
    run_attack,
    scrape,
)

ATTACK_SECONDS = float(os.environ.get("DCC_MCP_HOSTILE_SECONDS", "3"))
MIB = 1024

pytestmark = pytest.mark.skipif(
    "DCC_MCP_SERVER_BIN" not in os.environ and not SERVER_BIN.exists(),
    reason=f"needs {SERVER_BIN} (cargo build -p dcc-mcp-server)",
)

#: Every refusal reason of the connection budgets.
CONNECTION_REASONS = (
    "connection_limit",
    "client_connection_limit",
    "connection_shed",
    "stream_limit",
    "client_stream_limit",
    "body_budget",
    "body_timeout",
    "write_timeout",
)


def test_stalled_bodies_unread_streams_and_silent_sockets_cannot_take_the_slots() -> None:
    with Server() as server:
        run = run_attack(server, connection_slots, ATTACK_SECONDS)
        # Memory: 150 stalled bodies hold 10 bytes each; 64 streams, no backlog.
        assert_survived(run, 120 * MIB)
        attack = run.attack
        # Fresh clients were served while every slot was taken: initialize, a tool call, /metrics.
        assert attack["probes"] == [{"initialize": 200, "call": 200, "metrics": 200}] * 5, attack["probes"]
        # 64 streams per address: the other 36 GETs got 503, each counted once.
        assert attack["stream_statuses"] == {200: 64, 503: 36}, attack["stream_statuses"]
        assert run.refused("client_stream_limit") == 36
        # 150 + 64 + 100 + the clients' own connections passed 256: each newcomer past the cap shed
        # one stalled body (the costliest slot), never a silent socket, a stream or the good client,
        # and no newcomer was refused.
        shed = run.refused("connection_shed")
        assert shed > 0
        assert attack["stalls_shed"] == shed, (attack["stalls_shed"], shed)
        assert attack["stalls_answered"] == 0
        assert attack["silent_closed"] == 0
        others = {reason: run.refused(reason) for reason in CONNECTION_REASONS}
        del others["client_stream_limit"], others["connection_shed"]
        assert not any(others.values()), others
        # The gauges are back to the good client's nothing-open state.
        assert run.after.value("dcc_mcp_open_streams") == 0
        assert run.after.value("dcc_mcp_body_bytes_reading") == 0


def test_outboxes_of_sessions_without_a_stream_stay_within_the_default_global_budget() -> None:
    budget = 64 * 1024 * 1024  # max_outbox_bytes_total's default
    with Server() as server:
        # One flood of 72 sessions x 16 jobs (the per-session job quota), however long it takes.
        run = run_attack(server, outbox_flood, ATTACK_SECONDS, rounds=1)
        assert_survived(run, OUTBOX_FLOOD_RSS_KIB)
        attack = run.attack
        size = int(attack["notification_bytes"])
        jobs = attack["jobs_accepted"]
        # Every completion notification has one size (61,000 letters of result and the envelope),
        # and the flood had more of them than the budget holds.
        assert 61_000 < size < 62_000, attack
        assert jobs * size > budget, attack
        # The outboxes kept exactly as many as fit in 64 MiB, and every other one was refused and
        # counted once: nothing was dropped for the per-session budget or the unattached rule.
        kept = budget // size
        assert attack["outbox_bytes"] == attack["peak_outbox_bytes"] == kept * size, (attack, kept)
        assert run.refused("outbox_budget") == jobs - kept, (attack, kept)
        assert run.refused("outbox_drop") == 0
        assert run.refused("outbox_unattached") == 0
        # A newcomer was served once the outboxes were full.
        assert attack["probe"] == {"initialize": 200, "call": 200, "metrics": 200}, attack["probe"]
        # Every session was deleted: the outboxes hold nothing.
        assert run.after.value("dcc_mcp_outbox_bytes") == 0


def test_a_session_that_never_opens_its_stream_stops_buffering() -> None:
    with Server(("--outbox-unattached-timeout", "1")) as server:
        before = server.scrape()
        with http_client(timeout=30.0) as client:
            session = Session(server.url, client)

            def start_blob() -> None:
                response = session.request(
                    "tools/call", {"name": "blob", "arguments": {"bytes": 1000}, "_meta": {"dcc-mcp/async": True}}
                )
                assert response.status_code == 200 and not response.json()["result"].get("isError")

            start_blob()
            # Within the timeout its completion notification is buffered for a stream to come.
            deadline = time.monotonic() + 10
            while scrape(server.metrics_url).value("dcc_mcp_outbox_bytes") == 0:
                assert time.monotonic() < deadline, "the completion notification was never buffered"
                time.sleep(0.05)
            time.sleep(1.1)
            # Past it: the next notification empties the outbox and is dropped with it.
            start_blob()
            deadline = time.monotonic() + 10
            while scrape(server.metrics_url).rejected("outbox_unattached") - before.rejected("outbox_unattached") < 2:
                assert time.monotonic() < deadline, "no outbox_unattached refusal counted"
                time.sleep(0.05)
            after = scrape(server.metrics_url)
            assert after.rejected("outbox_unattached") - before.rejected("outbox_unattached") == 2
            assert after.value("dcc_mcp_outbox_bytes") == 0
            session.delete()


def test_unread_streams_pin_bounded_kernel_memory_and_a_paused_client_keeps_its_connection() -> None:
    with Server() as server:
        run = run_attack(server, unread_streams, 1)
        # Memory: 64 sessions' outboxes hold what their streams could not take (at most 1 MiB each).
        assert_survived(run, 160 * MIB)
        attack = run.attack
        # 64 streams per address: the other 36 GETs got 503, each counted once.
        assert attack["stream_statuses"] == {200: 64, 503: 36}, attack["stream_statuses"]
        assert run.refused("client_stream_limit") == 36
        # The client silent for 12 s (past the 10 s header timeout) was answered on its connection.
        assert attack["paused_client"]["initialize"] == 200
        assert attack["paused_client"]["after_pause"] == 200, attack["paused_client"]
        assert attack["paused_client"]["paused_seconds"] >= PAUSE_SECONDS
        # A newcomer was served while the streams were held.
        assert attack["probe"] == {"initialize": 200, "call": 200, "metrics": 200}, attack["probe"]
        # Kernel memory: every stream socket's send buffer is the bounded one (64 KiB, which Linux
        # doubles), and the bytes queued on all 64 stay within 64 x (that buffer + one 64 KiB
        # segment the kernel may add past it) = 12 MiB, where an autotuned buffer let each of them
        # pin ~3.8 MB (243 MB for 64). The floor shows the streams were really filled.
        stream_buffer = 2 * 65536
        assert attack["send_buffers"] == {stream_buffer: 64}, attack["send_buffers"]
        assert 64 * stream_buffer // 2 < attack["peak_queued_bytes"] <= 64 * (stream_buffer + 65536), attack
        # Nothing was cut or shed: the write timeout (30 s) was not reached.
        for reason in ("write_timeout", "connection_shed", "connection_limit", "stream_limit", "body_budget"):
            assert run.refused(reason) == 0, reason
        assert run.after.value("dcc_mcp_open_streams") == 0


def test_fat_slow_bodies_hold_at_most_the_body_budget_and_each_refusal_is_counted() -> None:
    with Server() as server:
        run = run_attack(server, body_budget, 1)
        attack = run.attack
        # The holders hold 64 MiB - 1 KiB of bodies (and the server's RSS about that, not the
        # 256 x 4 MiB = 1 GiB that max_connections x max_body_bytes would allow).
        assert_survived(run, 200 * MIB)
        assert 16 * attack["hold_bytes"] <= attack["reading_held"] <= BODY_BUDGET, attack
        # Every body past the budget got 503 and its connection closed, each counted once.
        assert attack["refused_statuses"] == {503: 4}, attack
        assert attack["refused_closed"] == 4, attack
        assert run.refused("body_budget") == 4
        # Small requests still fit: a newcomer was served while the budget was held.
        assert attack["probe"] == {"initialize": 200, "call": 200, "metrics": 200}, attack["probe"]
        for reason in ("body_timeout", "connection_shed", "connection_limit", "client_connection_limit"):
            assert run.refused(reason) == 0, reason
        # The holders are gone: nothing is being read.
        assert run.after.value("dcc_mcp_body_bytes_reading") == 0


def test_a_busy_keep_alive_client_at_the_cap_gives_up_its_idle_connections() -> None:
    with Server() as server:
        run = run_attack(server, busy_keepalive, ATTACK_SECONDS)
        assert_survived(run, 120 * MIB)
        attack = run.attack
        # Every newcomer past the cap was served: five fresh clients (each one connection more),
        # and the attacker's own replacements.
        assert attack["probes"] == [{"initialize": 200, "call": 200, "metrics": 200}] * 5, attack["probes"]
        assert set(attack["ping_statuses"]) == {200}, attack["ping_statuses"]
        # Each newcomer shed one of the attacker's idle keep-alive connections — never the
        # well-behaved client's (its calls all succeeded), never a request being served — and the
        # attacker saw every one of them closed: the count in /metrics is exact.
        shed = run.refused("connection_shed")
        assert shed >= 5, attack
        assert attack["shed_seen"] == shed, (attack, shed)
        for reason in ("connection_limit", "client_connection_limit", "body_timeout", "stream_limit"):
            assert run.refused(reason) == 0, reason


def test_sse_idle_close_flag_ends_an_idle_stream() -> None:
    with Server(("--sse-idle-close", "0.5")) as server:
        with http_client(timeout=30.0) as client:
            session = Session(server.url, client)
            sock = raw_connection(server, "127.0.0.1", timeout=30.0)
            sock.sendall(
                (
                    f"GET /mcp HTTP/1.1\r\nhost: {server.host}:{server.port}\r\naccept: text/event-stream\r\n"
                    f"mcp-session-id: {session.id}\r\nmcp-protocol-version: {PROTOCOL}\r\n\r\n"
                ).encode()
            )
            received = b""
            while not received.endswith(b"\r\n0\r\n\r\n"):
                data = sock.recv(65536)
                assert data, f"closed before the end of the stream: {received!r}"
                received += data
            sock.close()
            # Only the priming event (resume point, reconnect delay), then the end of the body.
            assert received.split(b"\r\n\r\n", 1)[1] == b"13\r\nid: 0\nretry: 1000\n\n\r\n0\r\n\r\n", received
            deadline = time.monotonic() + 10
            while server.scrape().value("dcc_mcp_open_streams") != 0:
                assert time.monotonic() < deadline, "the ended stream is still counted open"
                time.sleep(0.02)
            session.delete()
