"""Shared budgets against the real ``dcc-mcp-server`` on its default budgets (see ``budget_attacks``):
connection slots that stalled bodies, unread streams and silent sockets cannot take, and outbox
memory that sessions without a stream cannot grow."""

from __future__ import annotations

import os
import time

import pytest

from .budget_attacks import connection_slots, outbox_flood
from .harness import SERVER_BIN, Server, Session, assert_survived, http_client, run_attack, scrape

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


def test_outboxes_of_sessions_without_a_stream_stay_within_the_global_budget() -> None:
    # 8 MiB for all outboxes together (default 64 MiB), so that seconds of attack reach it.
    budget = 8 * 1024 * 1024
    with Server(("--max-outbox-bytes-total", str(budget))) as server:
        run = run_attack(server, outbox_flood, ATTACK_SECONDS)
        # 8 MiB of outboxes, the finished-job results (64 MiB budget) and the runtime.
        assert_survived(run, 200 * MIB)
        assert run.attack["jobs_accepted"] > 0, run.attack
        assert 0 < run.attack["peak_outbox_bytes"] <= budget, run.attack
        assert run.refused("outbox_budget") > 0
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
