"""The soak: every attack of the hostile suite (or the ones named) for minutes, each against a fresh
``dcc-mcp-server`` with the attack's budget flags, next to the well-behaved client.

Prints one Markdown table row per attack (the table of ``docs/reliability.md``) and writes every
figure as JSON. The catalogue is :data:`hostile.attacks.ATTACKS`, :data:`hostile.budget_attacks.BUDGET_ATTACKS`, :data:`hostile.stream_attacks.STREAM_ATTACKS`,
:data:`hostile.body_attacks.BODY_ATTACKS`, :data:`hostile.job_attacks.JOB_ATTACKS`
and :data:`hostile.thread_attacks.BLOCKING_THREADS`; a new attack joins by adding an entry there.

    cd tests && python -m hostile.soak --seconds 120 --json ../target/soak.json [attack ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Dict, List

from .attacks import ATTACKS, Attack
from .body_attacks import BODY_ATTACKS
from .budget_attacks import BUDGET_ATTACKS
from .harness import SERVER_BIN, Server, run_attack, summary
from .job_attacks import JOB_ATTACKS
from .stream_attacks import STREAM_ATTACKS
from .thread_attacks import BLOCKING_THREADS, blocking_threads


def catalogue() -> Dict[str, Attack]:
    """Every attack by name, in one shape (job attacks also report the reasons they may drive)."""
    attacks: Dict[str, Attack] = dict(ATTACKS)
    attacks.update(BUDGET_ATTACKS)
    attacks.update(STREAM_ATTACKS)
    attacks.update(BODY_ATTACKS)
    for name, job in JOB_ATTACKS.items():
        attacks[name] = Attack(
            job.fn, job.flags, job.budget, job.reasons + job.may_drive, job.rss_budget_kib, (("report", {}),)
        )
    attacks["blocking_threads"] = Attack(
        blocking_threads,
        tuple(BLOCKING_THREADS["flags"]),
        str(BLOCKING_THREADS["budget"]),
        tuple(BLOCKING_THREADS["reasons"]),
        int(BLOCKING_THREADS["rss_budget_kib"]),
    )
    return attacks


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
    attacks = catalogue()
    parser.add_argument("attacks", nargs="*", default=list(attacks), help=f"default: all of {list(attacks)}")
    parser.add_argument("--seconds", type=float, default=120.0, help="duration of each attack")
    parser.add_argument("--json", help="write all figures here")
    args = parser.parse_args(argv)
    unknown = [name for name in args.attacks if name not in attacks]
    if unknown:
        parser.error(f"unknown attacks {unknown}; known: {list(attacks)}")
    print(f"server: {SERVER_BIN}", file=sys.stderr)
    results = []
    failed = False
    for name in args.attacks:
        attack = attacks[name]
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
