"""A fleet of dcc-mcp servers on three real Prometheus 2.42 servers: scraped, federated, remote-written.

Three ``dcc-mcp-server`` processes play a gateway and two DCC hosts with different tool sets
(``--demo-tool``)::

    gateway     echo                    dcc="gateway"
    maya-01     echo, add, sleep        dcc="maya"
    blender-01  echo, fail, sleep, block   dcc="blender"

* **A** scrapes all three through ``file_sd_configs`` (each target with its own ``instance`` and a
  ``dcc`` label), evaluates ``docs/ops/dcc-mcp.rules.yml`` and ``remote_write``s into C.
* **B** federates everything of job ``dcc-mcp`` from A's ``/federate`` with ``honor_labels``.
* **C** runs with ``--web.enable-remote-write-receiver`` and scrapes nothing.

The fixture drives a known set of calls into each instance with the official MCP client (successes,
tool errors, argument errors, a call naming no tool, async ``sleep`` jobs that run to completion).
The tests then require, through each server's HTTP query API: the exact ``sum by (tool)`` of
``dcc_mcp_tool_calls_total`` on A, B and C; ``count(up == 1) == 3`` on A; a value from a fleet-wide
``histogram_quantile``; for every query of ``docs/ops/grafana-dashboard.json``, with its template
variables substituted, a successful result holding at least one number (not only NaN); sane ``process_*``
metrics; and, last, that an instance stopped and removed from the ``file_sd`` file disappears from A
while the others' totals stay as they were.

Every process listens on loopback, every Prometheus has its own TSDB directory under pytest's
``tmp_path``, intervals are 1 s, and every process started here is stopped, also on failure.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import httpx
import pytest

from conftest import HANG_GUARD_SECONDS, scrape
from test_prometheus_e2e import PROMETHEUS_BIN, SERVER_BIN, free_port, query, stop, wait_until

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "docs" / "ops" / "dcc-mcp.rules.yml"
DASHBOARD = ROOT / "docs" / "ops" / "grafana-dashboard.json"
JOB = "dcc-mcp"
#: What the test puts in for Grafana's `$__rate_interval` (the whole test runs inside one minute).
RATE_INTERVAL = "1m"
SLEEP_MS = 50

pytestmark = pytest.mark.skipif(
    "DCC_MCP_SERVER_BIN" not in os.environ and (not SERVER_BIN.exists() or not Path(PROMETHEUS_BIN).exists()),
    reason=f"needs {SERVER_BIN} (cargo build -p dcc-mcp-server) and {PROMETHEUS_BIN} (apt install prometheus)",
)

# (instance, dcc, demo tools, calls). A call is (tool, arguments, expected status); `sleep` calls are
# jobs (accepted: status success) that the driver waits for.
FLEET: List[Tuple[str, str, List[str], List[Tuple[str, Dict[str, Any], str]]]] = [
    ("gateway", "gateway", ["echo"], [("echo", {"text": "hi"}, "success")] * 3),
    (
        "maya-01",
        "maya",
        ["echo", "add", "sleep"],
        [("echo", {"text": "a"}, "success")] * 2
        + [("add", {"a": 1, "b": 2}, "success")] * 4
        + [("add", {"a": 1, "b": "two"}, "error")]
        + [("sleep", {"ms": SLEEP_MS}, "success")] * 2
        + [("no-such-tool", {}, "error")],
    ),
    (
        "blender-01",
        "blender",
        ["echo", "fail", "sleep", "block"],
        [("echo", {"text": "b"}, "success")]
        + [("fail", {}, "error")] * 3
        + [("sleep", {"ms": SLEEP_MS}, "success")]
        # A sync call on a worker thread (dcc_mcp_dispatch_wait_seconds{executor="worker"}).
        + [("block", {"ms": 1}, "success")] * 2,
    ),
]
UNKNOWN = "<unknown>"


@dataclass
class Instance:
    name: str
    dcc: str
    proc: subprocess.Popen
    address: str
    tools: List[str] = field(default_factory=list)

    @property
    def mcp_url(self) -> str:
        return f"http://{self.address}/mcp"

    @property
    def metrics_url(self) -> str:
        return f"http://{self.address}/metrics"


@dataclass
class Fleet:
    instances: Dict[str, Instance]
    prom_a: str
    prom_b: str
    prom_c: str
    file_sd: Path
    #: Exact expected `dcc_mcp_tool_calls_total` per (instance, tool, status), zeros included.
    calls: Dict[Tuple[str, str, str], int]

    def totals_by_tool(self, instances: Optional[List[str]] = None) -> Dict[str, float]:
        out: Dict[str, float] = {}
        for (inst, tool, _status), n in self.calls.items():
            if instances is None or inst in instances:
                out[tool] = out.get(tool, 0.0) + n
        return out

    def write_targets(self, names: List[str]) -> None:
        """Writes the file_sd file atomically (Prometheus may read it at any moment)."""
        groups = [
            {
                "targets": [self.instances[n].address],
                "labels": {"instance": n, "dcc": self.instances[n].dcc},
            }
            for n in names
        ]
        tmp = self.file_sd.with_suffix(".tmp")
        tmp.write_text(json.dumps(groups, indent=2), encoding="utf-8")
        os.replace(tmp, self.file_sd)


# ------------------------------------------------------------------------------------------------
# Processes


def start_server(tools: List[str], log: Any) -> Tuple[subprocess.Popen, str]:
    """Starts `dcc-mcp-server --port 0` with these demo tools; returns it and its host:port."""
    args = [str(SERVER_BIN), "--host", "127.0.0.1", "--port", "0", "--prometheus"]
    for tool in tools:
        args += ["--demo-tool", tool]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("dcc-mcp-server listening on http://"):
        stop(proc)
        raise AssertionError(f"unexpected first line from dcc-mcp-server: {line!r}")
    url = line.rsplit(" ", 1)[1].strip()
    return proc, url.removeprefix("http://").removesuffix("/mcp")


def start_prometheus(name: str, tmp: Path, config: Dict[str, Any], extra: List[str], log: Any) -> Tuple[subprocess.Popen, str]:
    """Starts Prometheus with `config` (JSON is YAML), its own TSDB dir and a free loopback port."""
    port = free_port()
    config_file = tmp / f"{name}.yml"
    config_file.write_text(json.dumps(config, indent=2), encoding="utf-8")
    proc = subprocess.Popen(
        [
            PROMETHEUS_BIN,
            f"--config.file={config_file}",
            f"--storage.tsdb.path={tmp / f'{name}-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
            *extra,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return proc, f"http://127.0.0.1:{port}"


def stop_server(proc: subprocess.Popen) -> None:
    """SIGTERM (graceful shutdown), then the shared `stop` for anything left."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    stop(proc)
    if proc.stdout is not None:
        proc.stdout.close()


