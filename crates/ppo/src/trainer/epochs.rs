//! The PPO epochs of one step: shuffled minibatches, gradient accumulation, global-norm
//! clipping and the optimizer step (TRL `step()` after the rollout forward pass).

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{GradientsAccumulator, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor, TensorData};
use models::Gpt2WithValueHead;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::collective::{Collective, shard, sum_gradients};
use crate::forward::{SequenceBatch, WindowOptions, WindowOutput, forward_window};
use crate::loss::{LossConfig, LossInput, LossStats, MinibatchShare, ppo_loss_share};
use crate::masked::masked_var;

/// Rollout quantities the epochs train on: `[b, r]` tensors on the plain device (constants in
/// the loss), and the batch they belong to.
#[derive(Debug, Clone)]
pub struct StepData {
    /// Queries + responses.
    pub batch: SequenceBatch,
    /// Log-probs of the no-grad pass before any update.
    pub old_logprobs: Tensor<2>,
    /// Masked values of that pass.
    pub old_values: Tensor<2>,
    /// Whitened advantages.
    pub advantages: Tensor<2>,
    /// Value targets.
    pub returns: Tensor<2>,
    /// The response mask of `batch`, 1.0 on response tokens.
    pub mask: Tensor<2>,
}

/// Settings of the epoch loop.
#[derive(Debug, Clone)]
pub struct EpochSettings {
    /// `ppo_epochs`.
    pub epochs: usize,
    /// `mini_batch_size`.
    pub mini_batch_size: usize,
    /// `gradient_accumulation_steps`.
    pub grad_accum: usize,
    /// Loss clipping and weights.
    pub loss: LossConfig,
    /// Learning rate.
    pub learning_rate: f64,
    /// Global gradient-norm clip (`max_grad_norm`).
    pub max_grad_norm: Option<f64>,
    /// Stop the epochs when the last minibatch's policy KL exceeds `1.5 * target_kl`.
    pub early_stopping: Option<f64>,
    /// Logit temperature for log-probs.
    pub temperature: f64,
}

/// What the epochs report.
#[derive(Debug, Clone, Default)]
pub struct EpochsOutput {
    /// One entry per minibatch, in order.
    pub minibatches: Vec<LossStats>,
    /// Global gradient norms before clipping, one per optimizer step (only with
    /// `max_grad_norm`: computing them costs a pass over every gradient).
    pub grad_norms: Vec<f64>,
    /// True when early stopping ended the epochs.
    pub early_stopped: bool,
}

/// Runs the epochs; returns the updated policy.
///
/// `first_forward` is the policy's tracked forward over the whole batch, when the caller already
/// ran it to get the rollout log-probs (one minibatch per epoch, one rank): epoch 0 then trains
/// on it instead of recomputing the same forward. Row order inside a minibatch does not change
/// its loss, so epoch 0 takes the rows in batch order.
///
/// With several ranks (`collective`), every rank holds the whole rollout and draws the same
/// minibatches; each trains on its share of every minibatch's rows, and the gradients are
/// summed over the ranks before clipping and the optimizer step, so every rank takes the same
/// step.
#[allow(clippy::too_many_arguments)]
pub fn run_epochs(
    mut policy: Gpt2WithValueHead,
    optimizer: &mut ModuleOptimizer,
    data: &StepData,
    settings: &EpochSettings,
    mut first_forward: Option<WindowOutput>,
    rng: &mut StdRng,
    device: &Device,
    collective: &dyn Collective,
) -> (Gpt2WithValueHead, EpochsOutput) {
    let b = data.batch.b;
    let backward = settings.mini_batch_size * settings.grad_accum;
    let mut out = EpochsOutput::default();
    for _ in 0..settings.epochs {
        let mut order: Vec<usize> = (0..b).collect();
        order.shuffle(rng);
        if first_forward.is_some() {
            order.sort_unstable();
        }
        for backward_rows in order.chunks(backward) {
            let mut accumulator = GradientsAccumulator::<Gpt2WithValueHead>::new();
            for rows in backward_rows.chunks(settings.mini_batch_size) {
                let local = shard(rows, collective.rank(), collective.size());
                let forward = match first_forward.take() {
                    Some(forward) if local.len() == b => forward,
                    _ => forward_window(
                        &policy,
                        &data.batch.select(local),
                        WindowOptions::at(settings.temperature).with_entropy(true),
                        device,
                    ),
                };
                let (loss, stats) = minibatch_loss(forward, data, rows, settings, collective);
                let loss = loss.div_scalar(settings.grad_accum as f64);
                let grads = GradientsParams::from_grads(loss.backward(), &policy);
                accumulator.accumulate(&policy, grads);
                if stats.skipped {
                    tracing::warn!(
                        ratio = stats.ratio_mean,
                        threshold = settings.loss.ratio_threshold,
                        "mean importance ratio above ppo.ratio_threshold: this minibatch's loss \
                         was zeroed (TRL behaviour); counted in ppo/skipped_minibatches"
                    );
                }
                out.minibatches.push(stats);
            }
            let mut grads = accumulator.grads();
            sum_gradients(&policy, &mut grads, collective);
            if let Some(max) = settings.max_grad_norm {
                let norm = global_grad_norm(&policy, &grads);
                let scale = max / (norm + 1e-6);
                if scale < 1.0 {
                    scale_grads(&policy, &mut grads, scale);
                }
                out.grad_norms.push(norm);
            }
            policy = optimizer.step(settings.learning_rate, policy, grads);
        }
        if let (Some(target_kl), Some(last)) = (settings.early_stopping, out.minibatches.last())
            && last.policykl > 1.5 * target_kl
        {
            out.early_stopped = true;
            break;
        }
    }
    (policy, out)
}

