#!/usr/bin/env bash
# Fine-tunes one checkpoint on GLUE SST-2, CoLA, MRPC, STS-B and CoNLL-2003 NER (the copies in
# ../shared/data) and writes a summary of the dev metrics and wall times.
#
#   scripts/glue_runs.sh INIT_DIR OUT_ROOT [extra bert finetune flags...]
#
# Each task lands in OUT_ROOT/<task>/ (a normal `bert finetune` run directory: best/, metrics.jsonl,
# dev_metrics.json); OUT_ROOT/summary.tsv collects task, metric, value and seconds. A task whose
# summary line exists is skipped, so an interrupted sweep can be rerun. Environment:
#   BERT=path/to/bert (default build/bert)   DATA=../shared/data   TASKS="sst2 cola mrpc stsb conll"
#   EPOCHS=3   LR=1e-4   BATCH=32
set -euo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: $0 INIT_DIR OUT_ROOT [extra bert finetune flags...]" >&2
  exit 2
fi
init=$1
out=$2
shift 2
root=$(cd "$(dirname "$0")/.." && pwd)
bert=${BERT:-$root/build/bert}
data=${DATA:-$root/../shared/data}
tasks=${TASKS:-"sst2 cola mrpc stsb conll"}
epochs=${EPOCHS:-3}
lr=${LR:-1e-4}
batch=${BATCH:-32}

[[ -x $bert ]] || { echo "$bert: not built (run scripts/setup.sh)" >&2; exit 1; }
[[ -d $data/glue ]] || { echo "$data/glue: GLUE data not found (set DATA=...)" >&2; exit 1; }
mkdir -p "$out"
summary=$out/summary.tsv
[[ -f $summary ]] || printf 'task\tmetric\tvalue\tseconds\n' >"$summary"

run_task() {  # name task metric train dev data-flags...
  local name=$1 kind=$2 metric=$3 train=$4 dev=$5
  shift 5
  if grep -q "^$name	" "$summary"; then
    echo "[$name] done before: $(grep "^$name	" "$summary")"
    return
  fi
  local start end
  start=$(date +%s)
  "$bert" finetune --init "$init" --train "$train" --dev "$dev" --out "$out/$name" --task "$kind" \
    --epochs "$epochs" --lr "$lr" --batch-size "$batch" --metric "$metric" "$@" --log-every 200
  "$bert" evaluate --model "$out/$name/best" --data "$dev" "$@" --output "$out/$name/dev_metrics.json" \
    --log-level warn >/dev/null
  end=$(date +%s)
  local value
  value=$(python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))[sys.argv[2]], 4))" \
    "$out/$name/dev_metrics.json" "$metric")
  printf '%s\t%s\t%s\t%s\n' "$name" "$metric" "$value" "$((end - start))" >>"$summary"
  echo "[$name] dev $metric $value ($((end - start)) s)"
}

glue=$data/glue
for task in $tasks; do
  case $task in
    sst2) run_task sst2 classify accuracy "$glue/SST-2/train.tsv" "$glue/SST-2/dev.tsv" \
            --text-column sentence --label-column label "$@" ;;
    cola) run_task cola classify mcc "$glue/CoLA/train.tsv" "$glue/CoLA/dev.tsv" \
            --no-header --text-column 3 --label-column 1 "$@" ;;
    mrpc) run_task mrpc classify f1 "$glue/MRPC/train.tsv" "$glue/MRPC/dev.tsv" \
            --quoting none --text-column '#1 String' --text-pair-column '#2 String' --label-column Quality "$@" ;;
    stsb) run_task stsb regress pearson "$glue/STS-B/train.tsv" "$glue/STS-B/dev.tsv" \
            --text-column sentence1 --text-pair-column sentence2 --label-column score "$@" ;;
    conll) run_task conll tag entity_f1 "$data/conll2003/train.txt" "$data/conll2003/valid.txt" \
            --format conll --tag-column 3 "$@" ;;
    *) echo "unknown task $task (sst2 cola mrpc stsb conll)" >&2; exit 2 ;;
  esac
done
column -t -s $'\t' "$summary"
