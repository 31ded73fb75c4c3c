//! One step's statistics under TRL 0.11.4's names (`record_step_stats`, `loss`, `log_stats`).
//!
//! TRL logs some keys as whole tensors (`policy/ratio`, `policy/advantages`,
//! `objective/logprobs`); here those are reduced to their masked means, and the per-sample
//! distributions `objective/kl_dist`, `env/reward_dist`, `tokens/responses_dist` are arrays.

use serde_json::{Value, json};

use super::epochs::EpochsOutput;
use super::metrics::Metrics;
use crate::loss::LossStats;

/// Host-side inputs of [`step_metrics`]; per-token arrays are row-major `[b, r]`.
#[derive(Debug)]
pub struct StepRecord<'a> {
    /// Step number (1-based after the update).
    pub step: usize,
    /// Scores from the scorer (before scaling/clipping): `env/reward_*`.
    pub raw_scores: &'a [f64],
    /// Scores used in the rewards: `ppo/mean_scores`, `ppo/std_scores`.
    pub scores: &'a [f64],
    /// Per-token KL penalty.
    pub kls: &'a [f32],
    /// `-β·kl`.
    pub non_score: &'a [f32],
    /// Rollout log-probs.
    pub logprobs: &'a [f32],
    /// Response mask.
    pub mask: &'a [f32],
    /// Response width.
    pub r: usize,
    /// Query lengths.
    pub query_lens: &'a [usize],
    /// Response lengths.
    pub response_lens: &'a [usize],
    /// Responses that contain EOS.
    pub eos_count: usize,
    /// β used for this step's rewards.
    pub kl_coef: f64,
    /// Learning rate.
    pub learning_rate: f64,
    /// The epochs' minibatch statistics.
    pub epochs: &'a EpochsOutput,
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len().max(1) as f64
}

/// Unbiased standard deviation (torch's default).
fn std(xs: &[f64]) -> f64 {
    let m = mean(xs);
    let n = xs.len() as f64;
    (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt()
}

/// The step's metrics (timings are added by the trainer).
pub fn step_metrics(rec: &StepRecord<'_>) -> Metrics {
    let rows = rec.raw_scores.len();
    let per_row = |v: &[f32]| -> Vec<f64> {
        (0..rows)
            .map(|i| {
                (0..rec.r)
                    .map(|t| f64::from(v[i * rec.r + t] * rec.mask[i * rec.r + t]))
                    .sum()
            })
            .collect()
    };
    let kl_list = per_row(rec.kls);
    let neg_logprobs: Vec<f32> = rec.logprobs.iter().map(|l| -l).collect();
    let entropy = mean(&per_row(&neg_logprobs));
    let mask_sum: f64 = rec.mask.iter().map(|&m| f64::from(m)).sum();
    let non_score = per_row(rec.non_score).iter().sum::<f64>() / mask_sum.max(1.0);
    let lens = |v: &[usize]| -> Vec<f64> { v.iter().map(|&l| l as f64).collect() };
    let (q, r) = (lens(rec.query_lens), lens(rec.response_lens));

    let mut m = Metrics::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    put("step", json!(rec.step));
    put("env/reward_mean", json!(mean(rec.raw_scores)));
    put("env/reward_std", json!(std(rec.raw_scores)));
    put("env/reward_dist", json!(rec.raw_scores));
    put("objective/kl", json!(mean(&kl_list)));
    put("objective/kl_dist", json!(kl_list));
    put("objective/kl_coef", json!(rec.kl_coef));
    put("objective/entropy", json!(entropy));
    put("ppo/mean_non_score_reward", json!(non_score));
    put("ppo/mean_scores", json!(mean(rec.scores)));
    put("ppo/std_scores", json!(std(rec.scores)));
    put("tokens/queries_len_mean", json!(mean(&q)));
    put("tokens/queries_len_std", json!(std(&q)));
    put("tokens/responses_len_mean", json!(mean(&r)));
    put("tokens/responses_len_std", json!(std(&r)));
    put("tokens/responses_dist", json!(r));
    put(
        "tokens/responses_eos_frac",
        json!(rec.eos_count as f64 / rows.max(1) as f64),
    );
    put("ppo/learning_rate", json!(rec.learning_rate));

    let mb = &rec.epochs.minibatches;
    let avg = |f: fn(&LossStats) -> f64| mean(&mb.iter().map(f).collect::<Vec<_>>());
    let error = avg(|s| s.val_error);
    let returns_var = avg(|s| s.returns_var);
    for (key, value) in [
        ("ppo/loss/policy", avg(|s| s.loss_policy)),
        ("ppo/loss/value", avg(|s| s.loss_value)),
        ("ppo/loss/total", avg(|s| s.loss_total)),
        ("ppo/policy/entropy", avg(|s| s.entropy)),
        ("ppo/policy/approxkl", avg(|s| s.approxkl)),
        ("ppo/policy/policykl", avg(|s| s.policykl)),
        ("ppo/policy/clipfrac", avg(|s| s.clipfrac)),
        ("ppo/policy/advantages_mean", avg(|s| s.advantages_mean)),
        ("ppo/policy/ratio", avg(|s| s.ratio_mean)),
        ("ppo/returns/mean", avg(|s| s.returns_mean)),
        ("ppo/returns/var", returns_var),
        ("ppo/val/vpred", avg(|s| s.vpred)),
        ("ppo/val/error", error),
        ("ppo/val/clipfrac", avg(|s| s.val_clipfrac)),
        ("ppo/val/mean", avg(|s| s.val_mean)),
        ("ppo/val/var", avg(|s| s.val_var)),
        ("ppo/val/var_explained", 1.0 - error / returns_var),
    ] {
        put(key, json!(value));
    }
    if !rec.epochs.grad_norms.is_empty() {
        put("ppo/grad_norm", json!(mean(&rec.epochs.grad_norms)));
    }
    put(
        "ppo/skipped_minibatches",
        json!(mb.iter().filter(|s| s.skipped).count()),
    );
    put("ppo/minibatches", json!(mb.len()));
    put("ppo/early_stopped", json!(rec.epochs.early_stopped));
    put(
        "ppo/first_minibatch_ratio",
        json!(mb.first().map_or(f64::NAN, |s| s.ratio_mean)),
    );
    m
}
