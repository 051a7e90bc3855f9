"""Hostile traffic against the real ``dcc-mcp-server``, each attack scaled down to seconds.

Each test starts the binary with the attack's budgets scaled down (see ``attacks.ATTACKS``), runs the
attack for a few seconds while a well-behaved client keeps calling ``tools/call echo``, and asserts
that every well-behaved call succeeded, the server's RSS stayed under the stated budget, its file
descriptors returned to their baseline, ``/metrics`` counted the well-behaved calls exactly and the
refusals, and the process is alive. The same attacks run for minutes in ``scripts/soak.sh``.
"""

from __future__ import annotations

import os
from typing import Dict

import pytest

from .attacks import ATTACKS
from .harness import SERVER_BIN, Run, Server, assert_survived, run_attack

#: Seconds each attack runs (the soak runs them for minutes).
ATTACK_SECONDS = float(os.environ.get("DCC_MCP_HOSTILE_SECONDS", "3"))

pytestmark = pytest.mark.skipif(
    "DCC_MCP_SERVER_BIN" not in os.environ and not SERVER_BIN.exists(),
    reason=f"needs {SERVER_BIN} (cargo build -p dcc-mcp-server)",
)


def attack_run(name: str) -> Run:
    attack = ATTACKS[name]
    with Server(attack.flags) as server:
        run = run_attack(server, attack.fn, ATTACK_SECONDS, **dict(attack.params))
        assert_survived(run, attack.rss_budget_kib)
        for reason in attack.reasons:
            assert run.refused(reason) > 0, f"no {reason} refusal counted: {run.attack}"
        # A refusal of another kind would mean a budget hit something it should not have.
        others = {
            reason: run.refused(reason)
            for reason in ("batch_too_large", "response_too_large", "too_many_sessions", "session_evicted",
                           "connection_limit", "body_timeout", "write_timeout")
            if reason not in attack.reasons
        }
        assert not any(others.values()), others
        return run


def test_batch_amplification_is_refused_and_cut_short() -> None:
    run = attack_run("batch_amplification")
    statuses: Dict[int, int] = run.attack["statuses"]
    # Every huge batch is refused whole (400) and every allowed one answered (200).
    assert set(statuses) == {400, 200}, statuses
    assert statuses[400] == run.refused("batch_too_large")
    assert statuses[200] == run.refused("response_too_large")
    # The allowed batches were cut short with -32603 replies, and no response came near 117 MB.
    assert run.attack["error_codes"].get(-32603, 0) > 0
    assert run.attack["largest_response_bytes"] < 16384 + 64 * 300


def test_session_lockout_evicts_idle_sessions_and_refuses_only_busy_addresses() -> None:
    run = attack_run("session_lockout")
    initialize = run.attack["initialize"]
    # More sessions were opened than the cap of 48 holds: eviction made room for newcomers.
    assert initialize.get(200, 0) > 48, initialize
    # An address whose sessions all hold streams gets 503, counted once per refusal.
    assert initialize.get(503, 0) == run.refused("too_many_sessions")
    assert set(initialize) <= {200, 503}, initialize  # no dropped connection either
    # Evicted sessions answer 404 (pings of the attacker found some).
    assert set(run.attack["ping"]) <= {200, 404}, run.attack["ping"]
    # The streaming address filled its 32 sessions with streams; the other held none.
    assert run.attack["streams_held"] == {"127.0.0.2": 32, "127.0.0.3": 0}, run.attack["streams_held"]


def test_stalled_bodies_get_408_and_their_connections_close() -> None:
    run = attack_run("stalled_bodies")
    ended = run.attack["ended_by_server"]
    assert ended.get(408, 0) >= 100, ended
    assert set(ended) == {408}, ended
    assert ended[408] <= run.refused("body_timeout")


def test_connection_flood_is_capped() -> None:
    run = attack_run("connection_flood")
    ended = run.attack["ended_by_server"]
    # Past the cap: 503 at once; within it: closed after the header timeout without a response.
    assert ended.get(503, 0) > 0 and ended.get(0, 0) > 0, ended
    assert set(ended) <= {0, 503}, ended
    assert ended[503] <= run.refused("connection_limit")


def test_sse_stream_that_is_not_read_is_closed() -> None:
    run = attack_run("sse_non_reader")
    # Each unread stream was cut exactly once (and its descriptor is back: see assert_survived).
    assert run.refused("write_timeout") == run.attack["streams"], run.attack


def test_metrics_refuse_dns_rebinding() -> None:
    run = attack_run("metrics_rebinding")
    assert set(run.attack["statuses"]) == {403}, run.attack
    assert run.attack["responses_with_metrics"] == 0


def test_large_bodies_do_not_stall_a_well_behaved_client() -> None:
    run = attack_run("large_bodies")
    finished = run.attack["finished"]
    # Every big call was answered, correctly (status 200 and the sum).
    assert run.attack["statuses"] == {200: len(finished)}, run.attack["statuses"]
    assert len(finished) >= 2, f"only {len(finished)} big calls were answered"
    assert run.attack["body_bytes"] > 3_800_000
    # While big bodies were parsed, the good client kept being served: every one of its calls
    # succeeded (assert_survived) and it finished calls between the first and the last big answer.
    # How many depends on the machine (measured on a loaded 2-core machine, debug build, 3 s: 119
    # good calls during 4 big ones, p99 0.14 s; with the bodies parsed on the I/O workers 14 to 157,
    # p99 up to 4.9 s), so the count asserted is the one that always holds; the ordering that
    # proves the parse leaves the I/O thread is asserted in crates/dcc-mcp-http/tests/large_bodies.rs.
    good = [t for t in run.good_finished if finished[0] <= t <= finished[-1]]
    assert len(good) >= len(finished), f"{len(good)} good calls during {len(finished)} big ones"


def test_log_flood_is_held_to_the_session_log_budget() -> None:
    run = attack_run("log_flood")
    attack = run.attack
    # Every call was answered with its result last, and every one of its three messages was either
    # delivered on the call's own response or dropped and counted.
    assert attack["calls"] > 0 and attack["result_last"] == attack["calls"], attack
    assert attack["delivered"] + run.refused("log_rate") == 3 * attack["calls"], attack
    assert run.refused("log_rate") > 0
    # A session that did not flood has its own budget: all three of its messages arrive.
    assert attack["fresh_logs"] == ["Tool execution started", "Tool processing data", "Tool execution completed"]
    assert attack["fresh_result_last"]
