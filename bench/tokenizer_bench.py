#!/usr/bin/env python3
"""Tokenizer throughput: the C++ WordPieceTokenizer next to Hugging Face `tokenizers`.

Runs bench/tokenizer_bench (C++, built here with g++ unless --bench is given) and
tokenizers.BertWordPieceTokenizer.encode_batch on the same texts (SST-2 train sentences; the
Gutenberg novels split into paragraphs exactly as the C++ loader does), one thread and all
threads, and prints tokens/s, MB/s and the C++/HF ratio. HF's single-thread figure runs in a
child process with RAYON_NUM_THREADS=1, because Rayon sizes its pool once per process. Every
figure is the best of --repeat runs. Token counts of both sides are printed as a sanity check
(they are equal when the two tokenizers agree, which compare_tokenizers.py checks in depth).

Run from the repository root:  .venv/bin/python bench/tokenizer_bench.py
"""
import argparse
import glob
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(os.path.dirname(REPO), "shared", "data")


def load_sst2(data):
    with open(os.path.join(data, "glue", "SST-2", "train.tsv"), "rb") as f:
        lines = f.read().split(b"\n")[1:]
    out = []
    for l in lines:
        if l.endswith(b"\r"):
            l = l[:-1]
        if l:
            out.append(l.split(b"\t")[0].decode("utf-8", errors="replace"))
    return out


def load_gutenberg(data):
    out = []
    for path in sorted(glob.glob(os.path.join(data, "corpus", "gutenberg", "*.txt"))):
        with open(path, "rb") as f:
            raw = f.read()
        para = []
        for l in raw.split(b"\n"):
            if l.endswith(b"\r"):
                l = l[:-1]
            if not l.strip(b" \t"):
                if para:
                    out.append(b" ".join(para).decode("utf-8", errors="replace"))
                para = []
            else:
                para.append(l)
        if para:
            out.append(b" ".join(para).decode("utf-8", errors="replace"))
    return out


def build_bench():
    # Only the WordPiece sources: the rest of bert/tokenizer/ needs other libraries.
    sources = [os.path.join(REPO, "bert", "tokenizer", f)
               for f in ("tokenizer.cpp", "unicode.cpp", "wordpiece.cpp")]
    sources.append(os.path.join(REPO, "bench", "tokenizer_bench.cpp"))
    h = hashlib.sha1()
    headers = [os.path.join(REPO, "bert", "tokenizer", f)
               for f in ("tokenizer.h", "unicode.h", "wordpiece.h")]
    for s in sources + headers:
        h.update(open(s, "rb").read())
    out = os.path.join(tempfile.gettempdir(), f"bert_tokenizer_bench_{h.hexdigest()[:12]}")
    if not os.path.exists(out):
        cmd = ["g++", "-O2", "-std=c++17", f"-I{REPO}", *sources, "-lutf8proc", "-pthread", "-o",
               out]
        print("building:", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
    return out


def hf_child(args):
    """Runs inside a child process (so RAYON_NUM_THREADS takes effect); prints JSON lines."""
    from tokenizers.implementations import BertWordPieceTokenizer
    tok = BertWordPieceTokenizer(args.vocab, lowercase=True)
    for name, texts in (("sst2-train", load_sst2(args.data)),
                        ("gutenberg", load_gutenberg(args.data))):
        nbytes = sum(len(t.encode("utf-8")) for t in texts)
        best, tokens = 1e300, 0
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            encs = tok.encode_batch(texts)
            best = min(best, time.perf_counter() - t0)
            tokens = sum(len(e.ids) for e in encs)
            del encs
        print(json.dumps({"corpus": name, "texts": len(texts), "bytes": nbytes, "tokens": tokens,
                          "seconds": best}), flush=True)


def run_hf(args, threads):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="true")
    cmd = [sys.executable, os.path.abspath(__file__), "--hf-child", "--vocab", args.vocab,
           "--data", args.data, "--repeat", str(args.repeat)]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return {d["corpus"]: d for d in map(json.loads, r.stdout.splitlines())}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bench", help="tokenizer_bench binary (default: build it with g++)")
    ap.add_argument("--vocab", default=os.path.join(DATA, "vocab", "bert-base-uncased-vocab.txt"))
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--hf-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.hf_child:
        return hf_child(args)

    import tokenizers
    bench = args.bench or build_bench()
    r = subprocess.run([bench, "--vocab", args.vocab, "--data", args.data, "--repeat",
                        str(args.repeat), "--threads", str(args.threads), "--json"],
                       capture_output=True, text=True, check=True)
    cpp = {(d["corpus"], d["threads"]): d for d in map(json.loads, r.stdout.splitlines())}
    thread_counts = sorted({t for _, t in cpp})
    hf = {t: run_hf(args, t) for t in thread_counts}

    print(f"tokenizer throughput, bert-base-uncased vocab, lower-case; best of {args.repeat}; "
          f"{os.cpu_count()} CPUs; HF tokenizers {tokenizers.__version__}")
    print(f"{'corpus':<11} {'threads':>7} | {'C++ Mtok/s':>10} {'MB/s':>7} | {'HF Mtok/s':>9} "
          f"{'MB/s':>7} | {'C++/HF':>6} | tokens C++ / HF")
    for (corpus, threads), c in sorted(cpp.items()):
        h = hf[threads][corpus]
        ct, ht = c["tokens"] / c["seconds"] / 1e6, h["tokens"] / h["seconds"] / 1e6
        print(f"{corpus:<11} {threads:>7} | {ct:>10.2f} {c['bytes'] / c['seconds'] / 1e6:>7.1f} | "
              f"{ht:>9.2f} {h['bytes'] / h['seconds'] / 1e6:>7.1f} | "
              f"{c['tokens'] / c['seconds'] / (h['tokens'] / h['seconds']):>5.2f}x | "
              f"{c['tokens']} / {h['tokens']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
