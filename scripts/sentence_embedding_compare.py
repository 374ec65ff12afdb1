#!/usr/bin/env python3
"""`bert embed` on a sentence-transformers model against SentenceTransformer(model).encode().

  sentence_embedding_compare.py MODEL INPUT.tsv OURS.safetensors|OURS.npy

INPUT.tsv has a `sentence` column; OURS is what `bert embed --model MODEL --input INPUT.tsv
--text-column sentence` wrote with its defaults (pooling, normalization and length from the model's
modules.json). Every vector must agree within 1e-4. Run by scripts/sentence_embedding_test.sh.
"""
import csv
import sys

import numpy as np
from safetensors.numpy import load_file
from sentence_transformers import SentenceTransformer


def main(model_dir, data, ours_path):
    with open(data, encoding="utf-8") as f:
        sentences = [row["sentence"] for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
    model = SentenceTransformer(model_dir, device="cpu")
    theirs = model.encode(sentences, batch_size=32, convert_to_numpy=True)
    ours = np.load(ours_path) if ours_path.endswith(".npy") else load_file(ours_path)["embeddings"]
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    worst = float(np.abs(ours - theirs).max())
    norms = np.linalg.norm(ours, axis=1)
    print(f"{model_dir}: {len(sentences)} sentences, max |difference| {worst:.2e}, norms {norms.min():.6f}..{norms.max():.6f}")
    assert worst <= 1e-4, worst


if __name__ == "__main__":
    main(*sys.argv[1:4])
