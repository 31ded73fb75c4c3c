"""transformers' outputs on a Hugging Face model directory, for `cargo xtask parity`.

Writes a SafeTensors file with the inputs and transformers' logits of a fixed set of texts:
  GPT-2:   left-padded batch, position ids cumsum(mask)-1 (as generate does), logits [b, t, vocab]
  RoBERTa: right-padded batch, logits [b, num_labels]
Usage: python tests/reference/parity.py --model-dir DIR --out FILE.safetensors
"""

import argparse
import json
import os

import torch
from safetensors.torch import save_file
from transformers import (
    GPT2LMHeadModel,
    PreTrainedTokenizerFast,
    RobertaForSequenceClassification,
)

TEXTS = [
    "Hello world",
    "This movie was one of the best I have seen in years.",
    "I really did not like the acting in this film, because the plot made no sense at all.",
    "Terrible",
]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with open(os.path.join(args.model_dir, "config.json")) as f:
        model_type = json.load(f)["model_type"]
    tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(args.model_dir, "tokenizer.json"))
    rows = [tok.encode(t) for t in TEXTS]
    width = max(len(r) for r in rows)
    with torch.no_grad():
        if model_type == "gpt2":
            model = GPT2LMHeadModel.from_pretrained(args.model_dir, attn_implementation="eager").eval()
            pad = model.config.eos_token_id
            ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows])
            mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
            pos = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)
            logits = model(input_ids=ids, attention_mask=mask, position_ids=pos).logits
        elif model_type == "roberta":
            model = RobertaForSequenceClassification.from_pretrained(
                args.model_dir, attn_implementation="eager").eval()
            pad = model.config.pad_token_id
            ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
            mask = (ids != pad).long()
            logits = model(input_ids=ids, attention_mask=mask).logits
        else:
            raise SystemExit(f"unsupported model_type {model_type}")
    save_file(
        {"input_ids": ids.int(), "attention_mask": mask.int(), "logits": logits.float().contiguous()},
        args.out, metadata={"format": "pt", "model_type": model_type},
    )
    print(f"{model_type}: {len(rows)} texts, logits {tuple(logits.shape)} -> {args.out}")


if __name__ == "__main__":
    main()
