"""The Prometheus exporter as Python users meet it: the documented snippet, Basic auth, exact counts
after calls through the official MCP client, independent servers, escaping, jobs, and the build
without the `prometheus` feature."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import pytest
from mcp import MCPError

from dcc_mcp_core import McpHttpConfig, McpHttpServer, ToolRegistry

from conftest import (
    BUILTIN_TOOLS,
    blocking_handler,
    HANG_GUARD_SECONDS,
    HAS_PROMETHEUS,
    in_session,
    METRICS_CONTENT_TYPE,
    NINE_FAMILIES,
    REALM_HEADER,
    mcp_call,
    mcp_calls,
    needs_prometheus,
    needs_workflow,
    result_text,
    scrape,
    wait_for,
)

AUTH = ("scraper", "change-me")


@needs_prometheus
def test_documented_snippet_runs_verbatim_and_serves_authenticated_metrics():
    # --- the snippet from the guide, verbatim -------------------------------------------------
    from dcc_mcp_core import McpHttpConfig, McpHttpServer, ToolRegistry
    cfg = McpHttpConfig(port=8765, server_name="maya-mcp", enable_prometheus=True,
                        prometheus_basic_auth=("scraper", "change-me"))
    server = McpHttpServer(ToolRegistry(), cfg)
    handle = server.start()
    # Scrape: GET http://127.0.0.1:8765/metrics
    # -------------------------------------------------------------------------------------------
    try:
        url = "http://127.0.0.1:8765/metrics"
        assert handle.metrics_url() == url

        ok = scrape(url, auth=("scraper", "change-me"))
        assert ok.status == 200
        assert ok.headers["content-type"] == METRICS_CONTENT_TYPE
        assert {name: ok.types.get(name) for name in NINE_FAMILIES} == NINE_FAMILIES
        assert ok.value("dcc_mcp_build_info", version=ok.samples("dcc_mcp_build_info")[0].labels["version"],
                        crate=ok.samples("dcc_mcp_build_info")[0].labels["crate"]) == 1.0
        assert ok.value("dcc_mcp_registered_tools") == BUILTIN_TOOLS
        assert ok.value("dcc_mcp_active_sessions") == 0.0

        for auth in (None, ("scraper", "wrong"), ("other", "change-me"), ("scraper", "change-me!")):
            denied = scrape(url, auth=auth)
            assert denied.status == 401, auth
            assert denied.headers["www-authenticate"] == REALM_HEADER
            assert "dcc_mcp_" not in denied.text
        # A malformed Authorization header is refused the same way.
        garbage = httpx.get(url, headers={"Authorization": "Basic !!!not-base64"}, timeout=HANG_GUARD_SECONDS)
        assert garbage.status_code == 401
        assert garbage.headers["www-authenticate"] == REALM_HEADER
    finally:
        handle.shutdown()


@needs_prometheus
def test_open_endpoint_without_credentials(start_server):
    running = start_server(enable_prometheus=True)
    result = scrape(running.metrics_url)
    assert result.status == 200
    assert set(NINE_FAMILIES) <= set(result.types)


@needs_prometheus
def test_metrics_404_when_disabled_at_runtime(start_server):
    running = start_server(enable_prometheus=False)
    assert httpx.get(running.metrics_url, timeout=HANG_GUARD_SECONDS).status_code == 404


@pytest.mark.skipif(HAS_PROMETHEUS, reason="this build has the `prometheus` feature")
def test_metrics_404_without_the_feature_even_when_enabled(start_server):
    """In a build without `prometheus` the flags are accepted and /metrics is simply not there."""
    running = start_server(enable_prometheus=True, prometheus_basic_auth=AUTH)
    assert running.server.config.enable_prometheus is True
    for auth in (None, AUTH):
        assert httpx.get(running.metrics_url, auth=auth, timeout=HANG_GUARD_SECONDS).status_code == 404


@needs_prometheus
def test_exact_counts_after_calls_through_the_mcp_client(start_server):
    calls = []

    def echo(arguments):
        calls.append(arguments["i"])
        return {"i": arguments["i"]}

    def fail(arguments):
        raise RuntimeError("scene is locked")

    n_ok, n_err = 7, 3
    running = start_server(tools={"echo": echo, "fail": fail}, enable_prometheus=True, prometheus_basic_auth=AUTH)
    results = mcp_calls(
        running.url,
        [("echo", {"i": i}) for i in range(n_ok)] + [("fail", {})] * n_err,
    )
    assert calls == list(range(n_ok))
    assert [r.is_error for r in results] == [False] * n_ok + [True] * n_err
    assert result_text(results[-1]) == "RuntimeError: scene is locked"

    m = scrape(running.metrics_url, auth=AUTH)
    assert m.status == 200
    assert m.value("dcc_mcp_tool_calls_total", tool="echo", status="success") == n_ok
    assert m.value("dcc_mcp_tool_calls_total", tool="echo", status="error") == 0
    assert m.value("dcc_mcp_tool_calls_total", tool="fail", status="error") == n_err
    assert m.value("dcc_mcp_tool_calls_total", tool="fail", status="success") == 0
    assert m.value("dcc_mcp_tool_duration_seconds_count", tool="echo") == n_ok
    assert m.value("dcc_mcp_tool_duration_seconds_bucket", tool="echo", le="+Inf") == n_ok
    assert m.value("dcc_mcp_tool_duration_seconds_count", tool="fail") == n_err
    assert m.value("dcc_mcp_registered_tools") == 2 + BUILTIN_TOOLS
    # The histogram uses the documented ladder.
    les = [float(s.labels["le"]) for s in m.samples("dcc_mcp_tool_duration_seconds_bucket") if s.labels["tool"] == "echo"]
    assert les == [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, float("inf")]

    # More calls add exactly; the gauge follows registrations at scrape time.
    mcp_calls(running.url, [("echo", {"i": 99})])
    running.registry.unregister("fail")
    m2 = scrape(running.metrics_url, auth=AUTH)
    assert m2.value("dcc_mcp_tool_calls_total", tool="echo", status="success") == n_ok + 1
    assert m2.value("dcc_mcp_registered_tools") == 1 + BUILTIN_TOOLS


@needs_prometheus
def test_active_sessions_are_exact_at_scrape_time(start_server):
    running = start_server(tools={"t": lambda a: "ok"}, enable_prometheus=True)
    assert scrape(running.metrics_url).value("dcc_mcp_active_sessions") == 0
    inside = {}

    def call_and_scrape(arguments):
        # Runs inside the tool call, i.e. while the client's session is open.
        inside["sessions"] = scrape(running.metrics_url).value("dcc_mcp_active_sessions")
        return "ok"

    running.registry.register("probe", input_schema={"type": "object"})
    running.server.register_handler("probe", call_and_scrape)
    mcp_call(running.url, "probe")
    assert inside["sessions"] == 1
    # The client ends its session (DELETE /mcp) when it closes.
    wait_for(lambda: scrape(running.metrics_url).value("dcc_mcp_active_sessions") == 0, "the session to end")


@needs_prometheus
def test_two_servers_keep_independent_counts(start_server):
    a = start_server(tools={"shared_name": lambda args: "a"}, enable_prometheus=True)
    b = start_server(tools={"shared_name": lambda args: "b", "only_b": lambda args: "b2"}, enable_prometheus=True)
    mcp_calls(a.url, [("shared_name", {})] * 2)
    mcp_calls(b.url, [("shared_name", {})] * 5 + [("only_b", {})])
    ma, mb = scrape(a.metrics_url), scrape(b.metrics_url)
    assert ma.value("dcc_mcp_tool_calls_total", tool="shared_name", status="success") == 2
    assert mb.value("dcc_mcp_tool_calls_total", tool="shared_name", status="success") == 5
    assert mb.value("dcc_mcp_tool_calls_total", tool="only_b", status="success") == 1
    assert ma.value("dcc_mcp_tool_calls_total", tool="only_b", status="success") is None
    assert ma.value("dcc_mcp_registered_tools") == 1 + BUILTIN_TOOLS
    assert mb.value("dcc_mcp_registered_tools") == 2 + BUILTIN_TOOLS


@needs_prometheus
def test_non_serialisable_return_counts_as_error(start_server):
    running = start_server(tools={"bad": lambda a: {"when": object()}}, enable_prometheus=True)
    result = mcp_call(running.url, "bad")
    assert result.is_error is True
    assert result_text(result) == (
        "the handler of tool 'bad' returned a value that is not JSON-serialisable: "
        "object of type 'object' is not JSON serializable (at $.when)"
    )
    m = scrape(running.metrics_url)
    assert m.value("dcc_mcp_tool_calls_total", tool="bad", status="error") == 1
    assert m.value("dcc_mcp_tool_calls_total", tool="bad", status="success") == 0


@needs_prometheus
def test_tool_names_with_quotes_backslashes_and_unicode_are_escaped_and_parse_back(start_server):
    names = ['say "hi"', "back\\slash", "ツール-ü 🎬", 'mix \\"both\\"']
    running = start_server(tools={n: (lambda a: "ok") for n in names}, enable_prometheus=True)
    mcp_calls(running.url, [(n, {}) for n in names] + [(names[0], {})])
    m = scrape(running.metrics_url)
    assert m.value("dcc_mcp_tool_calls_total", tool='say "hi"', status="success") == 2
    assert m.value("dcc_mcp_tool_calls_total", tool="back\\slash", status="success") == 1
    assert m.value("dcc_mcp_tool_calls_total", tool="ツール-ü 🎬", status="success") == 1
    assert m.value("dcc_mcp_tool_calls_total", tool='mix \\"both\\"', status="success") == 1
    # Exposition-format escaping on the wire: `"` → `\"`, `\` → `\\`, non-ASCII as UTF-8.
    lines = set(m.text.splitlines())
    assert r'dcc_mcp_tool_calls_total{status="success",tool="say \"hi\""} 2' in lines
    assert r'dcc_mcp_tool_calls_total{status="success",tool="back\\slash"} 1' in lines
    assert 'dcc_mcp_tool_calls_total{status="success",tool="ツール-ü 🎬"} 1' in lines
    assert r'dcc_mcp_tool_calls_total{status="success",tool="mix \\\"both\\\""} 1' in lines


@needs_prometheus
def test_unknown_tool_calls_use_a_bounded_label(start_server):
    running = start_server(tools={"known": lambda a: "ok"}, enable_prometheus=True)
    with pytest.raises(MCPError, match="Unknown tool: client-chosen-name"):
        mcp_call(running.url, "client-chosen-name")
    m = scrape(running.metrics_url)
    assert "client-chosen-name" not in m.text
    assert m.value("dcc_mcp_tool_calls_total", tool="<unknown>", status="error") == 1
    assert m.value("dcc_mcp_tool_calls_total", tool="known", status="error") == 0


async def _poll_job(client: Any, job_id: str, until: str) -> Any:
    """Polls `jobs.get` in this session until the job reaches status `until` (hang-guarded)."""
    deadline = asyncio.get_running_loop().time() + HANG_GUARD_SECONDS
    while True:
        got = await client.call_tool("jobs.get", {"jobId": job_id})
        if got.structured_content["status"] == until:
            return got
        assert asyncio.get_running_loop().time() < deadline, f"job still {got.structured_content}"
        await asyncio.sleep(0.02)


@needs_prometheus
@needs_workflow
def test_slow_handler_runs_as_a_job(start_server):
    started = threading.Event()
    release = threading.Event()

    def slow(arguments):
        started.set()
        assert release.wait(HANG_GUARD_SECONDS)
        return {"frames": arguments["frames"]}

    running = start_server(
        tools={"render": slow}, execution={"render": "async"}, enable_prometheus=True, job_concurrency=1
    )

    async def flow(client):
        # The call answers at once with a job id while the handler is still blocked.
        accepted = await client.call_tool("render", {"frames": 24})
        assert accepted.is_error is False
        job_id = accepted.structured_content["jobId"]
        assert await asyncio.to_thread(started.wait, HANG_GUARD_SECONDS)
        running_scrape = await asyncio.to_thread(scrape, running.metrics_url)
        release.set()
        done = await _poll_job(client, job_id, "succeeded")
        return accepted, running_scrape, done

    accepted, during, done = in_session(running.url, flow)
    assert accepted.structured_content["tool"] == "render"
    assert done.structured_content["result"]["structuredContent"] == {"frames": 24}
    assert done.structured_content["result"]["isError"] is False

    assert during.value("dcc_mcp_job_created_total", tool="render", result="accepted") == 1
    assert during.value("dcc_mcp_jobs_in_flight", tool="render") == 1
    assert during.value("dcc_mcp_job_wait_seconds_count", tool="render") == 1

    after = scrape(running.metrics_url)
    assert after.value("dcc_mcp_job_created_total", tool="render", result="accepted") == 1
    assert after.value("dcc_mcp_jobs_in_flight", tool="render") == 0
    assert after.value("dcc_mcp_job_wait_seconds_count", tool="render") == 1
    # The tools/call that submitted the job is one successful call.
    assert after.value("dcc_mcp_tool_calls_total", tool="render", status="success") == 1


@needs_prometheus
@needs_workflow
def test_full_job_queue_is_counted_as_queue_full(start_server):
    started, release, slow = blocking_handler("done")
    running = start_server(
        tools={"bake": slow}, execution={"bake": "async"}, enable_prometheus=True,
        job_concurrency=1, job_queue_capacity=1,
    )

    async def flow(client):
        try:
            first = await client.call_tool("bake", {})  # runs
            assert await asyncio.to_thread(started.wait, HANG_GUARD_SECONDS)
            second = await client.call_tool("bake", {})  # waits in the queue
            third = await client.call_tool("bake", {})  # refused
            return first, second, third
        finally:
            release.set()

    first, second, third = in_session(running.url, flow)
    assert (first.is_error, second.is_error, third.is_error) == (False, False, True)
    assert result_text(third) == (
        "job queue full: 1 jobs are already waiting; retry later or raise job_queue_capacity"
    )
    m = scrape(running.metrics_url)
    assert m.value("dcc_mcp_job_created_total", tool="bake", result="accepted") == 2
    assert m.value("dcc_mcp_job_created_total", tool="bake", result="queue_full") == 1
    assert m.value("dcc_mcp_tool_calls_total", tool="bake", status="error") == 1
