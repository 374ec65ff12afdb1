#!/usr/bin/env python3
"""Fine-tunes a Hugging Face BERT directory on a labelled TSV with transformers' Trainer: the
reference side of bench/finetune_side_by_side.sh. Hyper-parameter defaults are `bert finetune`'s.
The optimizer is the Trainer's default, PyTorch's fused AdamW (`bert finetune` runs the same kernel).
Prints one JSON line: system, seed, dev_accuracy (with --multilabel: dev_micro_f1; with
--regression: dev_pearson), train_seconds, total_seconds, train_rows, train_steps. --multilabel reads
each label field as a set of names (`--label-separator`, empty = no label) and trains with
problem_type multi_label_classification (BCE); a dev label is predicted where its sigmoid is >= 0.5,
as `bert evaluate` does. --regression reads the label as a number: one output, mean squared error.
--text-pair-column makes sentence pairs.

  .venv/bin/python bench/hf_finetune.py --model DIR --train train.tsv --dev dev.tsv \
      --text-column sentence --label-column label --seed 1 --threads 2

Needs `accelerate` (Trainer refuses to start without it).
"""
import time

START = time.time()  # before the heavy imports: total_seconds covers them, as a user would wait for them

import argparse
import csv
import json
import os
import shutil
import sys
import tempfile


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="Hugging Face BERT directory (config, weights, vocab)")
    p.add_argument("--train", required=True, help="labelled TSV with a header row")
    p.add_argument("--dev", required=True, help="labelled TSV, evaluated once after training")
    p.add_argument("--text-column", default="sentence")
    p.add_argument("--label-column", default="label")
    p.add_argument("--text-pair-column", default=None, help="second text of sentence pairs (default: none)")
    p.add_argument("--train-rows", type=int, default=0, help="use only the first N training rows (0 = all)")
    p.add_argument("--max-seq-len", type=int, default=128)
    p.add_argument("--pad-to-max-length", action="store_true",
                   help="pad every example to --max-seq-len, as the usual tutorials do (default: dynamic padding)")
    p.add_argument("--multilabel", action="store_true", help="label fields are sets of labels (multi-label)")
    p.add_argument("--regression", action="store_true", help="label fields are numbers (one output, MSE)")
    p.add_argument("--label-separator", default=",", help="--multilabel: between the names of a set")
    add_training_flags(p)
    return p.parse_args()


