#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need, then runs format and lint
# checks, cross-platform `cargo check`s (Windows, macOS), the Rust tests (with and without the optional
# features), the loom models, the Python suite against the installed abi3 wheel (pytest, the official
# MCP client, a real Prometheus server) and the official MCP conformance suite (npm).
#
#   ./scripts/test.sh            everything
#   ./scripts/test.sh --quick    skip clippy and the end-to-end Python suite
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

quick=0
[ "${1:-}" = "--quick" ] && quick=1

step() { printf '\n==> %s\n' "$*"; }

# ---------------------------------------------------------------------------------------------
step "prerequisites"
# Prometheus 2.42 (and promtool), haproxy and VictoriaMetrics: the end-to-end tests run their own.
missing=()
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
command -v victoria-metrics >/dev/null 2>&1 || missing+=(victoria-metrics)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "${missing[*]} missing and not root: install Debian's ${missing[*]} package(s)" >&2
        exit 1
    fi
fi
# Debian's packages start system services when they can; our tests run their own servers.
for service in prometheus haproxy victoria-metrics; do
    systemctl stop "$service" >/dev/null 2>&1 || true
done

venv="$root/.venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
"$venv/bin/python" -m pip install -q -r "$root/tests/requirements.txt"
export VIRTUAL_ENV="$venv"
export PATH="$venv/bin:$PATH"

# One target directory per profile/cfg, reused by every step below.
export CARGO_TERM_COLOR=never
export CARGO_INCREMENTAL=0

# ---------------------------------------------------------------------------------------------
step "layering: no module import cycle, no import from a higher layer (scripts/layers.py)"
python3 scripts/layers.py

# ---------------------------------------------------------------------------------------------
step "Prometheus rules (docs/ops): promtool check + unit tests"
promtool check rules docs/ops/dcc-mcp.rules.yml
promtool test rules docs/ops/dcc-mcp.rules.test.yml

# ---------------------------------------------------------------------------------------------
step "cargo fmt --check"
cargo fmt --all --check

if [ $quick = 0 ]; then
    step "cargo clippy (all targets, all features)"
    cargo clippy --workspace --all-targets --all-features -- -D warnings
fi

# ---------------------------------------------------------------------------------------------
# Most DCC seats run Windows or macOS: keep the product crates compiling there. `cargo check` needs
# only the target's standard library (no linker, no SDK); the Python crate needs no cross
# interpreter because it is built for the stable ABI (abi3-py39). Own target dir: these builds
# share nothing with the host ones.
step "cross-platform cargo check: Windows (x86_64-pc-windows-gnu), macOS (x86_64-apple-darwin)"
cross_features=dcc-mcp-telemetry/prometheus,dcc-mcp-http/prometheus,dcc-mcp-http/workflow
cross_features=$cross_features,dcc-mcp-py/python-bindings,dcc-mcp-py/ext-module,dcc-mcp-py/workflow,dcc-mcp-py/prometheus
for target in x86_64-pc-windows-gnu x86_64-apple-darwin; do
    if ! rustup target list --installed 2>/dev/null | grep -qx "$target" \
        && ! rustup target add "$target"; then
        echo "SKIPPED: cross-platform check for $target: 'rustup target add $target' failed" >&2
        continue
    fi
    CARGO_TARGET_DIR="$root/target/cross" cargo check --target "$target" \
        -p dcc-mcp-telemetry -p dcc-mcp-http -p dcc-mcp-server -p dcc-mcp-py --features "$cross_features"
    echo "ok: product crates check for $target"
done

# ---------------------------------------------------------------------------------------------
step "feature gate: no prometheus crate without the feature"
for pkg in dcc-mcp-telemetry dcc-mcp-http; do
    if cargo tree -p "$pkg" -e normal --prefix none | grep -E '^prometheus v' >/dev/null; then
        echo "FAIL: $pkg depends on the prometheus crate with default features" >&2
        exit 1
    fi
    echo "ok: $pkg has no prometheus dependency by default"
done

# ---------------------------------------------------------------------------------------------
step "Rust tests, default features (no prometheus, no workflow)"
# Packages are named, not --workspace: the dcc-mcp-server binary turns `prometheus` on by default and
# feature unification would switch it on here too. This pass is the feature-off path: no exporter
# compiled in, the flags still accepted, /metrics -> 404 (dcc-mcp-http's and dcc-mcp-py's
# metrics-off tests); dcc-mcp-py's tests are the wheel-without-prometheus path and need no Python.
cargo test -p dcc-mcp-protocol -p dcc-mcp-telemetry -p dcc-mcp-http -p dcc-mcp-py

step "Rust tests, all server features (prometheus, workflow)"
cargo test -p dcc-mcp-telemetry -p dcc-mcp-http -p dcc-mcp-server -p dcc-mcp-client -p dcc-mcp-gateway \
    --features dcc-mcp-telemetry/prometheus,dcc-mcp-http/prometheus,dcc-mcp-http/workflow,dcc-mcp-gateway/prometheus

step "fuzz targets: the checked-in corpus, past findings and 2000 seeded mutants of each seed"
# The invariants of every cargo-fuzz target (fuzz/checks/mod.rs) on stable, without a sanitizer, in
# the debug build: measured 50 s with its build on the CI machine, against 48 min for the ASan build.
# Longer, coverage-guided runs: ./scripts/fuzz.sh (fuzz/README.md).
cargo test -p dcc-mcp-http --features dcc-mcp-http/prometheus,dcc-mcp-http/workflow,dcc-mcp-http/fuzzing \
    --test fuzz_corpus

