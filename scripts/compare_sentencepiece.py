#!/usr/bin/env python3
"""Live comparison of `bert tokenizer` (C++, Debian's libsentencepiece) with the Python
`sentencepiece` package on the same model files.

For each corpus set (test/data/corpus/alice-in-wonderland.txt, and all the Gutenberg novels
in ../shared/data/corpus/gutenberg/ trained as one corpus; skipped with a message when that
directory is absent) and each model type (unigram, bpe; plus a lower-casing unigram on the
bundled corpus), the script

  1. trains a model with `build/bert tokenizer train`,
  2. loads the resulting spm.model with Python's sentencepiece and checks the special ids
     ([PAD] [UNK] [CLS] [SEP] [MASK] = 0..4),
  3. encodes every line of every file of the corpus with `bert tokenizer encode --format jsonl`
     and requires, for every non-blank line, ids == [CLS] + sp.encode(line) + [SEP], tokens ==
     the pieces, word ids == a new word at each "▁" piece, and offsets that hold the piece's bytes
     (sp.normalize(text[begin:end]) == the piece, for pieces that are not [UNK] or a lone "▁";
     pieces of one character that normalization expands, such as "½" -> "1⁄2", share its range),
  4. decodes our ids with `bert tokenizer decode` and requires the text as the model normalizes
     it (sp.normalize(line), "▁" -> " ") for every line without [UNK], and sp.decode of the same
     ids (without [UNK], spaces collapsed) for lines with [UNK].

Lines are read as the C++ side reads them: split on "\\n", one trailing "\\r" dropped. Both
libraries see the same model, so any difference is a bug in the C++ wrapper (or a change between
sentencepiece 0.1.97 in C++ and the Python package's version). Counts are printed; exit status 1
on any mismatch.

Run from the repository root:  .venv/bin/python scripts/compare_sentencepiece.py
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

import sentencepiece as spm

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(REPO), "shared", "data")
META = "\u2581"
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def read_lines(path):
    """The lines of a file as `bert tokenizer encode --input` reads them."""
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the final newline ends the last line, it does not start a new one
    return [l[:-1] if l.endswith(b"\r") else l for l in lines]


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, **kw)
    if r.returncode != 0:
        sys.exit(f"command failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr.decode(errors='replace')}")
    return r.stdout


def normalized(sp, text):
    """What decode(encode(text)) must give: the model's normalization with spaces restored."""
    n = sp.normalize(text).replace(META, " ")
    return n[1:] if n.startswith(" ") else n


def expected_word_ids(pieces, special_ids, ids):
    words, w, after_special = [], -1, False
    for p, i in zip(pieces, ids):
        special = i in special_ids
        if w < 0 or p.startswith(META) or special or after_special:
            w += 1
        after_special = special
        words.append(w)
    return words


class Stats:
    def __init__(self):
        self.lines = self.tokens = self.id_mismatch = self.token_mismatch = self.word_mismatch = 0
        self.offset_checked = self.offset_mismatch = 0
        self.decode_checked = self.decode_mismatch = self.unk_lines = 0
        self.ties = 0  # equal-score unigram segmentations that the two versions order differently
        self.shared_spans = 0  # pieces of one character that normalization expanded ("½")
        self.examples = {}

    def example(self, kind, what):
        """Keeps the first few examples of each kind of difference."""
        shown = self.examples.setdefault(kind, [])
        if len(shown) < 3:
            shown.append(what)

    @property
    def failures(self):
        return self.id_mismatch + self.token_mismatch + self.word_mismatch + self.offset_mismatch + self.decode_mismatch


def is_tie(sp, a, b):
    """True when a and b spell the same normalized text with the same unigram score."""
    if "".join(sp.id_to_piece(i) for i in a) != "".join(sp.id_to_piece(i) for i in b):
        return False
    sa, sb = sum(sp.get_score(i) for i in a), sum(sp.get_score(i) for i in b)
    return abs(sa - sb) <= 1e-4 * max(1.0, abs(sa))


