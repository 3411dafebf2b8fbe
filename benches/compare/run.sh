#!/usr/bin/env bash
# Side-by-side benchmark of ws-proto, tungstenite, fastwebsockets and yawc.
#
#   bash benches/compare/run.sh [--rounds N] [--only SUBSTRING] [--cold]
#       the timed comparison, allocation counts and memory (see src/main.rs)
#   bash benches/compare/run.sh --callgrind
#       instructions per message and per byte under valgrind, for a few workloads
#   bash benches/compare/run.sh --sweep [--peers]
#       receiving every message size from 1 KiB to 1 MiB under valgrind, a table and a plot
#       (docs/sweep.png) of every sweep run so far (see below; ~2 min, ~10 with --peers)
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
# the next), which made whole rows meaningless for every library alike. `--rep-movsb`
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
for crate in tungstenite fastwebsockets yawc simdutf8 tokio; do
    echo "$crate $(grep -A1 "^name = \"$crate\"$" Cargo.lock | sed -n 's/version = "\(.*\)"/\1/p')"
done | paste -sd' ' | sed 's/ \([a-z]\)/, \1/g'
echo

if [[ "${1:-}" == --loopback ]]; then
    shift
    echo "uptime: $(uptime)"
    exec "$(dirname "$bin")/loopback" "$@"
fi

if [[ "${1:-}" != --callgrind && "${1:-}" != --sweep ]]; then
    exec "$bin" "$@"
fi

# Instructions of one library on one workload, steady state (a run of 4 passes minus a run
# of 2): prints "instructions messages bytes reads" for those 2 passes.
measure() {
    local lib=$1 workload=$2
    local out="target/callgrind/${lib}-${workload//[^A-Za-z0-9]/_}.out"
    local result
    result=$(valgrind --tool=callgrind --callgrind-out-file="$out" \
        "$bin" --callgrind "$lib" "$workload" 2>/dev/null)
    local messages bytes reads
    read -r _ messages _ bytes _ reads <<<"$result"
    inclusive() {
        callgrind_annotate --inclusive=yes "$out" \
            | awk -v f="compare::$1 " '!done && index($0 " ", f) { gsub(",", "", $1); print $1; done = 1 }'
    }
    local short long
    short=$(inclusive measured_short)
    long=$(inclusive measured_long)
    echo "$((long - short)) $messages $bytes $reads"
}
mkdir -p target/callgrind

if [[ "${1:-}" == --sweep ]]; then
    # Receive binary messages of every size from 1 KiB to 1 MiB (powers of two, and 1 and
    # 14 bytes either side: 14 is the longest masked header), ws-proto with the default
    # Config (read_chunk 16 KiB); `--peers` adds the other libraries. Writes
    # target/sweep/LABEL.tsv and plots every TSV in target/sweep/ to ../../docs/sweep.png
    # (one line per TSV and library: run it at two revisions to compare them).
    shift
    libs="ws-proto"
    if [[ "${1:-}" == --peers ]]; then
        libs="ws-proto tungstenite fastwebsockets yawc"
        shift
    fi
    export COMPARE_READ_CHUNK=default
    label=${rev:-worktree-$(git -C ../.. rev-parse --short HEAD)}
    mkdir -p target/sweep
    tsv="target/sweep/$label.tsv"
    printf 'library\tsize\tinstructions_per_message\tinstructions_per_byte\treads_per_message\n' >"$tsv"
    echo "Receiving binary messages, Config::default() for ws-proto (read_chunk 16 KiB), reads of"
    echo "at most 64 KiB; instructions (callgrind) and transport reads per message, steady state."
    echo
    echo "| size (B) | library | instructions / message | instructions / byte | reads / message |"
    echo "|---:|---|---:|---:|---:|"
    for p in $(seq 10 20); do
        for d in -14 -1 0 1 14; do
            size=$(((1 << p) + d))
            for lib in $libs; do
                read -r ins messages bytes reads <<<"$(measure "$lib" "recv binary $size B")"
                awk -v s="$size" -v l="$lib" -v i="$ins" -v m="$messages" -v b="$bytes" -v r="$reads" -v t="$tsv" \
                    'BEGIN { printf "| %d | %s | %.0f | %.3f | %.2f |\n", s, l, i / m, i / b, r / m
                             printf "%s\t%d\t%.1f\t%.4f\t%.3f\n", l, s, i / m, i / b, r / m >> t }'
            done
        done
    done
    echo
    echo "Data: $(pwd)/$tsv"
    if ! command -v gnuplot >/dev/null; then
        (apt-get update -qq && apt-get install -y -qq gnuplot-nox) >/dev/null
    fi
    mkdir -p target/sweep/series
    rm -f target/sweep/series/*.dat
    plots=()
    for f in target/sweep/*.tsv; do
        name=$(basename "$f" .tsv)
        for lib in $(tail -n +2 "$f" | cut -f1 | sort -u); do
            dat="target/sweep/series/$name-$lib.dat"
            awk -F'\t' -v l="$lib" 'NR > 1 && $1 == l { print $2, $4, $5 }' "$f" >"$dat"
            plots+=("$dat:$lib at $name")
        done
    done
    png=../../docs/sweep.png
    {
        echo "set terminal pngcairo size 1100,800 font ',10'"
        echo "set output '$png'"
        echo "set multiplot layout 2,1 title 'Receiving one binary message (masked, server role; reads of at most 64 KiB)'"
        echo "set logscale x 2; set grid; set key outside right"
        echo "set xtics ('1 KiB' 1024, '4 KiB' 4096, '16 KiB' 16384, '64 KiB' 65536, '256 KiB' 262144, '1 MiB' 1048576)"
        echo "set ylabel 'instructions / byte (callgrind)'; set logscale y"
        printf 'plot '
        for p in "${plots[@]}"; do printf "'%s' using 1:2 with linespoints title '%s', " "${p%%:*}" "${p#*:}"; done
        echo
        echo "unset logscale y; set yrange [0:*]"
        echo "set xlabel 'message size (payload bytes)'; set ylabel 'transport reads / message'"
        printf 'plot '
        for p in "${plots[@]}"; do printf "'%s' using 1:3 with linespoints title '%s', " "${p%%:*}" "${p#*:}"; done
        echo
        echo "unset multiplot"
    } | sed 's/, $//' >target/sweep/plot.gp
    gnuplot target/sweep/plot.gp
    echo "Plot: docs/sweep.png (series: ${plots[*]#*:})"
    exit 0
fi

echo "Instructions (valgrind --tool=callgrind), steady state: a run of 4 passes minus a run of 2."
echo
echo "| workload | library | instructions / message | instructions / byte |"
echo "|---|---|---|---|"
for workload in "recv binary 16 B" "recv binary 1 KiB" "recv binary 16 KiB" "recv binary 64 KiB" \
    "recv binary 1 MiB" "recv text 1 KiB (mixed UTF-8)" "recv text 64 KiB (mixed UTF-8)" \
    "recv fragmented text 64 KiB (16 × 4 KiB)" "send binary 125 B server" \
    "send binary 64 KiB server" "send text 64 KiB server" "send binary 125 B client" \
    "send binary 64 KiB client"; do
    for lib in ws-proto tungstenite fastwebsockets yawc; do
        read -r d messages bytes _ <<<"$(measure "$lib" "$workload")"
        awk -v w="$workload" -v l="$lib" -v d="$d" -v m="$messages" -v b="$bytes" \
            'BEGIN { printf "| %s | %s | %.0f | %.2f |\n", w, l, d / m, d / b }'
    done
done
echo
echo "Profiles: $(pwd)/target/callgrind/ (callgrind_annotate FILE)"
