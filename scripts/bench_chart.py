#!/usr/bin/env python3
"""Turn criterion's output and the end-to-end runs into tables and a chart (no dependencies).

Reads   target/criterion/<group>/<function>/<threads or series>/new/{benchmark,estimates}.json
        target/bench-results/{memory.csv,e2e.jsonl,machine.txt}
        target/bench-results/perf.jsonl (scripts/perf_shares.py's profile shares)
Writes  target/bench-results/{recording.csv,scrape.csv,e2e.csv,tables.md,summary.json}
        docs/benchmarks.svg  (aggregate throughput per library, one bar per thread count)

    python3 scripts/bench_chart.py --criterion target/criterion --results target/bench-results \
        --svg docs/benchmarks.svg
"""

import argparse
import csv
import json
import math
import statistics
from pathlib import Path

RECORDING_GROUPS = [
    ("cmp_counter_inc", "Counter inc (kept handle)"),
    ("cmp_counter_by_labels", "Counter by label values"),
    ("cmp_histogram_observe", "Histogram observe"),
    ("cmp_tool_call_record", "Tool-call record (counter + histogram)"),
    ("cmp_gauge_up_down", "Gauge inc + dec"),
]
LIBRARY_ORDER = ["dcc-mcp", "dcc-mcp-owned", "prometheus", "metrics", "prometheus-client", "floor"]
COLORS = {1: "#9ecae1", 2: "#3182bd", 4: "#08519c", 8: "#08306b"}
SHARDED = {"cmp_counter_inc", "cmp_counter_by_labels", "cmp_histogram_observe", "cmp_tool_call_record"}


def load_criterion(root: Path):
    """{(group, function, value): (median_ns, low_ns, high_ns)} from criterion's `new` estimates."""
    rows = {}
    for bench in root.glob("**/new/benchmark.json"):
        meta = json.loads(bench.read_text())
        est = json.loads((bench.parent / "estimates.json").read_text())
        med = est["median"]
        rows[(meta["group_id"], meta.get("function_id") or "", meta.get("value_str") or "")] = (
            med["point_estimate"],
            med["confidence_interval"]["lower_bound"],
            med["confidence_interval"]["upper_bound"],
        )
    return rows


def load_cpu_share(path: Path):
    """{(group, library, threads): share} from the runner's log (last value wins)."""
    shares = {}
    if path.exists():
        for row in csv.reader(path.open()):
            if len(row) == 4:
                try:
                    shares[(row[0], row[1], int(row[2]))] = float(row[3])
                except ValueError:
                    pass
    return shares


def lib_key(name):
    return (LIBRARY_ORDER.index(name) if name in LIBRARY_ORDER else len(LIBRARY_ORDER), name)


def fmt_ns(ns):
    if ns >= 100:
        return f"{ns:.0f}"
    if ns >= 10:
        return f"{ns:.1f}"
    return f"{ns:.2f}"


def fmt_us(ns):
    us = ns / 1000
    return f"{us:.0f}" if us >= 100 else f"{us:.1f}" if us >= 10 else f"{us:.2f}"


def recording_table(rows, group, title, shares=None):
    """Markdown table of one recording group plus {library: {threads: ns}}."""
    shares = shares or {}
    data = {}
    for (g, f, v), (med, _, _) in rows.items():
        if g == group and v.isdigit():
            data.setdefault(f, {})[int(v)] = med
    if not data:
        return "", {}
    threads = sorted({t for d in data.values() for t in d})
    top = max(threads)
    head = ["library"] + [f"{t}T ns/op/thread" for t in threads]
    if 1 in threads and top > 1:
        head.append(f"{top}T/1T throughput")
    if "dcc-mcp" in data:
        head.append(f"× dcc-mcp at {top}T")
    with_share = top > 1 and any((group, lib, top) in shares for lib in data)
    if with_share:
        head.append(f"CPU share at {top}T")
    lines = [f"**{title}** (`{group}`)", "", "| " + " | ".join(head) + " |",
             "|" + "---|" + "---:|" * (len(head) - 1)]
    ours = data.get("dcc-mcp", {}).get(top)
    for lib in sorted(data, key=lib_key):
        d = data[lib]
        cells = [f"`{lib}`"] + [fmt_ns(d[t]) if t in d else "–" for t in threads]
        if 1 in threads and top > 1:
            cells.append(f"{top * d[1] / d[top]:.2f}×" if 1 in d and top in d else "–")
        if "dcc-mcp" in data:
            cells.append(f"{d[top] / ours:.1f}×" if top in d and ours else "–")
        if with_share:
            sh = shares.get((group, lib, top))
            cells.append(f"{sh:.2f}" if sh is not None else "–")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n", data


