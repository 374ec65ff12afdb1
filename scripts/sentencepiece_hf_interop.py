#!/usr/bin/env python3
"""A sentencepiece tokenizer trained by `bert tokenizer train` loads in transformers.

For a unigram model (cased, and lower-casing) and a BPE model trained on a corpus, the script loads the
directory with transformers' AutoTokenizer (which reads the tokenizer.json we write; Python's
sentencepiece package is not involved) and requires the same ids as `bert tokenizer encode` for
every non-blank line of the corpus, for sentence pairs made of consecutive lines, and for a list
of awkward texts (runs of spaces and tabs, leading and trailing spaces, full-width and accented
characters, a literal [MASK], characters outside the vocabulary). It also checks that the special
tokens are where tokenizer_config.json says, and the way back: the directory re-saved by
transformers (tokenizer.json, no spm.model) read by `bert tokenizer encode` gives the original's ids. A text whose two id lists hold the same pieces in
another order is counted apart, not as a failure: a tie between two splits of equal score, which
the two libraries' Viterbi searches break differently (7 of 155,356 Gutenberg lines).

Run from the repository root:
  .venv/bin/python scripts/sentencepiece_hf_interop.py [--bert build/bert] [--corpus FILE ...]
Exit status 1 on any difference.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

from transformers import AutoTokenizer

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

AWKWARD = [
    "Hello,   world!\tTabs\tand  spaces.",
    "   leading and trailing spaces   ",
    "Ｆｕｌｌ－ｗｉｄｔｈ ｌｅｔｔｅｒｓ and ½ fractions",
    "Déjà vu: naïve café, Œuvre, STRASSE, straße",
    "The [MASK] sat on the mat. [MASK]",
    "The [MASK]. sat", "a[MASK]b", "x [MASK] [MASK] y", "[CLS] written [SEP] in the text [PAD]", "[UNK] is here",
    "日本語のテキスト and emoji 🙂🙂",
    "x",
]


def encode_ours(bert, tokenizer_dir, lines):
    """Ids from `bert tokenizer encode`, one list per line (a TAB makes a pair)."""
    out = subprocess.run(
        [bert, "tokenizer", "encode", "--tokenizer", tokenizer_dir, "--input", "/dev/stdin", "--format", "ids",
         "--threads", "1"],
        input="\n".join(lines) + "\n", capture_output=True, text=True, check=True).stdout
    return [[int(x) for x in row.split()] for row in out.split("\n")[:len(lines)]]


def compare(bert, tokenizer_dir, lines):
    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    ours = encode_ours(bert, tokenizer_dir, lines)
    differences = ties = 0
    for line, our_ids in zip(lines, ours):
        text, _, pair = line.partition("\t")
        theirs = tok(text, pair)["input_ids"] if pair else tok(text)["input_ids"]
        if our_ids == theirs:
            continue
        if sorted(our_ids) == sorted(theirs):
            # The same pieces in another order: two splits of equal score ("-" + "--" or "--" + "-"),
            # which sentencepiece's and tokenizers' Viterbi searches break differently.
            ties += 1
            continue
        differences += 1
        if differences <= 5:
            print(f"  differs: {line[:80]!r}\n    ours   {our_ids[:24]}\n    theirs {theirs[:24]}")
    return tok, differences, ties


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bert", default=os.path.join(REPO, "build", "bert"))
    parser.add_argument("--corpus", nargs="+", default=[os.path.join(REPO, "test/data/corpus/alice-in-wonderland.txt")])
    parser.add_argument("--vocab-size", type=int, default=800)
    args = parser.parse_args()

    lines = []
    for path in args.corpus:
        with open(path, encoding="utf-8") as f:
            lines += [l.rstrip("\r") for l in f.read().split("\n") if l.strip()]
    pairs = [f"{a}\t{b}" for a, b in zip(lines[0::2], lines[1::2]) if "\t" not in a + b]
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for name, kind, extra in [("unigram", "unigram", []), ("unigram lower-cased", "unigram", ["--lowercase"]),
                                  ("bpe", "bpe", [])]:
            out = os.path.join(tmp, name.replace(" ", "_"))
            subprocess.run([args.bert, "tokenizer", "train", "--input", *args.corpus, "--type", kind,
                            "--vocab-size", str(args.vocab_size), "--out", out, "--threads", "1",
                            "--log-level", "warn", *extra], check=True)
            config = json.load(open(os.path.join(out, "tokenizer_config.json")))
            singles = [l for l in lines + AWKWARD if "\t" not in l]
            tok, single_diff, single_ties = compare(args.bert, out, singles)
            _, pair_diff, pair_ties = compare(args.bert, out, pairs)
            specials = {t: tok.convert_tokens_to_ids(t) for t in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]}
            special_ok = specials == config["special_token_ids"] and tok.mask_token == "[MASK]" and \
                tok.cls_token == "[CLS]" and tok.pad_token == "[PAD]"
            print(f"{name}: {type(tok).__name__}; {len(singles)} texts, {single_diff} differ "
                  f"({single_ties} more split a tie the other way); {len(pairs)} pairs, {pair_diff} differ "
                  f"({pair_ties} ties); special tokens {'as configured' if special_ok else specials}")
            failed |= single_diff > 0 or pair_diff > 0 or not special_ok
            # Back again: transformers' save_pretrained writes tokenizer.json and no spm.model; we
            # rebuild the model from it and must give the original's ids on every text and pair.
            resaved = out + "_resaved"
            tok.save_pretrained(resaved)
            left = sorted(os.listdir(resaved))
            same = [encode_ours(args.bert, resaved, texts) == encode_ours(args.bert, out, texts)
                    for texts in (singles, pairs)]
            print(f"{name}, re-saved by transformers ({', '.join(left)}): our ids from it "
                  f"{'equal' if all(same) else 'DIFFER from'} the original's on every text and pair")
            failed |= not all(same) or "spm.model" in left
    print("FAILED" if failed else "OK: transformers gives our ids on every text")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