# ------------------------------------------------------------------------------------------------
# Traffic (official MCP client)


def drive(url: str, calls: List[Tuple[str, Dict[str, Any], str]]) -> List[str]:
    """Makes `calls` in one session and waits for every job to finish; returns the listed tools."""
    from mcp import Client, MCPError
    from mcp.types import LoggingMessageNotification

    async def run() -> List[str]:
        finished: List[str] = []
        done = asyncio.Event()
        jobs: List[str] = []

        async def on_message(message: Any) -> None:
            if isinstance(message, LoggingMessageNotification) and message.params.logger == "dcc-mcp.jobs":
                finished.append(message.params.data["jobId"])
                if set(jobs) <= set(finished):
                    done.set()

        # Jobs send their completion on the session's stream: the session era (`legacy`).
        async with Client(
            url, mode="legacy", message_handler=on_message, read_timeout_seconds=HANG_GUARD_SECONDS
        ) as client:
            listed = [t.name for t in (await client.list_tools()).tools]
            for name, arguments, status in calls:
                if name not in listed:
                    with pytest.raises(MCPError):
                        await client.call_tool(name, arguments)
                    continue
                result = await client.call_tool(name, arguments)
                assert result.is_error is (status == "error"), (name, arguments, result)
                if name == "sleep":
                    jobs.append(result.structured_content["jobId"])
            if jobs and not set(jobs) <= set(finished):
                await done.wait()
        return listed

    return asyncio.run(asyncio.wait_for(run(), HANG_GUARD_SECONDS))


