#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer: builds the project with -DBERT_SANITIZE=ON in
# build-asan/ (our code instrumented; LibTorch, being a prebuilt library, is not) and runs the
# Catch2 suite under it, except the GPU tests ([cuda]) and the MiniLM accuracy floors ([floors]:
# minutes of matrix products, no parsing). Any ASan/UBSan report fails the run (halt_on_error),
# with its stack. The CLI tests run the instrumented `bert` binary too.
#
#   scripts/sanitize_test.sh                 # build (35 min on 2 cores) and run (4 min)
#   scripts/sanitize_test.sh "[cli]"         # a Catch2 filter instead of the default
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=build-asan CMAKE_ARGS="-DBERT_SANITIZE=ON" scripts/setup.sh
# Leak checking is off: LibTorch's own allocations (thread pools, caches kept until exit) are
# reported as leaks that are not ours. Everything else stops at the first report.
export ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=1:detect_odr_violation=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
filter=${1:-"~[floors]~[cuda]"}
cd build-asan
time ./bert_tests "$filter"
