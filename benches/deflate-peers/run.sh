#!/usr/bin/env bash
# permessage-deflate on one text corpus: ws-proto, Python websockets and Node ws.
#
#   bash benches/deflate-peers/run.sh [RUNS]      (RUNS timed runs each, default 5; median)
#
# 1. tests/interop/setup.sh installs (or checks) the pinned peers: websockets in
#    target/interop/venv, ws in target/interop/node;
# 2. `cargo bench --bench deflate` with WS_DEFLATE_CORPUS_OUT writes the corpus (10 000
#    chat messages in JSON, one a line) to target/deflate-peers/corpus.txt and, with
#    WS_DEFLATE_PEERS=1, measures ws-proto with send and receive timed apart;
# 3. py_bench.py and node_bench.js read that file and measure the same way (see each file's
#    header): server -> client in memory, batches of 100, every message checked once;
# 4. one markdown table. Raw results: target/deflate-peers/results.jsonl.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="$ROOT/target/deflate-peers"
RUNS="${1:-5}"
PY="$ROOT/target/interop/venv/bin/python"
export INTEROP_NODE_DIR="$ROOT/target/interop/node"
[[ "$RUNS" =~ ^[0-9]+$ && "$RUNS" -ge 1 ]] || { echo "usage: $0 [RUNS]" >&2; exit 2; }

bash "$ROOT/tests/interop/setup.sh" | grep -v -i chromium
mkdir -p "$OUT"
rm -f "$OUT/results.jsonl" "$OUT/corpus.txt"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
     "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
lock() { grep -A1 "^name = \"$1\"$" "$ROOT/Cargo.lock" | sed -n 's/version = "\(.*\)"/\1/p'; }
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -1)"
rev="$(git -C "$ROOT" rev-parse --short HEAD)"
dirty="$(git -C "$ROOT" status --porcelain -- src | grep -q . && echo ', src/ modified' || true)"
export WS_PROTO_VERSION="$version (working tree at $rev$dirty; $(rustc -V | cut -d' ' -f1-2), flate2 $(lock flate2), zlib-rs $(lock zlib-rs))"

echo "ws-proto: cargo bench --bench deflate (WS_DEFLATE_PEERS=1) ..."
(cd "$ROOT" && WS_DEFLATE_CORPUS_OUT="$OUT/corpus.txt" WS_DEFLATE_PEERS=1 WS_DEFLATE_RUNS="$RUNS" \
    cargo bench --quiet --bench deflate) >>"$OUT/results.jsonl"
echo "Python websockets ..."
"$PY" "$HERE/py_bench.py" "$OUT/corpus.txt" "$RUNS" >>"$OUT/results.jsonl"
echo "Node ws ..."
node --expose-gc "$HERE/node_bench.js" "$OUT/corpus.txt" "$RUNS" >>"$OUT/results.jsonl"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

"$PY" - "$OUT/results.jsonl" <<'EOF'
import json, os, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
first = rows[0]
assert all(r["messages"] == first["messages"] and r["bytes"] == first["bytes"] for r in rows)
print(f"Corpus: {first['messages']} messages, {first['bytes']} bytes; server -> client in memory,"
      f" median of {first['runs']} runs; MB/s = 10^6 bytes of original text per second.")
print()
print("| implementation | version | settings | bytes on the wire | ratio | send MB/s"
      " | receive MB/s | send + receive MB/s | heap per connection |")
print("|---|---|---|---|---|---|---|---|---|")
for r in rows:
    version = os.environ["WS_PROTO_VERSION"] if r["impl"] == "ws-proto" else r["version"]
    num = lambda x, f: format(x, "," + f).replace(",", " ")  # 1 234 567, as in docs/
    mbs = lambda s: num(r["bytes"] / s / 1e6, ".1f")
    print(f"| {r['impl']} | {version} | {r['config']} | {num(r['wire'], 'd')}"
          f" | {r['bytes'] / r['wire']:.2f}× | {mbs(r['send_s'])} | {mbs(r['receive_s'])}"
          f" | {mbs(r['total_s'])} | {num(r['heap_per_conn'] / 1024, '.0f')} KiB |")
EOF
