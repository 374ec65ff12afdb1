#!/usr/bin/env python3
"""Fine-tunes a Hugging Face BERT directory for multiple choice with transformers' Trainer: the
reference side of `TASK=choice bench/finetune_side_by_side.sh`. The data are SWAG-layout TSVs
(scripts/make_choice_data.py: sent1, ending0..ending3, label); each candidate is read with its
context as transformers' run_swag.py does (truncated longest-first, padded per batch by
DataCollatorForMultipleChoice) by AutoModelForMultipleChoice. Hyper-parameters as hf_finetune.py
(`bert finetune`'s defaults). Prints one JSON line: system, seed, dev_accuracy, train_seconds,
total_seconds, train_rows, train_steps.

  .venv/bin/python bench/hf_finetune_choice.py --model DIR --train train.tsv --dev dev.tsv --seed 1 --threads 2
"""
import time

START = time.time()  # before the heavy imports, as in hf_finetune.py

import argparse
import csv
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_finetune  # noqa: E402  (the Trainer set-up both benchmarks share)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="Hugging Face BERT directory (config, weights, vocab)")
    p.add_argument("--train", required=True, help="SWAG-layout TSV with a header row")
    p.add_argument("--dev", required=True, help="SWAG-layout TSV, evaluated once after training")
    p.add_argument("--text-column", default="sent1")
    p.add_argument("--choice-columns", default="ending0,ending1,ending2,ending3")
    p.add_argument("--label-column", default="label")
    p.add_argument("--max-seq-len", type=int, default=128)
    hf_finetune.add_training_flags(p)
    return p.parse_args()


def read_rows(path, args):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    choices = args.choice_columns.split(",")
    return [(r[args.text_column], [r[c] for c in choices], int(r[args.label_column])) for r in rows]


def main():
    args = parse_args()
    hf_finetune.check_training_flags(args)

    import numpy as np
    from transformers import (AutoConfig, AutoModelForMultipleChoice, AutoTokenizer, DataCollatorForMultipleChoice,
                              set_seed)

    hf_finetune.quiet_torch(args)

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    # As `bert finetune`: no longer than the model's positions.
    max_len = min(args.max_seq_len, AutoConfig.from_pretrained(args.model).max_position_embeddings)

    def encode(rows):
        k = len(rows[0][1])
        enc = tokenizer([context for context, _, _ in rows for _ in range(k)],
                        [choice for _, choices, _ in rows for choice in choices],
                        truncation=True, max_length=max_len)
        return [{**{key: enc[key][i * k:(i + 1) * k] for key in ("input_ids", "token_type_ids", "attention_mask")},
                 "labels": label} for i, (_, _, label) in enumerate(rows)]

    train_set = encode(read_rows(args.train, args))
    dev_rows = read_rows(args.dev, args)
    dev_set = encode(dev_rows)

    set_seed(args.seed)  # before the model: the new head is drawn from this seed
    model = AutoModelForMultipleChoice.from_pretrained(args.model, **hf_finetune.model_overrides(args))
    out_dir = tempfile.mkdtemp(prefix="hf_finetune_choice_")
    trainer = hf_finetune.make_trainer(args, model, train_set, tokenizer, out_dir,
                                       data_collator=DataCollatorForMultipleChoice(tokenizer))
    t0 = time.time()
    trainer.train()
    train_seconds = time.time() - t0
    hf_finetune.save_model(args.save_final, model, tokenizer)

    logits = hf_finetune.predict_in_order(trainer, dev_set)
    if isinstance(logits, tuple):
        logits = logits[0]
    gold = np.array([label for _, _, label in dev_rows])
    accuracy = float((np.argmax(logits, axis=-1) == gold).mean())
    shutil.rmtree(out_dir, ignore_errors=True)
    print(json.dumps({"system": "transformers", "seed": args.seed, "dev_accuracy": round(accuracy, 6),
                      "train_seconds": round(train_seconds, 3), "total_seconds": round(time.time() - START, 3),
                      "train_rows": len(train_set), "train_steps": trainer.state.global_step}), flush=True)


if __name__ == "__main__":
    main()
