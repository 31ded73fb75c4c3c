"""Tiny random reward models of the other architectures `reward.model` accepts, with expected outputs.

Writes, under tests/fixtures/models/:
  tiny-gpt2-classifier/   GPT2ForSequenceClassification (the real GPT-2 tokenizer, pad = <|endoftext|>),
                          labels NEGATIVE/POSITIVE: the score at the last non-pad token
  tiny-bert/              BertForSequenceClassification (pooler on [CLS])
  tiny-distilbert/        DistilBertForSequenceClassification (pre_classifier + ReLU on [CLS]),
                          the architecture of lvwerra/distilbert-imdb
  tokenizer for both BERTs: a small uncased WordPiece vocabulary (specials, every character of the
  IMDB sample and its ## form, its 600 most frequent words), made deterministically here
  expected-reward-archs.json   transformers' logits on a few texts, single and right-padded

Run by `cargo xtask fixtures`; CI never runs Python. Versions: tests/reference/requirements.txt.
"""

import argparse
import collections
import json
import os
import re
import shutil

import pyarrow.parquet as pq
import torch
from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import WordPiece
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    DistilBertConfig,
    DistilBertForSequenceClassification,
    GPT2Config,
    GPT2ForSequenceClassification,
    PreTrainedTokenizerFast,
)

TEXTS = [
    "Hello world",
    "This movie was",
    "I really did not like the acting in this film, because",
    "Zyzzyva! An unknown word, and émigré accents.",
]
LABELS = ("NEGATIVE", "POSITIVE")
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def wordpiece_tokenizer(sample_parquet, out_dir):
    """An uncased BERT tokenizer whose vocabulary comes from the IMDB sample (deterministic)."""
    texts = pq.read_table(sample_parquet, columns=["text"]).column("text").to_pylist()
    words = collections.Counter()
    chars = set()
    for text in texts:
        text = text.lower()
        chars.update(c for c in text if not c.isspace())
        words.update(re.findall(r"[a-z]+", text))
    top = [w for w, _ in sorted(words.items(), key=lambda kv: (-kv[1], kv[0]))[:600]]
    chars = sorted(chars)
    vocab = SPECIALS + chars + ["##" + c for c in chars] + [w for w in top if w not in chars]
    ids = {tok: i for i, tok in enumerate(vocab)}
    tok = Tokenizer(WordPiece(ids, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True,
                                                clean_text=True, handle_chinese_chars=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])],
    )
    tok.decoder = decoders.WordPiece(prefix="##")
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    fast.save_pretrained(out_dir)
    return fast


def expected_outputs(model, tok, pad_id):
    """Logits per text alone and in one right-padded batch (pad = `pad_id`, masked)."""
    out = {"single": [], "padded": {}}
    with torch.no_grad():
        rows = [tok.encode(t) for t in TEXTS]
        for text, ids in zip(TEXTS, rows):
            logits = model(input_ids=torch.tensor([ids])).logits[0]
            out["single"].append({"text": text, "input_ids": ids, "logits": logits.tolist()})
        width = max(len(r) for r in rows)
        ids = torch.tensor([r + [pad_id] * (width - len(r)) for r in rows])
        mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
        logits = model(input_ids=ids, attention_mask=mask).logits
        out["padded"] = {"input_ids": ids.tolist(), "lengths": [len(r) for r in rows],
                         "logits": logits.tolist()}
    return out


def save(model, tok_source, out_dir, name):
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    model.save_pretrained(d, safe_serialization=True)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(tok_source, f), d)
    return d


def labels():
    return {"id2label": dict(enumerate(LABELS)), "label2id": {l: i for i, l in enumerate(LABELS)}}


def make_gpt2(out_dir, tok_dir, seed):
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=50257, n_positions=64, n_embd=16, n_layer=2, n_head=2,
                        initializer_range=0.2, pad_token_id=50256, attn_implementation="eager",
                        **labels())
    model = GPT2ForSequenceClassification(config).eval()
    save(model, tok_dir, out_dir, "tiny-gpt2-classifier")
    tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(tok_dir, "tokenizer.json"))
    return expected_outputs(model, tok, 50256)


def make_bert(out_dir, tok_dir, vocab_size, seed):
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=vocab_size, hidden_size=8, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=16, max_position_embeddings=64,
                        initializer_range=0.2, attn_implementation="eager", **labels())
    model = BertForSequenceClassification(config).eval()
    save(model, tok_dir, out_dir, "tiny-bert")
    return expected_outputs(model, PreTrainedTokenizerFast.from_pretrained(tok_dir), 0)


def make_distilbert(out_dir, tok_dir, vocab_size, seed):
    torch.manual_seed(seed)
    config = DistilBertConfig(vocab_size=vocab_size, dim=8, n_layers=2, n_heads=2, hidden_dim=16,
                              max_position_embeddings=64, initializer_range=0.2,
                              attn_implementation="eager", **labels())
    model = DistilBertForSequenceClassification(config).eval()
    save(model, tok_dir, out_dir, "tiny-distilbert")
    return expected_outputs(model, PreTrainedTokenizerFast.from_pretrained(tok_dir), 0)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=os.path.join(root, "fixtures", "models"))
    parser.add_argument("--seed", type=int, default=2)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    bert_tok_dir = os.path.join(args.out, "tiny-bert-tokenizer")
    tok = wordpiece_tokenizer(os.path.join(root, "fixtures", "imdb", "sample.parquet"), bert_tok_dir)
    vocab_size = len(tok)
    expected = {
        "versions": {"torch": torch.__version__,
                     "transformers": __import__("transformers").__version__},
        "gpt2": make_gpt2(args.out, os.path.join(root, "fixtures", "tokenizers", "gpt2"), args.seed),
        "bert": make_bert(args.out, bert_tok_dir, vocab_size, args.seed + 1),
        "distilbert": make_distilbert(args.out, bert_tok_dir, vocab_size, args.seed + 2),
    }
    shutil.rmtree(bert_tok_dir)
    with open(os.path.join(args.out, "expected-reward-archs.json"), "w") as f:
        json.dump(expected, f)
    print(f"wrote reward-architecture fixtures to {args.out}")


if __name__ == "__main__":
    main()
