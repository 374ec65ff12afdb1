#!/usr/bin/env python3
"""CTest `finetune_trace_interop`: one fine-tuning run replayed by `bert finetune` and by
transformers' Trainer, step by step, for each task head.

Both sides start from the same weights (the Trainer's script draws the new head and saves the model
with --save-initial; `bert finetune --init` keeps that head), read the batches in the file's order
(`--in-order`, the Trainer's sequential sampler) and train without dropout, so nothing random is
left: every optimizer step must give the same loss, gradient norm (before clipping) and learning
rate, and the trained weights must agree. This checks the whole training loop against the Trainer's
(labels and windows, padding, loss, averaging over micro-batches, warmup and decay, weight-decay
groups, clipping, AdamW), where the fixture tests check a forward pass and three optimizer steps.
Then `bert evaluate` scores the Trainer's trained model on the dev file and must give the number the
Trainer's script computed from its own predictions (both sides' metric code on one model).

The Trainer's side is the benchmark scripts in bench/ (hf_finetune*.py) with their replay flags.

  .venv/bin/python scripts/finetune_trace_interop.py --bert build/bert --model MINILM_DIR [--steps 20]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TASKS = os.path.join(ROOT, "test", "data", "tasks")

# name -> (Trainer script, its data flags, our data flags). The same file, columns and lengths on both sides.
CASES = {
    "classify": ("hf_finetune.py",
                 ["--train", "sst2_train_300.tsv", "--dev", "sst2_dev_100.tsv", "--max-seq-len", "64"],
                 ["--train", "sst2_train_300.tsv", "--text-column", "sentence", "--label-column", "label",
                  "--max-seq-len", "64"]),
    "pair": ("hf_finetune.py",  # MRPC: sentence pairs (the file starts with a BOM)
             ["--train", "mrpc_train_600.tsv", "--dev", "mrpc_dev_100.tsv", "--text-column", "#1 String",
              "--text-pair-column", "#2 String", "--label-column", "Quality", "--max-seq-len", "64"],
             ["--train", "mrpc_train_600.tsv", "--text-column", "#1 String", "--text-pair-column", "#2 String",
              "--label-column", "Quality", "--quoting", "none", "--max-seq-len", "64"]),
    "regress": ("hf_finetune.py",  # STS-B: a score per sentence pair
                ["--train", "stsb_train_200.tsv", "--dev", "stsb_dev_100.tsv", "--regression", "--text-column",
                 "sentence1", "--text-pair-column", "sentence2", "--label-column", "score", "--max-seq-len", "64"],
                ["--train", "stsb_train_200.tsv", "--task", "regress", "--text-column", "sentence1",
                 "--text-pair-column", "sentence2", "--label-column", "score", "--max-seq-len", "64"]),
    "multilabel": ("hf_finetune.py",
                   ["--train", "entity_types_train_600.tsv", "--dev", "entity_types_dev_200.tsv", "--multilabel",
                    "--text-column", "sentence", "--label-column", "entity_types", "--max-seq-len", "64"],
                   ["--train", "entity_types_train_600.tsv", "--task", "multilabel", "--text-column", "sentence",
                    "--label-column", "entity_types", "--max-seq-len", "64"]),
    "tag": ("hf_finetune_tag.py",
            ["--train", "conll_train_200.txt", "--dev", "conll_valid_50.txt", "--max-seq-len", "64"],
            ["--train", "conll_train_200.txt", "--task", "tag", "--format", "conll", "--max-seq-len", "64"]),
    # 128-token windows sharing 32 tokens: many questions need several windows, some hold no answer.
    "qa": ("hf_finetune_qa.py",
           ["--train", "qa_train_300.json", "--dev", "qa_dev_100.json", "--max-seq-len", "128", "--doc-stride", "32"],
           ["--train", "qa_train_300.json", "--task", "qa", "--max-seq-len", "128", "--doc-stride", "32"]),
    "choice": ("hf_finetune_choice.py",
               ["--train", "choice_train_400.tsv", "--dev", "choice_dev_100.tsv", "--max-seq-len", "64"],
               ["--train", "choice_train_400.tsv", "--task", "choice", "--text-column", "sent1",
                "--choice-columns", "ending0,ending1,ending2,ending3", "--label-column", "label",
                "--max-seq-len", "64"]),
}

# Measured here (MiniLM, 20 steps, fp32, 2 threads): losses equal to 2e-7 (relative), gradient norms
# to 2e-6, weights to 4e-5 (a bias the two sides' float sums round apart). The bounds leave room for
# another CPU; a real difference in the loop (a label, a padded position, the schedule, a parameter's
# weight decay) is far above them.
LOSS_TOL = 1e-4        # relative
GRAD_NORM_TOL = 1e-3   # relative
LR_TOL = 1e-12         # absolute
WEIGHT_TOL = 2e-4      # absolute, largest difference over every tensor
METRIC_TOL = 1e-5      # the scripts round their metrics to 6 decimals


def moved_by_rounding_only(name, case):
    """Biases whose gradient is zero in exact arithmetic: a key bias adds the same number to every
    score of a query, the question-answering bias to every start (end) logit, the multiple-choice bias
    to every candidate's logit, and a softmax ignores that. Their float gradients are rounding noise,
    which AdamW scales up to steps of about the learning rate on each side alike but not in the same
    direction: they drift apart by chance, not by a difference in the loop."""
    return name.endswith(("attention.self.key.bias", "qa_outputs.bias")) or (case == "choice" and name == "classifier.bias")


def resolve(flags):
    """Data file names are in test/data/tasks."""
    return [os.path.join(TASKS, f) if f.endswith((".tsv", ".json", ".txt")) else f for f in flags]


def run(cmd, log):
    with open(log, "w", encoding="utf-8") as out:
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        sys.stderr.write(open(log, encoding="utf-8").read())
        sys.exit(f"failed ({done.returncode}): {' '.join(cmd)}")


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def relative(a, b):
    return abs(a - b) / max(1.0, abs(b))


def compare(name, work):
    """The per-step trace and the trained weights of one case; returns its failures."""
    import numpy as np
    from safetensors.numpy import load_file

    theirs = read_jsonl(os.path.join(work, "hf_trace.jsonl"))
    ours = [r for r in read_jsonl(os.path.join(work, "ours", "metrics.jsonl")) if "loss" in r]
    failures = []
    if [r["step"] for r in ours] != [r["step"] for r in theirs]:
        return [f"{name}: steps differ: ours {[r['step'] for r in ours]}, Trainer {[r['step'] for r in theirs]}"]
    worst = {"loss": 0.0, "grad_norm": 0.0, "lr": 0.0}
    for o, t in zip(ours, theirs):
        diffs = {"loss": relative(o["loss"], t["loss"]), "grad_norm": relative(o["grad_norm"], t["grad_norm"]),
                 "lr": abs(o["lr"] - t["lr"])}
        for key, tol in (("loss", LOSS_TOL), ("grad_norm", GRAD_NORM_TOL), ("lr", LR_TOL)):
            worst[key] = max(worst[key], diffs[key])
            if diffs[key] > tol:
                failures.append(f"{name}: step {o['step']} {key}: ours {o[key]!r}, Trainer {t[key]!r}")
    a = load_file(os.path.join(work, "ours", "best", "model.safetensors"))
    b = load_file(os.path.join(work, "hf_final", "model.safetensors"))
    if set(a) != set(b):
        failures.append(f"{name}: weight names differ: ours only {sorted(set(a) - set(b))}, "
                        f"Trainer only {sorted(set(b) - set(a))}")
    weight, tensor = max((float(np.abs(a[k].astype(np.float64) - b[k]).max()), k)
                         for k in set(a) & set(b) if not moved_by_rounding_only(k, name))
    if weight > WEIGHT_TOL:
        failures.append(f"{name}: trained weights differ by {weight:.3g} in {tensor}")
    print(f"{name:12s} {len(ours)} steps, loss {theirs[0]['loss']:.4f} -> {theirs[-1]['loss']:.4f}; largest "
          f"differences: loss {worst['loss']:.1e}, gradient norm {worst['grad_norm']:.1e}, lr {worst['lr']:.1e}, "
          f"weights {weight:.1e} ({tensor})", flush=True)
    return failures


def compare_dev_metrics(name, work, bert, hf_data, our_data):
    """`bert evaluate` on the Trainer's trained model and the dev file gives the numbers the Trainer's
    script computed from its own predictions (accuracy, Pearson, micro F1, entity F1, SQuAD F1 and
    exact match): both sides' metric code, on one model."""
    theirs = json.loads(open(os.path.join(work, "hf.log"), encoding="utf-8").read().strip().splitlines()[-1])
    dev = hf_data[hf_data.index("--dev") + 1]
    flags, given = [], iter(our_data)
    for flag in given:  # our data flags, for the dev file and without --task (evaluate reads the model's)
        if flag in ("--train", "--task"):
            next(given)  # the flag's value: the training file, or the task
            flags += ["--data", dev] if flag == "--train" else []
        else:
            flags.append(flag)
    metrics_file = os.path.join(work, "hf_final_metrics.json")
    run([bert, "evaluate", "--model", os.path.join(work, "hf_final"), *resolve(flags), "--output", metrics_file],
        os.path.join(work, "evaluate.log"))
    ours = json.load(open(metrics_file, encoding="utf-8"))
    keys = [k for k in theirs if k.startswith("dev_")]
    failures = [f"{name}: dev {k[4:]} of the Trainer's model: ours {ours.get(k[4:])!r}, its script {theirs[k]!r}"
                for k in keys if not isinstance(ours.get(k[4:]), float) or abs(ours[k[4:]] - theirs[k]) > METRIC_TOL]
    print(f"{'':12s} the Trainer's model on the dev file: " +
          ", ".join(f"{k[4:]} {theirs[k]:.4f} (ours {ours.get(k[4:])})" for k in keys), flush=True)
    return failures


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bert", required=True, help="the bert binary")
    p.add_argument("--model", required=True, help="a Hugging Face BERT directory to fine-tune (all-MiniLM-L6-v2)")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cases", default=",".join(list(CASES) + ["grad-accum"]),
                   help="comma-separated: " + ", ".join(CASES) + ", grad-accum (classify, 4 rows x 2 micro-batches)")
    p.add_argument("--keep", metavar="DIR", help="work here and keep the runs (default: a temporary directory)")
    args = p.parse_args()

    work_root = args.keep or tempfile.mkdtemp(prefix="finetune_trace_")
    failures = []
    for name in args.cases.split(","):
        # lr 1e-4 and weight decay 0.5 (higher than usual) so that the weights move enough in a few steps for
        # a difference to show: a LayerNorm weight (about 1) decayed by mistake would be 1e-3 off after 20
        # steps. Tagging gets 3e-4: at 1e-4 it still tags every dev word O, and the entity F1 check is 0 = 0.
        lr = "3e-4" if name == "tag" else "1e-4"
        common = ["--max-steps", str(args.steps), "--lr", lr, "--weight-decay", "0.5", "--threads", str(args.threads),
                  "--seed", "42"]
        accumulate = name == "grad-accum"
        script, hf_data, our_data = CASES["classify" if accumulate else name]
        batch = ["--batch-size", "4", "--grad-accum", "2"] if accumulate else ["--batch-size", "8"]
        work = os.path.join(work_root, name)
        os.makedirs(work, exist_ok=True)
        init, final = os.path.join(work, "init"), os.path.join(work, "hf_final")
        # transformers 5 sums a step's micro-batch losses for BERT's heads (issue #47688); the mean is
        # what both mean to compute, so the Trainer gets its own switch to it.
        run([sys.executable, os.path.join(ROOT, "bench", script), "--model", args.model, *resolve(hf_data), *common,
             *batch, "--in-order", "--dropout", "0", "--save-initial", init, "--save-final", final,
             "--trace", os.path.join(work, "hf_trace.jsonl"), *(["--average-micro-batches"] if accumulate else [])],
            os.path.join(work, "hf.log"))
        run([args.bert, "finetune", "--init", init, *resolve(our_data), *common, *batch, "--in-order",
             "--dropout", "0", "--classifier-dropout", "0", "--log-every", "1", "--no-resume",
             "--out", os.path.join(work, "ours")],
            os.path.join(work, "ours.log"))
        failures += compare(name, work)
        failures += compare_dev_metrics(name, work, args.bert, hf_data, our_data)
    if not args.keep:
        shutil.rmtree(work_root, ignore_errors=True)
    if failures:
        sys.exit("\n".join(failures))
    print("the same run on both sides, step by step")


if __name__ == "__main__":
    main()
