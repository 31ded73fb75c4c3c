//! Wall time of the phases of a PPO step, logged under TRL's `time/*` keys.

use std::time::Instant;

use serde_json::json;

use super::metrics::Metrics;

/// Wall time of each phase of a step, in seconds (TRL's `time/*` keys).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    /// Sampling the responses (and decoding them).
    pub generate: f64,
    /// The reward model.
    pub score: f64,
    /// Exchanging the ranks' rollouts (0 in a single process).
    pub gather: f64,
    /// The no-grad forward of policy and reference.
    pub forward: f64,
    /// KL penalty and per-token rewards.
    pub rewards: f64,
    /// GAE and whitening.
    pub advantages: f64,
    /// The PPO epochs.
    pub optimize: f64,
    /// Statistics, divergence check and KL controller update.
    pub stats: f64,
}

impl Timings {
    /// Adds the `time/*` keys to `metrics`, with `total` for the whole step.
    pub(super) fn record(&self, metrics: &mut Metrics, total: f64) {
        for (key, secs) in [
            ("time/rollout/generate", self.generate),
            ("time/rollout/score", self.score),
            ("time/rollout/gather", self.gather),
            ("time/ppo/forward_pass", self.forward),
            ("time/ppo/compute_rewards", self.rewards),
            ("time/ppo/compute_advantages", self.advantages),
            ("time/ppo/optimize_step", self.optimize),
            ("time/ppo/calc_stats", self.stats),
            ("time/ppo/total", total),
        ] {
            metrics.insert(key.into(), json!(secs));
        }
    }
}

/// Runs `phase`, adding its wall time to `slot`.
pub(super) fn timed<T>(slot: &mut f64, phase: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = phase();
    *slot += started.elapsed().as_secs_f64();
    out
}
