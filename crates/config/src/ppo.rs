//! PPO hyper-parameters, named and defaulted as TRL 0.11.4's `PPOConfig`
//! (`trl/trainer/ppo_config.py`) with the gpt2-sentiment example's values, plus the
//! OpenAI / N-implementation-details switches, each off by default so TRL behaviour is kept.

use serde::{Deserialize, Serialize};

/// How the per-token KL penalty is estimated (TRL `kl_penalty`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KlPenalty {
    /// `logp - logp_ref`.
    Kl,
    /// `|logp - logp_ref|`.
    Abs,
    /// `0.5 * (logp - logp_ref)^2`.
    Mse,
    /// The exact KL over the whole vocabulary.
    Full,
}

/// PPO hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PpoConfig {
    /// Samples to train on in total; PPO steps = `steps / batch_size`, rounded up.
    pub steps: usize,
    /// Adam learning rate.
    pub learning_rate: f64,
    /// Adaptive (true) or fixed (false) KL coefficient.
    pub adap_kl_ctrl: bool,
    /// Initial KL coefficient beta.
    pub init_kl_coef: f64,
    /// KL estimator used in the per-token penalty.
    pub kl_penalty: KlPenalty,
    /// Adaptive-KL target, in nats per sequence.
    pub target: f64,
    /// Adaptive-KL horizon, in samples.
    pub horizon: f64,
    /// Discount factor.
    pub gamma: f64,
    /// GAE lambda.
    pub lam: f64,
    /// Policy ratio clip range.
    pub cliprange: f64,
    /// Value clip range around the rollout values.
    pub cliprange_value: f64,
    /// Weight of the value loss.
    pub vf_coef: f64,
    /// Samples per PPO step (rollout batch).
    pub batch_size: usize,
    /// Samples per forward pass / optimizer minibatch.
    pub mini_batch_size: usize,
    /// Minibatches accumulated per optimizer step.
    pub gradient_accumulation_steps: usize,
    /// Optimisation epochs over each rollout batch (fresh permutation each epoch).
    pub ppo_epochs: usize,
    /// Global gradient-norm clip; unset = no clipping.
    pub max_grad_norm: Option<f64>,
    /// Stop the epoch loop when the policy KL exceeds 1.5 x `target_kl`.
    pub early_stopping: bool,
    /// KL threshold for `early_stopping`.
    pub target_kl: f64,
    /// Skip (zero the loss of) a minibatch whose mean ratio exceeds this; logged as a warning.
    pub ratio_threshold: f64,
    /// Divide scores by their running standard deviation.
    pub use_score_scaling: bool,
    /// Also subtract the running mean (needs `use_score_scaling`).
    pub use_score_norm: bool,
    /// Clip scores to `[-score_clip, score_clip]`; unset = no clipping.
    pub score_clip: Option<f64>,
    /// Whiten per-token rewards (no mean shift) before GAE.
    pub whiten_rewards: bool,
    /// Adam epsilon (PyTorch default 1e-8).
    pub adam_epsilon: f64,
    /// TensorFlow-1 Adam (OpenAI's choice): ε added to `sqrt(v)`, bias correction in the step size.
    pub tf_style_adam: bool,
    /// Divide logits by `generation.temperature` in every logprob (N-details; TRL classic: off).
    pub temperature_scaled_logprobs: bool,
    /// Subtract this from the score of responses that end without EOS; unset = no penalty.
    pub missing_eos_penalty: Option<f64>,
}

impl Default for PpoConfig {
    fn default() -> Self {
        PpoConfig {
            steps: 20_000,
            learning_rate: 1.41e-5,
            adap_kl_ctrl: true,
            init_kl_coef: 0.2,
            kl_penalty: KlPenalty::Kl,
            target: 6.0,
            horizon: 10_000.0,
            gamma: 1.0,
            lam: 0.95,
            cliprange: 0.2,
            cliprange_value: 0.2,
            vf_coef: 0.1,
            batch_size: 128,
            mini_batch_size: 128,
            gradient_accumulation_steps: 1,
            ppo_epochs: 4,
            max_grad_norm: None,
            early_stopping: false,
            target_kl: 1.0,
            ratio_threshold: 10.0,
            use_score_scaling: false,
            use_score_norm: false,
            score_clip: None,
            whiten_rewards: false,
            adam_epsilon: 1e-8,
            tf_style_adam: false,
            temperature_scaled_logprobs: false,
            missing_eos_penalty: None,
        }
    }
}

impl PpoConfig {
    /// Samples per optimizer step: `mini_batch_size * gradient_accumulation_steps`.
    pub fn backward_batch_size(&self) -> usize {
        self.mini_batch_size * self.gradient_accumulation_steps
    }

    /// PPO steps in the run: `ceil(steps / batch_size)` (TRL `total_ppo_epochs`).
    pub fn total_ppo_steps(&self) -> usize {
        self.steps.div_ceil(self.batch_size.max(1))
    }
}
