#!/usr/bin/env python3
"""Extractive question answering with transformers as the reference for `bert predict`/`evaluate`
on QA models (CTest qa_interop, scripts/qa_interop_test.sh).

  make-hf SRC OUT             SRC's encoder as a BertForQuestionAnswering with a seeded, scaled-up
                              qa_outputs head (so that span scores are spread out, not near-ties),
                              saved with save_pretrained, plus SRC's tokenizer
  predict MODEL DATA OUT      the reference predictions, one JSON line per question in input order:
                              {"id", "question", "answer", "score", "start", "end"}
  compare REF OURS [--tol T]  same ids in the same order, same answer/start/end, |score diff| <= T
  squad-metric DATA PREDS     SQuAD v2.0's exact match and F1 (fractions 0..1) of a predictions file

DATA is SQuAD JSON ({"data": [{"paragraphs": [{"context", "qas": [...]}]}]}) or JSON lines
({"id", "question", "context", "answers": {"text": [...], "answer_start": [...]}}).

predict follows transformers' examples/pytorch/question-answering (run_qa.py and its utils_qa.py
postprocessing): the fast tokenizer cuts the context into windows ("features") of max_seq_len tokens
overlapping by doc_stride tokens, question first; in each window the n_best largest start and end
logits are paired, keeping pairs inside the context with end >= start and at most max_answer_len
tokens; a span scores start_logit + end_logit and the best over all windows wins. The null score is
the smallest [CLS] start + end logit over the windows; with --allow-no-answer, no answer is given
when null_score - best_span_score > --null-threshold. "score" is a probability: in the winning
window, softmax of the start logits over {[CLS]} + context tokens times the same for the end logits,
at the span's (start, end), or at (0, 0) in the null window for no answer. start/end are character
offsets into the context (end exclusive), null for no answer.
"""
import argparse
import collections
import json
import re
import string
import sys

import numpy as np
import torch
from transformers import AutoModelForQuestionAnswering, AutoTokenizer, BertForQuestionAnswering
from transformers.utils import logging

logging.set_verbosity_error()  # no load reports (the fresh head is expected) or progress bars in test logs
logging.disable_progress_bar()


def make_hf(args):
    torch.manual_seed(0)
    model = BertForQuestionAnswering.from_pretrained(args.src)
    with torch.no_grad():
        torch.nn.init.normal_(model.qa_outputs.weight, std=0.5)
        torch.nn.init.normal_(model.qa_outputs.bias, std=0.5)
    model.save_pretrained(args.out)
    AutoTokenizer.from_pretrained(args.src).save_pretrained(args.out)


