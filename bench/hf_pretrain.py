#!/usr/bin/env python3
"""Pre-trains a randomly initialised Hugging Face `BertForPreTraining` (MLM + NSP) for a few steps
and measures its training throughput: the reference side of bench/pretrain_side_by_side.sh.
Prints one JSON line (the last line of stdout): system, tokens_per_s, seconds, steps, ... .

  .venv/bin/python bench/hf_pretrain.py --config configs/bert-mini.json \
      --vocab ../shared/data/vocab/bert-base-uncased-vocab.txt --corpus ../shared/data/corpus/gutenberg \
      --batch-size 32 --warmup-steps 5 --steps 20 --threads 2 [--bf16]

What it does, as transformers' Trainer would (without Trainer's machinery around it):
- data, prepared before any timing: the novels' text between the Project Gutenberg START and END
  markers, paragraphs (blank-line separated, lines joined) tokenized with BertTokenizerFast from
  the vocab.txt, one token stream per file; each example is [CLS] A [SEP] B [SEP] filling
  --seq-len exactly (no padding): A a random-length slice of a stream, B its continuation (NSP
  label 0) or, half of the time, a slice of another file (label 1); 15 % of the non-special
  positions are picked (Bernoulli, as DataCollatorForLanguageModeling does) and 80 % of those
  become [MASK], 10 % a random token, 10 % stay; the others get label -100;
- model: BertForPreTraining(BertConfig.from_json_file(--config)), random init from --seed,
  transformers' default attention implementation, train mode (dropout on); the loss is the one
  the model computes from `labels` and `next_sentence_label` (its MLM head scores every position;
  --mlm-head masked scores only the masked ones, to show how much of a gap that design explains);
- optimizer: torch.optim.AdamW with fused=True (Trainer's default `optim`, adamw_torch_fused, in
  transformers 4.46+; --optim adamw_torch for the unfused one), weight decay off biases and
  LayerNorm weights, linear schedule with warmup (get_linear_schedule_with_warmup), clipping;
- --bf16: the forward pass and loss under torch.autocast(<device>, dtype=torch.bfloat16), as
  Trainer's `bf16=True` does;
- --device cuda: model and (before the timing) every batch on the GPU.

Timing: the first --warmup-steps optimizer steps are run and not timed; then --steps steps are
timed with time.perf_counter() (forward, backward, clipping, optimizer and scheduler step, and
loss.item() each step, which on a GPU also waits for the step to finish). tokens_per_s = batch * seq_len * steps / seconds (token positions; every
example here is full, so that is also the real-token count). peak_rss_mib is this process's
ru_maxrss (whole process, data and imports included).
"""
import time

START = time.perf_counter()

import argparse
import glob
import json
import os
import re
import resource
import sys


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", required=True, help="a BERT config.json (e.g. configs/bert-mini.json)")
    p.add_argument("--vocab", required=True, help="WordPiece vocab.txt, or a directory with one (lower-cased BERT vocabulary)")
    p.add_argument("--corpus", required=True, nargs="+", help="text files or directories of *.txt")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--warmup-steps", type=int, default=5, help="untimed steps before the timed ones")
    p.add_argument("--steps", type=int, default=20, help="timed optimizer steps")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--lr-warmup-steps", type=int, default=2, help="linear warmup of the learning rate")
    p.add_argument("--schedule-steps", type=int, default=0,
                   help="total steps of the linear schedule (0 = --warmup-steps + --steps)")
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--adam-eps", type=float, default=1e-6, help="`bert pretrain`'s default (Trainer's is 1e-8)")
    p.add_argument("--clip-norm", type=float, default=1.0)
    p.add_argument("--mlm-prob", type=float, default=0.15)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0 = torch's default)")
    p.add_argument("--bf16", action="store_true", help="torch.autocast(<device>, bfloat16) around forward and loss")
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    p.add_argument("--optim", choices=["adamw_torch_fused", "adamw_torch"], default="adamw_torch_fused",
                   help="Trainer's optimizer names: fused=True (its default) or PyTorch's default implementation")
    p.add_argument("--mlm-head", choices=["all", "masked"], default="all",
                   help="all: BertForPreTraining's own forward, the MLM head scores every position (the "
                        "reference); masked: the same modules, but the MLM head scores only the masked "
                        "positions, as `bert pretrain` (and Google's BERT) do")
    return p.parse_args()


