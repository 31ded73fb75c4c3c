//! The clipped PPO objective and clipped value loss of one minibatch (TRL `PPOTrainer.loss`).

use burn::tensor::Tensor;

use crate::collective::{Collective, SingleProcess};
use crate::masked::masked_var;

/// Clipping and weighting knobs of the loss.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossConfig {
    /// Policy ratio clip ε (`cliprange`).
    pub cliprange: f64,
    /// Value clip around the old values (`cliprange_value`).
    pub cliprange_value: f64,
    /// Value loss weight (`vf_coef`).
    pub vf_coef: f64,
    /// A minibatch whose masked mean ratio exceeds this has its loss zeroed (`ratio_threshold`).
    pub ratio_threshold: f64,
}

/// Inputs of [`ppo_loss`], all `[mb, r]`. `logprobs` and `vpreds` carry gradients.
#[derive(Debug, Clone)]
pub struct LossInput {
    /// Log-probs from the rollout (no grad).
    pub old_logprobs: Tensor<2>,
    /// Values from the rollout, masked (no grad).
    pub old_values: Tensor<2>,
    /// Log-probs of the current policy.
    pub logprobs: Tensor<2>,
    /// Values of the current value head.
    pub vpreds: Tensor<2>,
    /// 1 on response tokens.
    pub mask: Tensor<2>,
    /// Whitened advantages.
    pub advantages: Tensor<2>,
    /// Value targets.
    pub returns: Tensor<2>,
    /// Per-position entropy of the current policy (for statistics only), if computed.
    pub entropy: Option<Tensor<2>>,
}

/// Minibatch statistics under TRL's `ppo/...` names (without the prefix).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LossStats {
    /// `loss/policy`, `loss/value` (unweighted), `loss/total`.
    pub loss_policy: f64,
    /// Value loss before `vf_coef`.
    pub loss_value: f64,
    /// `pg + vf_coef·vf`.
    pub loss_total: f64,
    /// `policy/entropy` (NaN if not computed).
    pub entropy: f64,
    /// `policy/approxkl` = ½·mean((logp − old)²).
    pub approxkl: f64,
    /// `policy/policykl` = mean(old − logp).
    pub policykl: f64,
    /// `policy/clipfrac`.
    pub clipfrac: f64,
    /// `policy/advantages_mean`.
    pub advantages_mean: f64,
    /// Masked mean ratio (`policy/ratio` is logged as its mean).
    pub ratio_mean: f64,
    /// `returns/mean`, `returns/var`.
    pub returns_mean: f64,
    /// Unbiased masked variance of the returns.
    pub returns_var: f64,
    /// `val/vpred`, `val/error`, `val/clipfrac`, `val/mean`, `val/var`.
    pub vpred: f64,
    /// Masked mean squared error of the value predictions.
    pub val_error: f64,
    /// Fraction of positions where the clipped value loss was larger.
    pub val_clipfrac: f64,
    /// Masked mean of the old values.
    pub val_mean: f64,
    /// Unbiased masked variance of the old values.
    pub val_var: f64,
    /// True when `ratio_threshold` zeroed this minibatch's loss.
    pub skipped: bool,
}

/// One rank's share of a minibatch split across ranks: the minibatch's response tokens over
/// every rank (the denominator of every masked mean), and the ranks to sum over.
#[derive(Clone, Copy)]
pub struct MinibatchShare<'a> {
    /// `Σ mask` over the whole minibatch.
    pub tokens: f64,
    /// The ranks holding the rest of the minibatch.
    pub collective: &'a dyn Collective,
}

/// The loss to back-propagate (`pg + vf_coef·vf`, zeroed when the mean ratio exceeds the
/// threshold) and its statistics.
pub fn ppo_loss(input: LossInput, config: &LossConfig) -> (Tensor<1>, LossStats) {
    let tokens = f64::from(input.mask.clone().sum().into_scalar::<f32>());
    let share = MinibatchShare {
        tokens,
        collective: &SingleProcess,
    };
    ppo_loss_share(input, config, share)
}

