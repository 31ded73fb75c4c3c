"""transformers' `generate` speed on CPU (or `--device cuda`), the reference for `cargo xtask bench`.

Same prompts (tests/reference/bench_prompts.json), same settings as the Rust side: left-padded
batch, sampling with top_k=0, top_p=1.0, exactly NEW_TOKENS new tokens (min = max). Prints one
JSON object per batch size: {"impl", "batch", "new_tokens", "seconds", "tokens_per_s"}.
Usage: python tests/reference/bench_generate.py --model-dir DIR [--batch 1 16] [--new-tokens 16] [--device cuda]
"""

import argparse
import json
import os
import statistics
import time

import torch
from transformers import GPT2LMHeadModel, PreTrainedTokenizerFast


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--new-tokens", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    with open(os.path.join(here, "bench_prompts.json")) as f:
        prompts = json.load(f)["prompts"]
    tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(args.model_dir, "tokenizer.json"))
    model = GPT2LMHeadModel.from_pretrained(args.model_dir).eval().to(args.device)
    eos = model.config.eos_token_id
    torch.manual_seed(0)
    for b in args.batch:
        rows = [tok.encode(p) for p in (prompts * (b // len(prompts) + 1))[:b]]
        width = max(len(r) for r in rows)
        ids = torch.tensor([[eos] * (width - len(r)) + r for r in rows], device=args.device)
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=args.device)
        kwargs = dict(attention_mask=mask, do_sample=True, top_k=0, top_p=1.0, pad_token_id=eos,
                      max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens)
        times = []
        with torch.no_grad():
            model.generate(ids, **kwargs)  # warm-up
            for _ in range(args.repeats):
                start = time.perf_counter()
                model.generate(ids, **kwargs)
                if args.device.startswith("cuda"):
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - start)
        seconds = statistics.median(times)
        print(json.dumps({"impl": "transformers", "threads": torch.get_num_threads(), "device": args.device, "batch": b,
                          "new_tokens": args.new_tokens, "seconds": seconds,
                          "tokens_per_s": b * args.new_tokens / seconds}), flush=True)


if __name__ == "__main__":
    main()
