//! The no-grad forward of a rollout: log-probs and values of the policy, log-probs of the
//! reference, in minibatch-sized chunks, gathered as `[b, r]` tensors on the plain device.

use burn::module::Module;
use burn::tensor::Tensor;
use config::KlPenalty;

use super::Trainer;
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
    /// in minibatch-sized chunks. With one minibatch per epoch the tracked forward that epoch 0
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
        for chunk in all.chunks(ppo.mini_batch_size) {
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
            let reference = &self.parts.reference;
            let theirs = forward_window(reference, &mb, options.with_log_dists(full), &self.plain);
            parts.0.push(ours.logprobs.detach().without_autodiff());
            parts.1.push(ours.values.detach().without_autodiff());
            parts.2.push(theirs.logprobs);
            if let (Some(a), Some(b)) = (ours.log_dists, theirs.log_dists) {
                parts.3.push(kl_full(a.detach().without_autodiff(), b));
            }
        }
        RolloutForward {
            logprobs: Tensor::cat(parts.0, 0),
            values: Tensor::cat(parts.1, 0),
            ref_logprobs: Tensor::cat(parts.2, 0),
            full_kl: (!parts.3.is_empty()).then(|| Tensor::cat(parts.3, 0)),
            tracked,
        }
    }
}