def check_sequence(sp, text_bytes, ours, seq, stats, where):
    """Checks the tokens of one sequence (0 = text, 1 = pair) of our encoding."""
    text = text_bytes.decode("utf-8", errors="replace")
    idx = [k for k, s in enumerate(ours["sequence_ids"]) if s == seq]
    ids = [ours["ids"][k] for k in idx]
    py_ids = sp.encode(text)
    if ids != py_ids and is_tie(sp, ids, py_ids):
        # Both are best segmentations of a unigram model (same pieces text, same total score):
        # sentencepiece 0.1.97 and 0.2.x break such ties differently (e.g. "ww"+"w" vs "w"+"ww").
        stats.ties += 1
        stats.example("tie", f"{where}: equal-score tie, ours {[sp.id_to_piece(i) for i in ids]} vs python "
                      f"{[sp.id_to_piece(i) for i in py_ids]}")
        py_ids = ids
    if ids != py_ids:
        stats.id_mismatch += 1
        stats.example("ids", f"{where}: ids differ\n    text   {text!r}\n    ours   {ids}\n    python {py_ids}")
        return ids
    pieces = [sp.id_to_piece(i) for i in ids]
    if [ours["tokens"][k] for k in idx] != pieces:
        stats.token_mismatch += 1
        stats.example("tokens", f"{where}: tokens differ for {text!r}")
    words = expected_word_ids(pieces, {0, 2, 3, 4}, ids)
    if [ours["word_ids"][k] for k in idx] != words:
        stats.word_mismatch += 1
        stats.example("words", f"{where}: word ids differ for {text!r}: {[ours['word_ids'][k] for k in idx]} vs {words}")
    spans = [tuple(ours["offsets"][k]) for k in idx]
    prev_begin = 0
    for j, (piece, i) in enumerate(zip(pieces, ids)):
        b, e = spans[j]
        # In order: a range may repeat its predecessor's (an expanded character), never go back.
        if b < prev_begin or e < b or e > len(text_bytes) or (j and b < spans[j - 1][1] and spans[j - 1] != (b, e)):
            stats.offset_mismatch += 1
            stats.example("offsets", f"{where}: offsets ({b}, {e}) out of order or bounds for {piece!r} in {text!r}")
            continue
        prev_begin = b
        if i == sp.unk_id() or piece == META:
            continue
        stats.offset_checked += 1
        span = text_bytes[b:e].decode("utf-8", errors="replace")
        norm = sp.normalize(span).lstrip(META)
        if norm == piece.lstrip(META):
            continue
        shared = (j > 0 and spans[j - 1] == (b, e)) or (j + 1 < len(spans) and spans[j + 1] == (b, e))
        if shared and piece.lstrip(META) in norm:
            stats.shared_spans += 1  # one source character, several pieces: each gets its range
            continue
        stats.offset_mismatch += 1
        stats.example("offsets", f"{where}: offsets ({b}, {e}) = {span!r} for piece {piece!r} in {text!r}")
    return ids


