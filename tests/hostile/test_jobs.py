"""Job attacks against the real ``dcc-mcp-server``, scaled down to seconds (see ``job_attacks``).

Each test runs the attack next to the harness's well-behaved ``echo`` client and a well-behaved job
client, then checks: every well-behaved call and job succeeded, the server's RSS stayed under the
stated budget, its file descriptors returned to their baseline, ``/metrics`` counted the well-behaved
calls and the refusals exactly, and the process is alive.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import Any, Dict

import pytest

from .harness import HANG_GUARD_SECONDS, SERVER_BIN, Run, Server, assert_survived, run_attack
from .job_attacks import JOB_ATTACKS, jobs_settled

#: Seconds each attack runs (the soak runs them for minutes).
ATTACK_SECONDS = float(os.environ.get("DCC_MCP_HOSTILE_SECONDS", "3"))

#: Every refusal reason; those an attack does not drive must stay at zero.
ALL_REASONS = (
    "batch_too_large", "response_too_large", "too_many_sessions", "session_evicted", "connection_limit",
    "body_timeout", "write_timeout", "job_quota", "result_too_large", "busy", "main_thread_full",
    "expired_before_run", "outbox_drop", "auth", "auth_throttled", "auth_scope", "auth_unavailable",
    "log_rate", "pending_client_requests", "request_state_too_large", "subscription_limit",
    "job_queue_full", "job_client_share",
)

pytestmark = pytest.mark.skipif(
    "DCC_MCP_SERVER_BIN" not in os.environ and not SERVER_BIN.exists(),
    reason=f"needs {SERVER_BIN} (cargo build -p dcc-mcp-server)",
)


def attack_run(name: str, tool: str, accepted_of) -> Run:
    """Runs attack ``name``; settles until every accepted ``tool`` job (``accepted_of(report)``) has
    left the queue and none runs, then checks the invariants every hostile test shares."""
    attack = JOB_ATTACKS[name]
    report: Dict[str, Any] = {}

    def settle() -> None:
        deadline = time.monotonic() + HANG_GUARD_SECONDS
        while not jobs_settled(server, tool, accepted_of(report)):
            assert time.monotonic() < deadline, f"jobs did not settle: {report}"
            time.sleep(0.05)

    with Server(attack.flags) as server:
        run = run_attack(server, attack.fn, ATTACK_SECONDS, settle=settle, report=report)
        assert_survived(run, attack.rss_budget_kib)
        polite = run.attack["polite"]
        assert polite["jobs"] > 0 and polite["succeeded"] == polite["jobs"], polite
        for reason in attack.reasons:
            assert run.refused(reason) > 0, f"no {reason} refusal counted: {run.attack}"
        checked = attack.reasons + attack.may_drive
        others = {reason: run.refused(reason) for reason in ALL_REASONS if reason not in checked}
        assert not any(others.values()), others
        return run


def created(run: Run, tool: str, result: str) -> float:
    labels = {"tool": tool, "result": result}
    return run.after.value("dcc_mcp_job_created_total", **labels) - run.before.value(
        "dcc_mcp_job_created_total", **labels
    )


def test_large_job_results_are_refused_and_bounded() -> None:
    def accepted(report: Dict[str, Any]) -> int:
        replies = report["replies"]
        return replies["big"].get("accepted", 0) + replies["kept"].get("accepted", 0) + report["polite"]["jobs"]

    run = attack_run("job_results", "blob", accepted)
    replies = run.attack["replies"]
    # Every large result was discarded and counted once; every quota refusal counted once.
    assert replies["big"].get("accepted", 0) > 0, replies
    assert run.refused("result_too_large") == replies["big"]["accepted"]
    quota = sum(counter.get("quota", 0) for counter in replies.values())
    assert run.refused("job_quota") == quota
    assert set().union(*replies.values()) <= {"accepted", "quota"}, replies
    assert created(run, "blob", "accepted") == accepted(run.attack)
    assert created(run, "blob", "quota") == replies["big"].get("quota", 0) + replies["kept"].get("quota", 0)
    # jobs.list never carries a result: it stays smaller than one kept result.
    assert 0 < run.attack["largest_jobs_list_bytes"] < 512 * 1024


def test_job_queue_takeover_is_held_to_the_session_quota_and_delete_cancels() -> None:
    def accepted(report: Dict[str, Any]) -> int:
        return report["replies"].get("accepted", 0) + report["polite"]["jobs"]

    run = attack_run("job_queue_takeover", "sleep", accepted)
    replies = run.attack["replies"]
    # One session gets its 16 slots; every further job is refused with the quota, never "queue full".
    assert replies.get("accepted") == 16, replies
    assert set(replies) == {"accepted", "quota"}, replies
    assert run.refused("job_quota") == replies["quota"]
    assert created(run, "sleep", "accepted") == accepted(run.attack)
    assert created(run, "sleep", "quota") == replies["quota"]
    assert created(run, "sleep", "queue_full") == 0
    # Settling proved DELETE cancelled the 10-minute jobs: all left the queue and none runs.


def test_many_sessions_of_one_address_hold_only_its_share_of_the_job_system() -> None:
    def accepted(report: Dict[str, Any]) -> int:
        return report["replies"].get("accepted", 0) + report["polite"]["jobs"]

    run = attack_run("job_queue_many_sessions", "sleep", accepted)
    replies = run.attack["replies"]
    # The address runs 3 of the 4 workers and holds 32 of the 64 queue slots: 35 jobs in all. The
    # 17th job of each of the first two sessions hits the session quota; the rest hit the share.
    assert replies.get("accepted") == 35, replies
    assert set(replies) == {"accepted", "quota", "client_share"}, replies
    assert run.refused("job_quota") == replies["quota"]
    assert run.refused("job_client_share") == replies["client_share"]
    assert created(run, "sleep", "accepted") == accepted(run.attack)
    assert created(run, "sleep", "queue_full") == replies["client_share"]
    # The polite client of another address never met a full queue (checked in attack_run: every
    # one of its jobs succeeded, and job_queue_full stayed at zero).


def test_dropped_notifications_log_at_most_one_warning_per_second(tmp_path, monkeypatch) -> None:
    """A session that never opens its stream fills its 8 KiB outbox with job notifications for 3 s:
    every drop is counted, but the log gets at most one WARN line per second (it was one per drop)."""
    from .harness import ATTACK_ADDRS, Session, http_client
    from .job_attacks import call_tool

    log = tmp_path / "server.log"
    monkeypatch.setenv("DCC_MCP_HOSTILE_LOG", str(log))
    with Server(("--max-outbox-bytes", "8192", "--max-notification-result-bytes", "4096")) as server:
        with http_client(ATTACK_ADDRS[0], timeout=HANG_GUARD_SECONDS) as client:
            session = Session(server.url, client)
            start = time.monotonic()
            while time.monotonic() - start < ATTACK_SECONDS:
                call_tool(session, "sleep", {"ms": 0}, as_job=True)
            elapsed = time.monotonic() - start
            # Let the last jobs finish and announce themselves (and drop more).
            deadline = time.monotonic() + HANG_GUARD_SECONDS
            while server.scrape().value("dcc_mcp_jobs_in_flight", tool="sleep") != 0:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            drops = server.scrape().rejected("outbox_drop")
            session.delete()
        assert server.alive()
    lines = [line for line in log.read_text().splitlines() if "notification outboxes full" in line]
    # One line per started second of the flood, and one for the drops of the settling jobs.
    assert 1 <= len(lines) <= int(elapsed) + 2, (len(lines), elapsed)
    assert drops > 10 * len(lines), (drops, len(lines))


def test_unfetched_job_results_survive_an_eviction_flood_from_another_address() -> None:
    """A polite client's finished job result is not wiped by another address opening sessions: with
    8 session slots, 200 `initialize` calls from 127.0.0.2 evict every idle session but the one
    holding an unfetched result; once fetched with `jobs.get`, that session is evictable again."""
    from .harness import ATTACK_ADDRS, GOOD_ADDR, Session, SessionRefused, http_client
    from .job_attacks import call_tool

    with Server(("--max-sessions", "8")) as server:
        with http_client(GOOD_ADDR, timeout=HANG_GUARD_SECONDS) as good, http_client(
            ATTACK_ADDRS[0], timeout=HANG_GUARD_SECONDS
        ) as bad:
            holder = Session(server.url, good)
            job = call_tool(holder, "sleep", {"ms": 0}, as_job=True)["structuredContent"]["jobId"]
            deadline = time.monotonic() + HANG_GUARD_SECONDS
            while call_tool(holder, "jobs.list", {})["structuredContent"]["jobs"][0]["status"] != "succeeded":
                assert time.monotonic() < deadline
                time.sleep(0.01)
            before = server.scrape().rejected("session_evicted")
            refused = 0
            for _ in range(200):
                try:
                    Session(server.url, bad)
                except SessionRefused:
                    refused += 1
            assert refused == 0
            # 7 free slots, then every further initialize evicted one idle attacker session.
            assert server.scrape().rejected("session_evicted") - before == 200 - 7
            fetched = call_tool(holder, "jobs.get", {"jobId": job})["structuredContent"]
            assert fetched["status"] == "succeeded"
            assert fetched["result"]["structuredContent"] == {"slept_ms": 0}
            # Fetched: the holder is an ordinary idle session again and goes with the next evictions.
            for _ in range(8):
                Session(server.url, bad)
            gone = holder.request("ping")
            assert gone.status_code == 404
        assert server.alive()


#: One ``sleep`` job's arguments: ``ms`` and a ``pad`` array of zeros that brings the request body
#: to just under the default 4 MiB ``max_body_bytes``.
BIG_BODY_BYTES = 4 * 1024 * 1024 - 4096
#: Queued big jobs the test holds at once (under the session quota of 16).
BIG_JOBS = 8


def big_sleep_body(request_id: int) -> bytes:
    head = (
        '{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"sleep",'
        '"_meta":{"dcc-mcp/async":true},"arguments":{"ms":600000,"pad":[' % request_id
    )
    tail = "]}}}"
    zeros = (BIG_BODY_BYTES - len(head) - len(tail) + 1) // 2
    body = (head + ",".join("0" * zeros) + tail).encode()
    assert BIG_BODY_BYTES - 2 <= len(body) <= BIG_BODY_BYTES, len(body)
    return body


def test_a_queued_job_holds_about_its_argument_bytes() -> None:
    """Issue 16: a queued job keeps its validated arguments as JSON text, not a parsed tree (a 4 MiB
    body of numbers was 64 MiB of `serde_json::Value`). One small job runs and holds the only job
    worker; then 8 jobs with 4 MiB number-array arguments wait in the queue. The server's RSS grows by
    less than 2x the body bytes per queued job plus 32 MiB (the tree-holding queue grew by ~16x)."""
    from .harness import GOOD_ADDR, Session, http_client
    from .job_attacks import call_tool

    with Server(("--job-concurrency", "1")) as server:
        with http_client(GOOD_ADDR, timeout=HANG_GUARD_SECONDS) as client:
            session = Session(server.url, client)
            running = call_tool(session, "sleep", {"ms": 600000}, as_job=True)["structuredContent"]["jobId"]
            deadline = time.monotonic() + HANG_GUARD_SECONDS
            while call_tool(session, "jobs.get", {"jobId": running})["structuredContent"]["status"] != "running":
                assert time.monotonic() < deadline
                time.sleep(0.01)
            before_kib = server.rss_kib()
            headers = {**session.headers, "Content-Type": "application/json"}
            for n in range(BIG_JOBS):
                response = client.post(server.url, headers=headers, content=big_sleep_body(100 + n))
                response.raise_for_status()
                result = response.json()["result"]
                assert not result.get("isError"), result
                assert result["structuredContent"]["status"] == "queued", result
            after_kib = server.rss_kib()
            jobs = call_tool(session, "jobs.list", {})["structuredContent"]["jobs"]
            statuses = Counter(job["status"] for job in jobs)
            assert statuses == {"running": 1, "queued": BIG_JOBS}, statuses
            scrape = server.scrape()
            assert scrape.value("dcc_mcp_job_created_total", tool="sleep", result="accepted") == BIG_JOBS + 1
            grown_kib = after_kib - before_kib
            per_job_kib = grown_kib / BIG_JOBS
            print(f"RSS {before_kib} -> {after_kib} KiB: {per_job_kib:.0f} KiB per queued {BIG_BODY_BYTES} B job")
            assert grown_kib < BIG_JOBS * 2 * BIG_BODY_BYTES // 1024 + 32 * 1024, (before_kib, after_kib)
            session.delete()
        assert server.alive()
