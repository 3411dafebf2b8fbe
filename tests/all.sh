#!/usr/bin/env bash
# The whole test suite, as the README gives it:
#   1. unit, integration, property and doc tests (cargo test, every feature);
#   2. the interop tests: Python websockets, Node ws and headless Chromium against the
#      examples (tests/interop/run.sh installs those peers itself, into target/interop).
# Exits non-zero if anything fails; the last line is the interop tally `N passed, M failed`.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> cargo test --all-features"
cargo test --all-features

echo "==> interop tests (tests/interop/run.sh)"
bash tests/interop/run.sh
