#!/usr/bin/env python3
"""Fine-tunes a Hugging Face BERT directory for extractive question answering (SQuAD JSON or JSON
lines) with transformers' Trainer: the reference side of `TASK=qa bench/finetune_side_by_side.sh`.
Hyper-parameter flags and defaults are bench/hf_finetune.py's (`bert finetune`'s); the window and
decoding flags are `bert finetune --task qa`'s (transformers' run_qa.py's defaults).

Training windows ("features") are made as run_qa.py makes them: the fast tokenizer reads question
then context, truncation="only_second", overflowing windows of --max-seq-len tokens sharing
--doc-stride context tokens, with offsets; a window is labelled with the first gold answer's first
and last token when it holds the whole answer, else with [CLS] (index 0), as `bert finetune` does
(bert/tasks/question_answering.cpp). A question longer than --max-query-len tokens is cut to that
many tokens, as ours does (run_qa.py has no such limit). No padding to --max-seq-len unless
--pad-to-max-length (run_qa.py's default): DataCollatorWithPadding pads each batch to its longest.

After training, trainer.predict runs over the dev windows; the answers are decoded by
scripts/qa_reference.py's predict_one (run_qa/utils_qa-style: n_best start and end candidates per
window, --max-answer-len, the null score and --null-threshold) fed with those logits, and scored by
qa_reference's SQuAD v2.0 metric, the same rules as `bert evaluate`. --allow-no-answer is on by
default when the training or dev data has unanswerable questions (as `bert evaluate` decides).

Prints one JSON line: system, seed, dev_f1, dev_exact_match (fractions 0..1), train_seconds,
total_seconds, train_questions, train_windows, train_steps.

  .venv/bin/python bench/hf_finetune_qa.py --model DIR --train train.json --dev dev.json --seed 1 --threads 2

Needs `accelerate` (Trainer refuses to start without it).
"""
import time

START = time.time()  # before the heavy imports: total_seconds covers them, as a user would wait for them

import argparse
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
from types import SimpleNamespace

import hf_finetune  # the Trainer's flags and set-up, shared with the classification reference

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="Hugging Face BERT directory (config, weights, vocab)")
    p.add_argument("--train", required=True, help="SQuAD JSON (or .jsonl) training questions")
    p.add_argument("--dev", required=True, help="SQuAD JSON (or .jsonl), evaluated once after training")
    hf_finetune.add_training_flags(p)  # --batch-size counts windows
    p.add_argument("--pad-to-max-length", action="store_true",
                   help="pad every window to --max-seq-len, as run_qa.py does by default (default: dynamic padding)")
    p.add_argument("--max-seq-len", type=int, default=384, help="tokens per window")
    p.add_argument("--doc-stride", type=int, default=128, help="context tokens shared by consecutive windows")
    p.add_argument("--max-query-len", type=int, default=64, help="question tokens kept")
    p.add_argument("--max-answer-len", type=int, default=30, help="longest answer, in tokens")
    p.add_argument("--n-best", type=int, default=20, help="start and end candidates paired per window")
    p.add_argument("--null-threshold", type=float, default=0.0,
                   help="answer \"none\" when its score beats the best span's by more than this")
    p.add_argument("--allow-no-answer", action=argparse.BooleanOptionalAction, default=None,
                   help="a question may have no answer (SQuAD v2.0); default: when the training or dev data "
                        "has unanswerable questions")
    return p.parse_args()


def read_squad(path):
    """[(id, question, context, [(answer text, answer_start)])] from SQuAD JSON or JSON lines."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if path.endswith(".jsonl"):
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        return [(r["id"], r["question"], r["context"], list(zip(r["answers"]["text"], r["answers"]["answer_start"])))
                for r in rows]
    return [(qa["id"], qa["question"], p["context"], [(a["text"], a["answer_start"]) for a in qa["answers"]])
            for doc in json.loads(text)["data"] for p in doc["paragraphs"] for qa in p["qas"]]


class ReplayModel:
    """Stands in for the model in qa_reference.predict_one: hands back, window by window, the logits
    trainer.predict computed, after checking that predict_one's window is the one they belong to."""

    def __init__(self, torch):
        self.torch = torch
        self.queue = []  # (input_ids, start_logits, end_logits) of the question being decoded

    def __call__(self, input_ids, **_):
        ids, start, end = self.queue.pop(0)
        assert input_ids[0].tolist() == ids, "predict_one's window differs from the predicted one"
        return SimpleNamespace(start_logits=self.torch.from_numpy(start)[None],
                               end_logits=self.torch.from_numpy(end)[None])


