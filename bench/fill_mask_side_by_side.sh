#!/usr/bin/env bash
# Masked-token prediction: `bert predict` on a pre-trained model against transformers' fill-mask
# pipeline (bench/hf_fill_mask.py), on the same directory and the same texts: ROWS lines of the
# Gutenberg novels with one word masked, top 5 per mask, alternating the two per round; then the
# medians, their ratio, peak RSS and how often the two sides' top tokens agree.
#
#   bench/fill_mask_side_by_side.sh
#   REPEATS=1 ROWS=64 CONFIG=configs/bert-mini.json bench/fill_mask_side_by_side.sh   # a quick check
#
# Environment: MODEL (a pre-trained directory; default: a BertForMaskedLM of CONFIG's shape with
# seeded random weights and the BERT uncased vocabulary, made untimed: speed does not depend on the
# weights), CONFIG (configs/bert-base.json), ROWS (1000), REPEATS (3), THREADS (2), BATCH (64).
# Seconds are whole-process wall times for both sides; the pipeline's own time (after loading) is
# shown beside transformers'.
source "$(dirname "$0")/common.sh"
repeats=${REPEATS:-3}
threads=${THREADS:-2}
batch=${BATCH:-64}
rows=${ROWS:-1000}
corpus=${CORPUS:-$root/../shared/data/corpus/gutenberg}
[[ -e $corpus ]] || corpus=$root/test/data/corpus

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [[ -n ${MODEL:-} ]]; then
  model=$MODEL
else
  model=$work/model
  "$py" bench/hf_fill_mask.py --make-model "$model" --config "${CONFIG:-configs/bert-base.json}" \
    --vocab test/data/tokenizer/vocab.txt 2>/dev/null
fi
# Lines of 8 to 40 words, a word in each replaced by [MASK] (seeded).
"$py" - "$corpus" "$rows" >"$work/texts.txt" <<'PY'
import glob, os, random, sys
path, n = sys.argv[1], int(sys.argv[2])
files = sorted(glob.glob(os.path.join(path, "*.txt"))) if os.path.isdir(path) else [path]
lines = [l.strip() for f in files for l in open(f, encoding="utf-8", errors="replace") if 8 <= len(l.split()) <= 40]
rng = random.Random(0)
for line in rng.sample(lines, min(n, len(lines))):
    words = line.split()
    words[rng.randrange(len(words))] = "[MASK]"
    print(" ".join(words))
PY
n=$(wc -l <"$work/texts.txt")
echo "model $model"
echo "$n texts from $corpus; top 5, batch $batch, threads $threads, repeats $repeats"

secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
results=$work/results.tsv  # round, system, seconds, peak RSS KB, pipeline seconds
for round in $(seq 1 "$repeats"); do
  start=$(date +%s.%N)
  /usr/bin/time -f %M -o "$work/rss" "$bert" predict --model "$model" --input "$work/texts.txt" --top-k 5 \
    --batch-size "$batch" --output "$work/ours.jsonl" --threads "$threads" --log-level warn
  end=$(date +%s.%N)
  printf '%s\tours\t%s\t%s\t-\n' "$round" "$(secs "$start" "$end")" "$(tail -n 1 "$work/rss")" >>"$results"

  start=$(date +%s.%N)
  line=$(/usr/bin/time -f %M -o "$work/rss" "$py" bench/hf_fill_mask.py --model "$model" --input "$work/texts.txt" \
    --batch-size "$batch" --threads "$threads" --output "$work/hf.jsonl" 2>/dev/null | tail -n 1)
  end=$(date +%s.%N)
  pipeline_s=$("$py" -c 'import json, sys; print(round(json.loads(sys.argv[1])["predict_seconds"], 2))' "$line")
  printf '%s\ttransformers\t%s\t%s\t%s\n' "$round" "$(secs "$start" "$end")" "$(tail -n 1 "$work/rss")" \
    "$pipeline_s" >>"$results"
done

"$py" - "$results" "$n" "$work/ours.jsonl" "$work/hf.jsonl" <<'PY'
import json, statistics, sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
n = int(sys.argv[2])
print(f"\n{'round':>5}  {'system':<12} {'seconds':>8} {'RSS MiB':>8} {'pipeline s':>10}")
for r, system, sec, rss, pipe in rows:
    print(f"{r:>5}  {system:<12} {float(sec):>8.2f} {int(rss) / 1024:>8.0f} {pipe:>10}")
med = lambda system, col: statistics.median(float(r[col]) for r in rows if r[1] == system)
ours, hf = n / med("ours", 2), n / med("transformers", 2)
print(f"\nmedians of {len(rows) // 2} round(s), {n} texts")
print(f"{'texts/s (whole process)':<30} {ours:>10.1f} {hf:>13.1f}")
print(f"{'texts/s (pipeline only)':<30} {'-':>10} {n / med('transformers', 4):>13.1f}")
print(f"{'peak RSS MiB':<30} {med('ours', 3) / 1024:>10.0f} {med('transformers', 3) / 1024:>13.0f}")
print(f"ratio (ours / transformers texts/s, whole process): {ours / hf:.2f}x")
top = lambda path: [json.loads(l)["masks"][0][0]["token"] for l in open(path)]
a, b = top(sys.argv[3]), top(sys.argv[4])
print(f"same top token (last round): {sum(x == y for x, y in zip(a, b))}/{len(a)}")
PY
