#!/usr/bin/env bash
# CTest `choice_interop`: a multiple-choice model made by transformers is predicted by us, and one
# fine-tuned by us is predicted by transformers, with the same probabilities and picks
# (scripts/choice_interop.py), on novel sentences long enough that many are truncated.
#   usage: scripts/choice_interop_test.sh build/bert .venv/bin/python
set -euo pipefail
bert=$(realpath "$1")
python=$2
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dev=$root/test/data/tasks/choice_dev_100.tsv
cols=(--text-column sent1 --choice-columns ending0,ending1,ending2,ending3)

# transformers → us
"$python" "$root/scripts/choice_interop.py" make-hf "$root/test/data/hf-tiny" "$work/hf"
"$bert" predict --model "$work/hf" --input "$dev" "${cols[@]}" --output "$work/hf.jsonl" --threads 1 --log-level warn
"$python" "$root/scripts/choice_interop.py" compare "$work/hf" "$dev" "$work/hf.jsonl"

# us → transformers
"$bert" finetune --init "$root/test/data/hf-tiny" --task choice --train "$root/test/data/tasks/choice_train_400.tsv" \
    --dev "$dev" "${cols[@]}" --label-column label --epochs 2 --batch-size 16 --lr 1e-3 --out "$work/ours" --threads 1 \
    --log-level warn
"$bert" predict --model "$work/ours/best" --input "$dev" "${cols[@]}" --output "$work/ours.jsonl" --threads 1 --log-level warn
"$python" "$root/scripts/choice_interop.py" compare "$work/ours/best" "$dev" "$work/ours.jsonl"
