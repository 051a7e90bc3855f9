"""``McpHttpConfig(native_histograms=True)`` from Python: the tool-duration histogram of a call made
through the official MCP client carries native buckets in the protobuf exposition, and only when the
option is on (the classic ladder is there either way)."""

from __future__ import annotations

from typing import Dict, List, Tuple

import httpx

from dcc_mcp_core import McpHttpConfig

from conftest import HANG_GUARD_SECONDS, mcp_call, needs_prometheus

PROTOBUF = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
#: What the server answers with (client_golang's spelling).
PROTOBUF_CONTENT_TYPE = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"

Fields = Dict[int, List[object]]


def varint(buf: bytes, at: int) -> Tuple[int, int]:
    value, shift = 0, 0
    while True:
        b = buf[at]
        at += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, at


def fields(buf: bytes) -> Fields:
    """One protobuf message: field number -> values (ints for varints, bytes for length-delimited,
    raw 8 bytes for fixed64)."""
    out: Fields = {}
    at = 0
    while at < len(buf):
        key, at = varint(buf, at)
        number, wire = key >> 3, key & 7
        value: object
        if wire == 0:
            value, at = varint(buf, at)
        elif wire == 1:
            value, at = buf[at : at + 8], at + 8
        elif wire == 2:
            n, at = varint(buf, at)
            value, at = buf[at : at + n], at + n
        else:
            raise AssertionError(f"unexpected wire type {wire}")
        out.setdefault(number, []).append(value)
    return out


def duration_histograms(body: bytes) -> Dict[bytes, Fields]:
    """The `Histogram` messages of `dcc_mcp_tool_duration_seconds` in a delimited body, by tool."""
    found: Dict[bytes, Fields] = {}
    at = 0
    while at < len(body):
        n, at = varint(body, at)
        family = fields(body[at : at + n])
        at += n
        if family[1] == [b"dcc_mcp_tool_duration_seconds"]:
            for metric in family.get(4, []):
                m = fields(metric)  # type: ignore[arg-type]
                labels = {fields(p)[1][0]: fields(p)[2][0] for p in m.get(1, [])}  # type: ignore[arg-type]
                (h,) = m[7]
                found[labels[b"tool"]] = fields(h)  # type: ignore[arg-type,index]
    return found


def zigzag(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


@needs_prometheus
def test_native_histograms_option_adds_native_buckets_to_the_duration_histogram(start_server):
    assert McpHttpConfig().native_histograms is False
    assert McpHttpConfig(native_histograms=True).native_histograms is True
    for native in (False, True):
        running = start_server(tools={"t": lambda a: "ok"}, enable_prometheus=True, native_histograms=native)
        mcp_call(running.url, "t")
        body = httpx.get(running.metrics_url, headers={"Accept": PROTOBUF}, timeout=HANG_GUARD_SECONDS)
        assert body.status_code == 200
        assert body.headers["content-type"] == PROTOBUF_CONTENT_TYPE
        h = duration_histograms(body.content)[b"t"]
        assert h[1] == [1]  # sample_count: the one call
        assert len(h[3]) == 13  # the classic ladder (13 finite bounds; protobuf leaves +Inf implied), either way
        if not native:
            assert 5 not in h and 12 not in h and 13 not in h
            continue
        assert [zigzag(s) for s in h[5]] == [3]  # schema 3  # type: ignore[arg-type]
        # One positive span of one bucket, delta 1 (zigzag 2): the call's single observation.
        (span,) = h[12]
        assert fields(span)[2] == [1]  # type: ignore[arg-type]
        assert h[13] == [2]
        assert h.get(7, [0]) == [0]  # zero_count
