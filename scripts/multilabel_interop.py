#!/usr/bin/env python3
"""Multi-label models move between transformers and us in both directions (CTest multilabel_interop).

  make-hf SRC OUT         a BertForSequenceClassification with problem_type multi_label_classification,
                          encoder from SRC, a fresh 4-label head (LOC, MISC, ORG, PER), saved by
                          transformers' save_pretrained into OUT
  compare MODEL DATA OURS transformers loads MODEL (ours or its own) and predicts DATA's `sentence`
                          column; OURS is `bert predict --output x.jsonl` on the same file: the
                          sigmoid probabilities must agree within 1e-4 and the predicted sets
                          (probability >= 0.5) must be equal, row for row

Run by scripts/multilabel_interop_test.sh.
"""
import csv
import json
import sys

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, BertForSequenceClassification

LABELS = ["LOC", "MISC", "ORG", "PER"]


def make_hf(src, out):
    torch.manual_seed(0)
    model = BertForSequenceClassification.from_pretrained(
        src, num_labels=len(LABELS), problem_type="multi_label_classification",
        id2label=dict(enumerate(LABELS)), label2id={n: i for i, n in enumerate(LABELS)})
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(src).save_pretrained(out)


def compare(model_dir, data, ours_jsonl):
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    assert model.config.problem_type == "multi_label_classification", model.config.problem_type
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    with open(data, encoding="utf-8") as f:
        sentences = [row["sentence"] for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
    ours = [json.loads(line) for line in open(ours_jsonl, encoding="utf-8")]
    assert len(ours) == len(sentences), (len(ours), len(sentences))
    worst = 0.0
    for start in range(0, len(sentences), 32):
        batch = tokenizer(sentences[start:start + 32], padding=True, truncation=True,
                          max_length=model.config.max_position_embeddings, return_tensors="pt")
        with torch.no_grad():
            probs = torch.sigmoid(model(**batch).logits)
        for r, row in enumerate(probs.tolist()):
            mine = ours[start + r]
            for name, p in zip(names, row):
                worst = max(worst, abs(p - mine["prob_" + name]))
            theirs = [n for n, p in zip(names, row) if p >= 0.5]
            assert theirs == mine["prediction"], (start + r, theirs, mine["prediction"])
    print(f"{model_dir}: {len(sentences)} rows, max |probability difference| {worst:.2e}, same label sets")
    assert worst <= 1e-4, worst


if __name__ == "__main__":
    if sys.argv[1] == "make-hf":
        make_hf(*sys.argv[2:4])
    elif sys.argv[1] == "compare":
        compare(*sys.argv[2:5])
    else:
        sys.exit(__doc__)
