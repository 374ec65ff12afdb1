#!/usr/bin/env python3
"""Multiple-choice models move between transformers and us in both directions (CTest choice_interop).

  make-hf SRC OUT         a BertForMultipleChoice with the encoder of SRC and a fresh head, saved by
                          transformers' save_pretrained into OUT
  compare MODEL DATA OURS transformers loads MODEL (ours or its own) and scores DATA's rows as its
                          run_swag.py example does (sent1 with each of ending0..3, truncated
                          longest-first to the model's positions); OURS is `bert predict --output
                          x.jsonl` on the same file: the candidates' probabilities must agree within
                          1e-4 and the picked candidate must be the same, row for row (unless the top
                          two are within 1e-4)

Run by scripts/choice_interop_test.sh.
"""
import csv
import json
import sys

import torch
from transformers import AutoModelForMultipleChoice, AutoTokenizer, BertForMultipleChoice

ENDINGS = [f"ending{k}" for k in range(4)]


def make_hf(src, out):
    torch.manual_seed(0)
    model = BertForMultipleChoice.from_pretrained(src)
    with torch.no_grad():  # a head far from uniform, so that picks are not decided by float noise
        model.classifier.weight.normal_(0.0, 1.0)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(src).save_pretrained(out)


def compare(model_dir, data, ours_jsonl):
    model = AutoModelForMultipleChoice.from_pretrained(model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    with open(data, encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    ours = [json.loads(line) for line in open(ours_jsonl, encoding="utf-8")]
    assert len(ours) == len(rows), (len(ours), len(rows))
    worst, truncated = 0.0, 0
    for start in range(0, len(rows), 16):
        batch = rows[start:start + 16]
        first = [row["sent1"] for row in batch for _ in ENDINGS]
        second = [row[e] for row in batch for e in ENDINGS]
        enc = tokenizer(first, second, truncation=True, max_length=model.config.max_position_embeddings,
                        padding=True, return_tensors="pt")
        truncated += int((enc["attention_mask"].sum(1) == model.config.max_position_embeddings).sum())
        with torch.no_grad():
            probs = torch.softmax(model(**{k: v.view(len(batch), len(ENDINGS), -1) for k, v in enc.items()}).logits, -1)
        for r, row in enumerate(probs.tolist()):
            mine = ours[start + r]
            for k, p in enumerate(row):
                worst = max(worst, abs(p - mine[f"prob_{k}"]))
            ranked = sorted(row, reverse=True)
            if ranked[0] - ranked[1] > 1e-4:  # a near tie may go either way in float32
                assert str(row.index(ranked[0])) == mine["prediction"], (start + r, row, mine)
    print(f"{model_dir}: {len(rows)} rows ({truncated} candidates at the length limit), max |probability difference| "
          f"{worst:.2e}, same picks where not tied")
    assert worst <= 1e-4, worst


if __name__ == "__main__":
    if sys.argv[1] == "make-hf":
        make_hf(*sys.argv[2:4])
    elif sys.argv[1] == "compare":
        compare(*sys.argv[2:5])
    else:
        sys.exit(__doc__)
