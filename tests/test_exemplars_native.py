"""Exemplars and native histograms from the real ``dcc-mcp-server`` binary, stored by a real Prometheus 2.42.

One ``dcc-mcp-server --demo-tools --prometheus --native-histograms`` and two Debian ``prometheus``
processes scraping it every second:

* ``--enable-feature=exemplar-storage`` negotiates OpenMetrics; tool calls sent with a W3C
  ``traceparent`` header put their trace id on the duration bucket, and Prometheus'
  ``/api/v1/query_exemplars`` returns it for ``dcc_mcp_tool_duration_seconds_bucket``;
* ``--enable-feature=native-histograms`` negotiates protobuf and stores the native buckets:
  ``histogram_count`` is exactly the number of calls, ``histogram_sum`` exactly the engine's own
  ``_sum``, and ``histogram_quantile`` exactly what Prometheus 2.42's rule (linear interpolation
  inside the bucket holding the rank) gives over the stored buckets, whose boundaries are powers of
  ``2^(1/8)`` (schema 3).

The same OpenMetrics body is parsed by ``prometheus_client``'s OpenMetrics parser (exemplars
included), and the text 0.0.4 body, which never carries exemplars, passes ``promtool check metrics``.
Every wait has a deadline and every process is killed.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics

from test_prometheus_e2e import PROMETHEUS_BIN, Mcp, free_port, query, scalar, stop, wait_until

ROOT = Path(__file__).resolve().parent.parent
SERVER_BIN = Path(os.environ.get("DCC_MCP_SERVER_BIN", ROOT / "target" / "debug" / "dcc-mcp-server"))
PROMTOOL_BIN = shutil.which("promtool") or "/usr/bin/promtool"
OPENMETRICS = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
TRACE_IDS = ["4bf92f3577b34da6a3ce929d0e0e4736", "0af7651916cd43dd8448eb211c80319c"]
# Calls of the demo `block` tool (a worker sleeping `ms`), spread over the classic ladder.
BLOCK_MS = [0, 2, 7, 20, 60, 120]
FAMILY = "dcc_mcp_tool_duration_seconds"

pytestmark = pytest.mark.skipif(
    "DCC_MCP_SERVER_BIN" not in os.environ and (not SERVER_BIN.exists() or not Path(PROMETHEUS_BIN).exists()),
    reason=f"needs {SERVER_BIN} (cargo build -p dcc-mcp-server) and {PROMETHEUS_BIN} (apt install prometheus)",
)


def start_prometheus(tmp: Path, name: str, target: str, feature: str, logs: list):
    port = free_port()
    config = tmp / f"{name}.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n"
        f"  - job_name: dcc\n    static_configs:\n      - targets: [\"{target}\"]\n",
        encoding="utf-8",
    )
    log = open(tmp / f"{name}.log", "wb")
    logs.append(log)
    proc = subprocess.Popen(
        [
            PROMETHEUS_BIN,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp / (name + '-tsdb')}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--enable-feature={feature}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return proc, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("exemplars-native")
    port = free_port()
    target = f"127.0.0.1:{port}"
    logs: list = []
    procs: list = []
    urls: dict = {}
    try:
        log = open(tmp / "server.log", "wb")
        logs.append(log)
        server = subprocess.Popen(
            [str(SERVER_BIN), "--host", "127.0.0.1", "--port", str(port), "--demo-tools", "--prometheus", "--native-histograms"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        procs.append(server)
        for name, feature in (("exemplars", "exemplar-storage"), ("native", "native-histograms")):
            proc, url = start_prometheus(tmp, name, target, feature, logs)
            procs.append(proc)
            urls[name] = url
        wait_until("dcc-mcp-server /metrics", lambda: server.poll() is None and httpx.get(f"http://{target}/metrics").status_code == 200, timeout=10)

        mcp = Mcp(f"http://{target}/mcp")
        for ms in BLOCK_MS:
            assert mcp.call("block", {"ms": ms})["result"]["isError"] is False
        for i, trace_id in enumerate(TRACE_IDS):
            msg = {"jsonrpc": "2.0", "id": 1000 + i, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "t"}}}
            headers = {**mcp.headers, "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
            resp = mcp.http.post(mcp.url, headers=headers, json=msg)
            assert resp.status_code == 200 and resp.json()["result"]["isError"] is False
        mcp.close()
        yield {"metrics": f"http://{target}/metrics", **urls}
    finally:
        for p in reversed(procs):
            stop(p)
        for f in logs:
            f.close()
        for name in ("server", "exemplars", "native"):
            path = tmp / f"{name}.log"
            if path.exists():
                print(f"--- {name} log (tail) ---\n{path.read_text(encoding='utf-8', errors='replace')[-3000:]}")


def test_openmetrics_exemplars_parse_and_reach_prometheus(stack):
    body = httpx.get(stack["metrics"], headers={"Accept": OPENMETRICS}).text
    # prometheus_client's OpenMetrics parser reads every exemplar.
    seen = {}
    for fam in parse_openmetrics(body):
        for s in fam.samples:
            if s.exemplar is not None:
                assert fam.name == FAMILY and s.name == FAMILY + "_bucket", s
                seen[s.exemplar.labels["trace_id"]] = s
    # The last traced call is the newest exemplar of its bucket, whichever shard recorded it.
    assert TRACE_IDS[-1] in seen, body
    for trace_id, s in seen.items():
        assert trace_id in TRACE_IDS
        assert s.labels["tool"] == "echo"
        assert 0 < s.exemplar.value <= (math.inf if s.labels["le"] == "+Inf" else float(s.labels["le"]))
        assert abs(float(s.exemplar.timestamp) - time.time()) < 120
    # The text format has no exemplars and lints clean.
    text = httpx.get(stack["metrics"], headers={"Accept": "text/plain;version=0.0.4"}).text
    assert "trace_id" not in text and FAMILY + "_bucket" in text
    lint = subprocess.run([PROMTOOL_BIN, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30)
    assert lint.returncode == 0, lint.stdout.decode() + lint.stderr.decode()

    prom = stack["exemplars"]

    def exemplars():
        now = time.time()
        resp = httpx.get(
            f"{prom}/api/v1/query_exemplars",
            params={"query": f'{FAMILY}_bucket{{tool="echo"}}', "start": now - 300, "end": now + 60},
            timeout=5,
        )
        resp.raise_for_status()
        found = {}
        for series in resp.json()["data"]:
            for e in series["exemplars"]:
                found[e["labels"]["trace_id"]] = (series["seriesLabels"], float(e["value"]))
        return found if set(seen) <= set(found) else None

    found = wait_until("Prometheus' stored exemplars", exemplars)
    for trace_id in seen:
        labels, value = found[trace_id]
        assert labels["__name__"] == FAMILY + "_bucket" and labels["tool"] == "echo"
        assert labels["le"] == seen[trace_id].labels["le"]
        assert value == seen[trace_id].exemplar.value


def quantile_2_42(q: float, buckets: list[tuple[float, float, float]], total: float) -> float:
    """Prometheus 2.42's ``histogramQuantile`` over ``(lower, upper, count)`` buckets, ascending."""
    rank, count = q * total, 0.0
    for lower, upper, c in buckets:
        count += c
        if count >= rank:
            break
    rank -= count - c
    return lower + (upper - lower) * (rank / c)


