"""Golden numbers from TRL 0.11.4's own PPO code, for crates/ppo/tests/golden.rs.

Runs PPOTrainer.compute_rewards / compute_advantages / loss, trl.core.masked_* and the KL
controllers and RunningMoments on fixed random inputs with ragged masks (leading and trailing
zeros), and writes tests/fixtures/ppo/trl011_golden.json. The trainer methods are called
unbound on a stand-in `self` holding only `config` and `kl_ctl`, so no model is needed.
Usage: python tests/reference/ppo_trl011.py (or `cargo xtask fixtures`).
"""

import json
import os
from types import SimpleNamespace

import torch
import trl
from trl import PPOConfig, PPOTrainer
from trl.core import entropy_from_logits, logprobs_from_logits, masked_mean, masked_var, masked_whiten
from trl.trainer.utils import AdaptiveKLController, FixedKLController, RunningMoments

B, R, V = 4, 7, 11
MASK = [
    [0, 1, 1, 1, 1, 1, 0],
    [1, 1, 1, 0, 0, 0, 0],
    [0, 0, 1, 1, 1, 1, 1],
    [1, 1, 1, 1, 1, 1, 1],
]


def tolist(t):
    return t.detach().double().tolist()


def stand_in(**config):
    cfg = PPOConfig(**config)
    me = SimpleNamespace(config=cfg, kl_ctl=FixedKLController(cfg.init_kl_coef))
    me._kl_penalty = lambda logprob, ref_logprob: PPOTrainer._kl_penalty(me, logprob, ref_logprob)
    return me


def main():
    torch.manual_seed(0)
    mask = torch.tensor(MASK, dtype=torch.float32)
    logits = torch.randn(B, R, V)
    ref_logits = logits + 0.3 * torch.randn(B, R, V)
    tokens = torch.randint(0, V, (B, R))
    logprobs = logprobs_from_logits(logits, tokens)
    ref_logprobs = logprobs_from_logits(ref_logits, tokens)
    values = torch.randn(B, R)
    scores = torch.randn(B)
    out = {
        "trl_version": trl.__version__,
        "mask": MASK,
        "logits": tolist(logits),
        "ref_logits": tolist(ref_logits),
        "tokens": tokens.tolist(),
        "logprobs": tolist(logprobs),
        "ref_logprobs": tolist(ref_logprobs),
        "values": tolist(values),
        "scores": tolist(scores),
        "masked": {
            "mean": masked_mean(values, mask).item(),
            "var_unbiased": masked_var(values, mask).item(),
            "var_biased": masked_var(values, mask, unbiased=False).item(),
            "whiten": tolist(masked_whiten(values, mask)),
            "whiten_no_shift": tolist(masked_whiten(values, mask, shift_mean=False)),
        },
        "rewards": {},
        "advantages": {},
    }
    for kind in ["kl", "abs", "mse", "full"]:
        me = stand_in(kl_penalty=kind, init_kl_coef=0.2)
        if kind == "full":
            lp = logprobs_from_logits(logits, None, gather=False)
            rlp = logprobs_from_logits(ref_logits, None, gather=False)
        else:
            lp, rlp = logprobs, ref_logprobs
        rewards, non_score, kls = PPOTrainer.compute_rewards(me, scores, lp, rlp, mask)
        out["rewards"][kind] = {"rewards": tolist(rewards), "non_score": tolist(non_score), "kls": tolist(kls)}
    rewards = torch.tensor(out["rewards"]["kl"]["rewards"], dtype=torch.float32)
    for name, cfg in {
        "default": dict(gamma=1.0, lam=0.95, whiten_rewards=False),
        "discounted_whitened": dict(gamma=0.9, lam=0.8, whiten_rewards=True),
    }.items():
        me = stand_in(**cfg)
        v, adv, ret = PPOTrainer.compute_advantages(me, values, rewards, mask)
        out["advantages"][name] = {**cfg, "values": tolist(v), "advantages": tolist(adv), "returns": tolist(ret)}

    # One loss evaluation: new log-probs / values drift from the old ones.
    adv = torch.tensor(out["advantages"]["default"]["advantages"], dtype=torch.float32)
    ret = torch.tensor(out["advantages"]["default"]["returns"], dtype=torch.float32)
    old_values = torch.tensor(out["advantages"]["default"]["values"], dtype=torch.float32)
    new_logits = logits + 0.2 * torch.randn(B, R, V)
    new_logprobs = logprobs_from_logits(new_logits, tokens)
    vpreds = old_values + 0.3 * torch.randn(B, R)
    out["loss"] = {"new_logits": tolist(new_logits), "new_logprobs": tolist(new_logprobs), "vpreds": tolist(vpreds),
                   "cases": {}}
    for name, threshold in {"default": 10.0, "skipped": 0.5}.items():
        me = stand_in(cliprange=0.2, cliprange_value=0.2, vf_coef=0.1, ratio_threshold=threshold)
        pg, vf, stats = PPOTrainer.loss(me, logprobs, old_values, new_logits, vpreds, new_logprobs, mask, adv, ret)
        stats = {k: (v.item() if v.numel() == 1 else tolist(v)) for k, v in stats.items()}
        out["loss"]["cases"][name] = {"ratio_threshold": threshold, "pg_loss": pg.item(),
                                      "weighted_vf_loss": vf.item(), "stats": stats}
    out["entropy"] = tolist(entropy_from_logits(new_logits))

    # KL controllers and running score moments.
    currents = [8.0, 2.0, 30.0, 6.5, -1.0]
    adaptive = AdaptiveKLController(0.2, 6.0, 10000)
    fixed = FixedKLController(0.2)
    trace = []
    for c in currents:
        adaptive.update(c, 128)
        fixed.update(c, 128)
        trace.append([adaptive.value, fixed.value])
    out["kl_controller"] = {"currents": currents, "n_steps": 128, "trace": trace}
    running = RunningMoments(SimpleNamespace(use_distributed=False))
    batches = [[1.0, 2.0, 3.5, -0.5], [0.25, 4.0, 2.0, 2.0], [-3.0, 1.0, 0.0, 5.0]]
    moments = []
    for batch in batches:
        running.update(torch.tensor(batch))
        moments.append([running.mean, running.std, running.var, running.count])
    out["running_moments"] = {"batches": batches, "after_each": moments}

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.join(root, "fixtures", "ppo", "trl011_golden.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(out, f)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
