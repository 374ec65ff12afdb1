#!/usr/bin/env python3
"""Multi-label data from a CoNLL NER file: each sentence with the set of entity types it mentions.

Reads a CoNLL-2003-style file (`word POS chunk NER` per line, blank line between sentences,
`-DOCSTART-` lines) and writes a TSV with the header `sentence<TAB>entity_types`: the words joined
by single spaces, and the types of its entities (PER, LOC, ORG, MISC from B-/I- tags) sorted and
joined by commas, empty when it has none. Real text with real, overlapping labels, for `bert
finetune --task multilabel` tests and benchmarks.

    python3 scripts/make_entity_types_data.py ../shared/data/conll2003/train.txt out.tsv [--limit N]
"""
import argparse


def sentences(path):
    words, tags = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if not parts or parts[0] == "-DOCSTART-":
                if words:
                    yield words, tags
                words, tags = [], []
                continue
            words.append(parts[0])
            tags.append(parts[-1])
    if words:
        yield words, tags


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("conll")
    parser.add_argument("output")
    parser.add_argument("--limit", type=int, default=0, help="first N sentences only (0: all)")
    args = parser.parse_args()
    rows = 0
    with open(args.output, "w", encoding="utf-8") as out:
        out.write("sentence\tentity_types\n")
        for words, tags in sentences(args.conll):
            if args.limit and rows >= args.limit:
                break
            types = sorted({t.split("-", 1)[1] for t in tags if t != "O"})
            out.write(" ".join(words) + "\t" + ",".join(types) + "\n")
            rows += 1
    print(f"{args.output}: {rows} sentences")


if __name__ == "__main__":
    main()
