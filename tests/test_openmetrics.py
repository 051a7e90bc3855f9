"""OpenMetrics from the real ``dcc-mcp-server`` binary, read by ``prometheus_client``'s OpenMetrics parser.

Starts ``dcc-mcp-server --demo-tools --prometheus`` (``DCC_MCP_SERVER_BIN``, default
``target/debug/dcc-mcp-server``), makes known tool calls, scrapes ``/metrics`` with the ``Accept``
header Prometheus 2.42 sends, and parses the body with
``prometheus_client.openmetrics.parser`` (which rejects a missing ``# EOF``, a unit that is not the
name's suffix, a counter sample without ``_total``, a non-canonical ``+Inf``, …). The same scrape in
text 0.0.4 must give the same values.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from test_prometheus_e2e import Mcp, free_port, stop, wait_until

ROOT = Path(__file__).resolve().parent.parent
SERVER_BIN = Path(os.environ.get("DCC_MCP_SERVER_BIN", ROOT / "target" / "debug" / "dcc-mcp-server"))
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
OK, ERR = 3, 2

pytestmark = pytest.mark.skipif(
    "DCC_MCP_SERVER_BIN" not in os.environ and not SERVER_BIN.exists(),
    reason=f"needs {SERVER_BIN} (cargo build -p dcc-mcp-server)",
)


@pytest.fixture(scope="module")
def metrics_url(tmp_path_factory):
    port = free_port()
    log = open(tmp_path_factory.mktemp("om") / "server.log", "wb")
    server = subprocess.Popen(
        [str(SERVER_BIN), "--host", "127.0.0.1", "--port", str(port), "--demo-tools", "--prometheus"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until("dcc-mcp-server /metrics", lambda: server.poll() is None and httpx.get(url + "/metrics").status_code == 200, timeout=10)
        mcp = Mcp(url + "/mcp")
        for _ in range(OK):
            assert not mcp.call("echo", {"text": "hi"})["result"].get("isError")
        for _ in range(ERR):
            assert mcp.call("echo", {"text": 42})["result"]["isError"] is True
        mcp.close()
        yield url + "/metrics"
    finally:
        stop(server)
        log.close()


def by_name(families) -> dict:
    return {f.name: f for f in families}


def value(family, sample_name: str, **labels) -> float:
    hits = [s.value for s in family.samples if s.name == sample_name and s.labels == labels]
    assert len(hits) == 1, (sample_name, labels, family.samples)
    return hits[0]


def test_openmetrics_parses_and_counts_exactly(metrics_url) -> None:
    resp = httpx.get(metrics_url, headers={"Accept": PROMETHEUS_ACCEPT})
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/openmetrics-text; version=1.0.0; charset=utf-8"
    assert resp.text.endswith("\n# EOF\n")
    fams = by_name(parse_openmetrics(resp.text))

    calls = fams["dcc_mcp_tool_calls"]
    assert calls.type == "counter"
    assert value(calls, "dcc_mcp_tool_calls_total", tool="echo", status="success") == OK
    assert value(calls, "dcc_mcp_tool_calls_total", tool="echo", status="error") == ERR
    created = value(calls, "dcc_mcp_tool_calls_created", tool="echo", status="success")
    assert 1.7e9 < created < 4e9

    duration = fams["dcc_mcp_tool_duration_seconds"]
    assert duration.type == "histogram"
    assert duration.unit == "seconds"
    assert value(duration, "dcc_mcp_tool_duration_seconds_count", tool="echo") == OK + ERR
    assert value(duration, "dcc_mcp_tool_duration_seconds_bucket", tool="echo", le="+Inf") == OK + ERR
    assert value(duration, "dcc_mcp_tool_duration_seconds_created", tool="echo") == created

    assert fams["dcc_mcp_build_info"].type == "gauge"
    assert fams["dcc_mcp_jobs_in_flight"].samples == [] or fams["dcc_mcp_jobs_in_flight"].type == "gauge"
    if sys.platform.startswith("linux"):
        assert fams["process_cpu_seconds"].type == "counter"
        assert fams["process_resident_memory_bytes"].unit == "bytes"
        assert value(fams["process_resident_memory_bytes"], "process_resident_memory_bytes") > 0


def test_text_scrape_has_the_same_values(metrics_url) -> None:
    resp = httpx.get(metrics_url)
    assert resp.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    fams = by_name(parse_text(resp.text))
    calls = fams["dcc_mcp_tool_calls"]
    assert value(calls, "dcc_mcp_tool_calls_total", tool="echo", status="success") == OK
    assert value(calls, "dcc_mcp_tool_calls_total", tool="echo", status="error") == ERR
    duration = fams["dcc_mcp_tool_duration_seconds"]
    assert value(duration, "dcc_mcp_tool_duration_seconds_count", tool="echo") == OK + ERR