def corpus_files(paths):
    files = []
    for path in paths:
        if os.path.isdir(path):
            files.extend(sorted(glob.glob(os.path.join(path, "*.txt"))))
        else:
            files.append(path)
    if not files:
        sys.exit(f"no text files in {paths}")
    return files


START_MARK = re.compile(r"^\s*\*\*\*\s*START OF.*$", re.MULTILINE)
END_MARK = re.compile(r"^\s*\*\*\*\s*END OF.*$", re.MULTILINE)


def paragraphs(path):
    with open(path, encoding="utf-8-sig") as f:
        text = f.read().replace("\r\n", "\n")
    start, end = START_MARK.search(text), END_MARK.search(text)
    if start and end and start.end() < end.start():
        text = text[start.end():end.start()]  # drop the Gutenberg licence header and footer
    for block in re.split(r"\n\s*\n", text):
        block = " ".join(line.strip() for line in block.split("\n")).strip()
        if block:
            yield block


def load_tokenizer(vocab, cls):
    """A lower-casing WordPiece tokenizer from a vocab.txt file or a directory holding one. Through
    from_pretrained on a directory: the constructor's vocab argument differs between transformers 4
    (vocab_file=path) and 5 (vocab=...)."""
    import tempfile
    if os.path.isdir(vocab):
        return cls.from_pretrained(vocab, do_lower_case=True)
    with tempfile.TemporaryDirectory() as tmp:
        os.symlink(os.path.abspath(vocab), os.path.join(tmp, "vocab.txt"))
        return cls.from_pretrained(tmp, do_lower_case=True)


def token_streams(files, tokenizer, needed, min_len):
    """One list of token ids per file (at most about needed/2 of each), read until `needed` tokens
    in all (and at least two files); files of fewer than min_len tokens are left out."""
    streams, total = [], 0
    per_file = needed // 2 + 1  # a long novel need not be tokenized whole
    for path in files:
        paras, stream = list(paragraphs(path)), []
        for i in range(0, len(paras), 256):
            for ids in tokenizer(paras[i:i + 256], add_special_tokens=False)["input_ids"]:
                stream.extend(ids)
            if len(stream) >= per_file:
                break
        if len(stream) >= min_len:
            streams.append(stream)
            total += len(stream)
        if total >= needed and len(streams) >= 2:
            break
    if len(streams) < 2:
        sys.exit(f"the corpus needs at least two files of {min_len} tokens or more "
                 "(NSP draws random next segments from another one)")
    return streams


def make_batches(streams, n_batches, batch_size, seq_len, special, vocab_size, mlm_prob, rng):
    """n_batches dicts of full-length MLM + NSP examples as tensors (see the module docstring)."""
    import numpy as np
    import torch

    cls_id, sep_id, mask_id, pad_id = special
    body = seq_len - 3  # [CLS] A [SEP] B [SEP]
    doc, pos = 0, 0
    batches = []
    for _ in range(n_batches):
        ids = np.empty((batch_size, seq_len), dtype=np.int64)
        types = np.zeros((batch_size, seq_len), dtype=np.int64)
        nsp = np.zeros(batch_size, dtype=np.int64)
        for row in range(batch_size):
            while len(streams[doc]) - pos < body:  # the rest of this file is too short: next file
                doc, pos = (doc + 1) % len(streams), 0
            stream = streams[doc]
            a_len = int(rng.integers(1, body))  # 1 .. body-1 tokens of A
            a = stream[pos:pos + a_len]
            if rng.random() < 0.5:
                b = stream[pos + a_len:pos + body]  # the true continuation
                pos += body
            else:
                other = int(rng.integers(0, len(streams) - 1))
                other += other >= doc  # any file but this one
                src = streams[other]
                start = int(rng.integers(0, len(src) - (body - a_len) + 1))
                b = src[start:start + body - a_len]
                nsp[row] = 1
                pos += a_len  # B was not used: the continuation may start a later example
            ids[row] = [cls_id, *a, sep_id, *b, sep_id]
            types[row, a_len + 2:] = 1
        labels = np.full_like(ids, -100)
        special_pos = np.isin(ids, [cls_id, sep_id, pad_id])
        picked = (rng.random(ids.shape) < mlm_prob) & ~special_pos
        labels[picked] = ids[picked]
        roll = rng.random(ids.shape)
        to_mask = picked & (roll < 0.8)
        to_random = picked & (roll >= 0.8) & (roll < 0.9)
        ids[to_mask] = mask_id
        ids[to_random] = rng.integers(0, vocab_size, size=int(to_random.sum()))
        batches.append({"input_ids": torch.from_numpy(ids), "token_type_ids": torch.from_numpy(types),
                        "attention_mask": torch.ones(batch_size, seq_len, dtype=torch.int64),
                        "labels": torch.from_numpy(labels), "next_sentence_label": torch.from_numpy(nsp)})
    return batches