def load_examples(path):
    """[(id, question, context, gold answer texts)] from SQuAD JSON or JSON lines."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if path.endswith(".jsonl"):
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        return [(r["id"], r["question"], r["context"], list(r["answers"]["text"])) for r in rows]
    return [(qa["id"], qa["question"], p["context"], [a["text"] for a in qa["answers"]])
            for doc in json.loads(text)["data"] for p in doc["paragraphs"] for qa in p["qas"]]


def probability(start_logits, end_logits, allowed, start, end):
    """softmax(start logits over `allowed`)[start] * softmax(end logits over `allowed`)[end]."""
    def softmax_at(logits, i):
        x = logits[allowed].astype(np.float64)
        return float(np.exp(logits[i] - x.max()) / np.exp(x - x.max()).sum())
    return softmax_at(start_logits, start) * softmax_at(end_logits, end)


def predict_one(model, tokenizer, question, context, args):
    enc = tokenizer(question, context, truncation="only_second", max_length=args.max_seq_len,
                    stride=args.doc_stride, return_overflowing_tokens=True, return_offsets_mapping=True)
    assert enc.sequence_ids(0).count(0) <= args.max_query_len, f"question too long: {question!r}"
    best, null = None, None  # (score, feature, start, end), (score, feature)
    features = []
    for f in range(len(enc["input_ids"])):
        batch = {k: torch.tensor([enc[k][f]]) for k in ("input_ids", "token_type_ids", "attention_mask")}
        with torch.no_grad():
            out = model(**batch)
        start_logits, end_logits = out.start_logits[0].numpy(), out.end_logits[0].numpy()
        in_context = [s == 1 for s in enc.sequence_ids(f)]
        features.append((start_logits, end_logits, [0] + [i for i, c in enumerate(in_context) if c]))
        null_score = float(start_logits[0] + end_logits[0])
        if null is None or null_score < null[0]:
            null = (null_score, f)
        for s in np.argsort(start_logits)[::-1][:args.n_best]:
            for e in np.argsort(end_logits)[::-1][:args.n_best]:
                if not (in_context[s] and in_context[e]) or e < s or e - s + 1 > args.max_answer_len:
                    continue
                score = float(start_logits[s] + end_logits[e])
                if best is None or score > best[0]:
                    best = (score, f, int(s), int(e))
    if best is None or (args.allow_no_answer and null[0] - best[0] > args.null_threshold):
        return "", probability(*features[null[1]][:2], features[null[1]][2], 0, 0), None, None
    _, f, s, e = best
    begin, end = enc["offset_mapping"][f][s][0], enc["offset_mapping"][f][e][1]
    return context[begin:end], probability(*features[f][:2], features[f][2], s, e), begin, end


def predict(args):
    torch.set_num_threads(1)
    model = AutoModelForQuestionAnswering.from_pretrained(args.model, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    assert tokenizer.is_fast, "offsets and overflowing windows need a fast tokenizer"
    with open(args.output, "w", encoding="utf-8") as out:
        for qid, question, context, _ in load_examples(args.data):
            answer, score, start, end = predict_one(model, tokenizer, question, context, args)
            out.write(json.dumps({"id": qid, "question": question, "answer": answer, "score": score,
                                  "start": start, "end": end}, ensure_ascii=False) + "\n")


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def compare(args):
    ref, ours = read_jsonl(args.ref), read_jsonl(args.ours)
    assert [r["id"] for r in ref] == [o["id"] for o in ours], "the ids differ (or their order)"
    worst, mismatches = 0.0, 0
    for r, o in zip(ref, ours):
        diff = abs(r["score"] - o["score"])
        worst = max(worst, diff)
        if [r["answer"], r["start"], r["end"]] != [o["answer"], o["start"], o["end"]] or diff > args.tol:
            mismatches += 1
            print(f"MISMATCH {r['id']}: reference {r['answer']!r} [{r['start']}, {r['end']}) score {r['score']:.6g}; "
                  f"ours {o['answer']!r} [{o['start']}, {o['end']}) score {o['score']:.6g}")
    print(f"{args.ours}: {len(ref)} questions, {sum(bool(r['answer']) for r in ref)} answered by the reference, "
          f"max |score difference| {worst:.2e}, {mismatches} mismatches")
    sys.exit(1 if mismatches else 0)


def normalize(text):
    text = "".join(c for c in text.lower() if c not in string.punctuation)
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def f1(gold, pred):
    gold_tokens, pred_tokens = normalize(gold).split(), normalize(pred).split()
    if not gold_tokens or not pred_tokens:
        return float(gold_tokens == pred_tokens)
    same = sum((collections.Counter(gold_tokens) & collections.Counter(pred_tokens)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def squad_metric(args):
    predictions = {p["id"]: p["answer"] for p in read_jsonl(args.predictions)}
    scores = {True: [], False: []}  # has an answer -> [(exact, f1)]
    for qid, _, _, answers in load_examples(args.data):
        assert qid in predictions, f"no prediction for {qid}"
        golds = [a for a in answers if normalize(a)] or [""]  # as the official script
        pred = predictions[qid]
        scores[bool(answers)].append((max(float(normalize(g) == normalize(pred)) for g in golds),
                                      max(f1(g, pred) for g in golds)))
    every = scores[True] + scores[False]
    result = {"exact_match": sum(e for e, _ in every) / len(every), "f1": sum(f for _, f in every) / len(every),
              "total": len(every)}
    if scores[True] and scores[False]:
        result.update({
            "has_answer_exact_match": sum(e for e, _ in scores[True]) / len(scores[True]),
            "has_answer_f1": sum(f for _, f in scores[True]) / len(scores[True]),
            "has_answer_total": len(scores[True]),
            "no_answer_exact_match": sum(e for e, _ in scores[False]) / len(scores[False]),
            "no_answer_total": len(scores[False])})
    print(json.dumps(result, indent=1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("make-hf")
    p.add_argument("src")
    p.add_argument("out")
    p.set_defaults(run=make_hf)
    p = sub.add_parser("predict")
    p.add_argument("model")
    p.add_argument("data")
    p.add_argument("output")
    p.add_argument("--max-seq-len", type=int, default=384)
    p.add_argument("--doc-stride", type=int, default=128)
    p.add_argument("--max-query-len", type=int, default=64)
    p.add_argument("--max-answer-len", type=int, default=30)
    p.add_argument("--n-best", type=int, default=20)
    p.add_argument("--null-threshold", type=float, default=0.0)
    p.add_argument("--allow-no-answer", action="store_true")
    p.set_defaults(run=predict)
    p = sub.add_parser("compare")
    p.add_argument("ref")
    p.add_argument("ours")
    p.add_argument("--tol", type=float, default=1e-4)
    p.set_defaults(run=compare)
    p = sub.add_parser("squad-metric")
    p.add_argument("data")
    p.add_argument("predictions")
    p.set_defaults(run=squad_metric)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