def scrape_tables(rows):
    scrape = {}
    merge = {}
    for (g, f, v), (med, _, _) in rows.items():
        if g in ("scrape", "merge") and v.isdigit():
            (scrape if g == "scrape" else merge).setdefault(int(v), {})[f] = med
    if not scrape:
        return "", scrape, merge

    def shards_of(f):
        return int(f.split("-")[-1].replace("shards", ""))

    ours_cols = sorted({f for d in scrape.values() for f in d if f.startswith("dcc-mcp-")}, key=shards_of)
    others = [f for f in ("prometheus", "metrics", "prometheus-client") if any(f in d for d in scrape.values())]
    head = ["series"] + [f"dcc-mcp {shards_of(f)} shards" for f in ours_cols] + [f"`{o}`" for o in others]
    out = ["**Scrape: merge + encode, µs** (series = one counter + one 14-bucket histogram per `tool`)", "",
           "| " + " | ".join(head) + " |", "|---:|" + "---:|" * (len(head) - 1)]
    for s in sorted(scrape):
        d = scrape[s]
        out.append("| " + " | ".join([f"{s:,}"] + [fmt_us(d[c]) if c in d else "–" for c in ours_cols + others]) + " |")
    out += ["", "**Merge only (our snapshot, no encoding), µs**", "",
            "| series | " + " | ".join(f"{shards_of(f)} shards" for f in ours_cols) + " |",
            "|---:|" + "---:|" * len(ours_cols)]
    for s in sorted(merge):
        d = merge[s]
        out.append("| " + " | ".join([f"{s:,}"] + [fmt_us(d[c]) if c in d else "–" for c in ours_cols]) + " |")
    return "\n".join(out) + "\n", scrape, merge


def memory_table(path: Path):
    if not path.exists():
        return ""
    rows = list(csv.DictReader(path.open()))
    if not rows:
        return ""
    out = ["**Memory** (engine cell storage per series per shard; RSS growth includes label strings, indexes)", "",
           "| series | shards | shard bytes | bytes/series/shard | RSS bytes/series/shard | `prometheus` RSS bytes/series |",
           "|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {int(r['series']):,} | {r['shards']} | {int(r['shard_bytes']):,} | "
                   f"{r['bytes_per_series_per_shard']} | {r['rss_per_series_per_shard']} | {r['prometheus_rss_per_series']} |")
    return "\n".join(out) + "\n"


# The end-to-end runs (scripts/bench.sh --only e2e): label -> text.
E2E_ORDER = ["no-feature", "feature-off", "exporter-on", "exporter-scraped"]
E2E_TEXT = {
    "no-feature": "built without `prometheus`",
    "feature-off": "built with it, `/metrics` disabled",
    "exporter-on": "exporter on (`--prometheus`)",
    "exporter-scraped": "exporter on, `/metrics` scraped every 100 ms",
}
PEERS = [
    ("feature-off", "`dcc-mcp-server`, Rust handler, inline (default build, exporter off)"),
    ("worker", "`dcc-mcp-server`, Rust handler on the blocking worker path (`--demo-handlers worker`)"),
    ("python-handler", "`dcc_mcp_core`, Python handler (`register_handler`)"),
    ("python-sdk", "official MCP Python SDK (`MCPServer`, `json_response=True`)"),
    ("rmcp", "rmcp (Streamable HTTP, sessions)"),
    ("rmcp-stateless", "rmcp (stateless, `json_response`)"),
]
RESPONSE = {"application/json": "JSON", "text/event-stream": "SSE"}


