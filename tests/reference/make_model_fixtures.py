"""Tiny random GPT-2 (+ TRL value head) and RoBERTa classifier checkpoints, with expected outputs.

Writes, under tests/fixtures/models/:
  tiny-gpt2/      config.json, model.safetensors, pytorch_model.bin, tokenizer.json
  tiny-roberta/   config.json, model.safetensors, pytorch_model.bin, tokenizer.json
  expected.json   logits/values/greedy tokens from transformers + TRL for a few texts,
                  single and in left/right-padded batches.
With --only reward-heads (leaves the files above alone):
  tiny-roberta-scalar/    a RoBERTa reward model with one output (num_labels = 1), the layout
                          `rlhf train-reward --objective pairwise` saves
  expected-reward-heads.json   its logits, as above

The models use the REAL GPT-2 and RoBERTa tokenizers (tests/fixtures/tokenizers) and a tiny hidden
size so the files stay small. Run by `cargo xtask fixtures`; CI never runs Python.
Versions: tests/reference/requirements.txt.
"""

import argparse
import json
import os
import shutil

import torch
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    PreTrainedTokenizerFast,
    RobertaConfig,
    RobertaForSequenceClassification,
)
from trl import AutoModelForCausalLMWithValueHead

TEXTS = [
    "Hello world",
    "This movie was",
    "I really did not like the acting in this film, because",
]
# Vocabulary ids whose logits are stored at every position (plus each row's argmax and logsumexp,
# which summarises the whole row).
SAMPLE_IDS = sorted(set(list(range(0, 50257, 997)) + [50256, 13, 11, 262, 257]))


def fast_tokenizer(path):
    return PreTrainedTokenizerFast(tokenizer_file=os.path.join(path, "tokenizer.json"))


def generate_position_ids(mask):
    """transformers' generate: cumsum(mask) - 1, pads at 1."""
    pos = mask.long().cumsum(-1) - 1
    return pos.masked_fill(mask == 0, 1)


def row_summary(logits, values=None):
    """Per position: logsumexp, argmax, logits at SAMPLE_IDS (and the value)."""
    out = {
        "logsumexp": torch.logsumexp(logits, -1).tolist(),
        "argmax": logits.argmax(-1).tolist(),
        "sample_logits": logits[:, SAMPLE_IDS].tolist(),
    }
    if values is not None:
        out["values"] = values.tolist()
    return out


def left_pad(rows, pad):
    width = max(len(r) for r in rows)
    ids = [[pad] * (width - len(r)) + r for r in rows]
    mask = [[0] * (width - len(r)) + [1] * len(r) for r in rows]
    return torch.tensor(ids), torch.tensor(mask)


def make_gpt2(out_dir, tok_dir, seed):
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=50257, n_positions=64, n_embd=16, n_layer=2, n_head=2,
        initializer_range=0.2, attn_implementation="eager",
    )
    base = GPT2LMHeadModel(config).eval()
    model = AutoModelForCausalLMWithValueHead.from_pretrained(base).eval()
    torch.nn.init.normal_(model.v_head.summary.weight, std=0.5)
    torch.nn.init.normal_(model.v_head.summary.bias, std=0.5)
    d = os.path.join(out_dir, "tiny-gpt2")
    os.makedirs(d, exist_ok=True)
    model.save_pretrained(d, safe_serialization=True)
    # The same weights as a PyTorch pickle (transformers' legacy format) next to it.
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    state = {("transformer." + k[len("pretrained_model.transformer."):]
              if k.startswith("pretrained_model.transformer.") else k): v
             for k, v in state.items() if not k.startswith("pretrained_model.lm_head")}
    torch.save(state, os.path.join(d, "pytorch_model.bin"))
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(tok_dir, f), d)
    gen_cfg = os.path.join(d, "generation_config.json")
    if os.path.exists(gen_cfg):
        os.remove(gen_cfg)

    tok = fast_tokenizer(tok_dir)
    eos = 50256
    expected = {"sample_ids": SAMPLE_IDS, "single": [], "padded": {}, "greedy": {}}
    with torch.no_grad():
        rows = [tok.encode(t) for t in TEXTS]
        for text, ids in zip(TEXTS, rows):
            x = torch.tensor([ids])
            logits, _, values = model(input_ids=x)
            expected["single"].append(
                {"text": text, "input_ids": ids, **row_summary(logits[0], values[0])})
        ids, mask = left_pad(rows, eos)
        pos = generate_position_ids(mask)
        logits, _, values = model(input_ids=ids, attention_mask=mask, position_ids=pos)
        expected["padded"] = {
            "input_ids": ids.tolist(), "attention_mask": mask.tolist(),
            "rows": [row_summary(logits[i], values[i]) for i in range(len(rows))],
        }
        out = base.generate(input_ids=ids, attention_mask=mask, max_new_tokens=8,
                            do_sample=False, pad_token_id=eos)
        new = out[:, ids.shape[1]:]
        expected["greedy"] = {
            "max_new_tokens": 8,
            "tokens": new.tolist(),
            "texts": [tok.decode(r, skip_special_tokens=True) for r in new.tolist()],
            "full_texts": [tok.decode(r, skip_special_tokens=True) for r in out.tolist()],
        }
    return expected


