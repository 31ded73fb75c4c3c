//! Per-token rewards and generalised advantage estimation (TRL `compute_rewards`,
//! `compute_advantages`).

use burn::tensor::{Tensor, TensorData};

use crate::masked::masked_whiten;

/// Rewards and the KL part of them.
#[derive(Debug, Clone)]
pub struct Rewards {
    /// `-β·kl_t` everywhere, plus the score at each row's last masked position, `[b, r]`.
    pub rewards: Tensor<2>,
    /// `-β·kl_t`, `[b, r]`.
    pub non_score_rewards: Tensor<2>,
}

/// Per-token rewards: `r_t = −β·kl_t`, and the score is **added** at the last position where
/// `mask` is 1 (TRL `compute_rewards`). `kl` and `mask` are `[b, r]`, `scores` has `b` entries;
/// `last_index[i]` is row `i`'s last unmasked column (see [`last_indices`]).
pub fn compute_rewards(
    scores: &[f32],
    kl: Tensor<2>,
    kl_coef: f64,
    last_index: &[usize],
) -> Rewards {
    let [b, r] = kl.dims();
    let non_score_rewards = kl.mul_scalar(-kl_coef);
    let mut bonus = vec![0.0f32; b * r];
    for (row, (&score, &last)) in scores.iter().zip(last_index).enumerate() {
        bonus[row * r + last] = score;
    }
    let device = non_score_rewards.device();
    let bonus: Tensor<2> = Tensor::from_data(TensorData::new(bonus, [b, r]), &device);
    Rewards {
        rewards: non_score_rewards.clone() + bonus,
        non_score_rewards,
    }
}

/// Index of the last 1 in each row of a row-major host mask `[b, r]`; `None` for an empty row.
pub fn last_indices(mask: &[f32], r: usize) -> Option<Vec<usize>> {
    mask.chunks(r.max(1))
        .map(|row| row.iter().rposition(|&m| m > 0.0))
        .collect()
}

/// GAE outputs, all `[b, r]`.
#[derive(Debug, Clone)]
pub struct Advantages {
    /// Values with masked positions zeroed (`values · mask`).
    pub values: Tensor<2>,
    /// Whitened advantages (masked mean 0, unbiased variance 1).
    pub advantages: Tensor<2>,
    /// `A + V` before whitening: the value targets.
    pub returns: Tensor<2>,
}

/// GAE backwards over the response (TRL `compute_advantages`): with values and rewards zeroed
/// outside `mask`, `δ_t = r_t + γ·V_{t+1} − V_t` (V after the end is 0),
/// `A_t = δ_t + γλ·A_{t+1}`, returns `A + V`; then `A` is whitened over the mask. With
/// `whiten_rewards`, rewards are first whitened without a mean shift.
pub fn compute_advantages(
    values: Tensor<2>,
    rewards: Tensor<2>,
    mask: Tensor<2>,
    gamma: f64,
    lam: f64,
    whiten_rewards: bool,
) -> Advantages {
    let [b, r] = values.dims();
    let values = values * mask.clone();
    let mut rewards = rewards * mask.clone();
    if whiten_rewards {
        rewards = masked_whiten(rewards, mask.clone(), false);
    }
    let device = values.device();
    let mut last: Tensor<2> = Tensor::zeros([b, 1], &device);
    let mut columns = Vec::with_capacity(r);
    for t in (0..r).rev() {
        let next_value = if t + 1 < r {
            values.clone().slice([0..b, t + 1..t + 2])
        } else {
            Tensor::zeros([b, 1], &device)
        };
        let delta = rewards.clone().slice([0..b, t..t + 1]) + next_value.mul_scalar(gamma)
            - values.clone().slice([0..b, t..t + 1]);
        last = delta + last.mul_scalar(gamma * lam);
        columns.push(last.clone());
    }
    columns.reverse();
    let advantages = Tensor::cat(columns, 1);
    let returns = advantages.clone() + values.clone();
    Advantages {
        values,
        advantages: masked_whiten(advantages, mask, true).detach(),
        returns,
    }
}