def load_e2e(path: Path):
    """Medians per label over the rounds, and per-round CPU-per-call ratios to the build without the
    feature (the runs are interleaved, so a round's runs saw the same background load)."""
    if not path.exists():
        return {}
    runs = {}
    for line in path.read_text().splitlines():
        if line.strip().startswith("{"):
            r = json.loads(line)
            runs.setdefault(r["label"], []).append(r)
    base_runs = runs.get("no-feature", [])
    med = {}
    pair_runs = {l: rs for l, rs in runs.items() if l.startswith("pair:")}
    for label, rs in runs.items():
        if label.startswith("pair:"):
            continue
        m = {k: statistics.median(r[k] for r in rs) for k in ("rps", "p50_us", "p99_us", "errors")}
        m["runs"] = len(rs)
        m["response"] = RESPONSE.get(rs[-1].get("response_type", ""), rs[-1].get("response_type", "–"))
        pairs = [r["rps"] / b["rps"] for r, b in zip(rs, base_runs) if b["rps"] > 0]
        if pairs:
            m["ratio"] = statistics.median(pairs)
        if all("server_cpu_us_per_req" in r for r in rs):
            m["cpu_us"] = statistics.median(r["server_cpu_us_per_req"] for r in rs)
            m["cpu_all"] = [r["server_cpu_us_per_req"] for r in rs]
            cpairs = [r["server_cpu_us_per_req"] / b["server_cpu_us_per_req"]
                      for r, b in zip(rs, base_runs) if b.get("server_cpu_us_per_req")]
            if cpairs:
                m["cpu_ratio"] = statistics.median(cpairs)
                m["cpu_ratios"] = cpairs
        if all("scrapes" in r for r in rs):
            m["scrapes"] = statistics.median(r["scrapes"] for r in rs)
            m["scrape_p50_us"] = statistics.median(r["scrape_p50_us"] for r in rs)
            m["scrape_bytes"] = rs[-1]["scrape_bytes"]
        med[label] = m
    # The floor (http-floor) ran in the same rounds: each round's CPU per call over the floor's.
    floor_runs = runs.get("floor", [])
    for label, rs in runs.items():
        if label.startswith("pair:") or label not in med:
            continue
        fr = [r["server_cpu_us_per_req"] / f["server_cpu_us_per_req"] for r, f in zip(rs, floor_runs)
              if f.get("server_cpu_us_per_req") and "server_cpu_us_per_req" in r]
        if fr:
            med[label]["floor_ratio"] = statistics.median(fr)
            med[label]["floor_ratios"] = fr
    # Pairs: base and test served at the same time (labels pair:<test>:base / pair:<test>:test).
    for label in sorted({l.split(":")[1] for l in pair_runs}):
        base, test = pair_runs.get(f"pair:{label}:base", []), pair_runs.get(f"pair:{label}:test", [])
        ratios = [t["server_cpu_us_per_req"] / b["server_cpu_us_per_req"] for b, t in zip(base, test)
                  if b.get("server_cpu_us_per_req") and "server_cpu_us_per_req" in t]
        if ratios:
            med.setdefault(label, {})
            med[label]["pair_ratio"] = statistics.median(ratios)
            med[label]["pair_ratios"] = ratios
            med[label]["pair_base_cpu"] = statistics.median(b["server_cpu_us_per_req"] for b in base)
            med[label]["pair_test_cpu"] = statistics.median(t["server_cpu_us_per_req"] for t in test)
            med[label]["pair_errors"] = sum(r["errors"] for r in base + test)
    return med