/// [`ppo_loss`] of one rank's rows of a minibatch: every masked mean is this rank's masked sum
/// over the whole minibatch's `share.tokens`, so the ranks' losses (and gradients) add up to
/// the minibatch's. The mean ratio (for `ratio_threshold`) and the statistics are summed over
/// the ranks; `returns_var` and `val_var` are this rank's only (the caller has every row of
/// the rollout and computes them over the whole minibatch).
pub fn ppo_loss_share(
    input: LossInput,
    config: &LossConfig,
    share: MinibatchShare<'_>,
) -> (Tensor<1>, LossStats) {
    let LossInput {
        old_logprobs,
        old_values,
        logprobs,
        vpreds,
        mask,
        advantages,
        returns,
        entropy,
    } = input;
    let mean = |x: Tensor<2>| (x * mask.clone()).sum().div_scalar(share.tokens);
    let scalar = |x: Tensor<1>| f64::from(x.into_scalar::<f32>());

    let low = old_values.clone().sub_scalar(config.cliprange_value);
    let high = old_values.clone().add_scalar(config.cliprange_value);
    let vpred_clipped = vpreds.clone().max_pair(low).min_pair(high);
    let vf_losses1 = (vpreds.clone() - returns.clone()).square();
    let vf_losses2 = (vpred_clipped - returns.clone()).square();
    let vf_loss = mean(vf_losses1.clone().max_pair(vf_losses2.clone())).mul_scalar(0.5);
    let vf_clipfrac = mean(vf_losses2.greater(vf_losses1).float());

    let log_ratio = logprobs.clone() - old_logprobs.clone();
    let ratio = log_ratio.clone().exp();
    let pg_losses = advantages.clone().neg() * ratio.clone();
    let clipped = ratio
        .clone()
        .clamp(1.0 - config.cliprange, 1.0 + config.cliprange);
    let pg_losses2 = advantages.clone().neg() * clipped;
    let pg_loss = mean(pg_losses.clone().max_pair(pg_losses2.clone()));
    let pg_clipfrac = mean(pg_losses2.greater(pg_losses).float());

    let mut ratio_mean = [scalar(mean(ratio.detach()))];
    share.collective.sum_f64(&mut ratio_mean);
    let ratio_mean = ratio_mean[0];
    let skipped = ratio_mean > config.ratio_threshold;
    let (pg_loss, vf_loss) = if skipped {
        (pg_loss.mul_scalar(0.0), vf_loss.mul_scalar(0.0))
    } else {
        (pg_loss, vf_loss)
    };
    let loss = pg_loss.clone() + vf_loss.clone().mul_scalar(config.vf_coef);

    let log_ratio = log_ratio.detach();
    // Masked means, summed over the ranks (each is a rank's sum over the minibatch's tokens).
    let mut means = [
        scalar(pg_loss.detach()),
        scalar(vf_loss.detach()),
        scalar(loss.clone().detach()),
        entropy.map_or(f64::NAN, |e| scalar(mean(e.detach()))),
        scalar(mean(log_ratio.clone().square()).mul_scalar(0.5)),
        scalar(mean(log_ratio.neg())),
        scalar(pg_clipfrac),
        scalar(mean(advantages)),
        scalar(mean(returns.clone())),
        scalar(mean(vpreds.clone().detach())),
        scalar(mean((vpreds.detach() - returns.clone()).square())),
        scalar(vf_clipfrac),
        scalar(mean(old_values.clone())),
    ];
    share.collective.sum_f64(&mut means);
    let [
        loss_policy,
        loss_value,
        loss_total,
        entropy,
        approxkl,
        policykl,
        clipfrac,
        advantages_mean,
        returns_mean,
        vpred,
        val_error,
        val_clipfrac,
        val_mean,
    ] = means;
    let stats = LossStats {
        loss_policy,
        loss_value,
        loss_total,
        entropy,
        approxkl,
        policykl,
        clipfrac,
        advantages_mean,
        ratio_mean,
        returns_mean,
        returns_var: scalar(masked_var(returns, mask.clone(), true)),
        vpred,
        val_error,
        val_clipfrac,
        val_mean,
        val_var: scalar(masked_var(old_values, mask, true)),
        skipped,
    };
    (loss, stats)
}
