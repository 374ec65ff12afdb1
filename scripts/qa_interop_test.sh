#!/usr/bin/env bash
# CTest `qa_interop`: extractive question answering against transformers (scripts/qa_reference.py),
# both ways: a BertForQuestionAnswering saved by transformers is predicted by us, and one fine-tuned
# by us is predicted by transformers, with the same answers, character offsets and scores; and
# `bert evaluate`'s SQuAD v2.0 metrics equal the reference metric on our predictions. Windows of 64
# tokens with a stride of 16 make most contexts span several windows.
#   usage: scripts/qa_interop_test.sh build/bert .venv/bin/python
set -euo pipefail
bert=$(realpath "$1")
python=$2
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ref="$python $root/scripts/qa_reference.py"
dev=$root/test/data/tasks/qa_dev_100.json
windows="--max-seq-len 64 --doc-stride 16"

# transformers → us; the second run (fewer candidates, shorter answers, a null threshold that
# leaves about half the questions unanswered) exercises the no-answer path on the same model
$ref make-hf "$root/test/data/hf-tiny" "$work/hf"
no_answer_opts="--allow-no-answer --null-threshold -17 --n-best 5 --max-answer-len 10"
for opts in "--allow-no-answer" "$no_answer_opts"; do  # the last leaves $work/hf.jsonl for the metrics
    "$bert" predict --model "$work/hf" --input "$dev" $windows $opts --output "$work/hf.jsonl" --threads 1
    $ref predict "$work/hf" "$dev" "$work/hf_ref.jsonl" $windows $opts
    $ref compare "$work/hf_ref.jsonl" "$work/hf.jsonl"
done

# us → transformers
"$bert" finetune --init "$root/test/data/hf-tiny" --task qa --train "$root/test/data/tasks/qa_train_300.json" \
    --dev "$dev" $windows --epochs 2 --batch-size 16 --lr 3e-3 --out "$work/ours" --threads 1 --log-level warn
"$bert" predict --model "$work/ours/best" --input "$dev" $windows --allow-no-answer --output "$work/ours.jsonl" --threads 1
$ref predict "$work/ours/best" "$dev" "$work/ours_ref.jsonl" $windows --allow-no-answer
$ref compare "$work/ours_ref.jsonl" "$work/ours.jsonl"

# our metrics = the SQuAD v2.0 metric of our predictions: the fine-tuned model (it answers nothing) and
# the transformers one with the null threshold (partly right answers, so F1 differs from exact match)
metrics() {  # MODEL PREDICTIONS OPTIONS...
    "$bert" evaluate --model "$1" --data "$dev" $windows "${@:3}" --output "$work/metrics.json"
    $ref squad-metric "$dev" "$2" > "$work/metrics_ref.json"
    "$python" - "$work/metrics_ref.json" "$work/metrics.json" <<'EOF'
import json, sys
ref, ours = (json.load(open(path)) for path in sys.argv[1:3])
bad = [k for k in ref if k not in ours or abs(ref[k] - ours[k]) > 1e-9]
print("metrics (reference, ours):", {k: (ref[k], ours.get(k)) for k in ref})
sys.exit(f"metrics differ: {bad}" if bad else 0)
EOF
}
metrics "$work/ours/best" "$work/ours.jsonl" --allow-no-answer
metrics "$work/hf" "$work/hf.jsonl" $no_answer_opts
