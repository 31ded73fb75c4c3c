//! The per-token KL penalty (`kl`, `abs`, `mse`, `full`) and the KL coefficient controllers.

use burn::tensor::Tensor;
use config::KlPenalty;
use serde::{Deserialize, Serialize};

/// Per-token penalty from sampled-token log-probs `[b, r]` (TRL `_kl_penalty`):
/// `kl` = logp − logp_ref, `abs` = |logp − logp_ref|, `mse` = ½(logp − logp_ref)².
/// `full` needs whole distributions: use [`kl_full`].
pub fn kl_penalty(logprobs: Tensor<2>, ref_logprobs: Tensor<2>, kind: KlPenalty) -> Tensor<2> {
    let diff = logprobs - ref_logprobs;
    match kind {
        KlPenalty::Kl | KlPenalty::Full => diff,
        KlPenalty::Abs => diff.abs(),
        KlPenalty::Mse => diff.square().mul_scalar(0.5),
    }
}

/// Exact KL(π ‖ π_ref) per position from log-distributions `[b, r, vocab]` (log-softmax of
/// the logits) → `[b, r]` (TRL `full`).
pub fn kl_full(log_dist: Tensor<3>, ref_log_dist: Tensor<3>) -> Tensor<2> {
    (log_dist.clone().exp() * (log_dist - ref_log_dist))
        .sum_dim(2)
        .squeeze_dim::<2>(2)
}

/// The KL coefficient β: fixed, or adapted towards a target KL (Ziegler et al. 2019).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum KlController {
    /// β never changes.
    Fixed {
        /// β.
        value: f64,
    },
    /// `e = clip(KL/target − 1, ±0.2)`, `β ← β·(1 + e·n/horizon)`.
    Adaptive {
        /// Current β.
        value: f64,
        /// Target KL per sequence (nats).
        target: f64,
        /// Horizon in samples.
        horizon: f64,
    },
}

impl KlController {
    /// The controller TRL builds from `adap_kl_ctrl`, `init_kl_coef`, `target`, `horizon`.
    pub fn new(adaptive: bool, init: f64, target: f64, horizon: f64) -> Self {
        if adaptive {
            KlController::Adaptive {
                value: init,
                target,
                horizon,
            }
        } else {
            KlController::Fixed { value: init }
        }
    }

    /// Current β.
    pub fn value(&self) -> f64 {
        match self {
            KlController::Fixed { value } | KlController::Adaptive { value, .. } => *value,
        }
    }

    /// Updates β after a step whose mean summed KL was `current`, over `n_steps` samples.
    pub fn update(&mut self, current: f64, n_steps: usize) {
        if let KlController::Adaptive {
            value,
            target,
            horizon,
        } = self
        {
            let error = (current / *target - 1.0).clamp(-0.2, 0.2);
            *value *= 1.0 + error * n_steps as f64 / *horizon;
        }
    }
}
