#!/usr/bin/env python3
"""Reference outputs of Hugging Face transformers' BERT, for the C++ parity tests.

Builds small randomly initialised BERT models with transformers (one per case below: each head,
several activations, a bare BertModel saved with legacy key names), saves each as a checkpoint
directory (model.safetensors + pytorch_model.bin + config.json), runs it in eval mode on fixed
inputs and writes inputs.safetensors + expected.safetensors beside it. The C++ test
`[reference]` (test/model/test_reference_models.cpp) loads every such directory and compares.

Its output for the default cases is committed under test/data/reference/ so the C++ tests need
no Python; CTest's `live_hf_reference` reruns it into a temp dir against the installed
transformers (a live check). Regenerate the committed copy with:
    .venv/bin/python scripts/make_reference.py --out test/data/reference
"""
import argparse
import json
import os

import torch
from safetensors.torch import save_file
import transformers
from transformers import (BertConfig, BertForMultipleChoice, BertForPreTraining, BertForQuestionAnswering,
                          BertForSequenceClassification, BertForTokenClassification, BertModel)

CASES = [
    # name, architecture class, config overrides, seed
    ("pretraining-gelu_new", BertForPreTraining,
     dict(hidden_act="gelu_new", layer_norm_eps=1e-7), 1),
    ("seqcls-regression-relu", BertForSequenceClassification,
     dict(hidden_act="relu", num_labels=1), 2),
    ("seqcls-3labels", BertForSequenceClassification,
     dict(num_labels=3, classifier_dropout=0.2, id2label={0: "neg", 1: "neu", 2: "pos"},
          label2id={"neg": 0, "neu": 1, "pos": 2}), 3),
    ("tokcls-silu", BertForTokenClassification, dict(hidden_act="silu", num_labels=4), 4),
    ("bertmodel-legacy-keys", BertModel, dict(num_hidden_layers=2), 5),
    ("qa-gelu", BertForQuestionAnswering, dict(), 6),
    ("choice-gelu", BertForMultipleChoice, dict(classifier_dropout=0.3), 7),
]

BASE = dict(vocab_size=500, hidden_size=48, num_hidden_layers=3, num_attention_heads=4,
            intermediate_size=96, max_position_embeddings=40, type_vocab_size=2,
            initializer_range=0.05)


def make_inputs(generator, vocab_size, batch=3, seq=17):
    input_ids = torch.randint(5, vocab_size, (batch, seq), generator=generator)
    attention_mask = torch.ones(batch, seq, dtype=torch.long)
    lengths = [[seq, seq - 5, 6][b % 3] for b in range(batch)]
    for b, n in enumerate(lengths):
        attention_mask[b, n:] = 0
        input_ids[b, n:] = 0
    token_type_ids = torch.zeros(batch, seq, dtype=torch.long)
    for b in range(0, batch, 3):
        token_type_ids[b, 9:] = 1
        if b + 1 < batch:
            token_type_ids[b + 1, 7:lengths[b + 1]] = 1
    return dict(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)


def build(name, cls, overrides, seed, out):
    torch.manual_seed(seed)
    config = BertConfig(**{**BASE, **overrides})
    model = cls._from_config(config, attn_implementation="eager") if hasattr(cls, "_from_config") else cls(config)
    model.eval()
    generator = torch.Generator().manual_seed(100 + seed)
    if cls is BertForMultipleChoice:  # 2 examples x 3 candidates: (2, 3, S)
        inputs = {k: v.view(2, 3, -1) for k, v in make_inputs(generator, config.vocab_size, batch=6).items()}
    else:
        inputs = make_inputs(generator, config.vocab_size)
    b, s = inputs["input_ids"].shape[0], inputs["input_ids"].shape[-1]
    labels = {}
    if cls is BertForPreTraining:
        mlm = torch.full((b, s), -100, dtype=torch.long)
        mlm[0, 3], mlm[1, 5], mlm[2, 2] = 17, 42, 99
        labels = dict(labels=mlm, next_sentence_label=torch.tensor([0, 1, 1]))
    elif cls is BertForSequenceClassification:
        labels = dict(labels=torch.tensor([0.5, 2.0, -1.0]) if config.num_labels == 1 else torch.tensor([2, 0, 1]))
    elif cls is BertForTokenClassification:
        tl = torch.randint(0, config.num_labels, (b, s), generator=generator)
        tl[inputs["attention_mask"] == 0] = -100
        labels = dict(labels=tl)
    elif cls is BertForQuestionAnswering:
        # The third example's positions lie past the sequence: HF clamps them to S and ignores them.
        labels = dict(start_positions=torch.tensor([3, 0, 40]), end_positions=torch.tensor([5, 0, 2]))
    elif cls is BertForMultipleChoice:
        labels = dict(labels=torch.tensor([2, 0]))

    with torch.no_grad():
        out_obj = model(**inputs, **labels, output_hidden_states=True, output_attentions=True)
    expected = {}
    for i, h in enumerate(out_obj.hidden_states):
        expected[f"hidden_states.{i}"] = h
    for i, a in enumerate(out_obj.attentions):
        expected[f"attentions.{i}"] = a
    if cls is BertModel:
        expected["last_hidden_state"] = out_obj.last_hidden_state
        expected["pooler_output"] = out_obj.pooler_output
    elif cls is BertForPreTraining:
        expected["prediction_logits"] = out_obj.prediction_logits
        expected["seq_relationship_logits"] = out_obj.seq_relationship_logits
        expected["loss"] = out_obj.loss
    elif cls is BertForQuestionAnswering:
        expected["start_logits"] = out_obj.start_logits
        expected["end_logits"] = out_obj.end_logits
        expected["loss"] = out_obj.loss
    else:
        expected["logits"] = out_obj.logits
        expected["loss"] = out_obj.loss

    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    model.save_pretrained(d, safe_serialization=True)
    state = model.state_dict()
    if name == "bertmodel-legacy-keys":
        # Old TF-converted checkpoints: `bert.` prefix and LayerNorm.gamma/beta.
        state = {("bert." + k).replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): v
                 for k, v in state.items()}
    torch.save(state, os.path.join(d, "pytorch_model.bin"))
    save_file({k: v.contiguous() for k, v in {**inputs, **labels}.items()}, os.path.join(d, "inputs.safetensors"))
    save_file({k: v.contiguous().clone() for k, v in expected.items()}, os.path.join(d, "expected.safetensors"),
              metadata={"transformers": transformers.__version__, "torch": torch.__version__})
    print(f"[reference] {d}: {cls.__name__}, {len(expected)} expected tensors")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output directory (one subdirectory per case)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    for case in CASES:
        build(*case, args.out)
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write("# Hugging Face reference models\n\nGenerated by `scripts/make_reference.py` with transformers "
                f"{transformers.__version__} and torch {torch.__version__} (random weights, nothing downloaded).\n"
                "One directory per case: a checkpoint (config.json, model.safetensors, pytorch_model.bin), "
                "inputs.safetensors (input ids, mask, token types, labels) and expected.safetensors (eval-mode "
                "outputs with output_hidden_states and output_attentions). Checked by "
                "test/model/test_reference_models.cpp.\n")


if __name__ == "__main__":
    main()
