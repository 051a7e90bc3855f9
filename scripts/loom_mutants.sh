#!/usr/bin/env bash
# Plants each fault of the loom mutant table (docs/architecture.md, "Loom mutants") in the engine
# and requires the named loom model to fail on it. Exits non-zero if any mutant survives (its
# model passes) or the model cannot be built.
#
#   ./scripts/loom_mutants.sh             every mutant
#   ./scripts/loom_mutants.sh skip_shard  one mutant
#
# A mutant is switched on through DCC_MCP_LOOM_MUTANT (read by the engine's build script), so
# each one rebuilds only dcc-mcp-telemetry and the loom test binary, in the loom target directory
# that `scripts/test.sh` already built. LOOM_MAX_PREEMPTIONS (default 2 here) bounds each run; every
# mutant below is caught within bound 2.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# mutant -> model that must catch it (keep in sync with docs/architecture.md).
mutants=(
    "relaxed_publish:g_thread_exit_racing_a_new_owner_that_grows_the_shard"
    "skip_shard:a_counter_scrapes_are_bounded_monotonic_and_exact"
    "count_reread:b_histogram_buckets_count_and_sum_across_two_scrapes"
    "handoff_without_lock:c_unjoined_handoff_of_a_shard_slot"
    "orphan_unlocked:i_late_records_after_thread_exit_meet_in_the_orphan_shard"
    "relaxed_series_len:e_new_series_and_shard_growth_while_scraping"
    "marker_not_reserved:h_overflow_path_and_reserved_marker"
    "gauge_load_store:d_in_flight_gauge_two_jobs_at_once"
    "sum_without_seq:b_histogram_buckets_count_and_sum_across_two_scrapes"
    "retire_unsequenced:j_retiring_an_inherited_shard_counts_each_value_once"
    "exemplar_outside_window:k_exemplar_and_native_cells_are_read_whole"
)

export RUSTFLAGS="--cfg dcc_mcp_loom"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target/loom}"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}"
export CARGO_TERM_COLOR=never

survivors=()
for entry in "${mutants[@]}"; do
    name=${entry%%:*}
    model=${entry#*:}
    [ $# -gt 0 ] && [ "$1" != "$name" ] && continue
    printf '\n--> mutant %s, model %s\n' "$name" "$model"
    if ! DCC_MCP_LOOM_MUTANT="$name" cargo test -q -p dcc-mcp-loom-tests --release --test models --no-run; then
        echo "FAIL: mutant $name does not build" >&2
        exit 1
    fi
    log=$(mktemp)
    start=$(date +%s)
    if DCC_MCP_LOOM_MUTANT="$name" cargo test -q -p dcc-mcp-loom-tests --release --test models \
        -- --exact "$model" >"$log" 2>&1; then
        echo "SURVIVED: mutant $name passed model $model" >&2
        tail -n 20 "$log" >&2
        survivors+=("$name")
    elif grep -q "running 1 test" "$log"; then
        reason=$(grep -m1 -E "panicked at|Causality violation|assertion" "$log" || true)
        echo "caught by $model in $(( $(date +%s) - start )) s: ${reason:-model failed}"
    else
        echo "FAIL: model $model did not run for mutant $name" >&2
        tail -n 20 "$log" >&2
        exit 1
    fi
    rm -f "$log"
done
if [ ${#survivors[@]} -gt 0 ]; then
    echo "FAIL: mutants not caught: ${survivors[*]}" >&2
    exit 1
fi
echo "every mutant caught"