# ------------------------------------------------------------------------------------------------
# The fleet


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    tmp = tmp_path_factory.mktemp("fleet")
    logs = {}
    procs: List[subprocess.Popen] = []
    servers: List[subprocess.Popen] = []

    def log(name: str) -> Any:
        logs[name] = open(tmp / f"{name}.log", "w+", encoding="utf-8")
        return logs[name]

    try:
        instances: Dict[str, Instance] = {}
        for name, dcc, tools, _calls in FLEET:
            proc, address = start_server(tools, log(name))
            servers.append(proc)
            instances[name] = Instance(name, dcc, proc, address)

        file_sd = tmp / "targets.json"
        prom_c_proc, prom_c = start_prometheus(
            "c", tmp, {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"}},
            ["--web.enable-remote-write-receiver"], log("prometheus-c"),
        )
        procs.append(prom_c_proc)
        prom_a_proc, prom_a = start_prometheus(
            "a",
            tmp,
            {
                "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(RULES)],
                "scrape_configs": [
                    {
                        "job_name": JOB,
                        "file_sd_configs": [{"files": [str(file_sd)], "refresh_interval": "1s"}],
                    }
                ],
                "remote_write": [
                    {
                        "url": f"{prom_c}/api/v1/write",
                        "queue_config": {"batch_send_deadline": "1s", "min_backoff": "100ms", "max_backoff": "1s"},
                    }
                ],
            },
            [],
            log("prometheus-a"),
        )
        procs.append(prom_a_proc)
        prom_b_proc, prom_b = start_prometheus(
            "b",
            tmp,
            {
                "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
                "scrape_configs": [
                    {
                        "job_name": "federate",
                        "honor_labels": True,
                        "metrics_path": "/federate",
                        "params": {"match[]": [f'{{job="{JOB}"}}']},
                        "static_configs": [{"targets": [prom_a.removeprefix("http://")]}],
                    }
                ],
            },
            [],
            log("prometheus-b"),
        )
        procs.append(prom_b_proc)

        fleet = Fleet(instances, prom_a, prom_b, prom_c, file_sd, {})
        fleet.write_targets(list(instances))
        # Traffic only after A has seen every series at zero, so that rate() sees every call.
        wait_until(
            "A's first scrape of all three instances",
            lambda: by_label(prom_a, "count by (instance) (dcc_mcp_build_info)", "instance")
            == {name: 1.0 for name in instances},
            timeout=HANG_GUARD_SECONDS,
        )

        # Traffic. Every registered tool (and `<unknown>`) has both status series from start: zeros
        # are part of the exact totals.
        for name, _dcc, _tools, calls in FLEET:
            inst = instances[name]
            inst.tools = drive(inst.mcp_url, calls)
            for tool in inst.tools + [UNKNOWN]:
                for status in ("success", "error"):
                    fleet.calls[(name, tool, status)] = 0
            for tool, _args, status in calls:
                key = (name, tool if tool in inst.tools else UNKNOWN, status)
                fleet.calls[key] += 1
        yield fleet
    finally:
        for proc in reversed(procs):
            stop(proc)
        for proc in servers:
            stop_server(proc)
        for name, f in logs.items():
            f.seek(0)
            tail = f.read()[-3000:]
            f.close()
            # Shown by pytest only when a test fails.
            print(f"--- {name} log (tail) ---\n{tail}")


# ------------------------------------------------------------------------------------------------
# Queries


def vector(prom: str, expr: str) -> Dict[Tuple[Tuple[str, str], ...], float]:
    """An instant query as {sorted labels: value}."""
    return {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in query(prom, expr)}


def by_label(prom: str, expr: str, label: str) -> Dict[str, float]:
    return {r["metric"].get(label, ""): float(r["value"][1]) for r in query(prom, expr)}


def wait_for_totals(prom: str, expected: Dict[str, float], what: str) -> None:
    expr = "sum by (tool) (dcc_mcp_tool_calls_total)"
    wait_until(what, lambda: by_label(prom, expr, "tool") == expected, timeout=HANG_GUARD_SECONDS)
    assert by_label(prom, expr, "tool") == expected


FLEET_P95 = "histogram_quantile(0.95, sum by (le) (rate(dcc_mcp_tool_duration_seconds_bucket[1m])))"


def test_exact_totals_on_scraper_federation_and_remote_write(fleet: Fleet) -> None:
    expected = fleet.totals_by_tool()
    # Sanity of the plan itself: errors, jobs and an unknown tool are all in it.
    assert expected["fail"] == 3 and expected["sleep"] == 3 and expected[UNKNOWN] == 1 and expected["echo"] == 6
    assert expected["jobs.get"] == 0

    wait_for_totals(fleet.prom_a, expected, "A's totals (file_sd scrape)")
    assert by_label(fleet.prom_a, "count(up == 1)", "") == {"": 3.0}
    assert by_label(fleet.prom_a, "count by (dcc) (up)", "dcc") == {"gateway": 1.0, "maya": 1.0, "blender": 1.0}
    # The exact per-series counts, too (instance and status).
    per_series = vector(fleet.prom_a, "dcc_mcp_tool_calls_total")
    assert {
        (dict(k)["instance"], dict(k)["tool"], dict(k)["status"]): v for k, v in per_series.items()
    } == {k: float(v) for k, v in fleet.calls.items()}

    wait_for_totals(fleet.prom_b, expected, "B's totals (federation)")
    # honor_labels kept the scraped identity, not the federation job's.
    assert by_label(fleet.prom_b, "count by (instance) (dcc_mcp_build_info)", "instance") == {
        "gateway": 1.0, "maya-01": 1.0, "blender-01": 1.0,
    }
    assert by_label(fleet.prom_b, 'count by (job) (dcc_mcp_build_info)', "job") == {JOB: 3.0}

    wait_for_totals(fleet.prom_c, expected, "C's totals (remote_write)")
    assert by_label(fleet.prom_c, "count by (dcc) (dcc_mcp_build_info)", "dcc") == {
        "gateway": 1.0, "maya": 1.0, "blender": 1.0,
    }

    for name, prom in (("A", fleet.prom_a), ("B", fleet.prom_b), ("C", fleet.prom_c)):
        p95 = by_label(prom, FLEET_P95, "")
        assert list(p95) == [""], (name, p95)
        assert 0.0 < p95[""] <= 30.0, (name, p95)
    # Jobs ran: the wait histogram has every accepted job, fleet-wide.
    assert by_label(fleet.prom_a, "sum(dcc_mcp_job_wait_seconds_count)", "") == {"": 3.0}
    assert by_label(fleet.prom_a, 'sum(dcc_mcp_job_created_total{result="accepted"})', "") == {"": 3.0}
    assert by_label(fleet.prom_a, "sum(dcc_mcp_jobs_in_flight)", "") == {"": 0.0}


def test_rules_load_and_evaluate_on_a(fleet: Fleet) -> None:
    """Prometheus 2.42 loads every rule of docs/ops/dcc-mcp.rules.yml and evaluates it without error."""
    expected = recorded_names() | set(re.findall(r"^\s*- alert: (\S+)\s*$", RULES.read_text(encoding="utf-8"), flags=re.M))

    def evaluated() -> Optional[List[Dict[str, Any]]]:
        resp = httpx.get(f"{fleet.prom_a}/api/v1/rules", timeout=10)
        resp.raise_for_status()
        rules = [r for g in resp.json()["data"]["groups"] for r in g["rules"]]
        return rules if rules and all(r.get("lastEvaluation", "").startswith("2") for r in rules) else None

    rules = wait_until("every rule evaluated once", evaluated, timeout=HANG_GUARD_SECONDS)
    assert {r["name"] for r in rules} == expected
    assert [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"] == []


# ------------------------------------------------------------------------------------------------
# The dashboard

def label_values(prom: str, definition: str, variables: Dict[str, str]) -> List[str]:
    """Grafana's `label_values(selector, label)` through Prometheus' label-values API."""
    m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", definition.strip())
    assert m, definition
    selector = substitute(m.group(1), variables)
    resp = httpx.get(f"{prom}/api/v1/label/{m.group(2)}/values", params={"match[]": selector}, timeout=10)
    resp.raise_for_status()
    return sorted(resp.json()["data"])


def substitute(expr: str, variables: Dict[str, str]) -> str:
    out = expr.replace("$__rate_interval", RATE_INTERVAL)
    for name, value in variables.items():
        out = out.replace(f"${{{name}}}", value).replace(f"${name}", value)
    assert "$" not in out, f"unsubstituted variable in {out!r}"
    return out


def regex_of(values: List[str]) -> str:
    """Grafana's formatting of a multi-value variable inside `=~"…"` (Prometheus data source)."""
    return "(" + "|".join(re.escape(v).replace("\\", "\\\\") for v in values) + ")"


def recorded_names() -> set:
    return set(re.findall(r"^\s*- record: (\S+)\s*$", RULES.read_text(encoding="utf-8"), flags=re.M))


def exported_names(prom: str) -> set:
    resp = httpx.get(f"{prom}/api/v1/metadata", timeout=10)
    resp.raise_for_status()
    return set(resp.json()["data"])


def is_gateway_panel(panel: Dict[str, Any]) -> bool:
    return any("dcc_mcp_gateway_" in t["expr"] for t in panel.get("targets", []))


def test_dashboard_is_import_ready() -> None:
    """The structure Grafana's importer relies on: unique panel ids, unique query refIds per panel,
    panels inside the 24-column grid and not overlapping, every query on the data-source variable."""
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["id"] is None and dashboard["uid"] and dashboard["title"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), ids
    cells = set()
    for panel in dashboard["panels"]:
        g = panel["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0, panel["title"]
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not mine & cells, f"{panel['title']} overlaps another panel"
        cells |= mine
        if panel["type"] == "row":
            continue
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(refs) == len(set(refs)), panel["title"]
        for t in panel["targets"]:
            assert t["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
            assert t["expr"].strip(), panel["title"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            assert variable["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, variable["name"]
            assert variable["query"]["query"] == variable["definition"], variable["name"]


def test_every_dashboard_query_returns_data(fleet: Fleet) -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert isinstance(dashboard["schemaVersion"], int) and dashboard["schemaVersion"] >= 39
    templating = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert templating["datasource"]["type"] == "datasource" and templating["datasource"]["query"] == "prometheus"
    assert {"instance", "tool"} <= set(templating)
    wait_for_totals(fleet.prom_a, fleet.totals_by_tool(), "A's totals")

    # The variables, as Grafana would resolve them with "All" selected.
    variables = {"datasource": "unused"}
    instances = label_values(fleet.prom_a, templating["instance"]["definition"], variables)
    assert instances == sorted(fleet.instances)
    variables["instance"] = regex_of(instances)
    tools = label_values(fleet.prom_a, templating["tool"]["definition"], variables)
    assert tools == sorted(fleet.totals_by_tool())
    variables["tool"] = regex_of(tools)

    # The gateway row reads dcc_mcp_gateway_* families, which only a real gateway exports:
    # test_gateway_replicas.py runs those queries against its two replicas.
    panels = [p for p in dashboard["panels"] if p["type"] != "row" and not is_gateway_panel(p)]
    titles = {p["title"] for p in panels}
    for wanted in (
        "Call rate by tool", "Error ratio by tool", "Duration p50 / p95 / p99 by tool", "Jobs in flight",
        "Job outcomes", "Job wait p95", "Active sessions", "Notification rate", "Series overflow",
        "Rejections by reason", "Build info per instance",
    ):
        assert wanted in titles, wanted

    known = recorded_names() | exported_names(fleet.prom_a) | {"up"}
    for panel in panels:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        for target in panel["targets"]:
            expr = substitute(target["expr"], variables)
            # Every metric name the query reads exists (catches a typo that `or` would hide).
            for name in re.findall(r"\b((?:dcc_mcp|process)_\w+|\w+:[\w:]+)\b", expr):
                # OpenMetrics names a counter family without `_total` (Prometheus keeps that in metadata).
                base = re.sub(r"_(bucket|sum|count|total)$", "", name)
                assert name in known or base in known, f"{panel['title']}: {name} is neither exported nor recorded"

            def answer() -> Optional[List[Dict[str, Any]]]:
                result = query(fleet.prom_a, expr)
                values = [float(r["value"][1]) for r in result]
                if not result:
                    return None
                # All NaN (e.g. a quantile of a histogram nothing observed) draws as "No data" too.
                if all(math.isnan(v) for v in values):
                    return None
                return result

            wait_until(f"a number for panel {panel['title']!r}: {expr}", answer, timeout=HANG_GUARD_SECONDS)


# ------------------------------------------------------------------------------------------------
# Process metrics


def test_process_metrics_present_and_sane(fleet: Fleet) -> None:
    now = time.time()
    for inst in fleet.instances.values():
        s = scrape(inst.metrics_url)
        assert s.status == 200
        assert s.types["process_cpu_seconds_total"] == "counter"
        for gauge in ("process_resident_memory_bytes", "process_virtual_memory_bytes", "process_open_fds",
                      "process_max_fds", "process_start_time_seconds"):
            assert s.types[gauge] == "gauge", gauge
        rss = s.value("process_resident_memory_bytes")
        assert rss is not None and rss > 0
        assert s.value("process_virtual_memory_bytes") >= rss
        start = s.value("process_start_time_seconds")
        assert start is not None and 0 < start <= now
        open_fds, max_fds = s.value("process_open_fds"), s.value("process_max_fds")
        assert open_fds is not None and max_fds is not None and 0 < open_fds <= max_fds
        assert s.value("process_cpu_seconds_total") >= 0

    # The same through Prometheus, per instance.
    assert set(by_label(fleet.prom_a, "process_resident_memory_bytes > 0", "instance")) == set(fleet.instances)
    assert set(by_label(fleet.prom_a, "process_open_fds <= process_max_fds", "instance")) == set(fleet.instances)
    started = by_label(fleet.prom_a, "process_start_time_seconds", "instance")
    assert set(started) == set(fleet.instances) and all(0 < v <= time.time() for v in started.values())


# ------------------------------------------------------------------------------------------------
# An instance leaves (runs last: it changes the fleet)


def test_instance_removed_from_file_sd_disappears(fleet: Fleet) -> None:
    wait_for_totals(fleet.prom_a, fleet.totals_by_tool(), "A's totals")
    stays = ["gateway", "maya-01"]
    expr = "sum by (instance, tool) (dcc_mcp_tool_calls_total)"
    before = {k: v for k, v in vector(fleet.prom_a, expr).items() if dict(k)["instance"] in stays}
    assert before

    stop_server(fleet.instances["blender-01"].proc)
    fleet.write_targets(stays)

    wait_until(
        "blender-01 gone from A",
        lambda: by_label(fleet.prom_a, "count by (instance) (up)", "instance") == {"gateway": 1.0, "maya-01": 1.0},
        timeout=HANG_GUARD_SECONDS,
    )
    assert query(fleet.prom_a, 'up{instance="blender-01"}') == []
    wait_until(
        "blender-01's series gone from A",
        lambda: query(fleet.prom_a, 'dcc_mcp_tool_calls_total{instance="blender-01"}') == [],
        timeout=HANG_GUARD_SECONDS,
    )
    assert by_label(fleet.prom_a, "count(up == 1)", "") == {"": 2.0}
    after = vector(fleet.prom_a, expr)
    assert after == before
    assert by_label(fleet.prom_a, "sum by (tool) (dcc_mcp_tool_calls_total)", "tool") == fleet.totals_by_tool(stays)
