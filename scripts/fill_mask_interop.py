#!/usr/bin/env python3
"""`bert predict` on a pre-trained model gives transformers' fill-mask pipeline's answers.

Three models: the tiny BertForPreTraining fixture (WordPiece, lower-cased); the same weights saved
by transformers as BertForMaskedLM (no next-sentence head, no pooler); and a model pre-trained by
us for a few steps on the bundled novel with a sentencepiece tokenizer trained by us (transformers
reads it through the tokenizer.json we write). For texts of the novel with one or two words
masked (and, for our model of 512 positions, one with a mask past the 64th token), each mask's top-k from
`bert predict --top-k K` must be the pipeline's: the same scores (within 2e-5), the same tokens
but where two candidates' scores are that close (their order is then a rounding matter), the
same token_str and sequence strings; and with `--target` the same ranking of the targets only.
One difference is allowed, and only for the sentencepiece model: where a text has two masks the
sequence keeps the special tokens, and our sentencepiece decode writes one space on each side of
them ("altogether [MASK] did not [SEP]") where transformers' decoder writes none.

Run from the repository root:
  .venv/bin/python scripts/fill_mask_interop.py --bert build/bert
Exit status 1 on any difference.
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile

from transformers import BertForMaskedLM, pipeline

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOLERANCE = 2e-5


def masked_texts(mask, count, seed, long_text):
    """Lines of the bundled novel with one word (every third line: two words) replaced by the mask;
    `long_text`: one more, with its mask past the 64th token."""
    lines = [l.strip() for l in open(os.path.join(REPO, "test/data/corpus/alice-in-wonderland.txt"), encoding="utf-8")]
    lines = [l for l in lines if 6 <= len(l.split()) <= 30]
    rng = random.Random(seed)
    texts = []
    for i, line in enumerate(rng.sample(lines, count)):
        words = line.split()
        for j in rng.sample(range(len(words)), 2 if i % 3 == 0 else 1):
            words[j] = mask
        texts.append(" ".join(words))
    if long_text:
        texts.append("And so it went on, " * 14 + "until the " + mask + " was over.")
    return texts


def ours(bert, model, texts, extra):
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.write("\n".join(texts) + "\n")
    try:
        out = subprocess.run([bert, "predict", "--model", model, "--input", f.name, "--threads", "1",
                              "--log-level", "warn"] + extra, capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    if out.returncode != 0:
        sys.exit(f"bert predict failed ({out.returncode}):\n{out.stderr}")
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["text"] for r in rows] == texts, "rows out of order"
    return [r["masks"] for r in rows]


def spaced_specials(text):
    """A text with one space on each side of every special token, as our sentencepiece decode writes
    them when they are kept (transformers' Metaspace decoder writes "altogether[MASK] did not[SEP]")."""
    return " ".join(re.sub(r"\s*(\[(?:CLS|SEP|MASK|PAD|UNK)\])\s*", r" \1 ", text).split())


def same_candidates(mine, theirs, where, special_spacing):
    """Both lists best first. Scores equal; tokens equal except within a near-tie."""
    problems = []
    if len(mine) != len(theirs):
        return [f"{where}: {len(mine)} candidates, transformers {len(theirs)}"]
    for r, (a, b) in enumerate(zip(mine, theirs)):
        if abs(a["score"] - b["score"]) > TOLERANCE:
            problems.append(f"{where} rank {r + 1}: score {a['score']:.7f}, transformers {b['score']:.7f}")
        if a["token"] == b["token"]:
            for key in ("token_str", "sequence"):
                if a[key] != b[key] and not (special_spacing and spaced_specials(a[key]) == spaced_specials(b[key])):
                    problems.append(f"{where} rank {r + 1}: {key} {a[key]!r}, transformers {b[key]!r}")
            continue
        # A swap is fine between candidates whose scores are within the tolerance.
        tied = [c for c in theirs if abs(c["score"] - a["score"]) <= TOLERANCE]
        if not any(c["token"] == a["token"] for c in tied) and r + 1 < len(mine):
            problems.append(f"{where} rank {r + 1}: token {a['token']} ({a['score']:.7f}), transformers "
                            f"{b['token']} ({b['score']:.7f})")
    return problems


def compare(bert, model, label, top_k, seed, targets=None, long_text=False, special_spacing=False):
    texts = masked_texts("[MASK]", 30, seed, long_text)
    extra = ["--top-k", str(top_k)] + sum((["--target", t] for t in targets or []), [])
    mine = ours(bert, model, texts, extra)
    fill = pipeline("fill-mask", model=model, tokenizer=model, device="cpu")
    problems, masks = [], 0
    for i, text in enumerate(texts):
        theirs = fill(text, top_k=top_k, targets=targets)
        if theirs and isinstance(theirs[0], dict):  # one mask: transformers gives its list alone
            theirs = [theirs]
        if len(mine[i]) != len(theirs):
            problems.append(f"{label} text {i + 1}: {len(mine[i])} masks, transformers {len(theirs)}")
            continue
        for m, (a, b) in enumerate(zip(mine[i], theirs)):
            masks += 1
            problems += same_candidates(a, b, f"{label} text {i + 1} mask {m + 1}", special_spacing)
    print(f"{label}: {len(texts)} texts, {masks} masks, top {top_k}{' of the targets' if targets else ''}: "
          f"{len(problems)} differences")
    for p in problems[:20]:
        print("  " + p)
    return not problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bert", default=os.path.join(REPO, "build/bert"))
    args = parser.parse_args()
    bert = os.path.abspath(args.bert)
    fixture = os.path.join(REPO, "test/data/hf-tiny")
    ok = True
    with tempfile.TemporaryDirectory() as work:
        ok &= compare(bert, fixture, "tiny BertForPreTraining", 10, seed=1)
        ok &= compare(bert, fixture, "tiny, --target", 3, seed=2, targets=["the", "alice", "said", "queen"])

        masked_lm = os.path.join(work, "masked-lm")
        BertForMaskedLM.from_pretrained(fixture).save_pretrained(masked_lm)
        for name in ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
            with open(os.path.join(fixture, name), "rb") as src, open(os.path.join(masked_lm, name), "wb") as dst:
                dst.write(src.read())
        ok &= compare(bert, masked_lm, "tiny BertForMaskedLM (transformers' save)", 5, seed=3)

        # Ours end to end: a sentencepiece tokenizer, a few pre-training steps.
        corpus = os.path.join(REPO, "test/data/corpus/alice-in-wonderland.txt")
        spm = os.path.join(work, "spm")
        subprocess.run([bert, "tokenizer", "train", "--input", corpus, "--type", "unigram", "--vocab-size", "2000",
                        "--out", spm, "--log-level", "warn"], check=True)
        run = os.path.join(work, "run")
        subprocess.run([bert, "pretrain", "--corpus", corpus, "--tokenizer", spm, "--model-config",
                        os.path.join(REPO, "configs/bert-tiny.json"), "--seq-len", "64", "--batch-size", "16",
                        "--max-steps", "30", "--lr", "1e-3", "--out", run, "--threads", "2", "--log-level", "warn"],
                       check=True)
        ok &= compare(bert, os.path.join(run, "final"), "ours pre-trained, sentencepiece", 5, seed=4,
                      long_text=True, special_spacing=True)
    print("fill-mask interop:", "OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
