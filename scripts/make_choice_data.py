#!/usr/bin/env python3
"""Multiple-choice data in SWAG's layout from Project Gutenberg novels: which sentence comes next?

Real text for `bert finetune --task choice` tests and benchmarks. Each novel's body (between the
"*** START OF" and "*** END OF" lines when present) is split into paragraphs at blank lines, and each
paragraph into sentences at '.', '!' or '?' followed by a space and a capital or an opening quote
(not after Mr., Mrs., Dr., ... or an initial). Every pair of consecutive sentences of 5 to 40 words in one paragraph is a candidate row: the first
sentence is the context (`sent1`), the second the right ending; the three wrong endings are second
sentences of other pairs of the same novel, drawn at random (so they are as fluent as the right one
and share its author's style; SWAG's distractors are adversarially filtered, these are not). The
right ending's column is drawn at random too. Columns: id, sent1, ending0, ending1, ending2,
ending3, label (0-3). Tabs and line breaks inside a sentence become spaces.

    python3 scripts/make_choice_data.py OUT.tsv NOVEL.txt... [--rows N] [--seed S]

--rows keeps N rows drawn evenly across the novels (default: all).
"""
import argparse
import random
import re
import sys

SENTENCE_END = re.compile(r'(?<=[.!?])["\u201d\u2019\']?\s+(?=["\u201c\u2018\']?[A-Z])')
# A piece ending in one of these (or in an initial, "J.") does not end a sentence.
ABBREVIATION = re.compile(r"(\b(Mr|Mrs|Ms|Dr|St|Mme|Mlle|Messrs|Capt|Col|Gen|Prof|Rev|Jr|Sr|Lt|No|Vol)|\b[A-Z])\.$")
ENDINGS = 4


def body(text):
    """The novel without Gutenberg's header and licence, when their markers are there."""
    start = re.search(r"^\*\*\* ?START OF.*$", text, re.M)
    end = re.search(r"^\*\*\* ?END OF.*$", text, re.M)
    return text[start.end() if start else 0:end.start() if end else len(text)]


def sentence_pairs(path):
    with open(path, encoding="utf-8-sig") as f:
        text = body(f.read().replace("\r\n", "\n"))
    pairs = []
    for paragraph in re.split(r"\n\s*\n", text):
        flat = " ".join(paragraph.split())
        sentences = []
        for piece in SENTENCE_END.split(flat):
            if sentences and ABBREVIATION.search(sentences[-1]):
                sentences[-1] += " " + piece
            elif piece.strip():
                sentences.append(piece.strip())
        for first, second in zip(sentences, sentences[1:]):
            if all(5 <= len(s.split()) <= 40 for s in (first, second)) and first != second:
                pairs.append((first, second))
    return pairs


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("novels", nargs="+")
    parser.add_argument("--rows", type=int, default=0, help="rows to keep, spread over the novels (0 = all)")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    rows = []
    for n, path in enumerate(args.novels):
        pairs = sentence_pairs(path)
        if len(pairs) < ENDINGS:
            sys.exit(f"{path}: only {len(pairs)} sentence pairs, need at least {ENDINGS}")
        order = list(range(len(pairs)))
        rng.shuffle(order)
        if args.rows:
            share = args.rows // len(args.novels) + (n < args.rows % len(args.novels))
            order = order[:share]
        for i in order:
            context, right = pairs[i]
            wrong = []
            while len(wrong) < ENDINGS - 1:
                other = pairs[rng.randrange(len(pairs))][1]
                if other != right and other not in wrong:
                    wrong.append(other)
            label = rng.randrange(ENDINGS)
            endings = wrong[:label] + [right] + wrong[label:]
            rows.append((f"b{n}-{i}", context, *endings, str(label)))
    rng.shuffle(rows)
    with open(args.out, "w", encoding="utf-8") as out:
        out.write("\t".join(["id", "sent1"] + [f"ending{k}" for k in range(ENDINGS)] + ["label"]) + "\n")
        for row in rows:
            out.write("\t".join(row) + "\n")
    print(f"{args.out}: {len(rows)} rows from {len(args.novels)} novels", file=sys.stderr)


if __name__ == "__main__":
    main()
