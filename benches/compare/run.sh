#!/usr/bin/env bash
# Side-by-side benchmark of ws-proto, tungstenite and fastwebsockets (issue 7).
#
#   bash benches/compare/run.sh [--rounds N] [--only SUBSTRING] [--cold]
#       the timed comparison, allocation counts and memory (see src/main.rs)
#   bash benches/compare/run.sh --callgrind
#       instructions per message and per byte under valgrind, for a few workloads
#   bash benches/compare/run.sh --loopback [--warmup S] [--measure S] [--only LIB] [--sizes 16,1024]
#       [--connections 1,16,256] [--round-trips N]
#       end to end over 127.0.0.1: the libraries behind one tokio echo server, our own load
#       generator, 1/16/256 connections, 16 B and 1 KiB (see src/loopback.rs; ~2.5 minutes).
#       --only takes a library's exact name, or a substring (`proto`: both ws-proto rows)
#
# With `--rev REV` first, ws-proto is taken from that commit (a `git archive` snapshot under
# target/), not from the working tree, which other work may be changing.
#
# The timed runs use glibc's vector memcpy rather than `rep movsb` (GLIBC_TUNABLES below):
# on the AMD EPYC machines here `rep movsb` ran some copies 10-20x slower depending on how
# the buffers happened to be placed (a 64 KiB memcpy floor at 2 GB/s in one run, 35 GB/s in
# the next), which made whole rows meaningless for all three libraries alike. `--rep-movsb`
# (after --rev, before the rest) keeps glibc's default.
set -euo pipefail
cd "$(dirname "$0")"
if [[ "${1:-}" == --rev ]]; then
    rev=$(git -C ../.. rev-parse --short "$2")
    shift 2
    snap="target/snap-$rev"
    rm -rf "$snap" && mkdir -p "$snap"
    git -C ../.. archive "$rev" | tar -x -C "$snap"
    mkdir -p "$snap/benches/compare" && cp -r Cargo.toml Cargo.lock src "$snap/benches/compare/"
    cargo build --release --quiet --manifest-path "$snap/benches/compare/Cargo.toml" \
        --target-dir target/rev
    bin=target/rev/release/compare
    source="ws-proto $rev (committed snapshot)"
else
    cargo build --release --quiet
    bin=target/release/compare
    source="ws-proto working tree at $(git -C ../.. rev-parse --short HEAD)$(
        git -C ../.. status --porcelain -- src | grep -q . && echo ' (src/ modified)' || true)"
fi

if [[ "${1:-}" == --rep-movsb ]]; then
    shift
    memcpy="glibc default (rep movsb for large copies)"
else
    export GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=4294967295:glibc.cpu.x86_rep_stosb_threshold=4294967295
    memcpy="glibc vector memcpy (rep movsb/stosb off via GLIBC_TUNABLES)"
fi

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
     "load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$(rustc -V); $source; memcpy: $memcpy"
for crate in tungstenite fastwebsockets simdutf8 tokio; do
    echo "$crate $(grep -A1 "^name = \"$crate\"$" Cargo.lock | sed -n 's/version = "\(.*\)"/\1/p')"
done | paste -sd' ' | sed 's/ \([a-z]\)/, \1/g'
echo

if [[ "${1:-}" == --loopback ]]; then
    shift
    echo "uptime: $(uptime)"
    exec "$(dirname "$bin")/loopback" "$@"
fi

if [[ "${1:-}" != --callgrind ]]; then
    exec "$bin" "$@"
fi

mkdir -p target/callgrind
echo "Instructions (valgrind --tool=callgrind), steady state: a run of 4 passes minus a run of 2."
echo
echo "| workload | library | instructions / message | instructions / byte |"
echo "|---|---|---|---|"
for workload in "recv binary 16 B" "recv binary 1 KiB" "recv binary 16 KiB" "recv binary 64 KiB" \
    "recv binary 1 MiB" "recv text 1 KiB (mixed UTF-8)" "recv text 64 KiB (mixed UTF-8)" \
    "recv fragmented text 64 KiB (16 × 4 KiB)" "send binary 125 B server" \
    "send binary 64 KiB server" "send text 64 KiB server" "send binary 125 B client" \
    "send binary 64 KiB client"; do
    for lib in ws-proto tungstenite fastwebsockets; do
        out="target/callgrind/${lib}-${workload//[^A-Za-z0-9]/_}.out"
        result=$(valgrind --tool=callgrind --callgrind-out-file="$out" \
            "$bin" --callgrind "$lib" "$workload" 2>/dev/null)
        read -r _ messages _ bytes <<<"$result"
        inclusive() {
            callgrind_annotate --inclusive=yes "$out" \
                | awk -v f="compare::$1 " '!done && index($0 " ", f) { gsub(",", "", $1); print $1; done = 1 }'
        }
        short=$(inclusive measured_short)
        long=$(inclusive measured_long)
        awk -v w="$workload" -v l="$lib" -v d=$((long - short)) -v m="$messages" -v b="$bytes" \
            'BEGIN { printf "| %s | %s | %.0f | %.2f |\n", w, l, d / m, d / b }'
    done
done
echo
echo "Profiles: $(pwd)/target/callgrind/ (callgrind_annotate FILE)"