def e2e_tables(med):
    """The peer table and the exporter table (markdown)."""
    if not any("runs" in m for m in med.values()):
        return ""
    runs = max(m.get("runs", 0) for m in med.values())
    out = [f"**Peers** (`tools/call echo`, 16 connections; medians over {runs} rounds of one run)", "",
           "| server | response | requests/s | p50 µs | p99 µs | server CPU µs/call (per round) | errors |",
           "|---|---|---:|---:|---:|---|---:|"]
    for label, text in PEERS:
        m = med.get(label)
        if not m:
            continue
        cpu = "–"
        if "cpu_us" in m:
            cpu = f"**{m['cpu_us']:.1f}** ({', '.join(f'{x:.0f}' for x in m['cpu_all'])})"
        out.append(f"| {text} | {m['response']} | {m['rps']:,.0f} | {m['p50_us']:,.0f} | {m['p99_us']:,.0f} | "
                   f"{cpu} | {m['errors']:.0f} |")
    out += ["", "**Exporter** (same run; our server, inline echo; ratio = median of the per-round ratios to "
            "the build without the feature)", "",
            "| server | requests/s | server CPU µs/call | CPU/call vs no feature (per round) | p50 µs | p99 µs | errors | scrapes |",
            "|---|---:|---:|---|---:|---:|---:|---|"]
    for label in E2E_ORDER:
        m = med.get(label)
        if not m or "runs" not in m:
            continue
        ratio = "–"
        if "cpu_ratio" in m:
            ratio = f"{100 * m['cpu_ratio']:.1f} % ({', '.join(f'{100 * x:.1f}' for x in m['cpu_ratios'])})"
        extra = "–"
        if "scrapes" in m:
            extra = f"{m['scrapes']:.0f} per run, p50 {m['scrape_p50_us']:.0f} µs, {m['scrape_bytes']:,} B"
        cpu = f"{m['cpu_us']:.1f}" if "cpu_us" in m else "–"
        out.append(f"| {E2E_TEXT[label]} | {m['rps']:,.0f} | {cpu} | {ratio} | {m['p50_us']:,.0f} | "
                   f"{m['p99_us']:,.0f} | {m['errors']:.0f} | {extra} |")
    paired = [l for l in ("exporter-on", "exporter-scraped") if "pair_ratio" in med.get(l, {})]
    if paired:
        n = len(med[paired[0]]["pair_ratios"])
        out += ["", f"**Exporter, paired** (the build without the feature and the exporter build served at the "
                f"same time on two ports, each driven by its own `loadgen` with 16 connections; medians of {n} pairs)", "",
                "| exporter build | no-feature CPU µs/call | exporter CPU µs/call | CPU/call vs no feature (per pair) | errors |",
                "|---|---:|---:|---|---:|"]
        for l in paired:
            m = med[l]
            out.append(f"| {E2E_TEXT[l]} | {m['pair_base_cpu']:.2f} | {m['pair_test_cpu']:.2f} | "
                       f"{100 * m['pair_ratio']:.1f} % ({', '.join(f'{100 * x:.1f}' for x in m['pair_ratios'])}) | "
                       f"{m['pair_errors']} |")
    return "\n".join(out) + "\n"


FLOOR_ORDER = [
    ("floor", "hyper HTTP/1.1 + `serde_json` floor (`http-floor`)"),
    ("feature-off", "`dcc-mcp-server --demo-tools` (inline echo)"),
    ("exporter-on", "`dcc-mcp-server --demo-tools --prometheus`"),
]


def floor_table(med):
    """Our server against the HTTP floor, same rounds and load generator (markdown)."""
    if "cpu_us" not in med.get("floor", {}):
        return ""
    runs = med["floor"]["runs"]
    out = [f"**Against the floor** (`tools/call echo`, 16 keep-alive connections, one `loadgen`; the three servers "
           f"run in turn in each of {runs} rounds; ratio = median of the per-round ratios of server CPU per call)", "",
           "| server | requests/s | p50 µs | server CPU µs/call (per round) | × floor (per round) | errors |",
           "|---|---:|---:|---|---|---:|"]
    for label, text in FLOOR_ORDER:
        m = med.get(label)
        if not m or "cpu_us" not in m:
            continue
        ratio = "–"
        if "floor_ratio" in m:
            ratio = f"**{m['floor_ratio']:.2f}×** ({', '.join(f'{x:.2f}' for x in m['floor_ratios'])})"
        out.append(f"| {text} | {m['rps']:,.0f} | {m['p50_us']:,.0f} | **{m['cpu_us']:.1f}** "
                   f"({', '.join(f'{x:.1f}' for x in m['cpu_all'])}) | {ratio} | {m['errors']:.0f} |")
    return "\n".join(out) + "\n"


