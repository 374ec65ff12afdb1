#!/usr/bin/env python3
"""Fine-tunes a Hugging Face BERT directory for token tagging (NER) on CoNLL files with
transformers' Trainer: the reference side of `TASK=tag bench/finetune_side_by_side.sh`.
Hyper-parameter flags and defaults are bench/hf_finetune.py's (`bert finetune`'s).

Sentences are read as `bert finetune --task tag` reads them (blank-line separated blocks, the word in
column 0 and the tag in --tag-column, -DOCSTART- blocks skipped) and encoded as transformers'
run_ner.py does: the words given pre-split (is_split_into_words), truncated to --max-seq-len tokens,
the first piece of each word labelled with its tag and the other pieces (and [CLS], [SEP]) with
-100, padded per batch by DataCollatorForTokenClassification. Tags are numbered in sorted order, as
ours numbers them. Dev: each word gets the tag predicted on its first piece (a word cut off by
truncation gets "O", as `bert evaluate` does), scored by entity-level micro F1 with conlleval's
rules for BIO tags.

Prints one JSON line: system, seed, dev_entity_f1, train_seconds, total_seconds, train_rows
(sentences), train_steps.

  .venv/bin/python bench/hf_finetune_tag.py --model DIR --train train.txt --dev valid.txt --seed 1 --threads 2
"""
import time

START = time.time()  # before the heavy imports, as in hf_finetune.py

import argparse
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_finetune  # noqa: E402  (the Trainer set-up the benchmarks share)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="Hugging Face BERT directory (config, weights, vocab)")
    p.add_argument("--train", required=True, help="CoNLL file: word ... tag per line, blank lines between sentences")
    p.add_argument("--dev", required=True, help="CoNLL file, evaluated once after training")
    p.add_argument("--tag-column", type=int, default=3, help="0-based column of the tag (CoNLL-2003: 3)")
    p.add_argument("--max-seq-len", type=int, default=128)
    hf_finetune.add_training_flags(p)
    return p.parse_args()


def read_conll(path, tag_column):
    """[(words, tags)] of the file's sentences."""
    sentences, words, tags = [], [], []
    with open(path, encoding="utf-8") as f:
        for line in list(f) + [""]:
            fields = line.split()
            if fields and fields[0] != "-DOCSTART-":
                words.append(fields[0])
                tags.append(fields[tag_column])
            elif not fields and words:
                sentences.append((words, tags))
                words, tags = [], []
    return sentences


def entities(tags):
    """{(type, first word, end word)} of a BIO tag sequence, by conlleval's rules: an entity starts at
    B-X, or at I-X after O or another type, and runs while I-X follows."""
    found, start, kind = set(), None, None
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, _, this_kind = tag.partition("-")
        if start is not None and (prefix != "I" or this_kind != kind):
            found.add((kind, start, i))
            start = None
        if prefix in ("B", "I") and start is None:
            start, kind = i, this_kind
    return found


def entity_f1(gold_sentences, predicted_sentences):
    correct = gold = predicted = 0
    for g, p in zip(gold_sentences, predicted_sentences):
        g, p = entities(g), entities(p)
        correct, gold, predicted = correct + len(g & p), gold + len(g), predicted + len(p)
    precision = correct / predicted if predicted else 0.0
    recall = correct / gold if gold else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def main():
    args = parse_args()
    hf_finetune.check_training_flags(args)

    import numpy as np
    from transformers import (AutoModelForTokenClassification, AutoTokenizer, DataCollatorForTokenClassification,
                              set_seed)

    hf_finetune.quiet_torch(args)

    train = read_conll(args.train, args.tag_column)
    dev = read_conll(args.dev, args.tag_column)
    names = sorted({t for _, tags in train for t in tags})
    tag_id = {name: i for i, name in enumerate(names)}
    unknown = {t for _, tags in dev for t in tags} - set(names)
    if unknown:
        sys.exit(f"{args.dev}: tags not in the training file: {sorted(unknown)}")

    tokenizer = AutoTokenizer.from_pretrained(args.model)

    def encode(sentences):
        enc = tokenizer([words for words, _ in sentences], is_split_into_words=True, truncation=True,
                        max_length=args.max_seq_len)
        examples, first_pieces = [], []
        for i, (_, tags) in enumerate(sentences):
            labels, firsts, previous = [], {}, None
            for j, word in enumerate(enc.word_ids(i)):
                if word is not None and word != previous:
                    labels.append(tag_id[tags[word]])
                    firsts[word] = j
                else:
                    labels.append(-100)
                previous = word
            examples.append({**{k: enc[k][i] for k in ("input_ids", "token_type_ids", "attention_mask")},
                             "labels": labels})
            first_pieces.append(firsts)
        return examples, first_pieces

    train_set, _ = encode(train)
    dev_set, dev_first_pieces = encode(dev)

    set_seed(args.seed)  # before the model: the new head is drawn from this seed
    model = AutoModelForTokenClassification.from_pretrained(
        args.model, num_labels=len(names), id2label=dict(enumerate(names)), label2id=tag_id,
        **hf_finetune.model_overrides(args))
    out_dir = tempfile.mkdtemp(prefix="hf_finetune_tag_")
    trainer = hf_finetune.make_trainer(args, model, train_set, tokenizer, out_dir,
                                       data_collator=DataCollatorForTokenClassification(tokenizer))
    t0 = time.time()
    trainer.train()
    train_seconds = time.time() - t0
    hf_finetune.save_model(args.save_final, model, tokenizer)

    logits = hf_finetune.predict_in_order(trainer, dev_set)
    if isinstance(logits, tuple):
        logits = logits[0]
    best = np.argmax(logits, axis=-1)
    predicted = [[names[best[i][firsts[w]]] if w in firsts else "O" for w in range(len(words))]
                 for i, ((words, _), firsts) in enumerate(zip(dev, dev_first_pieces))]
    f1 = entity_f1([tags for _, tags in dev], predicted)
    shutil.rmtree(out_dir, ignore_errors=True)
    print(json.dumps({"system": "transformers", "seed": args.seed, "dev_entity_f1": round(f1, 6),
                      "train_seconds": round(train_seconds, 3), "total_seconds": round(time.time() - START, 3),
                      "train_rows": len(train_set), "train_steps": trainer.state.global_step}), flush=True)


if __name__ == "__main__":
    main()
