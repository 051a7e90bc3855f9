"""The blocking-thread attack against the real ``dcc-mcp-server`` (see ``thread_attacks``)."""

from __future__ import annotations

import os
import time

import pytest

from .harness import SERVER_BIN, Server, assert_survived, run_attack
from .test_jobs import ALL_REASONS
from .thread_attacks import BLOCKING_THREADS, blocking_threads, thread_count

ATTACK_SECONDS = float(os.environ.get("DCC_MCP_HOSTILE_SECONDS", "3"))

pytestmark = pytest.mark.skipif(
    "DCC_MCP_SERVER_BIN" not in os.environ and not SERVER_BIN.exists(),
    reason=f"needs {SERVER_BIN} (cargo build -p dcc-mcp-server)",
)

#: `block` holds its worker this long, well past the 500 ms request timeout.
BLOCK_MS = 2000


def test_runaway_sync_handlers_are_capped_and_answered_busy() -> None:
    with Server(BLOCKING_THREADS["flags"]) as server:
        before = thread_count(server.pid)

        def settle() -> None:
            # The runaway handlers still hold their workers; wait until they returned.
            time.sleep(BLOCK_MS / 1000 + 0.5)

        run = run_attack(server, blocking_threads, ATTACK_SECONDS, settle=settle, ms=BLOCK_MS)
        assert_survived(run, BLOCKING_THREADS["rss_budget_kib"])
        outcomes = run.attack["outcomes"]
        assert set(outcomes) <= {"busy", "timed_out"}, outcomes
        assert outcomes.get("busy", 0) > 0 and outcomes.get("timed_out", 0) > 0, outcomes
        # Exact counts: every refusal counted once; every call recorded once as an error of `block`.
        assert run.refused("busy") == outcomes["busy"]
        assert run.after.calls("block", "error") == outcomes["busy"] + outcomes["timed_out"]
        others = {r: run.refused(r) for r in ALL_REASONS if r != "busy"}
        assert not any(others.values()), others
        # 24 callers never got more than the 4 sync workers (plus the job workers and a margin the
        # runtime may keep): without the cap each would hold a thread of its own.
        assert run.attack["peak_threads"] <= before + 4 + 4 + 4, (before, run.attack["peak_threads"])