def e2e_targets(med):
    """Issue 12's end-to-end targets, checked against this run."""
    rows = []
    inline, worker = med.get("feature-off", {}), med.get("worker", {})
    if "cpu_us" in inline:
        v = inline["cpu_us"]
        old = f"; blocking worker path {worker['cpu_us']:.1f} µs" if "cpu_us" in worker else ""
        rows.append(f"| server CPU per `tools/call`, Rust handler inline, ≤ 25 µs | {v:.1f} µs{old} | "
                    f"{'yes' if v <= 25 else '**no**'} |")
    for label in ("exporter-on", "exporter-scraped"):
        m = med.get(label, {})
        for key, how in (("pair_ratio", "paired runs"), ("cpu_ratio", "rounds")):
            r = m.get(key)
            if r is not None:
                rows.append(f"| CPU per call, {E2E_TEXT[label]}, ≤ 102 % of no feature ({how}) | {100 * r:.1f} % | "
                            f"{'yes' if r <= 1.02 else '**no**'} |")
    for label in ("feature-off", "exporter-on"):
        r = med.get(label, {}).get("floor_ratio")
        if r is not None:
            rows.append(f"| server CPU per call, {dict(FLOOR_ORDER)[label]}, ≤ 1.3× the `serde_json` floor "
                        f"(issue 16) | {r:.2f}× | {'yes' if r <= 1.3 else '**no**'} |")
    if not rows:
        return ""
    return "**Targets** (issues 12 and 16)\n\n| target | measured (median) | met |\n|---|---:|:---:|\n" + "\n".join(rows) + "\n"


def perf_table(path: Path):
    """Profile shares per handler kind from scripts/perf_shares.py's lines (the latest per label)."""
    if not path.exists():
        return ""
    runs = {}
    for line in path.read_text().splitlines():
        if line.strip().startswith("{"):
            r = json.loads(line)
            runs[r["label"]] = r
    if not runs:
        return ""
    labels = list(runs)
    cats = []
    for r in runs.values():
        for c in r["shares_pct"]:
            if c not in cats:
                cats.append(c)
    cats.sort(key=lambda c: -max(r["shares_pct"].get(c, 0) for r in runs.values()))
    out = ["**Where the server's CPU goes** (`perf record --call-graph dwarf` of the server under `loadgen`, "
           "share of samples; echo through each handler kind)", "",
           "| category | " + " | ".join(f"`{l}`" for l in labels) + " |",
           "|---|" + "---:|" * len(labels)]
    for c in cats:
        out.append(f"| {c} | " + " | ".join(f"{runs[l]['shares_pct'].get(c, 0):.1f} %" for l in labels) + " |")
    out.append("| samples | " + " | ".join(f"{runs[l]['samples']:,}" for l in labels) + " |")
    if all(runs[l].get("loadgen", {}).get("server_cpu_us_per_req") for l in labels):
        out.append("| requests/s, server CPU µs/call while profiled | " + " | ".join(
            f"{runs[l]['loadgen']['rps']:,.0f}, {runs[l]['loadgen']['server_cpu_us_per_req']:.1f}" for l in labels) + " |")
    return "\n".join(out) + "\n"


def e2e_section(results: Path):
    """Everything of the e2e block: targets, peers, exporter, profile."""
    med = load_e2e(results / "e2e.jsonl")
    parts = [p for p in (e2e_targets(med), floor_table(med), e2e_tables(med), perf_table(results / "perf.jsonl")) if p]
    machine_file = results / "machine.txt"
    if parts and machine_file.exists():
        latest = {}  # the latest line of each kind
        for l in machine_file.read_text().splitlines():
            if ": " in l:
                key, value = l.split(": ", 1)
                latest[key] = value
        bits = [latest[k] for k in ("cpu", "kernel", "rustc", "python", "e2e-run", "e2e", "e2e-after") if k in latest]
        parts.insert(0, "Machine: " + "; ".join(bits) + ".\n")
    return "\n".join(parts), med


