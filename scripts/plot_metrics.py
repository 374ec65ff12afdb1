#!/usr/bin/env python3
"""Draws the curves of a `bert pretrain` or `bert finetune` run to a PNG.

    .venv/bin/python scripts/plot_metrics.py RUN_DIR [--output RUN_DIR/metrics.png]

Reads RUN_DIR/metrics.jsonl (one JSON object per logged step; evaluation lines carry eval_* or
dev_* keys) and draws up to three panels: training loss (total, and MLM/NSP parts when present),
held-out metrics (masked-LM accuracy and NSP accuracy for pre-training, every dev_* metric in
[0, 1] for fine-tuning) and the learning rate. A resumed run appends to the file, so a step can
appear twice; the later line wins.
"""
import argparse
import json
import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt  # noqa: E402


def read_metrics(path):
    train, evals = {}, {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                # The last line of a run killed mid-write may be cut short: skip only that one.
                print(f"{path}:{number}: skipped, not JSON ({e.msg})", file=sys.stderr)
                continue
            if "step" not in record:
                continue
            is_eval = any(k.startswith(("eval_", "dev_")) for k in record)
            (evals if is_eval else train)[record["step"]] = record
    return [train[s] for s in sorted(train)], [evals[s] for s in sorted(evals)]


def series(records, key):
    points = [(r["step"], r[key]) for r in records if isinstance(r.get(key), (int, float))]
    points = [(s, v) for s, v in points if math.isfinite(v)]
    return [p[0] for p in points], [p[1] for p in points]


def plot(run_dir, output):
    metrics_file = Path(run_dir) / "metrics.jsonl"
    if not metrics_file.exists():
        sys.exit(f"{metrics_file}: not found (is {run_dir} a bert run directory?)")
    train, evals = read_metrics(metrics_file)
    if not train and not evals:
        sys.exit(f"{metrics_file}: no logged steps yet")

    eval_keys = []
    for key in ("eval_mlm_accuracy", "eval_nsp_accuracy"):
        if any(key in r for r in evals):
            eval_keys.append(key)
    for r in evals:  # fine-tuning: every dev metric that lives in [0, 1] (mse does not)
        for key, value in r.items():
            if key.startswith("dev_") and key not in eval_keys and key not in ("dev_mse", "dev_examples"):
                if isinstance(value, (int, float)) and -1.0 <= value <= 1.0:
                    eval_keys.append(key)

    panels = ["loss"] + (["eval"] if eval_keys else []) + (["lr"] if any("lr" in r for r in train) else [])
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 3 * len(panels)), sharex=True, squeeze=False)
    axes = [a[0] for a in axes]
    for axis, panel in zip(axes, panels):
        if panel == "loss":
            for key, label in (("loss", "loss"), ("mlm_loss", "masked-LM"), ("nsp_loss", "next sentence")):
                x, y = series(train, key)
                if x:
                    axis.plot(x, y, label=label)
            x, y = series(evals, "eval_mlm_loss")
            if x:
                axis.plot(x, y, "o--", label="held-out masked-LM")
            axis.set_ylabel("loss")
        elif panel == "eval":
            for key in eval_keys:
                x, y = series(evals, key)
                axis.plot(x, y, "o-", label=key.replace("eval_", "held-out ").replace("dev_", "dev "))
            axis.set_ylabel("held-out")
        else:
            x, y = series(train, "lr")
            axis.plot(x, y, label="learning rate")
            axis.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
            axis.set_ylabel("lr")
        axis.grid(alpha=0.3)
        axis.legend(loc="best", fontsize="small")
    axes[-1].set_xlabel("step")
    fig.suptitle(str(run_dir))
    fig.tight_layout()
    fig.savefig(output, dpi=100)
    print(f"wrote {output} ({len(train)} training points, {len(evals)} evaluations)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", help="a bert pretrain/finetune run directory (holds metrics.jsonl)")
    parser.add_argument("--output", help="PNG to write (default: RUN_DIR/metrics.png)")
    args = parser.parse_args()
    plot(args.run_dir, args.output or str(Path(args.run_dir) / "metrics.png"))


if __name__ == "__main__":
    main()
