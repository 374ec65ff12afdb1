#!/usr/bin/env bash
# CTest `live_hf_reference`: regenerate the reference models with the installed transformers
# (scripts/make_reference.py) plus all-MiniLM-L6-v2 on SST-2 sentences
# (scripts/minilm_reference.py) into a temp dir, then run the C++ [reference] test on them.
#   usage: live_reference_test.sh PYTHON BERT_TESTS
set -euo pipefail
PYTHON=$1
TESTS=$2
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PYTHON" scripts/make_reference.py --out "$tmp/generated" > "$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }
"$PYTHON" scripts/minilm_reference.py --out "$tmp/minilm" 2>&1 | grep '^\[minilm\]'
dirs=$(find "$tmp/generated" -mindepth 1 -maxdepth 1 -type d | sort | tr '\n' ':')
BERT_LIVE_REFERENCE_DIRS="$dirs$tmp/minilm" "$TESTS" "[reference]"
