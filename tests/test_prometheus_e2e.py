"""End to end: a real Prometheus server scrapes ``dcc-mcp-server`` through Basic auth.

Starts the ``dcc-mcp-server`` binary (``DCC_MCP_SERVER_BIN``, default ``target/debug/dcc-mcp-server``)
with ``--prometheus --metrics-basic-auth-file``, and Debian's ``prometheus`` with its own TSDB
directory, a 1 s scrape interval, ``basic_auth`` with a ``password_file``, and a second job whose
password is wrong. Drives MCP traffic with raw JSON-RPC over httpx and asserts through Prometheus'
HTTP API: ``up == 1``, the exact ``dcc_mcp_tool_calls_total`` samples, results for the source
document's three PromQL queries, and ``up == 0`` with a 401 in ``lastError`` for the wrong password.

Bounded in time (Prometheus' first scrape comes a few seconds after it starts; every wait below
has a deadline) and both processes are always killed.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVER_BIN = Path(os.environ.get("DCC_MCP_SERVER_BIN", ROOT / "target" / "debug" / "dcc-mcp-server"))
PROMETHEUS_BIN = os.environ.get("PROMETHEUS_BIN") or shutil.which("prometheus") or "/usr/bin/prometheus"

USER, PASSWORD = "scraper", "s3cr:et-é"
GOOD_JOB, BAD_JOB = "dcc-mcp", "dcc-mcp-wrong-password"
# Tool calls driven before and after Prometheus' first scrape.
OK_BEFORE, OK_AFTER, ERR_AFTER, UNKNOWN_AFTER = 2, 3, 2, 1
DEADLINE_S = 25.0

# `scripts/test.sh` sets DCC_MCP_SERVER_BIN and installs Prometheus: then a missing piece is a
# failure. A bare `pytest` run without them skips this module instead.
pytestmark = pytest.mark.skipif(
    "DCC_MCP_SERVER_BIN" not in os.environ and (not SERVER_BIN.exists() or not Path(PROMETHEUS_BIN).exists()),
    reason=f"needs {SERVER_BIN} (cargo build -p dcc-mcp-server) and {PROMETHEUS_BIN} (apt install prometheus)",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what: str, probe, timeout: float = DEADLINE_S, interval: float = 0.25):
    """Calls ``probe()`` until it returns a truthy value; fails with ``what`` after ``timeout``."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            last = probe()
        except (httpx.HTTPError, OSError) as exc:  # not up yet
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


class Mcp:
    """Just enough of the MCP Streamable HTTP client: a session, tools/call, DELETE."""

    def __init__(self, url: str):
        self.url = url
        self.http = httpx.Client(timeout=10)
        self.next_id = 0
        headers = {"Accept": "application/json, text/event-stream"}
        resp = self.http.post(
            url,
            headers=headers,
            json={
                "jsonrpc": "2.0",
                "id": self._id(),
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "test_prometheus_e2e", "version": "0"},
                },
            },
        )
        resp.raise_for_status()
        self.headers = {
            **headers,
            "Mcp-Session-Id": resp.headers["mcp-session-id"],
            "MCP-Protocol-Version": "2025-06-18",
        }
        resp = self.http.post(url, headers=self.headers, json={"jsonrpc": "2.0", "method": "notifications/initialized"})
        assert resp.status_code == 202

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def request(self, method: str, params: dict) -> dict:
        msg = {"jsonrpc": "2.0", "id": self._id(), "method": method, "params": params}
        resp = self.http.post(self.url, headers=self.headers, json=msg)
        resp.raise_for_status()
        return resp.json()

    def call(self, name: str, arguments: dict) -> dict:
        return self.request("tools/call", {"name": name, "arguments": arguments})

    def close(self) -> None:
        self.http.delete(self.url, headers=self.headers)
        self.http.close()


