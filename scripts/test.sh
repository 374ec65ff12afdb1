#!/usr/bin/env bash
# The test command (README, CI): set up and build if needed, then run every test with CTest:
# the Catch2 unit/parity tests (no Python needed) and the live comparisons against Hugging Face
# transformers in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j 2 "$@"
