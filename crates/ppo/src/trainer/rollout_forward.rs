//! The no-grad forward of a rollout: log-probs and values of the policy, log-probs of the
//! reference, in minibatch-sized chunks, gathered as `[b, r]` tensors on the plain device.

use burn::module::Module;
use burn::tensor::{Tensor, TensorData};
use config::KlPenalty;

use super::Trainer;
use crate::collective::{Collective, shard};
use crate::forward::{SequenceBatch, WindowOptions, WindowOutput, forward_window};
use crate::kl::kl_full;

/// The no-grad forward of the rollout, `[b, r]` on the plain device.
pub(super) struct RolloutForward {
    /// Policy log-probs of the sampled tokens.
    pub logprobs: Tensor<2>,
    /// Policy values.
    pub values: Tensor<2>,
    /// Reference log-probs.
    pub ref_logprobs: Tensor<2>,
    /// KL of the full distributions (`kl_penalty = "full"`).
    pub full_kl: Option<Tensor<2>>,
    /// The tracked policy forward over the whole batch, reused by epoch 0 (one minibatch).
    pub tracked: Option<WindowOutput>,
}

impl Trainer {
    /// Forward: log-probs and values of the policy and reference log-probs, without gradients,
    /// in minibatch-sized chunks; each rank computes its own rows and the ranks exchange them. With one minibatch per epoch the tracked forward that epoch 0
    /// trains on gives these too (ratio exactly 1 there), so it runs once, here.
    pub(super) fn forward(&self, batch: &SequenceBatch) -> RolloutForward {
        let ppo = &self.parts.config.ppo;
        let full = ppo.kl_penalty == KlPenalty::Full;
        let single = self.parts.collective.size() == 1;
        let reuse = single
            && ppo.mini_batch_size >= batch.b
            && ppo.gradient_accumulation_steps == 1
            && !full;
        let options = WindowOptions::at(self.logprob_temperature());
        // An untracked copy, only needed when the rollout forward is not reused for training.
        let frozen = (!reuse).then(|| self.parts.policy.clone().no_grad());
        let mut tracked = None;
        let mut parts = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let all: Vec<usize> = (0..batch.b).collect();
        let collective = &*self.parts.collective;
        let frozen_on = self.parts.reference.device();
        let own = shard(&all, collective.rank(), collective.size());
        for chunk in own.chunks(ppo.mini_batch_size) {
            let mb = batch.select(chunk);
            let ours = match &frozen {
                Some(frozen) => forward_window(
                    frozen,
                    &mb,
                    options.with_log_dists(full),
                    &self.parts.device,
                ),
                None => {
                    let out = forward_window(
                        &self.parts.policy,
                        &mb,
                        options.with_entropy(true),
                        &self.parts.device,
                    );
                    tracked = Some(out.clone());
                    out
                }
            };
            // The reference may run on its own device (`frozen.device`); its outputs come back.
            let reference = &self.parts.reference;
            let theirs = forward_window(reference, &mb, options.with_log_dists(full), &frozen_on);
            parts.0.push(ours.logprobs.detach().without_autodiff());
            parts.1.push(ours.values.detach().without_autodiff());
            parts.2.push(theirs.logprobs.to_device(&self.plain));
            if let (Some(a), Some(b)) = (ours.log_dists, theirs.log_dists) {
                parts.3.push(kl_full(
                    a.detach().without_autodiff(),
                    b.to_device(&self.plain),
                ));
            }
        }
        let rows = (own.first().copied().unwrap_or(0), batch.b);
        let gather = |parts: Vec<Tensor<2>>| gather_rows(Tensor::cat(parts, 0), rows, collective);
        RolloutForward {
            logprobs: gather(parts.0),
            values: gather(parts.1),
            ref_logprobs: gather(parts.2),
            full_kl: (!parts.3.is_empty()).then(|| gather(parts.3)),
            tracked,
        }
    }
}

/// The whole batch's `[b, r]` from every rank's `[b / ranks, r]` rows (this rank's start at
/// `rows.0` of `rows.1`): each rank fills its rows of a zero `[b, r]` and the ranks sum them,
/// which is exact (every other term is zero). One process returns `own` unchanged.
fn gather_rows(own: Tensor<2>, rows: (usize, usize), collective: &dyn Collective) -> Tensor<2> {
    if collective.size() == 1 {
        return own;
    }
    let [n, r] = own.dims();
    let device = own.device();
    let (first, b) = rows;
    let mut all = vec![0.0f32; b * r];
    let values: Vec<f32> = own.into_data().iter::<f32>().collect();
    all[first * r..(first + n) * r].copy_from_slice(&values);
    collective.sum_f32(&mut all);
    Tensor::from_data(TensorData::new(all, [b, r]), &device)
}
