"""Full-size random checkpoints in Hugging Face layout, for parity checks and benchmarks.

  gpt2-124m/       GPT2LMHeadModel with GPT-2 small's config (124M parameters)
  roberta-large/   RobertaForSequenceClassification with RoBERTa-large's config (355M), labels
                   NEGATIVE/POSITIVE like siebert/sentiment-roberta-large-english

With --size narrow, the same vocabularies at width 512 instead (gpt2-512: 12 layers, 8 heads;
roberta-512: 12 layers, 8 heads, intermediate 2048), written as gpt2-124m/ and roberta-large/
under --out all the same: every embedding matrix then stays under 128 MiB, the largest storage
buffer Mesa's software Vulkan driver (lavapipe) binds, so the benchmark can run there.

Random weights (seeded) with the real tokenizers: the architecture and the arithmetic are what
is compared, and the hub is not reachable here. Usage:
  python tests/reference/make_full_size.py --out target/reference-models [--size narrow]
"""

import argparse
import os
import shutil

import torch
from transformers import GPT2Config, GPT2LMHeadModel, RobertaConfig, RobertaForSequenceClassification


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", choices=["full", "narrow"], default="full")
    args = parser.parse_args()
    tokenizers = os.path.join(root, "fixtures", "tokenizers")

    torch.manual_seed(args.seed)
    narrow = args.size == "narrow"
    # full: n_embd 768, 12 layers, 12 heads, 1024 positions
    gpt2 = GPT2LMHeadModel(GPT2Config(n_embd=512, n_head=8) if narrow else GPT2Config())
    d = os.path.join(args.out, "gpt2-124m")
    gpt2.save_pretrained(d, safe_serialization=True)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(tokenizers, "gpt2", f), d)
    print(f"{d}: {sum(p.numel() for p in gpt2.parameters()) / 1e6:.1f}M parameters")

    torch.manual_seed(args.seed + 1)
    config = RobertaConfig(
        vocab_size=50265, hidden_size=512 if narrow else 1024,
        num_hidden_layers=12 if narrow else 24, num_attention_heads=8 if narrow else 16,
        intermediate_size=2048 if narrow else 4096, max_position_embeddings=514, type_vocab_size=1, pad_token_id=1,
        bos_token_id=0, eos_token_id=2, layer_norm_eps=1e-5,
        id2label={0: "NEGATIVE", 1: "POSITIVE"}, label2id={"NEGATIVE": 0, "POSITIVE": 1},
    )
    roberta = RobertaForSequenceClassification(config)
    d = os.path.join(args.out, "roberta-large")
    roberta.save_pretrained(d, safe_serialization=True)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(tokenizers, "roberta", f), d)
    print(f"{d}: {sum(p.numel() for p in roberta.parameters()) / 1e6:.1f}M parameters")


if __name__ == "__main__":
    main()
