# Sourced by the side-by-side benchmarks: the repository root as working directory, our binary
# (BERT_BIN, default build/bert) and the venv's Python, both checked, and /usr/bin/time (peak RSS).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bert=${BERT_BIN:-$root/build/bert}
py=$root/.venv/bin/python
[[ -x $bert ]] || { echo "$bert: not built (run scripts/setup.sh, or set BERT_BIN)" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "/usr/bin/time: not installed (peak RSS)" >&2; exit 1; }

# Writes a randomly initialised bert-mini (configs/bert-mini.json) to $1/final: one `bert pretrain`
# step at lr 0 on the bundled data/corpus, with the vocabulary file $3 (default: BERT uncased from
# ../shared) or, where it is missing, a 2,000-token unigram vocabulary trained on data/corpus.
# Untimed set-up for benchmarks that need a model but no pre-training. $2: threads.
make_random_bert_mini() {
  local out=$1 threads=$2 vocab=${3:-$root/../shared/data/vocab/bert-base-uncased-vocab.txt}
  mkdir -p "$out/tok"
  if [[ -f $vocab ]]; then
    cp "$vocab" "$out/tok/vocab.txt"
  else
    echo "$vocab not found: training a 2,000-token unigram vocabulary on data/corpus instead"
    "$bert" tokenizer train --input data/corpus/*.txt --type unigram --vocab-size 2000 --out "$out/tok" \
      --log-level warn
  fi
  "$bert" pretrain --corpus data/corpus --tokenizer "$out/tok" --model-config configs/bert-mini.json \
    --out "$out/run" --max-steps 1 --lr 0 --batch-size 8 --eval-fraction 0 --threads "$threads" --log-level warn
  mv "$out/run/final" "$out/final"
}
