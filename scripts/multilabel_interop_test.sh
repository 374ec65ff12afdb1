#!/usr/bin/env bash
# CTest `multilabel_interop`: a multi-label model made by transformers is predicted by us, and one
# fine-tuned by us is predicted by transformers, with the same probabilities and label sets
# (scripts/multilabel_interop.py).
#   usage: scripts/multilabel_interop_test.sh build/bert .venv/bin/python
set -euo pipefail
bert=$(realpath "$1")
python=$2
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dev=$root/test/data/tasks/entity_types_dev_200.tsv
cols="--text-column sentence --label-column entity_types"

# transformers → us
"$python" "$root/scripts/multilabel_interop.py" make-hf "$root/test/data/hf-tiny" "$work/hf"
"$bert" predict --model "$work/hf" --input "$dev" --text-column sentence --output "$work/hf.jsonl" --threads 1
"$python" "$root/scripts/multilabel_interop.py" compare "$work/hf" "$dev" "$work/hf.jsonl"

# us → transformers
"$bert" finetune --init "$root/test/data/hf-tiny" --task multilabel --train "$root/test/data/tasks/entity_types_train_600.tsv" \
    --dev "$dev" $cols --class-weights auto --epochs 3 --batch-size 32 --lr 3e-3 --out "$work/ours" --threads 1 --log-level warn
"$bert" predict --model "$work/ours/best" --input "$dev" --text-column sentence --output "$work/ours.jsonl" --threads 1
"$python" "$root/scripts/multilabel_interop.py" compare "$work/ours/best" "$dev" "$work/ours.jsonl"
