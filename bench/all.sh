#!/usr/bin/env bash
# Every side-by-side benchmark against Hugging Face transformers in one command, each alternating
# our binary and the reference in the same invocation, then one summary of all their ratio lines:
# pre-training tokens/s (bert-mini fp32 and bf16, bert-base fp32), fine-tuning one SST-2 epoch
# (bert-mini; the reference with dynamic padding, then padding every row to 128), multi-label
# fine-tuning (all-MiniLM-L6-v2 on the entity types of CoNLL-2003 sentences, dev micro F1), question-
# answering fine-tuning (all-MiniLM-L6-v2 on SQuAD v2.0-style questions made from CoNLL-2003, dev F1),
# multiple-choice fine-tuning (all-MiniLM-L6-v2 on 4,000 "which sentence of a novel comes next" rows),
# prediction sentences/s on SST-2 dev, masked-token prediction texts/s (bert-base shape), peak RSS of
# each side, start-up to the first prediction.
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

if [[ $quick == 1 ]]; then  # each part's own knobs for toy sizes
  pretrain=(CASES=mini-fp32 REPEATS=1 WARMUP=1 STEPS=2) predict=(REPEATS=1) startup=(RUNS=2) finetune=(ROWS=256)
  fill_mask=(REPEATS=1 ROWS=64 CONFIG=configs/bert-mini.json)
  multilabel=(ROWS=256) qa=(ROWS=200) choice=(ROWS=256)
else
  pretrain=() predict=(REPEATS=3) startup=(RUNS=10) finetune=(ROWS=all) multilabel=(ROWS=all) qa=(ROWS=all)
  fill_mask=(REPEATS=3)
  choice=(ROWS=4000)
fi

echo "load before: $(uptime)"
make_random_bert_mini "$work/mini" "$threads"
part "pre-training" "${pretrain[@]}" THREADS="$threads" bench/pretrain_side_by_side.sh
part "prediction" "${predict[@]}" THREADS="$threads" bench/predict_side_by_side.sh
part "masked-token prediction" "${fill_mask[@]}" THREADS="$threads" bench/fill_mask_side_by_side.sh
part "start-up" "${startup[@]}" THREADS="$threads" bench/startup_time.sh
finetune+=(SEEDS=1 MODEL="$work/mini/final" LR=1e-4 THREADS="$threads")
part "fine-tuning one SST-2 epoch, the reference with dynamic padding" "${finetune[@]}" bench/finetune_side_by_side.sh
part "fine-tuning one SST-2 epoch, the reference padding to 128" "${finetune[@]}" PAD_TO_MAX_LENGTH=1 \
  bench/finetune_side_by_side.sh
part "multi-label fine-tuning, CoNLL-2003 entity types (all-MiniLM-L6-v2)" "${multilabel[@]}" SEEDS=1 TASK=multilabel \
  THREADS="$threads" bench/finetune_side_by_side.sh
part "question-answering fine-tuning, CoNLL-2003 questions (all-MiniLM-L6-v2)" "${qa[@]}" SEEDS=1 TASK=qa \
  THREADS="$threads" bench/finetune_side_by_side.sh
part "multiple-choice fine-tuning, the next sentence of a novel (all-MiniLM-L6-v2)" "${choice[@]}" SEEDS=1 TASK=choice \
  THREADS="$threads" bench/finetune_side_by_side.sh

echo
echo "summary ($(date -Is), load after: $(uptime | sed 's/.*load/load/'))"
grep -E "^=== |ratio|difference \(ours|^train windows|^(mini|base)-[a-z0-9]+ +[0-9.]+ +[0-9.]+ +[0-9.]+x" "$log"