def pick_tools(mcp: Mcp) -> tuple[str, dict, str, dict]:
    """A demo tool call that succeeds and one that fails (isError), from the server's tool list."""
    tools = {t["name"] for t in mcp.request("tools/list", {})["result"]["tools"]}
    assert "echo" in tools, f"demo tools missing: {sorted(tools)}"
    # Argument validation failures are results with isError: true, counted as status="error".
    return "echo", {"text": "hello"}, "echo", {"text": 42}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("prom-e2e")
    app_port, prom_port = free_port(), free_port()
    auth_file = tmp / "metrics.auth"
    auth_file.write_text(f"{USER}:{PASSWORD}\n", encoding="utf-8")
    good_pass, bad_pass = tmp / "good.pass", tmp / "bad.pass"
    good_pass.write_text(PASSWORD, encoding="utf-8")
    bad_pass.write_text("not-the-password", encoding="utf-8")
    target = f"127.0.0.1:{app_port}"
    jobs = []
    for job, pw in ((GOOD_JOB, good_pass), (BAD_JOB, bad_pass)):
        jobs.append(
            f"""  - job_name: {job}
    metrics_path: /metrics
    static_configs:
      - targets: ["{target}"]
    basic_auth:
      username: {USER}
      password_file: {pw}
"""
        )
    config = tmp / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n"
        + "".join(jobs),
        encoding="utf-8",
    )

    server = prom = None
    logs = {name: open(tmp / f"{name}.log", "wb") for name in ("server", "prometheus")}
    try:
        server = subprocess.Popen(
            [
                str(SERVER_BIN),
                "--host",
                "127.0.0.1",
                "--port",
                str(app_port),
                "--demo-tools",
                "--prometheus",
                "--metrics-basic-auth-file",
                str(auth_file),
            ],
            stdout=logs["server"],
            stderr=subprocess.STDOUT,
        )
        prom = subprocess.Popen(
            [
                PROMETHEUS_BIN,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
                "--log.level=warn",
            ],
            stdout=logs["prometheus"],
            stderr=subprocess.STDOUT,
        )
        basic = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        metrics_url = f"http://{target}/metrics"
        wait_until(
            "dcc-mcp-server /metrics",
            lambda: server.poll() is None and httpx.get(metrics_url, headers={"Authorization": basic}).status_code == 200,
            timeout=10,
        )
        yield {
            "mcp_url": f"http://{target}/mcp",
            "metrics_url": metrics_url,
            "basic": basic,
            "prom": f"http://127.0.0.1:{prom_port}",
            "target": target,
            "server": server,
        }
    finally:
        stop(prom)
        stop(server)
        for name, f in logs.items():
            f.close()
            # Captured by pytest and shown only when the test fails.
            tail = (tmp / f"{name}.log").read_text(encoding="utf-8", errors="replace")[-4000:]
            print(f"--- {name} log (tail) ---\n{tail}")


def query(prom: str, expr: str) -> list[dict]:
    resp = httpx.get(f"{prom}/api/v1/query", params={"query": expr}, timeout=5)
    resp.raise_for_status()
    body = resp.json()
    assert body["status"] == "success", body
    return body["data"]["result"]


def scalar(prom: str, expr: str) -> float | None:
    result = query(prom, expr)
    return float(result[0]["value"][1]) if len(result) == 1 else None


