"""The soak: every attack of :data:`hostile.attacks.ATTACKS` (or the ones named) for minutes, each
against a fresh ``dcc-mcp-server`` with the attack's budget flags, next to the well-behaved client.

Prints one Markdown table row per attack (the table of ``docs/reliability.md``) and writes every
figure as JSON. New attacks join by adding an entry to ``ATTACKS``.

    cd tests && python -m hostile.soak --seconds 120 --json ../target/soak.json [attack ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Dict, List

from .attacks import ATTACKS
from .harness import SERVER_BIN, Server, run_attack, summary


def row(result: Dict[str, Any]) -> str:
    refusals = ", ".join(f"{reason} {int(count)}" for reason, count in result["refusals"].items()) or "—"
    return (
        f"| {result['attack']} | {result['budget']} | {result['seconds']:.0f} s | {result['peak_rss_mib']} MiB "
        f"| {result['good_calls']} | {100 * result['good_success_rate']:.2f} % | {result['good_p99_ms']} ms "
        f"| {refusals} | {'yes' if result['fds_returned'] else 'NO'} | {'yes' if result['alive'] else 'NO'} |"
    )


HEADER = (
    "| attack | budget | duration | peak RSS | well-behaved calls | success | p99 latency | refusals counted "
    "| fds back to baseline | alive |\n|---|---|---|---|---|---|---|---|---|---|"
)


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("attacks", nargs="*", default=list(ATTACKS), help=f"default: all of {list(ATTACKS)}")
    parser.add_argument("--seconds", type=float, default=120.0, help="duration of each attack")
    parser.add_argument("--json", help="write all figures here")
    args = parser.parse_args(argv)
    unknown = [name for name in args.attacks if name not in ATTACKS]
    if unknown:
        parser.error(f"unknown attacks {unknown}; known: {list(ATTACKS)}")
    print(f"server: {SERVER_BIN}", file=sys.stderr)
    results = []
    failed = False
    for name in args.attacks:
        attack = ATTACKS[name]
        print(f"{time.strftime('%H:%M:%S')} {name} for {args.seconds:.0f} s ...", file=sys.stderr)
        with Server(attack.flags) as server:
            run = run_attack(server, attack.fn, args.seconds, **dict(attack.params))
            result = summary(run, attack.budget, attack.reasons)
            result["rss_budget_mib"] = attack.rss_budget_kib / 1024
            result["failures"] = [vars(o) for o in run.good_failures]
        results.append(result)
        failed |= (
            result["good_success_rate"] < 1.0
            or not result["alive"]
            or not result["fds_returned"]
            or result["peak_rss_mib"] > result["rss_budget_mib"]
        )
        print(row(result), file=sys.stderr)
    print(HEADER)
    for result in results:
        print(row(result))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2, default=str)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
