#!/usr/bin/env bash
# PyTorch's own launcher starts our workers unchanged: `torchrun --no-python --nproc-per-node 2
# bert pretrain ...` (torchrun's agent serves the rendezvous store; our workers join it). Expected:
# exit 0, one final model, and the same weights as `bert pretrain --nproc 2` (both are two workers
# with the same global batch).
#
#   scripts/torchrun_test.sh build/bert .venv/bin/python
set -euo pipefail
bert=$(realpath "$1")
python=$2
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/tok"
cp "$root/test/data/tokenizer/vocab.txt" "$work/tok/"
"$python" - "$root/configs/bert-tiny.json" "$work/tiny.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["hidden_dropout_prob"] = c["attention_probs_dropout_prob"] = 0.0
json.dump(c, open(sys.argv[2], "w"))
PY
args=(pretrain --corpus "$root/test/data/corpus/alice-in-wonderland.txt" --tokenizer "$work/tok"
      --model-config "$work/tiny.json" --max-steps 3 --batch-size 4 --seq-len 64 --eval-fraction 0
      --threads 1 --log-level warn --cache-dir "$work/cache")
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$python" -m torch.distributed.run --no-python --nproc-per-node 2 --master-port "$port" \
  "$bert" "${args[@]}" --out "$work/torchrun"
"$bert" "${args[@]}" --nproc 2 --out "$work/ours"
"$python" - "$work/torchrun/final/model.safetensors" "$work/ours/final/model.safetensors" <<'PY'
import sys
from safetensors.torch import load_file
a, b = load_file(sys.argv[1]), load_file(sys.argv[2])
diff = max((a[k] - b[k]).abs().max().item() for k in a)
print(f"torchrun vs --nproc 2: {len(a)} tensors, max |diff| {diff:g}")
sys.exit(0 if diff == 0 else 1)
PY
