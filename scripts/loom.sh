#!/usr/bin/env bash
# Every loom model of dcc-mcp-telemetry, one at a time at its own preemption bound, with its wall
# time, then every planted mutant (scripts/loom_mutants.sh). The single entry point for the
# engine's model checking: scripts/test.sh runs it; the bounds and a table of timings are in
# loom-tests/README.md.
#
#   ./scripts/loom.sh                 models, then mutants
#   ./scripts/loom.sh --models-only   models only
#   ./scripts/loom.sh b_histogram_buckets_count_and_sum_across_two_scrapes   one model
#
# Each model's bound is the first argument of its `model(bound, ...)` call in
# loom-tests/tests/models.rs (printed below); LOOM_MAX_PREEMPTIONS, if set, can only lower it.
# Exits non-zero if a model fails or a mutant survives.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

models_only=0
only=""
case "${1:-}" in
    --models-only) models_only=1 ;;
    "") ;;
    *) only=$1; models_only=1 ;;
esac

export RUSTFLAGS="--cfg dcc_mcp_loom"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target/loom}"
export CARGO_TERM_COLOR=never
export CARGO_INCREMENTAL=0

src=loom-tests/tests/models.rs
cargo test -q -p dcc-mcp-loom-tests --release --no-run

# Model names in file order, and each one's bound (first `model(N` after its `fn`).
mapfile -t names < <(sed -n 's/^fn \([a-z]_[a-z0-9_]*\)() {$/\1/p' "$src")
if [ ${#names[@]} -eq 0 ]; then
    echo "FAIL: no model found in $src" >&2
    exit 1
fi
bound_of() {
    awk -v fn="fn $1() {" '
        index($0, fn) == 1 { inside = 1; next }
        inside && match($0, /model\([0-9]+/) { print substr($0, RSTART + 6, RLENGTH - 6); exit }
        inside && /^}/ { exit }
    ' "$src"
}

printf '\n%-62s %5s %8s\n' "model" "bound" "seconds"
ran=0
for name in "${names[@]}"; do
    [ -n "$only" ] && [ "$only" != "$name" ] && continue
    bound=$(bound_of "$name")
    log=$(mktemp)
    start=$(date +%s%N)
    if ! cargo test -q -p dcc-mcp-loom-tests --release --test models -- --exact "$name" \
        >"$log" 2>&1; then
        echo "FAIL: loom model $name" >&2
        tail -n 30 "$log" >&2
        exit 1
    fi
    if ! grep -q "running 1 test" "$log"; then
        echo "FAIL: loom model $name did not run" >&2
        tail -n 30 "$log" >&2
        exit 1
    fi
    rm -f "$log"
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    printf '%-62s %5s %6d.%d\n' "$name" "${bound:-?}" $((ms / 1000)) $((ms % 1000 / 100))
    ran=$((ran + 1))
done
if [ $ran -eq 0 ]; then
    echo "FAIL: no model named $only" >&2
    exit 1
fi
if [ $models_only = 0 ]; then
    ./scripts/loom_mutants.sh
fi
