#!/usr/bin/env python3
"""Group a server profile's samples into the costs a tools/call pays (no dependencies).

Reads `perf script` text (samples with call chains, from `perf record --call-graph dwarf`) on stdin
and prints one JSON object: the share of samples per category, plus the top leaf symbols.

    perf script -i server.data | python3 scripts/perf_shares.py --label inline

Each sample goes to exactly one category: walking its stack from the leaf towards the root, the
first frame that matches a category decides (when one frame matches two, the one listed first).
Some frames say nothing about why the CPU was spent and are skipped in that walk: the allocator
(charged to whatever allocated), the scheduler's switch and wake-up code (charged to what slept or
woke: a futex, epoll, a socket), and the syscall entry. A sample made only of such frames is
"allocator" if its leaf is the allocator, else "other". Every tokio worker runs inside a
blocking-pool thread, so `blocking::pool::Inner::run` at a stack's root is not a handoff; the pool's
condition variable and `spawn_task`, nearer the leaf, are.
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
        r"futex|Condvar|lock_contended|__lll_lock|pthread_cond|Parker|park_timeout|unpark|"
        r"blocking::pool::Spawner|spawn_blocking")),
    ("schema validation (jsonschema)", re.compile(r"jsonschema|referencing::")),
    ("session lookup", re.compile(r"dcc_mcp_http::session::")),
    ("metrics recording", re.compile(r"dcc_mcp_telemetry|dcc_mcp_http::record::")),
    ("JSON parse / serialize (serde_json)", re.compile(r"serde_json|serde::de|serde::ser|serde_core::")),
    # Socket reads and writes, epoll (the kernel side and the libc/mio calls into it).
    ("socket I/O and epoll", re.compile(
        r"tcp_|sock_|__sys_recvfrom|__sys_sendto|do_writev|vfs_write|vfs_read|ksys_read|ksys_write|"
        r"do_epoll|ep_poll|epoll|__GI___writev|writev|__libc_recv|__libc_send|__libc_read|__libc_write|"
        r"^read$|^write$|^recv$|^send$|mio::")),
    # Preemption on the way back to user space (run-queue pressure, not a wait of our own).
    ("preemption (return to user space)", re.compile(r"exit_to_user_mode|irqentry_exit|reschedule_ipi")),
    ("HTTP/1 and routing (hyper, axum, http)", re.compile(r"\bhyper::|\bhyper_util::|\bhttp::|\bhttparse|\baxum::|\baxum_core::|\btower::|\bbytes::")),
    ("tokio runtime (task scheduling, timers)", re.compile(r"tokio::")),
    ("server logic (dcc_mcp_http)", re.compile(r"dcc_mcp_")),
]
ALLOCATOR = re.compile(r"malloc|_int_free|cfree|\bfree\b|realloc|__rdl_|__rust_alloc|__rust_dealloc|"
                       r"__rust_realloc|alloc::raw_vec|alloc::alloc|memmove|memcpy|memset|memcmp|tcache|"
                       r"malloc_consolidate|unlink_chunk|sysmalloc")
# Frames that say nothing about why: the allocator, the scheduler's switch and wake-up, syscall entry.
SKIP = re.compile(ALLOCATOR.pattern + r"|finish_task_switch|__schedule|^schedule$|schedule_hrtimeout|"
                  r"_raw_spin|try_to_wake_up|ttwu_|wake_up_q|^syscall$|do_syscall_64|entry_SYSCALL|"
                  r"__x64_sys_|asm_sysvec|sysvec_|__irq_exit|__do_softirq|handle_softirqs|hrtimer|"
                  r"^0x[0-9a-f]+$|^\[unknown\]$")


def strip_generics(sym):
    """`a::B<T, U>::f<V>` -> `a::B::f`: a frame's own path, not the types it was instantiated with
    (an inlined `poll<hyper_util::rt::TokioIo<...>>` is not hyper's code). A leading
    `<T as Trait>::` is kept, since it names the code."""
    out, depth = [], 0
    for i, ch in enumerate(sym):
        if depth:
            depth += {"<": 1, ">": -1}.get(ch, 0)
            continue
        if ch == "<" and i > 0 and (sym[i - 1].isalnum() or sym[i - 1] in "_}"):
            depth = 1
            continue
        out.append(ch)
    return "".join(out)


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
            frames.append(strip_generics(sym))
    if in_sample:
        yield frames


def classify(frames):
    for sym in frames:
        if SKIP.search(sym) and not CATEGORIES[0][1].search(sym):
            continue
        for name, pattern in CATEGORIES:
            if pattern.search(sym):
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
