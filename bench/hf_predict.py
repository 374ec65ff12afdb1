#!/usr/bin/env python3
"""Predicts with a fine-tuned Hugging Face BERT sequence-classification directory: the reference
side of bench/predict_side_by_side.sh. Batches follow file order, each padded to its longest row
(max 128 tokens). Prints one JSON line: system, rows, predict_seconds (tokenise + forward of all
rows), total_seconds (whole process, imports included).

  .venv/bin/python bench/hf_predict.py --model DIR --input dev.tsv --text-column sentence --threads 2
  .venv/bin/python bench/hf_predict.py --model DIR --text "a gripping , funny film ."   # start-up

--output writes a TSV: prediction (the label name from config.json's id2label), prob_<label> ...
"""
import time

START = time.perf_counter()  # before the heavy imports: total_seconds covers them, as a user would wait for them

import argparse
import csv
import json
import sys


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="fine-tuned Hugging Face BERT directory")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--input", help="TSV with a header row")
    src.add_argument("--text", help="predict this one sentence instead of --input")
    p.add_argument("--text-column", default="sentence")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--max-seq-len", type=int, default=128)
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0 = torch's default)")
    p.add_argument("--output", help="write predictions as TSV (default: none)")
    return p.parse_args()


def read_texts(path, column):
    # SST-2 style TSV: tab-separated, quotes are literal.
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        idx = int(column) if column.isdigit() else header.index(column)
        return [row[idx] for row in reader if row]


def main():
    args = parse_args()
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    texts = [args.text] if args.text is not None else read_texts(args.input, args.text_column)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForSequenceClassification.from_pretrained(args.model)
    model.eval()
    id2label = model.config.id2label
    labels = [str(id2label[i]) for i in range(model.config.num_labels)]

    preds, probs = [], []
    t0 = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(texts), args.batch_size):
            enc = tokenizer(texts[i:i + args.batch_size], padding=True, truncation=True,
                            max_length=args.max_seq_len, return_tensors="pt")
            p = torch.softmax(model(**enc).logits, dim=-1)
            probs.extend(p.tolist())
            preds.extend(p.argmax(dim=-1).tolist())
    predict_seconds = time.perf_counter() - t0

    if args.output:
        with open(args.output, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\", lineterminator="\n")
            w.writerow(["prediction"] + [f"prob_{l}" for l in labels])
            for k, pr in zip(preds, probs):
                w.writerow([labels[k]] + [f"{x:.6f}" for x in pr])
    if args.text is not None:
        print(json.dumps({"text": args.text, "prediction": labels[preds[0]],
                          **{f"prob_{l}": x for l, x in zip(labels, probs[0])}}), file=sys.stderr)
    print(json.dumps({"system": "transformers", "rows": len(texts), "predict_seconds": round(predict_seconds, 4),
                      "total_seconds": round(time.perf_counter() - START, 4)}))


if __name__ == "__main__":
    main()
