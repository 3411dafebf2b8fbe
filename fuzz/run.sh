#!/usr/bin/env bash
# Usage: fuzz/run.sh SECONDS [TARGET...]
#
# Builds the fuzz targets (cargo +nightly fuzz build, debug assertions on) and runs each
# TARGET (default: all) for SECONDS on a copy of its checked-in seed corpus in a temporary
# directory, so the checked-in corpora never grow. Crash inputs are kept in
# fuzz/artifacts/<target>/. Prints one summary line per target and exits non-zero if any
# target found a crash (or failed to run).
set -euo pipefail

if [[ $# -lt 1 || ! $1 =~ ^[0-9]+$ ]]; then
    echo "usage: $0 SECONDS [TARGET...]" >&2
    exit 2
fi
seconds=$1
shift
cd "$(dirname "$0")"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz..." >&2
    cargo install cargo-fuzz --locked
fi

if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

cargo +nightly fuzz build --debug-assertions >&2

work=$(mktemp -d "${TMPDIR:-/tmp}/ws-proto-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

status=0
summary=()
for target in "${targets[@]}"; do
    corpus="$work/$target"
    mkdir -p "$corpus" "artifacts/$target"
    if [[ -d "corpus/$target" ]]; then
        cp corpus/"$target"/seed-* "$corpus"/ 2>/dev/null || true
    fi
    log="$work/$target.log"
    start=$(date +%s)
    rc=0
    cargo +nightly fuzz run --debug-assertions "$target" "$corpus" -- \
        -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1 || rc=$?
    elapsed=$(( $(date +%s) - start ))
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    if [[ -z $runs ]]; then
        runs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
    fi
    if [[ $rc -ne 0 ]]; then
        status=1
        result="CRASH (exit $rc)"
        echo "---- $target: last lines of the log ----" >&2
        tail -n 40 "$log" >&2
    else
        result="ok"
    fi
    summary+=("$(printf '%-24s %6ss %12s runs  %s' "$target" "$elapsed" "${runs:-?}" "$result")")
    echo "${summary[-1]}"
done
exit $status
