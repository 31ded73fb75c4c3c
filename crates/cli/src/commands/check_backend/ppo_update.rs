//! The PPO-update check: one update on a fixed rollout, on the target and on flex.

use anyhow::{Context, bail};
use burn::module::Module;
use burn::tensor::Device;
use config::KlPenalty;
use models::export::policy_tensors;
use ppo::forward::{SequenceBatch, WindowOptions, forward_window};
use ppo::trainer::{EpochSettings, OptimizerKind, StepData, build_optimizer, run_epochs};
use ppo::{LossConfig, compute_advantages, compute_rewards, kl_penalty, last_indices};
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::{Fixtures, PPO_LR, rows};

impl Fixtures {
    /// Largest gaps between the target's and flex's PPO update on the same fixed rollout (the
    /// fixture prompts, transformers' greedy responses, fixed scores): every minibatch's losses
    /// and statistics, and every updated weight, each relative to `1 + |flex's value|`.
    pub(super) fn ppo_update(
        &self,
        target: &Device,
        flex: &Device,
        kind: OptimizerKind,
    ) -> anyhow::Result<(f64, f64)> {
        let flex_kind = OptimizerKind::for_device(true, false);
        let (stats_a, weights_a) = self.update(target, kind)?;
        let (stats_b, weights_b) = self.update(flex, flex_kind)?;
        if stats_a.len() != stats_b.len() || weights_a.len() != weights_b.len() {
            bail!("the update has another shape than on flex");
        }
        // Relative to 1 + |flex's value|: the gradient norm and losses are not all near 1.
        let gap = |a: &[f64], b: &[f64]| {
            a.iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs() / (1.0 + y.abs()))
                .fold(0.0f64, f64::max)
        };
        Ok((gap(&stats_a, &stats_b), gap(&weights_a, &weights_b)))
    }

    fn update(&self, device: &Device, kind: OptimizerKind) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
        let autodiff = device.clone().autodiff();
        let plain = device.clone();
        let policy = self.policy(&autodiff)?.with_stable_param_ids();
        let reference = policy.valid();
        let responses = rows(&self.expected["gpt2"]["greedy"], "tokens");
        let batch = SequenceBatch::new(&self.prompts(), &responses, self.gpt2_config.eos_token_id);
        let ours = forward_window(
            &policy.clone().no_grad(),
            &batch,
            WindowOptions::PLAIN,
            &autodiff,
        );
        let theirs = forward_window(&reference, &batch, WindowOptions::PLAIN, &plain);
        let logprobs = ours.logprobs.detach().without_autodiff();
        let kl = kl_penalty(logprobs.clone(), theirs.logprobs, KlPenalty::Kl);
        let last = last_indices(&batch.response_mask, batch.r).context("empty response")?;
        let scores = [1.0f32, -0.5, 0.25];
        let rewards = compute_rewards(&scores[..batch.b], kl, 0.2, &last);
        let values = ours.values.detach().without_autodiff();
        let mask = batch.mask_tensor(&plain);
        let adv = compute_advantages(values, rewards.rewards, mask.clone(), 1.0, 0.95, false);
        let data = StepData {
            batch,
            old_logprobs: logprobs,
            old_values: adv.values,
            advantages: adv.advantages,
            returns: adv.returns,
            mask,
        };
        let settings = EpochSettings {
            epochs: 2,
            mini_batch_size: data.batch.b,
            grad_accum: 1,
            loss: LossConfig {
                cliprange: 0.2,
                cliprange_value: 0.2,
                vf_coef: 0.1,
                ratio_threshold: 10.0,
            },
            learning_rate: PPO_LR,
            max_grad_norm: Some(1.0),
            early_stopping: None,
            temperature: 1.0,
        };
        let mut optimizer = build_optimizer(kind, 1e-8);
        let mut rng = StdRng::seed_from_u64(0);
        let (policy, out) = run_epochs(
            policy,
            &mut optimizer,
            &data,
            &settings,
            None,
            &mut rng,
            &autodiff,
            &ppo::SingleProcess,
        );
        let stats = out
            .minibatches
            .iter()
            .flat_map(|s| {
                [
                    s.loss_policy,
                    s.loss_value,
                    s.loss_total,
                    s.approxkl,
                    s.entropy,
                ]
            })
            .chain(out.grad_norms)
            .collect();
        let weights = policy_tensors(&policy.valid(), true)
            .into_iter()
            .flat_map(|(_, data)| data.iter::<f32>().map(f64::from).collect::<Vec<_>>())
            .collect();
        Ok((stats, weights))
    }
}