def floor_section(results: Path, med):
    """The floor block of a `--only floor` run: machine line, the floor targets and table."""
    rows = [l for l in e2e_targets(med).splitlines() if "floor" in l]
    targets = ""
    if rows:
        targets = "| target | measured (median) | met |\n|---|---:|:---:|\n" + "\n".join(rows) + "\n"
    parts = [p for p in (targets, floor_table(med)) if p]
    machine_file = results / "machine.txt"
    if parts and machine_file.exists():
        latest = {}
        for l in machine_file.read_text().splitlines():
            if ": " in l:
                key, value = l.split(": ", 1)
                latest[key] = value
        bits = [latest[k] for k in ("cpu", "kernel", "rustc", "e2e-run", "e2e", "e2e-after") if k in latest]
        parts.insert(0, "Machine: " + "; ".join(bits) + ".\n")
    return "\n".join(parts)


def replace_block(doc: Path, begin: str, end: str, body: str):
    """Replace the text between two markers of `doc` (left alone if a marker is missing)."""
    text = doc.read_text()
    if begin not in text or end not in text:
        return False
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    note = "<!-- generated by scripts/bench_chart.py from target/bench-results; do not edit by hand -->"
    doc.write_text(head + begin + "\n" + note + "\n\n" + body + "\n" + end + tail)
    return True


def targets_table(rec, scrape, pairs):
    """The issue's targets, checked against this run (2 threads)."""
    def ns(group, lib="dcc-mcp", t=2):
        return rec.get(group, {}).get(lib, {}).get(t)

    out = ["| target (2 threads, same run) | measured | met |", "|---|---:|:---:|"]

    def row(text, value, ok, unit="ns"):
        if value is None:
            out.append(f"| {text} | – | – |")
        else:
            out.append(f"| {text} | {value:.2f} {unit} | {'yes' if ok else '**no**'} |")

    v = ns("cmp_counter_inc"); row("cached counter `inc` ≤ 3 ns/op/thread", v, v is not None and v <= 3)
    v = ns("cmp_tool_call_record"); row("tool-call record ≤ 15 ns", v, v is not None and v <= 15)
    v = ns("cmp_counter_by_labels"); row("counter by label values ≤ 30 ns", v, v is not None and v <= 30)
    v = ns("cmp_histogram_observe"); row("histogram `observe` ≤ 10 ns", v, v is not None and v <= 10)
    for g in sorted(SHARDED):
        d = rec.get(g, {}).get("dcc-mcp", {})
        if 1 in d and 2 in d:
            r = 2 * d[1] / d[2]
            row(f"`{g}` 2T/1T aggregate throughput ≥ 1.8×", r, r >= 1.8, "×")
    s100 = scrape.get(100, {})
    if pairs.get(100):
        r = pairs[100]
        row("scrape 100 series × 16 shards ≤ 1.2× `prometheus` gather + encode (paired)", r, r <= 1.2, "×")
    elif "dcc-mcp-16shards" in s100 and "prometheus" in s100:
        r = s100["dcc-mcp-16shards"] / s100["prometheus"]
        row("scrape 100 series × 16 shards ≤ 1.2× `prometheus` gather + encode", r, r <= 1.2, "×")
    return "\n".join(out) + "\n"


