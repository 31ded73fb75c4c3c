"""Checks that a reward model saved by `rlhf train-reward` (either objective) loads in
transformers' AutoModelForSequenceClassification and scores like `rlhf score`.

Usage: python tests/reference/check_reward_export.py MODEL_DIR [RLHF_BINARY]
(RLHF_BINARY defaults to target/debug/rlhf.) Exit status 0 when every logit agrees within 1e-4.
"""

import json
import subprocess
import sys

import torch
from transformers import AutoModelForSequenceClassification, PreTrainedTokenizerFast

TEXTS = ["A wonderful film, I loved every minute.", "Dull, slow and far too long.", "It was fine."]


def main():
    model_dir = sys.argv[1]
    binary = sys.argv[2] if len(sys.argv) > 2 else "target/debug/rlhf"
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    tok = PreTrainedTokenizerFast(tokenizer_file=f"{model_dir}/tokenizer.json")
    args = [binary, "score", "--model", model_dir]
    for t in TEXTS:
        args += ["--text", t]
    ours = [json.loads(l) for l in subprocess.run(args, check=True, capture_output=True, text=True).stdout.splitlines()]
    worst = 0.0
    with torch.no_grad():
        for text, line in zip(TEXTS, ours):
            theirs = model(torch.tensor([tok.encode(text)])).logits[0].tolist()
            mine = [line["logits"][model.config.id2label[i]] for i in range(len(theirs))]
            worst = max(worst, max(abs(a - b) for a, b in zip(theirs, mine)))
            print(f"{text!r}: transformers {theirs}, rlhf {mine}")
    print(f"num_labels {model.config.num_labels}; max abs difference {worst:.3g}")
    sys.exit(0 if worst < 1e-4 else 1)


if __name__ == "__main__":
    main()
