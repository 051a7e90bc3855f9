#!/usr/bin/env python3
"""Group a server profile's samples into the costs a tools/call pays (no dependencies).

Reads `perf script` text (samples with call chains, from `perf record --call-graph dwarf`) on stdin
and prints one JSON object: the share of samples per category, plus the top leaf symbols.

    perf script -i server.data | python3 scripts/perf_shares.py --label inline

Each sample goes to exactly one category: the first in the list below with a pattern that matches
any frame of the sample's stack. The order makes the specific costs win over the frames every
request stack has at its root (hyper's dispatcher, tokio's task poll): a `serde_json` frame anywhere
in the stack makes the sample "JSON", whatever hyper called it from. Allocator frames count toward
whatever made the allocation; a sample whose stack matches nothing is "allocator" if its leaf is
the allocator, else "other".
"""

import argparse
import collections
import json
import re
import sys

CATEGORIES = [
    # Handing a call to another thread and back, and parking idle threads: futex waits and wakes,
    # condition variables, tokio's blocking pool (what spawn_blocking costs per call).
    ("thread handoff and parking (futex, condvar, blocking pool)", re.compile(
        r"futex|blocking::pool|Condvar|lock_contended|__lll_lock|pthread_cond|Parker|park_timeout|"
        r"unpark|park_internal|runtime::park")),
    ("schema validation (jsonschema)", re.compile(r"jsonschema|referencing::")),
    ("session lookup", re.compile(r"dcc_mcp_http::session::")),
    ("metrics recording", re.compile(r"dcc_mcp_telemetry|dcc_mcp_http::record::")),
    ("JSON parse / serialize (serde_json)", re.compile(r"serde_json|serde::de|serde::ser|serde_core::")),
    # Kernel socket work and the syscalls around it (the stack reaches a socket or epoll frame).
    ("socket I/O syscalls (read, writev, epoll)", re.compile(
        r"tcp_|sock_|__sys_recvfrom|__sys_sendto|do_writev|vfs_write|vfs_read|ksys_read|ksys_write|"
        r"do_epoll|ep_poll|__GI___writev|__libc_recv|__libc_send|__libc_read|__libc_write|epoll_wait")),
    # Preemption and context switches that are not a futex wait (run-queue pressure).
    ("other context switches (preemption)", re.compile(
        r"finish_task_switch|__schedule|schedule\b|exit_to_user_mode|reschedule_ipi|try_to_wake_up")),
    ("HTTP/1 and routing (hyper, axum, http)", re.compile(r"hyper::|http::|httparse|axum::|tower::|bytes::")),
    ("tokio runtime (task scheduling, timers)", re.compile(r"tokio::|mio::")),
    ("server logic (dcc_mcp_http)", re.compile(r"dcc_mcp_http::|dcc_mcp_server::|dcc_mcp_")),
]
ALLOCATOR = re.compile(r"malloc|_int_free|cfree|\bfree\b|realloc|__rdl_|__rust_alloc|__rust_dealloc|"
                       r"__rust_realloc|alloc::raw_vec|alloc::alloc|memmove|memcpy|memset|tcache|"
                       r"malloc_consolidate|unlink_chunk")


def samples(lines):
    """Yields each sample's frames (symbol names), leaf first."""
    frames = []
    in_sample = False
    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            if in_sample:
                yield frames
            frames, in_sample = [], False
            continue
        if not line.startswith((" ", "\t")):
            in_sample = True  # the sample's header line
            continue
        parts = line.strip().split(None, 1)
        if len(parts) == 2:
            sym = re.sub(r"\+0x[0-9a-f]+$", "", parts[1].rsplit(" (", 1)[0])
            frames.append(sym)
    if in_sample:
        yield frames


def classify(frames):
    for name, pattern in CATEGORIES:
        if any(pattern.search(sym) for sym in frames):
            return name
    if frames and ALLOCATOR.search(frames[0]):
        return "allocator (malloc, free, memcpy)"
    return "other"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--label", default="profile")
    ap.add_argument("--top", type=int, default=15, help="leaf symbols to list")
    ap.add_argument("--loadgen", help="loadgen's JSON line of the profiled run, copied into the output")
    args = ap.parse_args()
    cats = collections.Counter()
    leaves = collections.Counter()
    total = 0
    for frames in samples(sys.stdin):
        total += 1
        cats[classify(frames)] += 1
        leaves[frames[0] if frames else "?"] += 1
    share = lambda n: round(100.0 * n / total, 1) if total else 0.0
    load = {}
    if args.loadgen:
        with open(args.loadgen) as f:
            load = json.loads(f.read().strip() or "{}")
    print(json.dumps({
        "label": args.label,
        "samples": total,
        "loadgen": load,
        "shares_pct": {k: share(v) for k, v in cats.most_common()},
        "top_leaves_pct": {k: share(v) for k, v in leaves.most_common(args.top)},
    }))


if __name__ == "__main__":
    main()
