"""Two gateway replicas behind haproxy, three DCC hosts joining through the registry directory,
Prometheus scraping the gateway's ``file_sd`` file and ``remote_write``-ing into VictoriaMetrics.

::

    client ─► haproxy (round robin per request, no stickiness) ─► gateway gw-a ─┐
                                                                 ─► gateway gw-b ─┼─► maya-01, blender-01, houdini-01
    Prometheus ── scrapes gw-a, gw-b (static) and the hosts (gw-a's file_sd) ── remote_write ─► VictoriaMetrics

Both replicas read one ``--session-key-file``, so the session that ``initialize`` opened on one of
them is served by the other. One test, in the order an operator would see it:

1. every host joins both replicas (``/health`` counts 3 up; the ``file_sd`` file lists 3 targets);
2. known calls through haproxy in one session: exact results; the requests are spread over both
   replicas (each serves some), one token is minted and the other replica resumes it once;
3. exact totals at every hop: per backend ``tool`` on the hosts, ``NAME__tool`` summed over the two
   replicas, the same sums in Prometheus and in VictoriaMetrics;
4. a host that stops leaves both replicas' ``tools/list`` and the ``file_sd`` file, and Prometheus
   drops its target;
5. one replica is killed (SIGKILL): the same session goes on through haproxy on the other one.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import httpx
import pytest

from test_prometheus_e2e import PROMETHEUS_BIN, SERVER_BIN, Mcp, free_port, query, stop, wait_until

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "docs" / "ops" / "dcc-mcp.rules.yml"
DASHBOARD = ROOT / "docs" / "ops" / "grafana-dashboard.json"
HAPROXY_BIN = os.environ.get("HAPROXY_BIN") or shutil.which("haproxy") or "/usr/sbin/haproxy"
VM_BIN = os.environ.get("VICTORIA_METRICS_BIN") or shutil.which("victoria-metrics") or "/usr/bin/victoria-metrics"
HOSTS: List[Tuple[str, str, List[str]]] = [
    ("maya-01", "maya", ["echo", "add"]),
    ("blender-01", "blender", ["echo", "fail"]),
    ("houdini-01", "houdini", ["add"]),
]
# (namespaced tool, arguments, expected text, isError)
CALLS: List[Tuple[str, Dict[str, Any], str, bool]] = (
    [("maya-01__echo", {"text": f"m{i}"}, f"m{i}", False) for i in range(3)]
    + [("maya-01__add", {"a": 2, "b": 40}, "42", False)] * 2
    + [("blender-01__echo", {"text": "b"}, "b", False)]
    + [("blender-01__fail", {}, "fail always fails", True)] * 3
    + [("houdini-01__add", {"a": 1, "b": 1}, "2", False)] * 4
)

pytestmark = pytest.mark.skipif(
    "DCC_MCP_SERVER_BIN" not in os.environ
    and not all(Path(p).exists() for p in (SERVER_BIN, PROMETHEUS_BIN, HAPROXY_BIN, VM_BIN)),
    reason="needs dcc-mcp-server, prometheus, haproxy and victoria-metrics (scripts/test.sh installs them)",
)


def expected_totals() -> Dict[Tuple[str, str, str], int]:
    """(backend, tool, status) → calls."""
    out: Dict[Tuple[str, str, str], int] = {}
    for name, _args, _text, is_error in CALLS:
        backend, tool = name.split("__")
        key = (backend, tool, "error" if is_error else "success")
        out[key] = out.get(key, 0) + 1
    return out


def samples(url: str, family: str) -> Dict[str, float]:
    """Every series of `family` on one /metrics page, by its label text."""
    out: Dict[str, float] = {}
    for line in httpx.get(url, timeout=10).text.splitlines():
        if line.startswith(family + "{"):
            series, value = line.rsplit(" ", 1)
            out[series[len(family):]] = float(value)
    return out


def series(family: str, **labels: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def text(response: Dict[str, Any]) -> Tuple[str, bool]:
    result = response["result"]
    return "".join(block.get("text", "") for block in result["content"]), bool(result.get("isError"))


def listed(url: str) -> List[str]:
    mcp = Mcp(url)
    try:
        return sorted(t["name"] for t in mcp.request("tools/list", {})["result"]["tools"] if "__" in t["name"]
                      and "__jobs." not in t["name"])
    finally:
        mcp.close()


def vector(base: str, expr: str, label: str) -> Dict[str, float]:
    return {r["metric"].get(label, ""): float(r["value"][1]) for r in query(base, expr)}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Dict[str, Any]]:
    procs: Dict[str, subprocess.Popen] = {}
    log = open(tmp_path / "processes.log", "w", encoding="utf-8")
    registry = tmp_path / "registry"
    registry.mkdir()
    key = tmp_path / "session.key"
    key.write_bytes(os.urandom(32).hex().encode())
    ports = {name: free_port() for name in ("gw-a", "gw-b", "haproxy", "prom", "vm")}
    file_sd = tmp_path / "backends.json"
    try:
        procs["vm"] = subprocess.Popen(
            [VM_BIN, f"-storageDataPath={tmp_path / 'vm'}", f"-httpListenAddr=127.0.0.1:{ports['vm']}",
             "-search.latencyOffset=0s", "-search.disableCache", "-loggerLevel=ERROR"],
            stdout=log, stderr=subprocess.STDOUT)
        for gw in ("gw-a", "gw-b"):
            args = [str(SERVER_BIN), "--gateway", "--host", "127.0.0.1", "--port", str(ports[gw]), "--prometheus",
                    "--no-process-metrics", "--registry-dir", str(registry), "--session-key-file", str(key),
                    "--probe-interval-ms", "200"]
            if gw == "gw-a":
                args += ["--file-sd-out", str(file_sd)]
            procs[gw] = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log)
        haproxy_cfg = tmp_path / "haproxy.cfg"
        haproxy_cfg.write_text(
            "\n".join([
                "defaults", "  mode http", "  timeout connect 1s", "  timeout client 30s", "  timeout server 30s",
                "  retries 2", "  option redispatch 1",
                "frontend mcp", f"  bind 127.0.0.1:{ports['haproxy']}", "  default_backend gateways",
                # No stickiness: every request is balanced on its own.
                "backend gateways", "  balance roundrobin", "  option httpchk GET /health",
                "  default-server inter 200ms fall 1 rise 1",
                f"  server gw-a 127.0.0.1:{ports['gw-a']} check",
                f"  server gw-b 127.0.0.1:{ports['gw-b']} check",
                "",
            ]),
            encoding="utf-8",
        )
        procs["haproxy"] = subprocess.Popen([HAPROXY_BIN, "-db", "-f", str(haproxy_cfg)], stdout=log,
                                            stderr=subprocess.STDOUT)
        prom_cfg = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES)],
            "scrape_configs": [
                {"job_name": "gateway", "static_configs": [
                    {"targets": [f"127.0.0.1:{ports['gw-a']}"], "labels": {"replica": "gw-a"}},
                    {"targets": [f"127.0.0.1:{ports['gw-b']}"], "labels": {"replica": "gw-b"}}]},
                {"job_name": "dcc", "file_sd_configs": [{"files": [str(file_sd)], "refresh_interval": "1s"}]},
            ],
            "remote_write": [{"url": f"http://127.0.0.1:{ports['vm']}/api/v1/write",
                              "queue_config": {"batch_send_deadline": "1s", "max_shards": 1}}],
        }
        (tmp_path / "prometheus.yml").write_text(json.dumps(prom_cfg), encoding="utf-8")
        procs["prom"] = subprocess.Popen(
            [PROMETHEUS_BIN, f"--config.file={tmp_path / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp_path / 'prom'}", f"--web.listen-address=127.0.0.1:{ports['prom']}",
             "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT)
        # The hosts take ephemeral ports (--port 0): they start once every fixed port above is bound,
        # so none of them can take one of those.
        for name, port in ports.items():
            wait_until(f"{name} listening", lambda port=port: socket.create_connection(("127.0.0.1", port), 1).close() or True)
        for name, dcc, tools in HOSTS:
            args = [str(SERVER_BIN), "--host", "127.0.0.1", "--port", "0", "--prometheus", "--no-process-metrics",
                    "--registry-dir", str(registry), "--instance-name", name, "--dcc-type", dcc]
            for tool in tools:
                args += ["--demo-tool", tool]
            procs[name] = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log)
        yield {"procs": procs, "ports": ports, "file_sd": file_sd, "registry": registry, "tmp": tmp_path}
    finally:
        for proc in procs.values():
            stop(proc)
        log.close()


def test_replicas_behind_haproxy_exact_totals_at_every_hop_and_a_killed_replica(stack: Dict[str, Any]) -> None:
    started = time.monotonic()
    procs, ports, file_sd = stack["procs"], stack["ports"], stack["file_sd"]
    gw = {name: f"http://127.0.0.1:{ports[name]}" for name in ("gw-a", "gw-b")}
    lb = f"http://127.0.0.1:{ports['haproxy']}/mcp"
    prom, vm = f"http://127.0.0.1:{ports['prom']}", f"http://127.0.0.1:{ports['vm']}"
    all_tools = sorted(f"{name}__{tool}" for name, _dcc, tools in HOSTS for tool in tools)

    # 1. Every host joins both replicas through the registry directory; gw-a writes the file_sd file.
    for url in gw.values():
        wait_until(f"3 backends up on {url}", lambda url=url: httpx.get(f"{url}/health").json()["backends_up"] == 3)
    wait_until("3 targets in the file_sd file", lambda: file_sd.exists() and len(json.loads(file_sd.read_text())) == 3)
    assert sorted(g["labels"]["backend"] for g in json.loads(file_sd.read_text())) == [h[0] for h in sorted(HOSTS)]
    for url in gw.values():
        assert listed(f"{url}/mcp") == all_tools

    # Rates need a sample from before the traffic: Prometheus scrapes every target once first.
    wait_until("Prometheus scraped the replicas and the hosts", lambda: vector(
        prom, 'count by (job) (up == 1)', "job") == {"gateway": 2, "dcc": 3})

    # 2. One session through haproxy; its requests land on both replicas.
    session = Mcp(lb)
    for name, args, want, is_error in CALLS:
        assert text(session.call(name, args)) == (want, is_error), name
    tokens = {name: samples(f"{url}/metrics", "dcc_mcp_gateway_session_tokens_total") for name, url in gw.items()}
    minted = sum(t[series("", outcome="minted")] for t in tokens.values())
    resumed = sum(t[series("", outcome="resumed")] for t in tokens.values())
    # `listed()` above opened one session on each replica directly: 3 minted in all, and the session
    # made through haproxy was recreated exactly once, on the replica that did not initialize it.
    assert (minted, resumed) == (3, 1), tokens
    assert session.headers["Mcp-Session-Id"].startswith("g1.")

    # 3. Exact totals at every hop.
    totals = expected_totals()
    per_replica: Dict[str, Dict[str, float]] = {
        name: samples(f"{url}/metrics", "dcc_mcp_tool_calls_total") for name, url in gw.items()}
    for (backend, tool, status), count in totals.items():
        s = series("", status=status, tool=f"{backend}__{tool}")
        assert sum(per_replica[r].get(s, 0.0) for r in gw) == count, (backend, tool, status)
    for r in gw:
        assert sum(per_replica[r].values()) > 0, f"haproxy sent no call to {r}"
    host_urls = {g["labels"]["backend"]: f"http://{g['targets'][0]}/metrics" for g in json.loads(file_sd.read_text())}
    for (backend, tool, status), count in totals.items():
        assert samples(host_urls[backend], "dcc_mcp_tool_calls_total").get(series("", status=status, tool=tool)) == count
    want_gateway = {}
    for (backend, tool, _status), count in totals.items():
        want_gateway[f"{backend}__{tool}"] = want_gateway.get(f"{backend}__{tool}", 0) + count
    want_hosts = {}
    for (backend, tool, _status), count in totals.items():
        want_hosts[f"{backend}/{tool}"] = want_hosts.get(f"{backend}/{tool}", 0) + count
    gateway_expr = 'sum by (tool) (dcc_mcp_tool_calls_total{job="gateway",tool=~".+__.+"}) > 0'
    hosts_expr = 'sum by (bt) (label_join(dcc_mcp_tool_calls_total{job="dcc"}, "bt", "/", "backend", "tool")) > 0'
    for store in (prom, vm):
        wait_until(f"gateway totals in {store}", lambda store=store: vector(store, gateway_expr, "tool") == want_gateway)
        wait_until(f"host totals in {store}", lambda store=store: vector(store, hosts_expr, "bt") == want_hosts)

    # The dashboard's gateway row: every query answers a number (Grafana's "All" is `.+` here).
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    gateway_panels = [p for p in dashboard["panels"]
                      if any("dcc_mcp_gateway_" in t["expr"] for t in p.get("targets", []))]
    assert len(gateway_panels) == 7
    for panel in gateway_panels:
        for target in panel["targets"]:
            expr = target["expr"].replace("$__rate_interval", "1m").replace("$instance", ".+")

            def answer(expr: str = expr) -> bool:
                values = [float(r["value"][1]) for r in query(prom, expr)]
                return any(v == v for v in values)  # at least one number that is not NaN

            wait_until(f"a number for panel {panel['title']!r}", answer)

    # 4. A host that stops leaves both replicas' tools/list, the file_sd file and Prometheus' targets.
    procs["houdini-01"].send_signal(signal.SIGTERM)
    procs["houdini-01"].wait(timeout=10)
    assert not (stack["registry"] / "houdini-01.json").exists()
    remaining = [t for t in all_tools if not t.startswith("houdini-01__")]
    for url in gw.values():
        wait_until(f"houdini-01 gone from {url}", lambda url=url: listed(f"{url}/mcp") == remaining)
    wait_until("houdini-01 gone from file_sd", lambda: len(json.loads(file_sd.read_text())) == 2)
    wait_until("2 dcc targets in Prometheus", lambda: vector(prom, 'count by (job) (up{job="dcc"})', "job") == {"dcc": 2})

    # 5. Kill one replica: the same session goes on through haproxy on the other.
    procs["gw-a"].send_signal(signal.SIGKILL)
    procs["gw-a"].wait(timeout=5)
    before = samples(f"{gw['gw-b']}/metrics", "dcc_mcp_tool_calls_total").get(
        series("", status="success", tool="maya-01__add"), 0.0)
    for _ in range(4):
        assert text(session.call("maya-01__add", {"a": 20, "b": 22})) == ("42", False)
    after = samples(f"{gw['gw-b']}/metrics", "dcc_mcp_tool_calls_total")[series("", status="success", tool="maya-01__add")]
    assert after - before == 4
    session.close()
    print(f"fleet test body took {time.monotonic() - started:.1f} s")
