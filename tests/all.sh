#!/usr/bin/env bash
# The whole test suite, as the README gives it:
#   1. unit, integration, property and doc tests (cargo test, every feature);
#   2. the interop tests: Python websockets, Node ws and headless Chromium against the
#      examples (tests/interop/run.sh installs those peers itself, into target/interop);
#   3. the conformance suite: tests/conformance/peer.py against echo-server (as the
#      client) and against autobahn-client (as the server), see docs/conformance.md;
#   4. the cluster test: two chat processes sharing a real Redis server (tests/cluster.sh
#      installs Debian's redis-server if missing).
# Exits non-zero if anything fails; the last line is the total of the interop,
# conformance and cluster tallies, `N passed, M failed`.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> cargo test --all-features"
cargo test --all-features

mkdir -p target
status=0
echo "==> interop tests (tests/interop/run.sh)"
bash tests/interop/run.sh | tee target/interop-tally.log || status=1
echo "==> conformance suite (tests/conformance/run.sh)"
bash tests/conformance/run.sh | tee target/conformance-tally.log || status=1
echo "==> cluster test (tests/cluster.sh)"
bash tests/cluster.sh | tee target/cluster-tally.log || status=1

# Each run ends with `N passed, M failed`; a run that died before its tally counts as a
# failure.
passed=0
failed=0
for log in target/interop-tally.log target/conformance-tally.log target/cluster-tally.log; do
    last=$(tail -n 1 "$log")
    if [[ "$last" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
        passed=$((passed + BASH_REMATCH[1]))
        failed=$((failed + BASH_REMATCH[2]))
    else
        echo "FAIL $log: no tally line at the end"
        failed=$((failed + 1))
        status=1
    fi
done
echo "$passed passed, $failed failed"
exit "$status"