def test_prometheus_scrapes_exact_counts_and_rejects_wrong_password(stack):
    prom, server = stack["prom"], stack["server"]

    # The endpoint itself: 401 with the challenge without credentials.
    resp = httpx.get(stack["metrics_url"])
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == 'Basic realm="dcc-mcp metrics"'

    mcp = Mcp(stack["mcp_url"])
    try:
        ok_tool, ok_args, bad_tool, bad_args = pick_tools(mcp)
        for _ in range(OK_BEFORE):
            assert mcp.call(ok_tool, ok_args)["result"]["isError"] is False

        good_up = f'up{{job="{GOOD_JOB}"}}'
        wait_until("Prometheus' first scrape (up == 1)", lambda: scalar(prom, good_up) == 1.0)
        calls = f'dcc_mcp_tool_calls_total{{job="{GOOD_JOB}",tool="{ok_tool}",status="success"}}'
        wait_until("the first totals", lambda: scalar(prom, calls) == float(OK_BEFORE))

        for _ in range(OK_AFTER):
            assert mcp.call(ok_tool, ok_args)["result"]["isError"] is False
        for _ in range(ERR_AFTER):
            assert mcp.call(bad_tool, bad_args)["result"]["isError"] is True
        for _ in range(UNKNOWN_AFTER):
            assert mcp.call("no-such-tool", {})["error"]["code"] == -32602

        total_ok = OK_BEFORE + OK_AFTER
        wait_until("the final totals", lambda: scalar(prom, calls) == float(total_ok))
        errors = f'dcc_mcp_tool_calls_total{{job="{GOOD_JOB}",tool="{bad_tool}",status="error"}}'
        wait_until("error totals", lambda: scalar(prom, errors) == float(ERR_AFTER))
        unknown = f'dcc_mcp_tool_calls_total{{job="{GOOD_JOB}",tool="<unknown>",status="error"}}'
        wait_until("unknown-tool totals", lambda: scalar(prom, unknown) == float(UNKNOWN_AFTER))
        assert scalar(prom, f'dcc_mcp_tool_duration_seconds_count{{job="{GOOD_JOB}",tool="{ok_tool}"}}') == float(
            total_ok + (ERR_AFTER if bad_tool == ok_tool else 0)
        )
        assert scalar(prom, f'dcc_mcp_active_sessions{{job="{GOOD_JOB}"}}') == 1.0
        build = query(prom, f'dcc_mcp_build_info{{job="{GOOD_JOB}"}}')
        assert len(build) == 1 and build[0]["value"][1] == "1", build
        assert {"version", "crate"} <= set(build[0]["metric"]), build

        # The source document's three queries.
        success_rate = query(
            prom,
            'sum by (tool) (rate(dcc_mcp_tool_calls_total{status="success"}[5m]))'
            " / sum by (tool) (rate(dcc_mcp_tool_calls_total[5m]))",
        )
        rates = {r["metric"]["tool"]: float(r["value"][1]) for r in success_rate}
        assert ok_tool in rates, success_rate
        # Successes and errors both happened inside the window (extrapolation makes the ratio inexact).
        assert 0.0 < rates[ok_tool] < 1.0, rates
        # The unknown-tool series existed (at zero) before its call, so rate() saw it: 0 successes.
        assert rates["<unknown>"] == 0.0, rates

        p95 = query(
            prom,
            "histogram_quantile(0.95, sum by (le, tool) (rate(dcc_mcp_tool_duration_seconds_bucket[5m])))",
        )
        p95_by_tool = {r["metric"]["tool"]: float(r["value"][1]) for r in p95}
        assert ok_tool in p95_by_tool, p95
        assert 0.0 < p95_by_tool[ok_tool] <= 30.0, p95

        sessions = query(prom, "dcc_mcp_active_sessions")
        assert [(r["metric"]["job"], r["value"][1]) for r in sessions] == [(GOOD_JOB, "1")], sessions
    finally:
        mcp.close()

    # The wrong password: down, with the 401 as last error.
    bad_up = f'up{{job="{BAD_JOB}"}}'
    assert wait_until("the wrong-password job's scrape", lambda: scalar(prom, bad_up) == 0.0)

    def bad_target():
        resp = httpx.get(f"{prom}/api/v1/targets", params={"state": "active"}, timeout=5)
        resp.raise_for_status()
        for t in resp.json()["data"]["activeTargets"]:
            if t["labels"]["job"] == BAD_JOB and t["lastError"]:
                return t
        return None

    target = wait_until("the wrong-password target's lastError", bad_target)
    assert target["health"] == "down", target
    assert "401" in target["lastError"], target
    assert server.poll() is None, "dcc-mcp-server exited"