def make_roberta(out_dir, tok_dir, seed, name="tiny-roberta",
                 labels=("NEGATIVE", "POSITIVE"), pickle=True):
    torch.manual_seed(seed)
    config = RobertaConfig(
        vocab_size=50265, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=16, max_position_embeddings=130, type_vocab_size=1, pad_token_id=1,
        bos_token_id=0, eos_token_id=2, initializer_range=0.2,
        id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)},
        attn_implementation="eager",
    )
    model = RobertaForSequenceClassification(config).eval()
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    model.save_pretrained(d, safe_serialization=True)
    if pickle:
        torch.save(model.state_dict(), os.path.join(d, "pytorch_model.bin"))
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(tok_dir, f), d)
    tok = fast_tokenizer(tok_dir)
    expected = {"single": [], "padded": {}}
    with torch.no_grad():
        rows = [tok.encode(t) for t in TEXTS]
        for text, ids in zip(TEXTS, rows):
            logits = model(input_ids=torch.tensor([ids])).logits[0]
            expected["single"].append({"text": text, "input_ids": ids, "logits": logits.tolist()})
        width = max(len(r) for r in rows)
        ids = torch.tensor([r + [1] * (width - len(r)) for r in rows])
        mask = (ids != 1).long()
        logits = model(input_ids=ids, attention_mask=mask).logits
        expected["padded"] = {"input_ids": ids.tolist(), "logits": logits.tolist()}
    return expected


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=os.path.join(root, "fixtures", "models"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=["reward-heads"])
    args = parser.parse_args()
    tokenizers = os.path.join(root, "fixtures", "tokenizers")
    os.makedirs(args.out, exist_ok=True)
    versions = {"torch": torch.__version__, "transformers": __import__("transformers").__version__}
    if args.only == "reward-heads":
        expected = {
            "versions": versions,
            "roberta_scalar": make_roberta(args.out, os.path.join(tokenizers, "roberta"), args.seed + 1,
                                           name="tiny-roberta-scalar", labels=("LABEL_0",), pickle=False),
        }
        with open(os.path.join(args.out, "expected-reward-heads.json"), "w") as f:
            json.dump(expected, f)
        print(f"wrote reward-head fixtures to {args.out}")
        return
    expected = {
        "versions": {"torch": torch.__version__, "transformers": __import__("transformers").__version__,
                     "trl": __import__("trl").__version__},
        "gpt2": make_gpt2(args.out, os.path.join(tokenizers, "gpt2"), args.seed),
        "roberta": make_roberta(args.out, os.path.join(tokenizers, "roberta"), args.seed),
    }
    with open(os.path.join(args.out, "expected.json"), "w") as f:
        json.dump(expected, f)
    print(f"wrote fixtures to {args.out}")


if __name__ == "__main__":
    main()