def test_native_histogram_queries_agree_with_the_traffic(stack):
    prom = stack["native"]
    series = f'{FAMILY}{{tool="block"}}'
    calls = len(BLOCK_MS)
    wait_until("the native count", lambda: scalar(prom, f"histogram_count({series})") == float(calls))
    # The engine's own sum (text format, shortest round-trip decimal, so exact).
    text = httpx.get(stack["metrics"], headers={"Accept": "text/plain;version=0.0.4"}).text
    engine_sum = next(float(l.split()[-1]) for l in text.splitlines() if l.startswith(f'{FAMILY}_sum{{tool="block"}}'))
    assert scalar(prom, f"histogram_sum({series})") == engine_sum

    (result,) = query(prom, series)
    hist = result["histogram"][1]
    assert float(hist["count"]) == calls
    buckets = [(float(b[1]), float(b[2]), float(b[3])) for b in hist["buckets"]]
    assert sum(c for _, _, c in buckets) == calls
    for lower, upper, _ in buckets:
        # Schema 3: every boundary is 2^(k/8).
        for bound in (lower, upper):
            k = math.log2(bound) * 8
            assert abs(k - round(k)) < 1e-9, (lower, upper)
    # The native buckets agree with the engine's classic ladder: for every `le`, the native counts
    # wholly below it are at most the classic count, and those reaching below it at least that.
    classic = {
        float(l.split('le="')[1].split('"')[0]): float(l.split()[-1])
        for l in text.splitlines()
        if l.startswith(f'{FAMILY}_bucket{{tool="block",') and '+Inf' not in l
    }
    assert len(classic) == 13 and len(set(classic.values())) >= 4, classic
    for le, cum in classic.items():
        below = sum(c for _, upper, c in buckets if upper <= le)
        reaching = sum(c for lower, _, c in buckets if lower < le)
        assert below <= cum <= reaching, (le, cum, buckets)
    for q in (0.5, 0.9, 1.0):
        got = scalar(prom, f"histogram_quantile({q}, {series})")
        assert got == pytest.approx(quantile_2_42(q, buckets, calls), rel=1e-12), (q, buckets)