def main():
    args = parse_args()
    hf_finetune.check_training_flags(args)

    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer, set_seed
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    import qa_reference  # decoding and the SQuAD metric, shared with the qa_interop test

    hf_finetune.quiet_torch(args)

    train = read_squad(args.train)
    dev = read_squad(args.dev)
    if args.allow_no_answer is None:  # as `bert finetune` (training data) and `bert evaluate` (dev data) decide
        args.allow_no_answer = any(not answers for *_, answers in train + dev)

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    assert tokenizer.is_fast, "offsets and overflowing windows need a fast tokenizer"

    def cut_questions(examples):
        """The questions, each cut after its --max-query-len-th token (ours keeps that many tokens)."""
        questions = [q for _, q, _, _ in examples]
        enc = tokenizer(questions, add_special_tokens=False, return_offsets_mapping=True)
        return [q if len(offsets) <= args.max_query_len else q[:offsets[args.max_query_len - 1][1]]
                for q, offsets in zip(questions, enc["offset_mapping"])]

    def windows(examples, questions):
        return tokenizer(questions, [c for _, _, c, _ in examples], truncation="only_second",
                         max_length=args.max_seq_len, stride=args.doc_stride, return_overflowing_tokens=True,
                         return_offsets_mapping=True,
                         padding="max_length" if args.pad_to_max_length else False)

    def label(enc, i, answers):
        """(start, end) token positions of the first answer in window i, or (0, 0) = [CLS]."""
        if not answers:
            return 0, 0
        text, start_char = answers[0]
        end_char = start_char + len(text)
        offsets = enc["offset_mapping"][i]
        context = [j for j, s in enumerate(enc.sequence_ids(i)) if s == 1]
        if not context or offsets[context[0]][0] > start_char or offsets[context[-1]][1] < end_char:
            return 0, 0
        start = max(j for j in context if offsets[j][0] <= start_char)  # the last token starting at or before it
        end = next(j for j in context if j >= start and offsets[j][1] >= end_char)
        return start, end

    train_enc = windows(train, cut_questions(train))
    keys = ("input_ids", "token_type_ids", "attention_mask")
    train_set = []
    for i, e in enumerate(train_enc["overflow_to_sample_mapping"]):
        start, end = label(train_enc, i, train[e][3])
        train_set.append({**{k: train_enc[k][i] for k in keys}, "start_positions": start, "end_positions": end})
    dev_questions = cut_questions(dev)
    dev_enc = windows(dev, dev_questions)
    dev_set = [{k: dev_enc[k][i] for k in keys} for i in range(len(dev_enc["input_ids"]))]

    set_seed(args.seed)  # before the model: the new qa_outputs head is drawn from this seed
    model = AutoModelForQuestionAnswering.from_pretrained(args.model, **hf_finetune.model_overrides(args))

    out_dir = tempfile.mkdtemp(prefix="hf_finetune_qa_")
    trainer = hf_finetune.make_trainer(args, model, train_set, tokenizer, out_dir)

    t0 = time.time()
    trainer.train()
    train_seconds = time.time() - t0
    hf_finetune.save_model(args.save_final, model, tokenizer)

    start_logits, end_logits = hf_finetune.predict_in_order(trainer, dev_set)[:2]  # padded with -100
    replay = ReplayModel(torch)
    by_question = [[] for _ in dev]
    for i, e in enumerate(dev_enc["overflow_to_sample_mapping"]):
        n = sum(dev_enc["attention_mask"][i])  # the window's tokens, without padding
        # Rows are -100 past their batch's longest window: a shuffled row would often be cut short.
        assert (start_logits[i][:n] != -100).all(), f"prediction row {i} is not window {i}"
        by_question[e].append((dev_enc["input_ids"][i][:n], start_logits[i][:n], end_logits[i][:n]))
    predictions = os.path.join(out_dir, "predictions.jsonl")
    with open(predictions, "w", encoding="utf-8") as out:
        for (qid, _, context, _), question, features in zip(dev, dev_questions, by_question):
            replay.queue = features
            answer, *_ = qa_reference.predict_one(replay, tokenizer, question, context, args)
            assert not replay.queue, "predict_one read fewer windows than were predicted"
            out.write(json.dumps({"id": qid, "answer": answer}, ensure_ascii=False) + "\n")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):  # squad_metric prints its result
        qa_reference.squad_metric(SimpleNamespace(data=args.dev, predictions=predictions))
    metric = json.loads(printed.getvalue())

    shutil.rmtree(out_dir, ignore_errors=True)
    print(json.dumps({"system": "transformers", "seed": args.seed, "dev_f1": round(metric["f1"], 6),
                      "dev_exact_match": round(metric["exact_match"], 6),
                      "train_seconds": round(train_seconds, 3), "total_seconds": round(time.time() - START, 3),
                      "train_questions": len(train), "train_windows": len(train_set),
                      "train_steps": trainer.state.global_step}), flush=True)


if __name__ == "__main__":
    main()
