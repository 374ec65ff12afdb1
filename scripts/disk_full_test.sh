#!/usr/bin/env bash
# Disk full while saving a checkpoint: pre-trains a tiny model into a 14 MB tmpfs, where the first
# checkpoint fits and the second does not. Expected: a clear error naming the file and the cause,
# exit status 1 (not a crash), the previous checkpoint complete and loadable, no half-written
# directory left. Needs root to mount the tmpfs; exits 77 (CTest: skipped) where it cannot.
#
#   scripts/disk_full_test.sh build/bert
set -uo pipefail
bert=$(realpath "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
small=$work/small
mkdir -p "$small"
cleanup() {
  umount "$small" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
if ! mount -t tmpfs -o size=14M tmpfs "$small" 2>/dev/null; then
  echo "skipped: cannot mount a tmpfs here (needs root)"
  exit 77
fi
fail() {
  echo "FAIL: $*"
  exit 1
}

corpus=$root/test/data/corpus/alice-in-wonderland.txt
"$bert" tokenizer train --input "$corpus" --type unigram --vocab-size 1000 --out "$work/tok" --log-level warn ||
  fail "tokenizer training"
"$bert" pretrain --corpus "$corpus" --tokenizer "$work/tok" --model-config "$root/configs/bert-tiny.json" \
  --max-steps 30 --batch-size 8 --seq-len 64 --eval-every 10 --save-every 10 --keep-last 1 --threads 1 \
  --cache-dir "$work/cache" --out "$small/run" >"$work/log" 2>&1
status=$?
cat "$work/log" | tail -3
[[ $status == 1 ]] || fail "expected exit status 1, got $status"
grep -q "No space left on device" "$work/log" || fail "the error does not name the cause"
grep -q "checkpoints/step-00000010 is intact" "$work/log" || fail "the error does not name the intact checkpoint"
[[ -f $small/run/checkpoints/step-00000010/DONE ]] || fail "the previous checkpoint is not complete"
compgen -G "$small/run/checkpoints/*.tmp" >/dev/null && fail "a half-written checkpoint directory was left behind"
"$bert" info "$small/run/checkpoints/step-00000010" >/dev/null || fail "the previous checkpoint does not load"
echo "ok: disk full → clear error, previous checkpoint intact and loadable"
