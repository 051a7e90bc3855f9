#!/usr/bin/env bash
# The hostile-traffic attacks of tests/hostile/ for minutes each, against the release build of
# dcc-mcp-server, next to a well-behaved client; prints the table of docs/reliability.md.
#
#   ./scripts/soak.sh                      every attack, 120 s each
#   SOAK_SECONDS=600 ./scripts/soak.sh     longer
#   ./scripts/soak.sh session_lockout      only the named attacks (see tests/hostile/attacks.py)
#
# Environment: SOAK_SECONDS (default 120), DCC_MCP_SERVER_BIN (default: the release build, built
# here), CARGO_TARGET_DIR. Figures go to target/soak/ (JSON and the Markdown table).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
target="${CARGO_TARGET_DIR:-$root/target}"
out="$root/target/soak"
mkdir -p "$out"

venv="$root/.venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q -r "$root/tests/requirements.txt"

if [ -z "${DCC_MCP_SERVER_BIN:-}" ]; then
    cargo build -q --release -p dcc-mcp-server
    export DCC_MCP_SERVER_BIN="$target/release/dcc-mcp-server"
fi

{
    echo "run: $(date -u '+%Y-%m-%d %H:%M UTC'), ${SOAK_SECONDS:-120} s per attack"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') ($(nproc) cores)"
    echo "server: $DCC_MCP_SERVER_BIN ($(git -C "$root" rev-parse --short HEAD))"
} | tee "$out/machine.txt"

cd "$root/tests"
"$venv/bin/python" -m hostile.soak --seconds "${SOAK_SECONDS:-120}" --json "$out/soak.json" "$@" | tee "$out/table.md"
