"""Job attacks of the hostile-traffic suite, each ``attack(server, stop, **params) -> dict``.

Like the attacks in ``attacks.py``: each runs until ``stop`` is set and returns what it saw. Next to
the attacker, each also runs a well-behaved *job* client (its own session, from ``127.0.0.1``) that
submits small jobs one at a time and polls ``jobs.get`` until they end; its outcomes are returned
under ``"polite"`` and every one of them must be a success.

:data:`JOB_ATTACKS` gives, for each, the server flags that scale its budgets down, the budget in words
(for the soak table), the ``dcc_mcp_rejected_total`` reasons it must drive, and the RSS budget.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Tuple

import httpx

from .harness import ATTACK_ADDRS, GOOD_ADDR, HANG_GUARD_SECONDS, Server, Session, http_client

ASYNC_META = {"dcc-mcp/async": True}


def call_tool(session: Session, name: str, arguments: Dict[str, Any], as_job: bool = False) -> Dict[str, Any]:
    """``tools/call``; returns the JSON-RPC ``result`` (raises on anything else)."""
    params: Dict[str, Any] = {"name": name, "arguments": arguments}
    if as_job:
        params["_meta"] = ASYNC_META
    response = session.request("tools/call", params)
    response.raise_for_status()
    return response.json()["result"]


def text_of(result: Dict[str, Any]) -> str:
    return result["content"][0]["text"]


class PoliteJobs:
    """A well-behaved job client: submits ``tool`` jobs one at a time and polls each to its end."""

    def __init__(self, server: Server, tool: str, arguments: Dict[str, Any], expect: Callable[[Dict[str, Any]], bool]):
        self.server = server
        self.tool = tool
        self.arguments = arguments
        self.expect = expect
        self.outcomes: List[Tuple[bool, float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _one(self, session: Session) -> Tuple[bool, str]:
        submitted = call_tool(session, self.tool, self.arguments, as_job=True)
        if submitted.get("isError"):
            return False, text_of(submitted)
        job_id = submitted["structuredContent"]["jobId"]
        deadline = time.monotonic() + HANG_GUARD_SECONDS
        while time.monotonic() < deadline:
            job = call_tool(session, "jobs.get", {"jobId": job_id})["structuredContent"]
            if job["status"] in ("succeeded", "failed", "cancelled"):
                ok = job["status"] == "succeeded" and self.expect(job["result"])
                return ok, "" if ok else str(job)[:200]
            time.sleep(0.01)
        return False, f"job {job_id} did not end"

    def _run(self) -> None:
        with http_client(GOOD_ADDR, timeout=HANG_GUARD_SECONDS) as client:
            session = Session(self.server.url, client)
            while not self._stop.is_set():
                start = time.monotonic()
                try:
                    ok, detail = self._one(session)
                except (httpx.HTTPError, KeyError, ValueError) as err:
                    ok, detail = False, repr(err)[:200]
                self.outcomes.append((ok, time.monotonic() - start, detail))
            session.delete()

    def start(self) -> "PoliteJobs":
        self._thread.start()
        return self

    def stop(self) -> Dict[str, Any]:
        self._stop.set()
        self._thread.join(HANG_GUARD_SECONDS)
        latencies = sorted(latency for _, latency, _ in self.outcomes)
        return {
            "jobs": len(self.outcomes),
            "succeeded": sum(1 for ok, _, _ in self.outcomes if ok),
            "failures": [detail for ok, _, detail in self.outcomes if not ok][:5],
            "p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 1) if latencies else 0.0,
        }


def _submit(session: Session, tool: str, arguments: Dict[str, Any], replies: Counter) -> None:
    """Submit one job and classify the reply: accepted, quota, queue_full, or the error text."""
    result = call_tool(session, tool, arguments, as_job=True)
    if not result.get("isError"):
        replies["accepted"] += 1
    elif text_of(result).startswith("job quota reached"):
        replies["quota"] += 1
    elif text_of(result).startswith("job queue full for this client"):
        replies["client_share"] += 1
    elif text_of(result).startswith("job queue full"):
        replies["queue_full"] += 1
    else:
        replies[text_of(result)[:80]] += 1


def _list_bytes(session: Session) -> int:
    """The size of a ``jobs.list`` response."""
    response = session.request("tools/call", {"name": "jobs.list", "arguments": {}})
    response.raise_for_status()
    return len(response.content)


# ------------------------------------------------------------------------------------------------
# Job results


def job_results(
    server: Server,
    stop: threading.Event,
    report: Dict[str, Any],
    big: int = 4 * 1024 * 1024,
    kept: int = 512 * 1024,
) -> Dict[str, Any]:
    """One session never opens its stream and keeps its job slots full: results of ``big`` bytes
    (past ``max_job_result_bytes``), results of ``kept`` bytes (stored, announced without the
    result), and ``sleep 0`` jobs whose progress and completions fill the outbox; it lists its jobs
    now and then. A polite session runs small ``blob`` jobs meanwhile. The result also goes to
    ``report`` (for the settle step)."""
    polite = PoliteJobs(server, "blob", {"bytes": 1000}, lambda r: text_of(r) == "x" * 1000).start()
    replies: Dict[str, Counter] = {"big": Counter(), "kept": Counter(), "sleep": Counter()}
    largest_list = 0
    with http_client(ATTACK_ADDRS[0], timeout=HANG_GUARD_SECONDS) as client:
        session = Session(server.url, client)
        n = 0
        while not stop.is_set():
            n += 1
            _submit(session, "blob", {"bytes": big}, replies["big"])
            _submit(session, "blob", {"bytes": kept}, replies["kept"])
            for _ in range(4):
                _submit(session, "sleep", {"ms": 0}, replies["sleep"])
            if n % 5 == 0:
                largest_list = max(largest_list, _list_bytes(session))
        largest_list = max(largest_list, _list_bytes(session))
        # The session is left open (its outbox full): the server keeps it within the budgets.
    report.update(
        replies={kind: dict(counter) for kind, counter in replies.items()},
        largest_jobs_list_bytes=largest_list,
        polite=polite.stop(),
    )
    return report


# ------------------------------------------------------------------------------------------------
# Job queue takeover


def job_queue_takeover(
    server: Server, stop: threading.Event, report: Dict[str, Any], jobs: int = 68, ms: int = 600_000
) -> Dict[str, Any]:
    """One session submits ``jobs`` sleep jobs of ``ms`` (10 minutes), then keeps asking for more;
    a polite session runs short ``sleep`` jobs meanwhile. At the end the attacker DELETEs its session,
    which must cancel its running and queued jobs. The result also goes to ``report``."""
    polite = PoliteJobs(server, "sleep", {"ms": 20}, lambda r: r["structuredContent"] == {"slept_ms": 20}).start()
    replies: Counter = Counter()
    with http_client(ATTACK_ADDRS[0], timeout=HANG_GUARD_SECONDS) as client:
        session = Session(server.url, client)
        for _ in range(jobs):
            _submit(session, "sleep", {"ms": ms}, replies)
        while not stop.wait(0.05):
            _submit(session, "sleep", {"ms": ms}, replies)
        polite_result = polite.stop()
        session.delete()
    report.update(replies=dict(replies), polite=polite_result)
    return report


# ------------------------------------------------------------------------------------------------
# Job queue takeover from many sessions of one address


def job_queue_many_sessions(
    server: Server,
    stop: threading.Event,
    report: Dict[str, Any],
    sessions: int = 5,
    per_session: int = 17,
    ms: int = 600_000,
) -> Dict[str, Any]:
    """One address opens ``sessions`` sessions and sends ``per_session`` sleep jobs of ``ms`` from
    each (85 requests: past every session's quota, more than the whole queue), then keeps asking for
    more; a polite client of another address runs short ``sleep`` jobs meanwhile. At the end the
    attacker DELETEs its sessions, which cancels their jobs. The result also goes to ``report``."""
    polite = PoliteJobs(server, "sleep", {"ms": 20}, lambda r: r["structuredContent"] == {"slept_ms": 20}).start()
    replies: Counter = Counter()
    with http_client(ATTACK_ADDRS[0], timeout=HANG_GUARD_SECONDS) as client:
        attackers = [Session(server.url, client) for _ in range(sessions)]
        for session in attackers:
            for _ in range(per_session):
                _submit(session, "sleep", {"ms": ms}, replies)
        n = 0
        while not stop.wait(0.05):
            _submit(attackers[n % sessions], "sleep", {"ms": ms}, replies)
            n += 1
        polite_result = polite.stop()
        for session in attackers:
            session.delete()
    report.update(replies=dict(replies), polite=polite_result)
    return report


def jobs_settled(server: Server, tool: str, accepted: int) -> bool:
    """Every accepted job of ``tool`` left the queue and none is running."""
    now = server.scrape()
    left_queue = now.value("dcc_mcp_job_wait_seconds_count", tool=tool)
    running = now.value("dcc_mcp_jobs_in_flight", tool=tool)
    return left_queue == accepted and running == 0


@dataclass(frozen=True)
class JobAttack:
    fn: Callable[..., Dict[str, Any]]
    #: Server flags that scale the budgets down for a run of seconds.
    flags: Tuple[str, ...]
    #: The budget in words, for the soak table.
    budget: str
    #: `dcc_mcp_rejected_total` reasons the attack drives.
    reasons: Tuple[str, ...]
    #: Peak RSS the server must stay under, KiB.
    rss_budget_kib: int
    #: Reasons the attack may drive, depending on the machine's speed (the test checks them exactly).
    may_drive: Tuple[str, ...] = ()


MIB = 1024

JOB_ATTACKS: Dict[str, JobAttack] = {
    "job_results": JobAttack(
        job_results,
        (
            "--max-job-result-bytes", str(1024 * 1024),
            "--max-finished-job-bytes", str(8 * 1024 * 1024),
            "--max-notification-result-bytes", str(4 * 1024),
            "--max-outbox-bytes", str(8 * 1024),
            "--max-jobs-per-session", "8",
        ),
        "1 MiB per result, 8 MiB of finished results, 4 KiB per notification, 8 KiB outbox, 8 jobs per session",
        ("result_too_large", "outbox_drop"),
        # Bounded by the work in flight, not by time: 4 workers each building a 4 MB result (the
        # string, its JSON value and the measuring pass) plus the 8 MiB kept and a ~19 MiB baseline.
        # Measured 43 MiB in a 3 s debug run and 82 MiB at the peak of a 45 s release soak.
        120 * MIB,
        ("job_quota",),
    ),
    "job_queue_takeover": JobAttack(
        job_queue_takeover,
        (),
        "16 jobs per session, a session runs at most 3 of the 4 workers; DELETE cancels",
        ("job_quota",),
        # Measured 21 MiB (baseline 19).
        40 * MIB,
    ),
    "job_queue_many_sessions": JobAttack(
        job_queue_many_sessions,
        (),
        "an address holds at most 32 of the 64 queue slots and runs at most 3 of the 4 workers",
        ("job_quota", "job_client_share"),
        40 * MIB,
    ),
}