def compare_file(bert, model_dir, sp, path, stats, tmp):
    lines = read_lines(path)
    out = run([bert, "tokenizer", "encode", "--tokenizer", model_dir, "--input", path, "--format", "jsonl",
               "--log-level", "warn"])
    encodings = [json.loads(l) for l in out.decode("utf-8").splitlines()]
    if len(encodings) != len(lines):
        sys.exit(f"{path}: {len(lines)} lines in, {len(encodings)} encodings out")

    # Decode every encoding back through our binary (specials dropped).
    ids_path = os.path.join(tmp, "ids.txt")
    with open(ids_path, "w") as f:
        for enc in encodings:
            f.write(" ".join(map(str, enc["ids"])) + "\n")
    decoded = run([bert, "tokenizer", "decode", "--tokenizer", model_dir, "--input", ids_path,
                   "--log-level", "warn"]).decode("utf-8").split("\n")[: len(lines)]

    name = os.path.basename(path)
    for n, (raw, enc, dec) in enumerate(zip(lines, encodings, decoded), 1):
        if not raw.strip():
            continue
        where = f"{name}:{n}"
        stats.lines += 1
        stats.tokens += len(enc["ids"])
        parts = raw.split(b"\t", 1)
        if enc["ids"][0] != 2 or enc["ids"][-1] != 3:
            stats.id_mismatch += 1
            stats.example("ids", f"{where}: not framed by [CLS] ... [SEP]: {enc['ids']}")
            continue
        ids = check_sequence(sp, parts[0], enc, 0, stats, where)
        if len(parts) > 1:
            ids += check_sequence(sp, parts[1], enc, 1, stats, where)
        if len(parts) > 1:
            continue  # a pair decodes to both texts joined: no single reference to compare to
        text = parts[0].decode("utf-8", errors="replace")
        stats.decode_checked += 1
        if sp.unk_id() in ids:
            stats.unk_lines += 1
            want = " ".join(sp.decode([i for i in ids if i != sp.unk_id()]).split())
            got = " ".join(dec.split())
        else:
            want = normalized(sp, text)
            got = dec
            if sp.decode(ids) != want:
                stats.example("python", f"{where}: Python's own decode differs from its normalization: {text!r}")
        if got != want:
            stats.decode_mismatch += 1
            stats.example("decode", f"{where}: decode differs\n    ours   {got!r}\n    want   {want!r}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bert", default=os.path.join(REPO, "build", "bert"), help="the bert binary (default: build/bert)")
    ap.add_argument("--gutenberg", default=os.path.join(SHARED, "corpus", "gutenberg"),
                    help="directory of novels (default: ../shared/data/corpus/gutenberg)")
    ap.add_argument("--vocab-size-bundled", type=int, default=2000, help="vocab size on the bundled corpus (default: 2000)")
    ap.add_argument("--vocab-size-novels", type=int, default=8000, help="vocab size on the novels (default: 8000)")
    ap.add_argument("--threads", type=int, default=0, help="training/encoding threads (default: 0 = all cores)")
    args = ap.parse_args()

    if not os.access(args.bert, os.X_OK):
        sys.exit(f"{args.bert}: not found or not executable (build the project first, or pass --bert)")
    print(f"python sentencepiece {spm.__version__}; C++ side: {args.bert}")

    bundled = [os.path.join(REPO, "test", "data", "corpus", "alice-in-wonderland.txt")]
    runs = [("bundled", bundled, t, args.vocab_size_bundled, []) for t in ("unigram", "bpe")]
    runs.append(("bundled", bundled, "unigram", args.vocab_size_bundled, ["--lowercase"]))
    novels = sorted(glob.glob(os.path.join(args.gutenberg, "*.txt")))
    if novels:
        runs += [("novels", novels, t, args.vocab_size_novels, []) for t in ("unigram", "bpe")]
    else:
        print(f"skipping the novels: no *.txt in {args.gutenberg}")

    failed = False
    with tempfile.TemporaryDirectory(prefix="compare_spm_") as tmp:
        for corpus, files, mtype, vocab, extra in runs:
            label = f"{corpus} ({len(files)} file{'s' if len(files) > 1 else ''}), {mtype}, vocab {vocab}" + (
                " " + " ".join(extra) if extra else "")
            model_dir = os.path.join(tmp, f"{corpus}-{mtype}{'-'.join([''] + [e.strip('-') for e in extra])}")
            t0 = time.time()
            run([args.bert, "tokenizer", "train", "--input", *files, "--type", mtype, "--vocab-size", str(vocab),
                 "--out", model_dir, "--threads", str(args.threads), "--log-level", "warn", *extra])
            train_s = time.time() - t0
            sp = spm.SentencePieceProcessor(model_file=os.path.join(model_dir, "spm.model"))
            got_specials = [sp.id_to_piece(i) for i in range(5)]
            if got_specials != SPECIALS or sp.pad_id() != 0 or sp.unk_id() != 1 or sp.get_piece_size() != vocab:
                print(f"FAIL {label}: special pieces {got_specials}, pad {sp.pad_id()}, unk {sp.unk_id()}, "
                      f"size {sp.get_piece_size()}")
                failed = True
                continue
            stats = Stats()
            t0 = time.time()
            for path in files:
                compare_file(args.bert, model_dir, sp, path, stats, tmp)
            check_s = time.time() - t0
            status = "ok  " if stats.failures == 0 else "FAIL"
            print(f"{status} {label}: trained in {train_s:.1f}s; {stats.lines} lines, {stats.tokens} tokens: "
                  f"ids differ on {stats.id_mismatch} lines, tokens {stats.token_mismatch}, word ids "
                  f"{stats.word_mismatch} (+{stats.ties} equal-score ties); offsets {stats.offset_checked - stats.offset_mismatch}/"
                  f"{stats.offset_checked} pieces ok ({stats.shared_spans} share an expanded character's range); decode {stats.decode_checked - stats.decode_mismatch}/"
                  f"{stats.decode_checked} lines ok ({stats.unk_lines} with [UNK]) [{check_s:.1f}s]")
            for kind, shown in stats.examples.items():
                for e in shown:
                    print(f"    [{kind}] {e}")
            failed |= stats.failures > 0
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
