#!/usr/bin/env python3
"""Extractive question-answering data (SQuAD v2.0 JSON) from a CoNLL NER file.

Real text with real answers for `bert finetune --task qa` tests, made from the entity tags:
each document (`-DOCSTART-` lines) is cut into passages of up to N consecutive sentences (never
across documents); the context is the passage's words joined by single spaces. Each entity type
has one fixed question. A passage that mentions exactly one distinct entity string of the type
gets it as an answerable question (answer: the first mention, answer_start its character offset);
two or more distinct strings give no question (the answer would be ambiguous). Unanswerable
questions (a type the passage does not mention) are asked on every K-th passage only, one per
passage, the type taken in turn, so that about a third of the questions have no answer, as in SQuAD
v2.0. Ids are "d<document>-p<passage>-<TYPE>" (0-based).

    python3 scripts/make_qa_data.py ../shared/data/conll2003/valid.txt out.json \\
        [--sentences-per-passage 5] [--unanswerable-every 2] [--limit-questions N]

--limit-questions stops at the first passage boundary where at least N questions were written.
"""
import argparse
import json
import os
import sys

QUESTIONS = {
    "PER": "Which person is mentioned?",
    "LOC": "Which place is mentioned?",
    "ORG": "Which organisation is mentioned?",
    "MISC": "Which other name (a nationality, event, title, ...) is mentioned?",
}


def documents(path):
    """Yields each document as a list of sentences, a sentence being a list of (word, tag)."""
    doc, sentence = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if parts and parts[0] != "-DOCSTART-":
                sentence.append((parts[0], parts[-1]))
                continue
            if sentence:
                doc.append(sentence)
            sentence = []
            if parts and doc:  # -DOCSTART-: the document so far is complete
                yield doc
                doc = []
    if sentence:
        doc.append(sentence)
    if doc:
        yield doc


def passage(sentences):
    """The context string and its entity mentions as (type, text, character start), in order."""
    words = [w for s in sentences for w in s]
    context, mentions, current = "", [], None
    for word, tag in words:
        start = len(context) + (1 if context else 0)
        context += (" " if context else "") + word
        kind = tag.split("-", 1)[1] if tag != "O" else None
        if kind and tag.startswith("I-") and current and current[0] == kind:
            current[1] = context[current[2]:]  # the mention grows to this word
        elif kind:
            current = [kind, word, start]
            mentions.append(current)
        else:
            current = None
    return context, [tuple(m) for m in mentions]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("conll")
    parser.add_argument("output")
    parser.add_argument("--sentences-per-passage", type=int, default=5)
    parser.add_argument("--unanswerable-every", type=int, default=2,
                        help="one unanswerable question on every K-th passage (0: none)")
    parser.add_argument("--limit-questions", type=int, default=0, help="stop after N questions (0: all)")
    args = parser.parse_args()
    name = os.path.basename(args.conll)
    data, passages, answerable, unanswerable = [], 0, 0, 0
    seen = 0  # passages so far, for the unanswerable questions' turn
    for d, doc in enumerate(documents(args.conll)):
        if args.limit_questions and answerable + unanswerable >= args.limit_questions:
            break
        paragraphs = []
        for p, first in enumerate(range(0, len(doc), args.sentences_per_passage)):
            if args.limit_questions and answerable + unanswerable >= args.limit_questions:
                break
            context, mentions = passage(doc[first:first + args.sentences_per_passage])
            kinds = list(QUESTIONS)
            ask_unanswerable = args.unanswerable_every > 0 and seen % args.unanswerable_every == 0
            turn = kinds[(seen // max(args.unanswerable_every, 1)) % len(kinds):] + kinds  # first absent type from here
            absent = next((k for k in turn if all(m[0] != k for m in mentions)), None) if ask_unanswerable else None
            seen += 1
            qas = []
            for kind, question in QUESTIONS.items():
                found = [(text, start) for k, text, start in mentions if k == kind]
                if len({text for text, _ in found}) > 1 or (not found and kind != absent):
                    continue
                qa = {"id": f"d{d}-p{p}-{kind}", "question": question, "answers": [], "is_impossible": not found}
                if found:
                    text, start = found[0]
                    assert context[start:start + len(text)] == text, (qa["id"], text, start)
                    qa["answers"].append({"text": text, "answer_start": start})
                    answerable += 1
                else:
                    unanswerable += 1
                qas.append(qa)
            if qas:
                paragraphs.append({"context": context, "qas": qas})
                passages += 1
        if paragraphs:
            data.append({"title": f"{name} document {d}", "paragraphs": paragraphs})
    with open(args.output, "w", encoding="utf-8") as out:
        json.dump({"version": "v2.0", "data": data}, out, ensure_ascii=False, indent=1)
        out.write("\n")
    print(f"{args.output}: {len(data)} documents, {passages} passages, {answerable + unanswerable} questions "
          f"({answerable} answerable, {unanswerable} unanswerable)", file=sys.stderr)


if __name__ == "__main__":
    main()