def svg_chart(rec, path: Path, machine: str):
    """Grouped bars: per panel (recording path) and library, one bar per thread count; the bar is
    the aggregate throughput (million ops/s, log scale), so a bar that shrinks with more threads
    means the library collapses under contention."""
    panels = [(g, t) for g, t in RECORDING_GROUPS if g in rec]
    if not panels:
        return
    threads = sorted({t for g, _ in panels for d in rec[g].values() for t in d})
    pw, ph, top, left, bottom = 250, 300, 70, 58, 120
    width = left + pw * len(panels) + 20
    height = top + ph + bottom
    peak = max(t * 1000.0 / ns for g, _ in panels for d in rec[g].values() for t, ns in d.items())
    lo, hi = 1.0, 10 ** math.ceil(math.log10(max(peak, 10)))  # Mops/s axis, log scale
    def y(v):
        v = min(max(v, lo), hi)
        return top + ph - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * ph
    e = []
    e.append(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="Helvetica,Arial,sans-serif" font-size="11">')
    e.append(f'<rect width="{width}" height="{height}" fill="white"/>')
    e.append(f'<text x="{left}" y="22" font-size="15" font-weight="bold">Aggregate recording throughput, '
             f'million ops/s (log scale; higher is better)</text>')
    e.append(f'<text x="{left}" y="40" fill="#555">{machine}. Each bar: all threads recording into the '
             f'same series at once; a shorter bar at more threads means contention.</text>')
    for t_i, t in enumerate(threads):
        lx = left + t_i * 110
        e.append(f'<rect x="{lx}" y="50" width="12" height="12" fill="{COLORS.get(t, "#333")}"/>')
        e.append(f'<text x="{lx + 16}" y="60">{t} thread{"s" if t > 1 else ""}</text>')
    for v in [10 ** k for k in range(int(math.log10(hi)) + 1)]:
        yy = y(v)
        e.append(f'<line x1="{left}" x2="{width - 20}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#ddd"/>')
        e.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end">{v:,}</text>')
    for p_i, (g, title) in enumerate(panels):
        x0 = left + p_i * pw
        libs = sorted(rec[g], key=lib_key)
        e.append(f'<text x="{x0 + pw / 2}" y="{top + ph + 100}" text-anchor="middle" font-weight="bold">{title}</text>')
        if p_i:
            e.append(f'<line x1="{x0}" x2="{x0}" y1="{top}" y2="{top + ph}" stroke="#bbb"/>')
        slot = (pw - 20) / max(len(libs), 1)
        bw = min(22, (slot - 6) / max(len(threads), 1))
        for l_i, lib in enumerate(libs):
            cx = x0 + 10 + l_i * slot
            for t_i, t in enumerate(threads):
                ns = rec[g][lib].get(t)
                if not ns:
                    continue
                mops = t * 1000.0 / ns
                bx = cx + 3 + t_i * bw
                yy = y(mops)
                colour = COLORS.get(t, "#333")
                e.append(f'<rect x="{bx:.1f}" y="{yy:.1f}" width="{bw - 1:.1f}" height="{top + ph - yy:.1f}" '
                         f'fill="{colour}"><title>{lib}, {t} threads: {mops:.1f} Mops/s ({ns:.2f} ns/op/thread)</title></rect>')
                e.append(f'<text x="{bx + bw / 2:.1f}" y="{yy - 3:.1f}" text-anchor="middle" font-size="8">'
                         f'{mops:.0f}</text>')
            lx, ly = cx + slot / 2, top + ph + 8
            weight = ' font-weight="bold"' if lib.startswith("dcc-mcp") else ""
            e.append(f'<text x="{lx:.1f}" y="{ly}" text-anchor="end" transform="rotate(-40 {lx:.1f} {ly})"{weight}>'
                     f'{lib}</text>')
    e.append(f'<line x1="{left}" x2="{width - 20}" y1="{top + ph}" y2="{top + ph}" stroke="#333"/>')
    e.append("</svg>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(e) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--criterion", default="target/criterion", type=Path)
    ap.add_argument("--results", default="target/bench-results", type=Path)
    ap.add_argument("--svg", default="docs/benchmarks.svg", type=Path)
    ap.add_argument("--doc", type=Path, help="also replace the text between the results markers of this file")
    ap.add_argument("--e2e-only", action="store_true",
                    help="only the end-to-end and profile tables (the e2e block of --doc)")
    args = ap.parse_args()
    args.results.mkdir(parents=True, exist_ok=True)
    if args.e2e_only:
        e2e_md, med = e2e_section(args.results)
        # A `--only floor` run (no peers, no pairs) rewrites only the floor block, so the full
        # end-to-end tables of an earlier run stay.
        floor_only = "floor" in med and "no-feature" not in med
        if floor_only:
            e2e_md = floor_section(args.results, med)
        if args.doc and args.doc.exists() and e2e_md:
            begin, end = ("<!-- floor:begin -->", "<!-- floor:end -->") if floor_only else \
                ("<!-- e2e:begin -->", "<!-- e2e:end -->")
            replace_block(args.doc, begin, end, e2e_md)
        print(e2e_md)
        return
    rows = load_criterion(args.criterion) if args.criterion.exists() else {}

    with (args.results / "criterion.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["group", "function", "value", "median_ns", "ci_low_ns", "ci_high_ns"])
        for (g, fn, v), (m, lo, hi) in sorted(rows.items()):
            w.writerow([g, fn, v, f"{m:.4f}", f"{lo:.4f}", f"{hi:.4f}"])

    md = []
    rec = {}
    shares = load_cpu_share(args.results / "cpu_share.csv")
    for g, title in RECORDING_GROUPS:
        table, data = recording_table(rows, g, title, shares)
        if table:
            md.append(table)
            rec[g] = data
    # The engine's own benchmark (benches/recording.rs), if it has run.
    for g in sorted({g for g, _, _ in rows} - {g for g, _ in RECORDING_GROUPS} - {"scrape", "merge"}):
        table, _ = recording_table(rows, g, f"recording.rs: {g}")
        if table:
            md.append(table)
    sc_md, scrape, _ = scrape_tables(rows)
    if sc_md:
        md.append(sc_md)
    mem = memory_table(args.results / "memory.csv")
    if mem:
        md.append(mem)
    ins = args.results / "instructions.csv"
    if ins.exists():
        rows_i = {r["path"]: r["instructions_per_op"] for r in csv.DictReader(ins.open())}
        names = [("counter", "counter inc"), ("labels", "counter by label values"),
                 ("hist", "histogram observe"), ("tool", "tool-call record")]
        md.append("**Instructions per operation** (callgrind, 1 thread, handles reloaded per call)\n\n"
                  "| path | dcc-mcp | `prometheus` |\n|---|---:|---:|\n" + "\n".join(
                      f"| {title} | {rows_i.get(k, '–')} | {rows_i.get('p_' + k, '–')} |" for k, title in names) + "\n")
    e2e_md, e2e = e2e_section(args.results)
    pairs, pairs_md = {}, ""
    pf = args.results / "scrape_pairs.csv"
    if pf.exists():
        rows_p = [r for r in csv.reader(pf.open()) if len(r) == 5]
        for r in rows_p:
            pairs[int(r[0])] = float(r[4])  # the latest run wins
        last = {int(r[0]): r for r in rows_p}
        pairs_md = ("**Scrape, paired** (ours with 16 shards and `prometheus` scraped alternately, "
                    "medians of 301 pairs)\n\n| series | dcc-mcp 16 shards µs | `prometheus` µs | ratio |\n"
                    "|---:|---:|---:|---:|\n" + "\n".join(
                        f"| {s:,} | {float(r[2]):.0f} | {float(r[3]):.0f} | {float(r[4]):.2f}× |"
                        for s, r in sorted(last.items())) + "\n")
        md.insert(len(md) - (1 if mem else 0), pairs_md)
    md.insert(0, "**Targets**\n\n" + targets_table(rec, scrape, pairs))
    machine_file = args.results / "machine.txt"
    machine = machine_file.read_text() if machine_file.exists() else ""
    (args.results / "tables.md").write_text("\n".join(md))
    (args.results / "summary.json").write_text(json.dumps(
        {"recording": rec, "scrape": {str(k): v for k, v in scrape.items()}, "e2e": e2e, "machine": machine},
        indent=1))
    cpu = next((l.split(": ", 1)[1] for l in machine.splitlines() if l.startswith("cpu: ")), "")
    svg_chart(rec, args.svg, cpu or "this machine")
    if args.doc and args.doc.exists():
        replace_block(args.doc, "<!-- results:begin -->", "<!-- results:end -->", "\n".join(md))
        if e2e_md:
            replace_block(args.doc, "<!-- e2e:begin -->", "<!-- e2e:end -->", e2e_md)
    print("\n".join(md))
    print(e2e_md)
    print(f"wrote {args.results / 'tables.md'}, {args.results / 'criterion.csv'}, {args.svg}")


if __name__ == "__main__":
    main()
