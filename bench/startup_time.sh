#!/usr/bin/env bash
# Start-up time of `bert predict` on one sentence, against Hugging Face transformers
# (bench/hf_predict.py: AutoTokenizer + AutoModelForSequenceClassification, one forward), on the
# same small fine-tuned bert-mini classification directory: wall time from process start to exit,
# alternating the two, median of RUNS (10) each after one untimed run each (warm page cache).
# Beside them, the floors: `bert --version` (process start + loading LibTorch's shared libraries,
# nothing else) and `python -c "import torch, transformers"` (the imports any PyTorch-based Python
# tool pays before it reads a model).
#
#   bench/startup_time.sh
#   RUNS=3 bench/startup_time.sh    # a quick check
#
# The model (setup, untimed): a random-init bert-mini (configs/bert-mini.json, the BERT uncased
# vocabulary: 11.2 M parameters, 43 MiB of float32 weights) written by one `bert pretrain` step at
# lr 0 on the bundled data/corpus, then `bert finetune` for 1 epoch on test/data/tasks'
# 300 SST-2 rows. Accuracy is irrelevant here: only the loading path and one forward pass count.
#
# Environment: BERT_BIN (default build/bert), RUNS=10, THREADS=2 (both sides), TEXT ("a fine film"),
# VOCAB (../shared/data/vocab/bert-base-uncased-vocab.txt; without it, a vocabulary trained on
# data/corpus), MODEL (use this fine-tuned directory instead of making one). Needs .venv (torch,
# transformers) and /usr/bin/time.
source "$(dirname "$0")/common.sh"
runs=${RUNS:-10}
threads=${THREADS:-2}
text=${TEXT:-"a fine film"}
vocab=${VOCAB:-$root/../shared/data/vocab/bert-base-uncased-vocab.txt}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [[ -n ${MODEL:-} ]]; then
  model=$MODEL
else
  echo "making a bert-mini classification model (setup, untimed)"
  make_random_bert_mini "$work/mini" "$threads" "$vocab"
  "$bert" finetune --init "$work/mini/final" --train test/data/tasks/sst2_train_300.tsv --text-column sentence \
    --label-column label --epochs 1 --batch-size 32 --lr 1e-4 --threads "$threads" --out "$work/ft" \
    --log-level warn
  model=$work/ft/best
fi
echo "model $model ($(du -sh "$model" | cut -f1)); text \"$text\"; threads $threads; $runs runs each"
echo "load before: $(uptime)"

ours=("$bert" predict --model "$model" --text "$text" --threads "$threads" --log-level warn)
hf=("$py" bench/hf_predict.py --model "$model" --text "$text" --threads "$threads")
ours_floor=("$bert" --version)
hf_floor=("$py" -c "import torch, transformers")

# Print the two predictions once (and warm the page cache: these runs are not timed).
echo "ours: $("${ours[@]}" 2>/dev/null | tail -n 1)"
echo "HF:   $("${hf[@]}" 2>&1 >/dev/null | tail -n 1)"  # hf_predict.py writes the prediction to stderr
"${ours_floor[@]}" >/dev/null 2>&1
"${hf_floor[@]}" >/dev/null 2>&1

results=$work/results.tsv  # what, seconds, peak RSS KB
timed() {  # label command...
  local label=$1 start end
  shift
  start=$(date +%s.%N)
  /usr/bin/time -f %M -o "$work/rss" "$@" >/dev/null 2>&1
  end=$(date +%s.%N)
  printf '%s\t%s\t%s\n' "$label" "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.4f", b - a }')" \
    "$(tail -n 1 "$work/rss")" >>"$results"
}
for i in $(seq 1 "$runs"); do
  timed "bert predict" "${ours[@]}"
  timed "hf_predict.py" "${hf[@]}"
  timed "bert --version" "${ours_floor[@]}"
  timed "import torch+transformers" "${hf_floor[@]}"
done
echo "load after: $(uptime)"

"$py" - "$results" <<'PY'
import statistics, sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
print(f"\n{'':<28} {'median s':>9} {'min s':>7} {'max s':>7} {'RSS MiB':>8}")
for what in dict.fromkeys(r[0] for r in rows):
    secs = [float(r[1]) for r in rows if r[0] == what]
    rss = statistics.median(int(r[2]) for r in rows if r[0] == what) / 1024
    print(f"{what:<28} {statistics.median(secs):>9.3f} {min(secs):>7.3f} {max(secs):>7.3f} {rss:>8.0f}")
med = {w: statistics.median(float(r[1]) for r in rows if r[0] == w) for w in dict.fromkeys(r[0] for r in rows)}
print(f"start-up ratio (HF / ours, median, one sentence, whole process): "
      f"{med['hf_predict.py'] / med['bert predict']:.1f}x; ours {'meets' if med['bert predict'] < 0.5 else 'misses'} "
      f"the 0.5 s target")
PY
