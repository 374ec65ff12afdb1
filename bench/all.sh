#!/usr/bin/env bash
# Every side-by-side benchmark against Hugging Face transformers in one command, each alternating
# our binary and the reference in the same invocation, then one summary of all their ratio lines:
# pre-training tokens/s (bert-mini fp32 and bf16, bert-base fp32), fine-tuning one SST-2 epoch
# (bert-mini; the reference with dynamic padding, then padding every row to 128), prediction
# sentences/s on SST-2 dev, peak RSS of each side, start-up to the first prediction.
#
#   bench/all.sh             # full sizes: several hours on 2 cores (each SST-2 epoch pair is 20-55 min)
#   QUICK=1 bench/all.sh     # a few minutes: tiny sizes, one repeat, to check that everything runs
#
# Environment: THREADS (2, both sides), QUICK. Each part keeps its own knobs (see its header):
# this script only picks the sizes. The fine-tuning part uses a randomly initialised bert-mini with
# the BERT uncased vocabulary (made here, untimed), so that it needs no pre-training run.
source "$(dirname "$0")/common.sh"
threads=${THREADS:-2}
quick=${QUICK:-0}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log=$work/all.log

part() {  # a titled part, its output shown and kept for the summary
  echo "=== $1" | tee -a "$log"
  shift
  env "$@" 2>&1 | tee -a "$log"
}

echo "load before: $(uptime)"
mkdir -p "$work/tok"
cp "$root/../shared/data/vocab/bert-base-uncased-vocab.txt" "$work/tok/vocab.txt"
"$bert" pretrain --corpus data/corpus --tokenizer "$work/tok" --model-config configs/bert-mini.json \
  --out "$work/mini" --max-steps 1 --lr 0 --batch-size 8 --eval-fraction 0 --threads "$threads" --log-level warn

if [[ $quick == 1 ]]; then
  part "pre-training" CASES=mini-fp32 REPEATS=1 WARMUP=1 STEPS=2 bench/pretrain_side_by_side.sh
  sizes=(ROWS=256 SEEDS=1)
  part "prediction" REPEATS=1 THREADS="$threads" bench/predict_side_by_side.sh
  part "start-up" RUNS=2 THREADS="$threads" bench/startup_time.sh
else
  part "pre-training" bench/pretrain_side_by_side.sh
  sizes=(ROWS=all SEEDS=1)
  part "prediction" REPEATS=3 THREADS="$threads" bench/predict_side_by_side.sh
  part "start-up" RUNS=10 THREADS="$threads" bench/startup_time.sh
fi
part "fine-tuning, the reference with dynamic padding" "${sizes[@]}" MODEL="$work/mini/final" LR=1e-4 \
  THREADS="$threads" bench/finetune_side_by_side.sh
part "fine-tuning, the reference padding to 128" "${sizes[@]}" MODEL="$work/mini/final" LR=1e-4 \
  THREADS="$threads" PAD_TO_MAX_LENGTH=1 bench/finetune_side_by_side.sh

echo
echo "summary ($(date -Is), load after: $(uptime | sed 's/.*load/load/'))"
grep -E "^=== |ratio|accuracy difference|^(mini|base)-[a-z0-9]+ +[0-9.]+ +[0-9.]+ +[0-9.]+x" "$log"