# ---------------------------------------------------------------------------------------------
step "loom models, each at its bound, then every mutant caught (scripts/loom.sh; loom-tests/README.md)"
# Each model has its own preemption bound; LOOM_MAX_PREEMPTIONS can only lower it. The mutants
# (docs/architecture.md, "Loom mutants") use the same target directory: each rebuilds only
# dcc-mcp-telemetry and the loom test binary.
CARGO_TARGET_DIR="$root/target/loom" ./scripts/loom.sh

step "miri: the engine's tests (concurrency tests scaled down under cfg(miri))"
if rustup component add --toolchain nightly miri rust-src >/dev/null 2>&1 \
    && cargo +nightly miri --version >/dev/null 2>&1; then
    # Isolation off: the registry reads the wall clock once at creation (OpenMetrics `_created`).
    MIRIFLAGS="-Zmiri-disable-isolation" CARGO_TARGET_DIR="$root/target/miri" \
        cargo +nightly miri test -p dcc-mcp-telemetry
else
    echo "SKIPPED: miri (no nightly toolchain with the miri component could be installed)"
fi

# ---------------------------------------------------------------------------------------------
if [ $quick = 0 ]; then
    # The path users take: the release wheel that ships (abi3: one wheel for every CPython >= 3.9;
    # linked by zig against glibc 2.28 so that RHEL/Rocky 8 can install it), installed into a fresh
    # virtual environment, and the suite run against that installed copy. One release build: the
    # suite, the stubs check and the exit tests on every pyenv CPython all use this wheel.
    # (`maturin develop` into .venv stays the development loop, see docs/guide/python.md.)
    step "Python package: build the manylinux_2_28 abi3 wheel (zig), check its tag, install it into a fresh venv"
    cargo build -p dcc-mcp-server
    wheels="$root/target/wheels"
    rm -rf "$wheels"
    maturin build --release --zig --compatibility manylinux_2_28 \
        --features python-bindings,ext-module,workflow,prometheus --out "$wheels"
    wheel=$(ls "$wheels"/dcc_mcp_core-*.whl)
    case "$(basename "$wheel")" in
        *-cp39-abi3-manylinux_2_28_x86_64.whl) echo "ok: $(basename "$wheel")" ;;
        *) echo "FAIL: not a cp39-abi3-manylinux_2_28 wheel: $(basename "$wheel")" >&2; exit 1 ;;
    esac
    # auditwheel reads the symbol versions the module needs: it must find the wheel consistent with
    # manylinux_2_28 (a newer glibc symbol would make it name a newer tag).
    # (auditwheel wraps its lines: compare with the whitespace collapsed.)
    audit=$(auditwheel show "$wheel")
    echo "$audit"
    if ! tr -s '[:space:]' ' ' <<<"$audit" \
        | grep -q 'consistent with the following platform tag: "manylinux_2_28_x86_64"'; then
        echo "FAIL: auditwheel does not find the wheel consistent with manylinux_2_28_x86_64" >&2
        exit 1
    fi
    export DCC_MCP_WHEEL="$wheel"
    wheel_venv="$root/target/wheel-venv"
    rm -rf "$wheel_venv"
    "$venv/bin/python" -m venv "$wheel_venv"
    "$wheel_venv/bin/python" -m pip install -q --upgrade pip >/dev/null
    "$wheel_venv/bin/python" -m pip install -q -r "$root/tests/requirements.txt" "$wheel"

    step "type stubs match the installed module (mypy.stubtest)"
    (cd "$wheel_venv" && "$wheel_venv/bin/python" -m mypy.stubtest dcc_mcp_core._core)

    step "Python end-to-end suite against the installed wheel"
    export DCC_MCP_SERVER_BIN="${CARGO_TARGET_DIR:-$root/target}/debug/dcc-mcp-server"
    # Run from outside the checkout and make conftest.py refuse any dcc_mcp_core that is not the
    # one installed in $wheel_venv (python/ must never be what the tests import).
    (cd "$wheel_venv" && DCC_MCP_EXPECT_INSTALLED_IN="$wheel_venv" \
        "$wheel_venv/bin/python" -m pytest -q -rs -p no:cacheprovider --rootdir "$root" "$root/tests")
fi

# ---------------------------------------------------------------------------------------------
step "MCP conformance suite 0.2.0-alpha.12 (2025-11-25 and 2026-07-28, --suite all)"
# Every dated scenario of both spec versions must pass (extension scenarios are reported apart).
cargo build -p dcc-mcp-server
"$root/scripts/conformance-suite.sh" "${CARGO_TARGET_DIR:-$root/target}/debug/dcc-mcp-server"

# ---------------------------------------------------------------------------------------------
step "Official TypeScript SDK client (@modelcontextprotocol/sdk) against the server"
# Eight feature checks in a few seconds; SKIPPED (loudly) when npm is unreachable.
"$root/scripts/sdk-client.sh" "${CARGO_TARGET_DIR:-$root/target}/debug/dcc-mcp-server"

printf '\nall checks passed\n'