def main():
    args = parse_args()
    if args.threads > 0:
        os.environ.setdefault("RAYON_NUM_THREADS", str(args.threads))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    import numpy as np
    import torch
    import transformers
    from transformers import BertConfig, BertForPreTraining, BertTokenizerFast, get_linear_schedule_with_warmup

    transformers.logging.set_verbosity_error()
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    # Data (untimed).
    tokenizer = load_tokenizer(args.vocab, BertTokenizerFast)
    n_batches = args.warmup_steps + args.steps
    needed = 2 * n_batches * args.batch_size * args.seq_len + 10 * args.seq_len
    streams = token_streams(corpus_files(args.corpus), tokenizer, needed, args.seq_len)
    special = (tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.mask_token_id, tokenizer.pad_token_id)
    rng = np.random.default_rng(args.seed)
    batches = make_batches(streams, n_batches, args.batch_size, args.seq_len, special, len(tokenizer),
                           args.mlm_prob, rng)

    # Model and optimizer.
    torch.manual_seed(args.seed)
    config = BertConfig.from_json_file(args.config)
    config.vocab_size = len(tokenizer)
    config.pad_token_id = tokenizer.pad_token_id
    device = torch.device(args.device)
    model = BertForPreTraining(config).to(device)
    model.train()
    batches = [{k: v.to(device) for k, v in b.items()} for b in batches]
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        (no_decay if name.endswith(".bias") or "LayerNorm" in name else decay).append(param)
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=args.lr, betas=(0.9, 0.999), eps=args.adam_eps,
                                  fused=args.optim == "adamw_torch_fused")
    total = args.schedule_steps or n_batches
    scheduler = get_linear_schedule_with_warmup(optimizer, args.lr_warmup_steps, total)

    def masked_head_loss(batch):
        # BertForPreTraining's modules, with the vocabulary projection on the masked positions only.
        sequence, pooled = model.bert(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                      token_type_ids=batch["token_type_ids"], return_dict=False)[:2]
        picked = batch["labels"] != -100
        mlm_logits = model.cls.predictions(sequence[picked])
        nsp_logits = model.cls.seq_relationship(pooled)
        ce = torch.nn.functional.cross_entropy
        return ce(mlm_logits.float(), batch["labels"][picked]) + ce(nsp_logits.float(), batch["next_sentence_label"])

    def train_step(batch):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.bf16):
            loss = model(**batch).loss if args.mlm_head == "all" else masked_head_loss(batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.item()

    losses = [train_step(b) for b in batches[:args.warmup_steps]]
    step_seconds = []
    t0 = time.perf_counter()
    for b in batches[args.warmup_steps:]:
        s = time.perf_counter()
        losses.append(train_step(b))
        step_seconds.append(time.perf_counter() - s)
    seconds = time.perf_counter() - t0

    positions = args.batch_size * args.seq_len * args.steps
    print(json.dumps({
        "system": "transformers", "tokens_per_s": round(positions / seconds, 2), "seconds": round(seconds, 3),
        "steps": args.steps, "warmup_steps": args.warmup_steps, "batch_size": args.batch_size,
        "seq_len": args.seq_len, "precision": "bf16" if args.bf16 else "fp32", "threads": torch.get_num_threads(),
        "mlm_head": args.mlm_head, "device": str(device), "optim": args.optim,
        "torch": torch.__version__, "transformers": transformers.__version__,
        "attn_implementation": model.config._attn_implementation,
        "parameters": sum(p.numel() for p in model.parameters()),
        "median_step_s": round(sorted(step_seconds)[len(step_seconds) // 2], 3),
        "first_loss": round(losses[0], 4), "last_loss": round(losses[-1], 4),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_gpu_mib": round(torch.cuda.max_memory_allocated() / 2**20, 1) if device.type == "cuda" else None,
        "total_seconds": round(time.perf_counter() - START, 3)}), flush=True)


if __name__ == "__main__":
    main()
