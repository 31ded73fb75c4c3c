"""Checks that a directory written by `rlhf export` loads in transformers and gives the same
logits as the checkpoint it came from.

Usage: python tests/reference/check_export.py EXPORTED_DIR ORIGINAL_DIR
"""

import sys

import torch
from transformers import GPT2LMHeadModel, PreTrainedTokenizerFast


def main():
    exported, original = sys.argv[1], sys.argv[2]
    a = GPT2LMHeadModel.from_pretrained(exported).eval()
    b = GPT2LMHeadModel.from_pretrained(original).eval()
    tok = PreTrainedTokenizerFast(tokenizer_file=f"{exported}/tokenizer.json")
    ids = torch.tensor([tok.encode("I really did not like the acting in this film")])
    with torch.no_grad():
        err = (a(ids).logits - b(ids).logits).abs().max().item()
    tied = a.lm_head.weight.data_ptr() == a.transformer.wte.weight.data_ptr()
    print(f"max abs logit difference {err:.3g}; lm_head tied to wte: {tied}")
    sys.exit(0 if err < 1e-6 and tied else 1)


if __name__ == "__main__":
    main()
