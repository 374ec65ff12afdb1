#!/usr/bin/env bash
# Fuzz every parser of user files for a bounded time (fuzz/README.md): configure and build the
# libFuzzer targets in build-fuzz/ with clang (ASan + UBSan), run each one on a scratch copy of
# its seed corpus (fuzz/corpus/<target>/, never modified), and print one line per target:
# seconds run, executions, and "clean" or the file holding the input that crashed it.
# Exits 1 when any target found something, 2 on a setup error.
#
#   scripts/fuzz.sh                          # every target, 60 s each
#   SECONDS_PER_TARGET=300 scripts/fuzz.sh fuzz_vocab fuzz_config
#
# Environment (defaults in brackets):
#   SECONDS_PER_TARGET [60]   -max_total_time of each target
#   CXX [clang++-14]          the compiler (clang with libFuzzer, e.g. Debian's clang-14 +
#                             libclang-rt-14-dev)
#   BUILD_DIR [build-fuzz]    the build tree (kept between runs)
#   RUN_DIR [BUILD_DIR/runs/<date-time>]  scratch corpora, logs and crash files
#   JOBS [2]                  build parallelism
#   FUZZ_ARGS []              more libFuzzer flags for every target (e.g. -jobs=2 -workers=2)
#   TORCH_PREFIX [from .venv] LibTorch's CMake prefix (only fuzz_safetensors needs it)
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET=${SECONDS_PER_TARGET:-60}
CXX=${CXX:-clang++-14}
BUILD_DIR=${BUILD_DIR:-build-fuzz}
RUN_DIR=${RUN_DIR:-$BUILD_DIR/runs/$(date +%Y%m%d-%H%M%S)}
JOBS=${JOBS:-2}
ALL_TARGETS=(fuzz_table_reader fuzz_conll_reader fuzz_corpus_reader fuzz_wordpiece fuzz_vocab
             fuzz_safetensors fuzz_config fuzz_squad_reader)
if [[ $# -gt 0 ]]; then TARGETS=("$@"); else TARGETS=("${ALL_TARGETS[@]}"); fi

if ! command -v "$CXX" >/dev/null; then
  echo "fuzz.sh: $CXX not found (on Debian: apt-get install clang-14 libclang-rt-14-dev)" >&2
  exit 2
fi
if [[ -z "${TORCH_PREFIX:-}" && -x .venv/bin/python ]]; then
  TORCH_PREFIX=$(.venv/bin/python -c 'import torch.utils; print(torch.utils.cmake_prefix_path)' 2>/dev/null || true)
fi
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
  cmake -S . -B "$BUILD_DIR" "${generator[@]}" -DBERT_FUZZ=ON -DCMAKE_CXX_COMPILER="$CXX" \
        -DCMAKE_BUILD_TYPE=Release ${TORCH_PREFIX:+-DCMAKE_PREFIX_PATH="$TORCH_PREFIX"} >/dev/null
fi
cmake --build "$BUILD_DIR" -j "$JOBS" --target "${TARGETS[@]}"

mkdir -p "$RUN_DIR"
RUN_DIR=$(cd "$RUN_DIR" && pwd)
results=()
found=0
for t in "${TARGETS[@]}"; do
  work="$RUN_DIR/$t"
  mkdir -p "$work/corpus" "$work/artifacts"
  cp fuzz/corpus/"$t"/* "$work/corpus/"
  dict=()
  [[ -f fuzz/dict/$t.dict ]] && dict=(-dict="fuzz/dict/$t.dict")
  echo "[fuzz] $t: ${SECONDS_PER_TARGET} s, log $work/log.txt"
  start=$(date +%s)
  rc=0
  # shellcheck disable=SC2086  # FUZZ_ARGS is a list of flags
  "$BUILD_DIR/fuzz/$t" -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -timeout=10 \
      -print_final_stats=1 -artifact_prefix="$work/artifacts/" "${dict[@]}" ${FUZZ_ARGS:-} \
      "$work/corpus" >"$work/log.txt" 2>&1 || rc=$?
  seconds=$(( $(date +%s) - start ))
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/log.txt" | grep -o '[0-9]*$' | tail -1)
  [[ -z "$execs" ]] && execs=$(grep -o '^#[0-9]*' "$work/log.txt" | tail -1 | tr -d '#')
  artifact=$(find "$work/artifacts" -type f | head -1)
  if [[ $rc -eq 0 && -z "$artifact" ]]; then
    result=clean
  else
    found=1
    result="FOUND (exit $rc): ${artifact:-see $work/log.txt}"
  fi
  results+=("$(printf '%-20s %8s %12s  %s' "$t" "$seconds" "${execs:-?}" "$result")")
done

echo
printf '%-20s %8s %12s  %s\n' target seconds executions result
printf '%s\n' "${results[@]}"
echo "(logs, grown corpora and crash inputs under $RUN_DIR)"
exit $found
