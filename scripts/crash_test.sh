#!/usr/bin/env bash
# kill -9 at random moments, many times: pre-trains a tiny model that checkpoints every step (so
# many kills land while a checkpoint is being written), kills it after a random delay, and checks
# after each kill that
#   - every checkpoint directory without .tmp holds DONE, and the newest one loads and runs
#     (`bert evaluate --model CKPT --corpus ...`);
#   - the same command continues from it (`--resume`).
# At the end the run is finished and its weights compared with an uninterrupted run's (the
# resumed run must be bit-identical: fp32, CPU, 1 thread).
#
#   scripts/crash_test.sh build/bert            # KILLS=50 by default
#   KILLS=200 SEED=7 scripts/crash_test.sh build/bert
set -uo pipefail
shopt -s nullglob
bert=$(realpath "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
kills=${KILLS:-50}
RANDOM=${SEED:-1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() {
  echo "FAIL: $*"
  exit 1
}

corpus=$root/test/data/corpus/alice-in-wonderland.txt
mkdir -p "$work/tok"
cp "$root/test/data/tokenizer/vocab.txt" "$work/tok/"
steps=$((kills * 6 + 20))
cmd=("$bert" pretrain --corpus "$corpus" --tokenizer "$work/tok" --model-config "$root/configs/bert-tiny.json"
     --max-steps "$steps" --batch-size 4 --seq-len 32 --save-every 1 --keep-last 2 --eval-every 1000000
     --eval-fraction 0 --log-every 1000000 --threads 1 --cache-dir "$work/cache")

"${cmd[@]}" --out "$work/straight" || fail "uninterrupted run"

in_write=0 # kills that left a half-written checkpoint (step-N.tmp) behind
for ((k = 1; k <= kills; k++)); do
  touch "$work/started"
  "${cmd[@]}" --out "$work/run" >"$work/log" 2>&1 &
  pid=$!
  # 0.5 .. 4.5 s: start-up, resuming, steps and checkpoint writes all get hit.
  sleep "$((RANDOM % 4)).$(printf '%03d' $((RANDOM % 1000)))"
  sleep 0.5
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  [[ -n $(find "$work/run/checkpoints" -maxdepth 1 -name '*.tmp' -newer "$work/started" 2>/dev/null) ]] &&
    in_write=$((in_write + 1))
  newest=""
  for d in "$work"/run/checkpoints/step-*; do
    [[ $d == *.tmp ]] && continue
    [[ -f $d/DONE ]] || fail "kill $k: $d has no DONE"
    newest=$d
  done
  if [[ -n $newest ]]; then
    "$bert" evaluate --model "$newest" --corpus "$corpus" --max-batches 1 --batch-size 4 --max-seq-len 32 --cache-dir "$work/eval-cache" \
      --threads 1 --log-level warn >/dev/null 2>"$work/eval.log" ||
      fail "kill $k: $newest does not load: $(cat "$work/eval.log")"
  fi
  echo "kill $k: newest checkpoint ${newest##*/}"; [[ -n ${VERBOSE:-} ]] && tail -3 "$work/log"
done
"${cmd[@]}" --out "$work/run" || fail "resuming after the last kill"
"$root/.venv/bin/python" - "$work/straight/final/model.safetensors" "$work/run/final/model.safetensors" <<'PY' ||
import sys
from safetensors.torch import load_file
a, b = load_file(sys.argv[1]), load_file(sys.argv[2])
same = a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)
sys.exit(0 if same else 1)
PY
  fail "the resumed run's weights differ from the uninterrupted run's"
echo "PASS: $kills kills -9 ($in_write while a checkpoint was being written): every checkpoint complete and loadable, run resumed, final weights identical to an uninterrupted run"