/// The loss of this rank's share of minibatch `rows`: the policy's tracked forward over those
/// rows against the rollout's constants.
fn minibatch_loss(
    forward: WindowOutput,
    data: &StepData,
    rows: &[usize],
    settings: &EpochSettings,
    collective: &dyn Collective,
) -> (Tensor<1>, LossStats) {
    let device = data.old_logprobs.device();
    let local = shard(rows, collective.rank(), collective.size());
    let r = data.batch.r;
    let tokens: f64 = rows
        .iter()
        .flat_map(|&i| &data.batch.response_mask[i * r..(i + 1) * r])
        .map(|&m| f64::from(m))
        .sum();
    let index = |rows: &[usize]| -> Tensor<1, Int> {
        let index: Vec<i32> = rows.iter().map(|&i| i as i32).collect();
        Tensor::from_data(TensorData::new(index, [rows.len()]), &device)
    };
    let local_index = index(local);
    let pick = |t: &Tensor<2>| t.clone().select(0, local_index.clone()); // [local rows, r]
    let input = LossInput {
        old_logprobs: pick(&data.old_logprobs),
        old_values: pick(&data.old_values),
        logprobs: forward.logprobs,
        vpreds: forward.values,
        mask: pick(&data.mask),
        advantages: pick(&data.advantages),
        returns: pick(&data.returns),
        entropy: forward.entropy,
    };
    let share = MinibatchShare { tokens, collective };
    let (loss, mut stats) = ppo_loss_share(input, &settings.loss, share);
    if collective.size() > 1 {
        // The variances need every row of the minibatch; every rank has them.
        let all = index(rows);
        let pick = |t: &Tensor<2>| t.clone().select(0, all.clone());
        let scalar = |x: Tensor<1>| f64::from(x.into_scalar::<f32>());
        let mask = pick(&data.mask);
        stats.returns_var = scalar(masked_var(pick(&data.returns), mask.clone(), true));
        stats.val_var = scalar(masked_var(pick(&data.old_values), mask, true));
    }
    (loss, stats)
}

/// `sqrt(Σ ‖g‖²)` over every parameter's gradient (`torch.nn.utils.clip_grad_norm_`'s norm).
pub fn global_grad_norm<M: Module>(model: &M, grads: &GradientsParams) -> f64 {
    struct Norm<'a> {
        grads: &'a GradientsParams,
        sum: f64,
    }
    impl ModuleVisitor for Norm<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.get::<D>(param.id) {
                self.sum += f64::from(g.square().sum().into_scalar::<f32>());
            }
        }
    }
    let mut visitor = Norm { grads, sum: 0.0 };
    model.visit(&mut visitor);
    visitor.sum.sqrt()
}

/// Multiplies every gradient by `scale`.
pub fn scale_grads<M: Module>(model: &M, grads: &mut GradientsParams, scale: f64) {
    struct Scale<'a> {
        grads: &'a mut GradientsParams,
        scale: f64,
    }
    impl ModuleVisitor for Scale<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.remove::<D>(param.id) {
                self.grads.register(param.id, g.mul_scalar(self.scale));
            }
        }
    }
    model.visit(&mut Scale { grads, scale });
}
