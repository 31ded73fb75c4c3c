"""TRL 0.11.4's PPOTrainer (CPU, or the GPU accelerate picks): the reference for one full PPO step in `cargo xtask bench`.

Same work as the Rust side: prompts from tests/reference/bench_prompts.json, responses of exactly
NEW_TOKENS sampled tokens (top_k 0, top_p 1), reward = POSITIVE logit of the RoBERTa classifier
on the decoded query + response, then `PPOTrainer.step` with mini_batch_size = batch_size and
4 PPO epochs. Prints one JSON object per batch size with the phase timings (median of REPEATS
steps after a warm-up step) and the process's peak resident memory.
Usage: python tests/reference/bench_ppo_step.py --policy DIR --reward DIR [--batch 16] [--new-tokens 16]
"""

import argparse
import json
import os
import resource
import statistics
import time
import warnings

import torch
from transformers import AutoModelForSequenceClassification, PreTrainedTokenizerFast
from trl import AutoModelForCausalLMWithValueHead, PPOConfig, PPOTrainer

warnings.filterwarnings("ignore")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--policy", required=True)
    parser.add_argument("--reward", required=True)
    parser.add_argument("--batch", type=int, nargs="+", default=[16])
    parser.add_argument("--new-tokens", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    with open(os.path.join(here, "bench_prompts.json")) as f:
        prompts = json.load(f)["prompts"]
    tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(args.policy, "tokenizer.json"))
    tok.pad_token = tok.eos_token = "<|endoftext|>"
    rtok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(args.reward, "tokenizer.json"))
    rtok.pad_token = "<pad>"
    reward = AutoModelForSequenceClassification.from_pretrained(args.reward).eval()
    positive = reward.config.label2id["POSITIVE"]
    torch.manual_seed(0)
    for b in args.batch:
        model = AutoModelForCausalLMWithValueHead.from_pretrained(args.policy)
        ref = AutoModelForCausalLMWithValueHead.from_pretrained(args.policy)
        config = PPOConfig(batch_size=b, mini_batch_size=b, ppo_epochs=4, learning_rate=1.41e-5, seed=0)
        trainer = PPOTrainer(config, model, ref, tok)
        device = trainer.accelerator.device
        reward.to(device)
        queries = [torch.tensor(tok.encode(p)) for p in (prompts * (b // len(prompts) + 1))[:b]]
        gen = dict(min_length=-1, top_k=0, top_p=1.0, do_sample=True, pad_token_id=tok.eos_token_id,
                   max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens)
        runs = []
        for _ in range(args.repeats + 1):
            t0 = time.perf_counter()
            responses = trainer.generate(queries, return_prompt=False, batch_size=b, **gen)
            t1 = time.perf_counter()
            texts = [tok.decode(q) + tok.decode(r) for q, r in zip(queries, responses)]
            enc = rtok(texts, return_tensors="pt", padding=True, truncation=True, max_length=512).to(device)
            with torch.no_grad():
                scores = reward(**enc).logits[:, positive]
            rewards = [s for s in scores]
            if device.type == "cuda":
                torch.cuda.synchronize()
            t2 = time.perf_counter()
            stats = trainer.step(queries, responses, rewards)
            if device.type == "cuda":
                torch.cuda.synchronize()
            t3 = time.perf_counter()
            runs.append({"generate": t1 - t0, "score": t2 - t1, "ppo_step": t3 - t2, "total": t3 - t0,
                         "forward_pass": float(stats["time/ppo/forward_pass"]),
                         "optimize_step": float(stats["time/ppo/optimize_step"])})
        runs = runs[1:]
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(json.dumps({"impl": "trl-0.11.4", "batch": b, "new_tokens": args.new_tokens,
                          "threads": torch.get_num_threads(), "device": str(device), "seconds": med,
                          "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}),
              flush=True)


if __name__ == "__main__":
    main()
