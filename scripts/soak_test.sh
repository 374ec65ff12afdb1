#!/usr/bin/env bash
# Long-run stability: pre-trains for DURATION seconds (default 1800) with held-out evaluation and
# checkpoints every SAVE_EVERY steps, samples the process's resident memory every SAMPLE seconds,
# and reads tokens/s from metrics.jsonl. Prints one row per sample, then the verdict:
#   memory  — resident memory at the end vs right after warm-up (the first quarter of the run);
#             PASS when it grew by less than 5 % (no leak);
#   speed   — median tokens/s of the last quarter vs the second quarter (printed, not judged:
#             on a shared machine it moves with the neighbours' load; `uptime` is printed too).
#
#   scripts/soak_test.sh build/bert                      # 30 min, bert-mini, the novels or data/corpus
#   DURATION=120 SAMPLE=10 scripts/soak_test.sh build/bert
set -uo pipefail
bert=$(realpath "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
duration=${DURATION:-1800}
sample=${SAMPLE:-60}
save_every=${SAVE_EVERY:-100}
threads=${THREADS:-1}
corpus=${CORPUS:-$root/../shared/data/corpus}
[[ -e $corpus ]] || corpus=$root/data/corpus
vocab=${VOCAB:-$root/test/data/tokenizer/vocab.txt}
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/tok"
cp "$vocab" "$work/tok/vocab.txt"

"$bert" pretrain --corpus "$corpus" --tokenizer "$work/tok" --model-config "$root/configs/bert-mini.json" \
  --max-steps 1000000 --batch-size 16 --seq-len 128 --save-every "$save_every" --eval-every "$save_every" \
  --eval-batches 4 --log-every 5 --threads "$threads" --out "$work/run" >"$work/log" 2>&1 &
pid=$!
echo "corpus $corpus, bert-mini, batch 16 x 128, $threads thread(s), ${duration} s, load: $(uptime)"
printf '%8s %8s %10s %12s\n' seconds step rss_MiB tokens_per_s
start=$(date +%s)
rss=()
while (($(date +%s) - start < duration)); do
  sleep "$sample"
  kill -0 "$pid" 2>/dev/null || { echo "FAIL: the run ended early:"; tail -5 "$work/log"; exit 1; }
  kb=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
  rss+=("$kb")
  last=$(grep '"tokens_per_s"' "$work/run/metrics.jsonl" 2>/dev/null | tail -1)
  step=$(sed -n 's/.*"step":\([0-9]*\).*/\1/p' <<<"$last")
  tps=$(sed -n 's/.*"tokens_per_s":\([0-9.]*\).*/\1/p' <<<"$last")
  printf '%8d %8s %10d %12.0f\n' "$(($(date +%s) - start))" "${step:-0}" "$((kb / 1024))" "${tps:-0}"
done
kill -TERM "$pid"
wait "$pid"
echo "load at the end: $(uptime)"
"$root/.venv/bin/python" - "$work/run/metrics.jsonl" "${rss[*]}" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"tokens_per_s"' in l]
rss = [int(x) for x in sys.argv[2].split()]
n = len(rss)
warm = rss[max(0, n // 4 - 1)]
growth = (rss[-1] - warm) / warm
print(f"memory: {warm / 1024:.0f} MiB after warm-up, {rss[-1] / 1024:.0f} MiB at the end, "
      f"max {max(rss) / 1024:.0f} MiB: {growth * 100:+.1f} %")
t0, t1 = rows[0]["time"], rows[-1]["time"]
q = lambda a, b: [r["tokens_per_s"] for r in rows if t0 + a * (t1 - t0) <= r["time"] <= t0 + b * (t1 - t0)]
second, last = statistics.median(q(0.25, 0.5)), statistics.median(q(0.75, 1.0))
print(f"speed: median {second:.0f} tokens/s in the second quarter, {last:.0f} in the last ({last / second:.2f}x); "
      f"steps {rows[-1]['step']}")
print("PASS" if growth < 0.05 else "FAIL: resident memory grew by 5 % or more after warm-up")
sys.exit(0 if growth < 0.05 else 1)
PY