def add_training_flags(p):
    """The Trainer's settings, with `bert finetune`'s defaults (shared with hf_finetune_qa.py)."""
    p.add_argument("--epochs", type=float, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--grad-accum", type=int, default=1, help="micro-batches per optimizer step")
    p.add_argument("--average-micro-batches", action="store_true",
                   help="with --grad-accum: a step's loss is the mean of its micro-batches' losses, as `bert finetune` "
                        "computes it. Without it transformers 5 sums them for BERT's heads (their forward takes "
                        "**kwargs, so the Trainer expects them to divide by num_items_in_batch, which they ignore: "
                        "transformers issue #47688), giving --grad-accum times the loss and gradients")
    p.add_argument("--lr", type=float, default=2e-5)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--adam-eps", type=float, default=1e-8)
    p.add_argument("--warmup-ratio", type=float, default=0.1)
    p.add_argument("--clip-norm", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0 = torch's default)")
    p.add_argument("--max-steps", type=int, default=0,
                   help="stop after N optimizer steps (0 = run the epochs): for timing part of an epoch")
    p.add_argument("--optim", default="adamw_torch_fused",
                   help="Trainer's optimizer (default adamw_torch_fused, the Trainer's own default)")
    p.add_argument("--bf16", action="store_true", help="Trainer's bf16 autocast (works on CPU)")
    p.add_argument("--group-by-length", action="store_true",
                   help="Trainer's length-grouped sampler, as `bert finetune --group-by-length`")
    # For replaying one run on both sides step by step (scripts/finetune_trace_interop.py):
    p.add_argument("--in-order", action="store_true",
                   help="Trainer's sequential sampler: batches in the data's order, as `bert finetune --in-order`")
    p.add_argument("--dropout", type=float, default=None,
                   help="hidden, attention and classifier dropout (default: the config's)")
    p.add_argument("--save-initial", metavar="DIR",
                   help="save the model with its new head here before training, for `bert finetune --init DIR`")
    p.add_argument("--save-final", metavar="DIR", help="save the trained model here")
    p.add_argument("--trace", metavar="FILE",
                   help="write each optimizer step's loss, gradient norm and learning rate here (JSON lines)")


def quiet_torch(args):
    """--threads for torch, and transformers' warnings and from_pretrained's progress bar off."""
    import torch
    import transformers
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()


def check_training_flags(args):
    """Refuses what the Trainer would misread; keeps the tokenizer's thread pool to --threads (call it
    before importing transformers)."""
    if not 0 <= args.warmup_ratio < 1:  # Trainer would read 1 or more as a step count
        sys.exit(f"--warmup-ratio: expected a value in [0, 1), found {args.warmup_ratio}")
    if args.threads > 0:
        # The fast tokenizer encodes batches on a Rust thread pool sized to all cores; keep it to the budget.
        os.environ.setdefault("RAYON_NUM_THREADS", str(args.threads))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def model_overrides(args):
    """from_pretrained's config overrides for --dropout."""
    if args.dropout is None:
        return {}
    return {"hidden_dropout_prob": args.dropout, "attention_probs_dropout_prob": args.dropout,
            "classifier_dropout": args.dropout}


def save_model(directory, model, tokenizer):
    """The model and its tokenizer as a Hugging Face directory (--save-initial, --save-final)."""
    if directory:
        model.save_pretrained(directory)
        tokenizer.save_pretrained(directory)


def make_trainer(args, model, train_set, tokenizer, out_dir, data_collator=None):
    """A Trainer on the CPU with add_training_flags' settings, dynamic padding (data_collator, default
    DataCollatorWithPadding), and nothing saved, evaluated or logged (stdout is the caller's JSON line
    only) but for --trace. Saves the initial model first when --save-initial asks for it."""
    from transformers import DataCollatorWithPadding, PrinterCallback, Trainer, TrainerCallback, TrainingArguments
    save_model(args.save_initial, model, tokenizer)
    training_args = TrainingArguments(
        output_dir=out_dir,  # Trainer makes it even when it saves nothing
        use_cpu=True,  # `bert finetune` defaults to the CPU too
        seed=args.seed,
        num_train_epochs=args.epochs,
        max_steps=args.max_steps if args.max_steps > 0 else -1,
        per_device_train_batch_size=args.batch_size,
        gradient_accumulation_steps=args.grad_accum,
        per_device_eval_batch_size=args.batch_size * 2,  # as `bert finetune`'s dev pass
        learning_rate=args.lr,
        weight_decay=args.weight_decay,
        adam_epsilon=args.adam_eps,
        max_grad_norm=args.clip_norm,
        lr_scheduler_type="linear",
        warmup_steps=args.warmup_ratio,  # transformers 5: a float below 1 is a ratio, ceil(ratio * total steps)
        optim=args.optim,
        bf16=args.bf16,
        train_sampling_strategy=("sequential" if args.in_order else
                                 "group_by_length" if args.group_by_length else "random"),
        save_strategy="no",
        eval_strategy="no",
        logging_strategy="steps" if args.trace else "no",
        logging_steps=1,
        report_to="none",
        disable_tqdm=True,
    )
    trainer = Trainer(model=model, args=training_args, train_dataset=train_set,
                      data_collator=data_collator or DataCollatorWithPadding(tokenizer))
    trainer.remove_callback(PrinterCallback)  # it prints the final train metrics
    if args.average_micro_batches:
        trainer.model_accepts_loss_kwargs = False  # the Trainer then divides each micro-batch's loss by --grad-accum
    if args.trace:
        trace = open(args.trace, "w", encoding="utf-8")

        class StepTrace(TrainerCallback):
            def on_log(self, _args, state, _control, logs=None, **_):
                if logs and "loss" in logs:  # a step's log (the last one is the train summary)
                    trace.write(json.dumps({"step": state.global_step, "loss": logs["loss"],
                                            "grad_norm": logs.get("grad_norm"), "lr": logs.get("learning_rate")}) + "\n")
                    trace.flush()

            def on_train_end(self, *_, **__):
                trace.close()

        trainer.add_callback(StepTrace())
    return trainer


def predict_in_order(trainer, dataset):
    """trainer.predict's outputs in the dataset's order. transformers 5 also gives the evaluation
    loader a length-grouped sampler when train_sampling_strategy is group_by_length, and then
    predictions come back shuffled; predict sequentially instead."""
    trainer.args.train_sampling_strategy = "random"
    return trainer.predict(dataset).predictions


def read_tsv(path, text_column, label_column, limit=0, pair_column=None):
    """(texts, labels); a text is a (first, second) pair with pair_column."""
    # GLUE TSVs are unquoted: a literal " is text, so no CSV quoting. utf-8-sig: MRPC starts with a BOM.
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(rows)
        try:
            ti, li = header.index(text_column), header.index(label_column)
            pi = header.index(pair_column) if pair_column else None
        except ValueError as e:
            sys.exit(f"{path}: {e} (header: {header})")
        texts, labels = [], []
        for row in rows:
            if limit and len(texts) == limit:
                break
            texts.append(row[ti] if pi is None else (row[ti], row[pi]))
            labels.append(row[li])
    return texts, labels


def main():
    args = parse_args()
    check_training_flags(args)

    import numpy as np
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, set_seed

    quiet_torch(args)

    train_texts, train_labels = read_tsv(args.train, args.text_column, args.label_column, args.train_rows,
                                         args.text_pair_column)
    dev_texts, dev_labels = read_tsv(args.dev, args.text_column, args.label_column, 0, args.text_pair_column)
    def label_set(field):
        return [n.strip() for n in field.split(args.label_separator)] if field.strip() else []

    if args.regression:
        train_labels = [float(f) for f in train_labels]
        dev_labels = [float(f) for f in dev_labels]
        names, unknown = ["LABEL_0"], set()
    elif args.multilabel:
        train_labels = [label_set(f) for f in train_labels]
        dev_labels = [label_set(f) for f in dev_labels]
        names = sorted({n for s in train_labels for n in s})
        unknown = {n for s in dev_labels for n in s} - set(names)
    else:
        names = sorted(set(train_labels))  # the training file's label strings, sorted -> 0..n-1
        unknown = set(dev_labels) - set(names)
    label_id = {name: i for i, name in enumerate(names)}
    if unknown:
        sys.exit(f"{args.dev}: labels not in the training file: {sorted(unknown)}")

    tokenizer = AutoTokenizer.from_pretrained(args.model)

    def target(label):
        if args.regression:
            return label
        if not args.multilabel:
            return label_id[label]
        hot = [0.0] * len(names)
        for n in label:
            hot[label_id[n]] = 1.0
        return hot

    def encode(texts, labels):
        # Truncate (and pad to max length only if asked); DataCollatorWithPadding pads each batch to its longest.
        pairs = isinstance(texts[0], tuple)
        enc = tokenizer([t[0] for t in texts] if pairs else texts, [t[1] for t in texts] if pairs else None,
                        truncation=True, max_length=args.max_seq_len,
                        padding="max_length" if args.pad_to_max_length else False)
        return [{"input_ids": enc["input_ids"][i], "token_type_ids": enc["token_type_ids"][i],
                 "attention_mask": enc["attention_mask"][i], "labels": target(labels[i])}
                for i in range(len(texts))]

    train_set = encode(train_texts, train_labels)
    dev_set = encode(dev_texts, dev_labels)

    set_seed(args.seed)  # before the model: the new classification head is drawn from this seed
    model = AutoModelForSequenceClassification.from_pretrained(
        args.model, num_labels=len(names), id2label=dict(enumerate(names)), label2id=label_id,
        problem_type=("regression" if args.regression else
                      "multi_label_classification" if args.multilabel else "single_label_classification"),
        **model_overrides(args))

    out_dir = tempfile.mkdtemp(prefix="hf_finetune_")
    trainer = make_trainer(args, model, train_set, tokenizer, out_dir)

    t0 = time.time()
    trainer.train()
    train_seconds = time.time() - t0
    save_model(args.save_final, model, tokenizer)

    logits = predict_in_order(trainer, dev_set)
    if isinstance(logits, tuple):
        logits = logits[0]
    if args.regression:
        metric = ("dev_pearson", float(np.corrcoef(logits[:, 0], np.array(dev_labels))[0, 1]))
    elif args.multilabel:
        gold = np.array([target(label) for label in dev_labels]) > 0.5
        predicted = 1 / (1 + np.exp(-logits)) >= 0.5
        tp = int((gold & predicted).sum())
        metric = ("dev_micro_f1", 2 * tp / max(1, int(gold.sum() + predicted.sum())))
    else:
        gold = np.array([label_id[label] for label in dev_labels])
        metric = ("dev_accuracy", float((np.argmax(logits, axis=-1) == gold).mean()))

    shutil.rmtree(out_dir, ignore_errors=True)
    print(json.dumps({"system": "transformers", "seed": args.seed, metric[0]: round(metric[1], 6),
                      "train_seconds": round(train_seconds, 3), "total_seconds": round(time.time() - START, 3),
                      "train_rows": len(train_set),
                      "train_steps": trainer.state.global_step}), flush=True)


if __name__ == "__main__":
    main()
