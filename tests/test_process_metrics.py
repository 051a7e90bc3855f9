"""`process_*` metrics of the process a server lives in, from Python: the `enable_process_metrics`
option (default on), and what a server embedded in this interpreter exports at `/metrics`.

(The same metrics scraped by Prometheus from the `dcc-mcp-server` binary: `test_fleet.py`.)
"""

from __future__ import annotations

import sys
import time

import pytest

from conftest import needs_prometheus, scrape
from dcc_mcp_core import McpHttpConfig

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process_* metrics come from /proc")

GAUGES = (
    "process_resident_memory_bytes",
    "process_virtual_memory_bytes",
    "process_open_fds",
    "process_max_fds",
    "process_start_time_seconds",
)


def test_option_defaults_on_and_round_trips() -> None:
    assert McpHttpConfig().enable_process_metrics is True
    cfg = McpHttpConfig(enable_prometheus=True, enable_process_metrics=False)
    assert cfg.enable_process_metrics is False
    assert "enable_process_metrics=False" in repr(cfg)
    cfg.enable_process_metrics = True
    assert cfg.enable_process_metrics is True
    assert "enable_process_metrics=True" in repr(cfg)


@needs_prometheus
@linux_only
def test_exported_for_this_process_and_sane(start_server) -> None:
    before = time.time()
    s = scrape(start_server(enable_prometheus=True).metrics_url)
    assert s.status == 200
    assert s.types["process_cpu_seconds_total"] == "counter"
    for name in GAUGES:
        assert s.types[name] == "gauge", name
    assert s.value("process_resident_memory_bytes") > 0
    assert s.value("process_virtual_memory_bytes") >= s.value("process_resident_memory_bytes")
    assert 0 < s.value("process_open_fds") <= s.value("process_max_fds")
    # This interpreter started before the test did (the gauge has whole seconds).
    assert 0 < s.value("process_start_time_seconds") <= before
    # At least stdin, stdout, stderr and the server's listening socket.
    assert s.value("process_open_fds") >= 4


@needs_prometheus
def test_absent_when_switched_off(start_server) -> None:
    s = scrape(start_server(enable_prometheus=True, enable_process_metrics=False).metrics_url)
    assert s.status == 200
    assert not [name for name in s.types if name.startswith("process_")]
    assert "dcc_mcp_build_info" in s.types
