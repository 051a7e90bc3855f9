#!/usr/bin/env bash
# Bounded cargo-fuzz runs of every target in fuzz/ from the checked-in seed corpus (fuzz/corpus/).
# Installs what it needs (the nightly toolchain's cargo-fuzz); new inputs found go to
# fuzz/target/work-corpus/<target>, never into the checked-in seeds; a crash leaves its input in
# fuzz/artifacts/<target>/ and fails the script.
#
#   ./scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET…]      (default 20 s, every target)
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-20}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(jsonrpc_body protocol_version uri_template auth_headers jwt metrics_labels last_event_id)
fi

if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

cargo +nightly fuzz build -O
for target in "${targets[@]}"; do
    work="target/work-corpus/$target"
    mkdir -p "$work"
    echo "==> fuzz $target for ${seconds}s"
    # -rss_limit_mb: a parser that allocates without bound is a finding too.
    log="target/work-corpus/$target.log"
    status=0
    cargo +nightly fuzz run -O "$target" "$work" "corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=1024 -print_final_stats=1 >"$log" 2>&1 || status=$?
    grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added|stat::peak_rss_mb|SUMMARY|thread .* panicked)' "$log" || true
    if [ "$status" -ne 0 ]; then
        tail -40 "$log" >&2
        echo "FAIL: fuzz target $target (input in fuzz/artifacts/$target/)" >&2
        exit 1
    fi
done
echo "fuzz: ${#targets[@]} targets ran ${seconds}s each, no crash"
