#!/usr/bin/env python3
"""The reference side of bench/fill_mask_side_by_side.sh: transformers' fill-mask pipeline over a
file of texts (one per line, each with a [MASK]), written as JSON lines {"text", "masks"} like
`bert predict`; prints {"predict_seconds": ...} (pipeline load excluded) as its last line.

  .venv/bin/python bench/hf_fill_mask.py --model DIR --input texts.txt --output hf.jsonl
  .venv/bin/python bench/hf_fill_mask.py --make-model DIR --config configs/bert-base.json --vocab vocab.txt
"""
import argparse
import json
import os
import shutil
import time


def make_model(out, config_file, vocab):
    """A BertForMaskedLM of the config's shape with seeded random weights: speed does not depend on them."""
    import torch
    from transformers import BertConfig, BertForMaskedLM
    torch.manual_seed(0)
    config = BertConfig.from_json_file(config_file)
    config.vocab_size = sum(1 for _ in open(vocab, encoding="utf-8"))
    BertForMaskedLM(config).save_pretrained(out)
    shutil.copy(vocab, os.path.join(out, "vocab.txt"))
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True, "tokenizer_class": "BertTokenizer"}, f)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model")
    parser.add_argument("--input")
    parser.add_argument("--output")
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--make-model")
    parser.add_argument("--config")
    parser.add_argument("--vocab")
    args = parser.parse_args()
    if args.make_model:
        return make_model(args.make_model, args.config, args.vocab)

    import torch
    from transformers import pipeline
    torch.set_num_threads(args.threads)
    texts = [line.rstrip("\n") for line in open(args.input, encoding="utf-8") if line.strip()]
    fill = pipeline("fill-mask", model=args.model, tokenizer=args.model, device="cpu")
    start = time.perf_counter()
    results = fill(texts, top_k=args.top_k, batch_size=args.batch_size)
    seconds = time.perf_counter() - start
    with open(args.output, "w", encoding="utf-8") as out:
        for text, result in zip(texts, results):
            masks = [result] if result and isinstance(result[0], dict) else result
            out.write(json.dumps({"text": text, "masks": masks}) + "\n")
    print(json.dumps({"predict_seconds": seconds}))


if __name__ == "__main__":
    main()
