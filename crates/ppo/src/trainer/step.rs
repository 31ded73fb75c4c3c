//! One PPO step in TRL 0.11.4's order, one method per phase:
//! rollout → score → forward → rewards → advantages → epochs → stats → KL update.
//!
//! Rollout quantities stay `[b, r]` tensors on the plain device from the rollout forward to the
//! epochs; they come to the host once, for the statistics.

use std::time::Instant;

use burn::module::Module;
use burn::tensor::Tensor;
use dataset::LengthSampler;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::Trainer;
use super::epochs::{EpochSettings, EpochsOutput, StepData, run_epochs};
use super::metrics::Metrics;
use super::rollout_forward::RolloutForward;
use super::stats::{StepRecord, step_metrics};
use super::timings::{Timings, timed};
use crate::TrainError;
use crate::advantages::{Advantages, Rewards, compute_advantages, compute_rewards, last_indices};
use crate::collective::weight_checksum;
use crate::forward::{SequenceBatch, WindowOutput};
use crate::kl::kl_penalty;
use crate::loss::LossConfig;
use crate::rollout::{Rollout, Sampler, decoding};

/// The largest relative difference of the ranks' weight checksums accepted after a step (the
/// ranks apply the same summed gradients, so they agree up to float rounding).
const MAX_WEIGHT_SPREAD: f64 = 1e-5;

/// One step's results.
#[derive(Debug, Clone)]
pub struct StepOutput {
    /// Metrics with TRL's names, timings included.
    pub metrics: Metrics,
    /// (query, response, raw score) of every sample.
    pub samples: Vec<(String, String, f64)>,
}

/// Scores after TRL's processing, with what the statistics need of them.
struct StepScores {
    /// Scores from the scorer.
    raw: Vec<f64>,
    /// After the missing-EOS penalty, scaling, normalisation and clipping.
    processed: Vec<f64>,
    /// Responses that contain EOS.
    eos_count: usize,
}

impl Trainer {
    /// One PPO step: sample and score responses, compute KL-penalised rewards and advantages,
    /// run `ppo_epochs` of minibatch updates, then adapt the KL coefficient.
    pub fn step(&mut self) -> Result<StepOutput, TrainError> {
        let started = Instant::now();
        let mut time = Timings::default();
        let local = timed(&mut time.generate, || self.rollout())?;
        let local_raw = timed(&mut time.score, || self.raw_scores(&local))?;
        let (rollout, raw) = timed(&mut time.gather, || self.gather(local, local_raw))?;
        let scores = timed(&mut time.score, || self.process_scores(&rollout, raw));
        let eos = self.parts.gpt2.eos_token_id;
        let batch = SequenceBatch::new(&rollout.queries, &rollout.responses, eos);
        let mut forward = timed(&mut time.forward, || self.forward(&batch));
        let (kl, rewards) = timed(&mut time.rewards, || {
            self.rewards(&batch, &forward, &scores)
        })?;
        let mask = batch.mask_tensor(&self.plain);
        let advantages = timed(&mut time.advantages, || {
            self.advantages(&forward, &rewards, mask.clone())
        });
        let data = StepData {
            old_logprobs: forward.logprobs.clone(),
            old_values: advantages.values,
            advantages: advantages.advantages,
            returns: advantages.returns,
            mask,
            batch,
        };
        let tracked = forward.tracked.take();
        let epochs = timed(&mut time.optimize, || self.epochs(&data, tracked));
        self.step += 1;
        let weight_spread = timed(&mut time.stats, || self.check_same_weights())?;
        let mut metrics = timed(&mut time.stats, || {
            self.stats(&rollout, &scores, &data, kl, rewards, &epochs)
        });
        if let Some(spread) = weight_spread {
            metrics.insert("dist/weight_checksum_spread".into(), spread.into());
        }
        timed(&mut time.stats, || self.update_kl(&metrics))?;
        time.record(&mut metrics, started.elapsed().as_secs_f64());
        let samples = rollout
            .query_texts
            .into_iter()
            .zip(rollout.response_texts)
            .zip(scores.raw)
            .map(|((q, r), s)| (q, r, s))
            .collect();
        Ok(StepOutput { metrics, samples })
    }

    /// Rollout: this rank's share of the next prompt batch, a response budget per row,
    /// responses sampled from an inference copy of the policy (no autodiff, fused attention).
    /// Each row draws from its own generator, seeded by its index in the global batch, so a
    /// response does not depend on the number of ranks.
    fn rollout(&mut self) -> Result<Rollout, TrainError> {
        let batch = self.loader.next_batch();
        let (rank, ranks) = (self.parts.collective.rank(), self.parts.collective.size());
        let per_rank = batch.len() / ranks;
        let first = rank * per_rank;
        let rows = &batch[first..first + per_rank];
        let seed = self.parts.config.seed;
        let mut rngs: Vec<StdRng> = (first..first + per_rank)
            .map(|index| row_rng(seed, self.step, 1, index))
            .collect();
        let prompts = &self.parts.prompts;
        let queries = rows.iter().map(|&i| prompts[i].input_ids.clone()).collect();
        let query_texts = rows.iter().map(|&i| prompts[i].query.clone()).collect();
        let g = &self.parts.config.generation;
        let lengths = LengthSampler::new(g.output_min_length, g.output_max_length)?;
        let limits: Vec<usize> = rngs.iter_mut().map(|rng| lengths.sample(rng)).collect();
        let generation = decoding(g, self.parts.gpt2.eos_token_id, g.output_max_length);
        let inference = self.parts.policy.valid();
        let sampler = Sampler {
            model: &inference.transformer,
            n_positions: self.parts.gpt2.n_positions,
            tokenizer: &self.parts.tokenizer,
            generation: &generation,
            device: &self.plain,
        };
        sampler.rollout(queries, query_texts, Some(&limits), &mut rngs)
    }

    /// Raw scores: the reward of every `query + response` of this rank's rows.
    fn raw_scores(&mut self, rollout: &Rollout) -> Result<Vec<f64>, TrainError> {
        let raw = self
            .parts
            .scorer
            .score(&rollout.texts, &rollout.responses)?;
        if raw.len() != rollout.texts.len() {
            return Err(TrainError::ScoreCount {
                scores: raw.len(),
                texts: rollout.texts.len(),
            });
        }
        Ok(raw)
    }

    /// Gather: every rank's rows and raw scores, in rank order (the global batch), on every
    /// rank. One process keeps its own.
    fn gather(&self, local: Rollout, raw: Vec<f64>) -> Result<(Rollout, Vec<f64>), TrainError> {
        let collective = &*self.parts.collective;
        if collective.size() == 1 {
            return Ok((local, raw));
        }
        let bytes = serde_json::to_vec(&(local, raw)).map_err(TrainError::Exchange)?;
        let mut rollouts = Vec::with_capacity(collective.size());
        let mut scores = Vec::new();
        for part in collective.gather_bytes(&bytes) {
            let (rollout, raw): (Rollout, Vec<f64>) =
                serde_json::from_slice(&part).map_err(TrainError::Exchange)?;
            rollouts.push(rollout);
            scores.extend(raw);
        }
        Ok((Rollout::concat(rollouts), scores))
    }

    /// Scores after the missing-EOS penalty and TRL's scaling / normalisation / clipping, over
    /// the global batch.
    fn process_scores(&mut self, rollout: &Rollout, raw: Vec<f64>) -> StepScores {
        let ppo = &self.parts.config.ppo;
        let eos = self.parts.gpt2.eos_token_id;
        let has_eos: Vec<bool> = rollout.responses.iter().map(|r| r.contains(&eos)).collect();
        let mut processed = raw.clone();
        if let Some(penalty) = ppo.missing_eos_penalty {
            for (s, _) in processed.iter_mut().zip(&has_eos).filter(|(_, eos)| !**eos) {
                *s -= penalty;
            }
        }
        let (scaling, norm) = (ppo.use_score_scaling, ppo.use_score_norm);
        self.moments
            .process(&mut processed, scaling, norm, ppo.score_clip);
        let eos_count = has_eos.iter().filter(|&&e| e).count();
        StepScores {
            raw,
            processed,
            eos_count,
        }
    }

    /// Rewards: the per-token KL penalty `−β·kl`, plus the score at each response's last token.
    fn rewards(
        &self,
        batch: &SequenceBatch,
        forward: &RolloutForward,
        scores: &StepScores,
    ) -> Result<(Tensor<2>, Rewards), TrainError> {
        let kl = match &forward.full_kl {
            Some(kl) => kl.clone(),
            None => kl_penalty(
                forward.logprobs.clone(),
                forward.ref_logprobs.clone(),
                self.parts.config.ppo.kl_penalty,
            ),
        };
        let last = last_indices(&batch.response_mask, batch.r).ok_or_else(|| {
            let row = batch
                .response_mask
                .chunks(batch.r.max(1))
                .position(|m| !m.contains(&1.0));
            TrainError::EmptyResponse {
                row: row.unwrap_or(0),
            }
        })?;
        let scores: Vec<f32> = scores.processed.iter().map(|&s| s as f32).collect();
        let rewards = compute_rewards(&scores, kl.clone(), self.kl.value(), &last);
        Ok((kl, rewards))
    }

    /// Advantages: GAE over the response tokens, whitened.
    fn advantages(
        &self,
        forward: &RolloutForward,
        rewards: &Rewards,
        mask: Tensor<2>,
    ) -> Advantages {
        let ppo = &self.parts.config.ppo;
        compute_advantages(
            forward.values.clone(),
            rewards.rewards.clone(),
            mask,
            ppo.gamma,
            ppo.lam,
            ppo.whiten_rewards,
        )
    }

    /// Epochs: `ppo_epochs` passes of shuffled minibatches on the autodiff device.
    fn epochs(&mut self, data: &StepData, tracked: Option<WindowOutput>) -> EpochsOutput {
        let ppo = &self.parts.config.ppo;
        let settings = EpochSettings {
            epochs: ppo.ppo_epochs,
            mini_batch_size: ppo.mini_batch_size,
            grad_accum: ppo.gradient_accumulation_steps,
            loss: LossConfig {
                cliprange: ppo.cliprange,
                cliprange_value: ppo.cliprange_value,
                vf_coef: ppo.vf_coef,
                ratio_threshold: ppo.ratio_threshold,
            },
            learning_rate: ppo.learning_rate,
            max_grad_norm: ppo.max_grad_norm,
            early_stopping: ppo.early_stopping.then_some(ppo.target_kl),
            temperature: self.logprob_temperature(),
        };
        let mut rng = step_rng(self.parts.config.seed, self.step, 2);
        let policy = self.parts.policy.clone();
        let (policy, out) = run_epochs(
            policy,
            &mut self.optimizer,
            data,
            &settings,
            tracked,
            &mut rng,
            &self.parts.device,
            &*self.parts.collective,
        );
        self.parts.policy = policy;
        out
    }

    /// With several ranks: the spread of the ranks' weight checksums (relative to rank 0's),
    /// an error when they drifted apart. `None` in a single process.
    fn check_same_weights(&self) -> Result<Option<f64>, TrainError> {
        let collective = &*self.parts.collective;
        let ranks = collective.size();
        if ranks == 1 {
            return Ok(None);
        }
        let mut all = vec![0.0; 2 * ranks];
        let own = weight_checksum(&self.parts.policy);
        all[2 * collective.rank()..2 * collective.rank() + 2].copy_from_slice(&own);
        collective.sum_f64(&mut all);
        let spread = all
            .chunks(2)
            .map(|c| ((c[0] - all[0]).abs() + (c[1] - all[1]).abs()) / all[1].abs().max(1e-30))
            .fold(0.0, f64::max);
        if spread > MAX_WEIGHT_SPREAD {
            return Err(TrainError::Ranks {
                ranks,
                what: format!(
                    "the ranks' weights differ after step {} (relative checksum spread \
                     {spread:.2e}); every rank must run the same binary, configuration and data",
                    self.step
                ),
            });
        }
        Ok(Some(spread))
    }

    /// Stats: TRL's statistics of the step (after `self.step` moved on).
    fn stats(
        &self,
        rollout: &Rollout,
        scores: &StepScores,
        data: &StepData,
        kl: Tensor<2>,
        rewards: Rewards,
        epochs: &EpochsOutput,
    ) -> Metrics {
        let query_lens: Vec<usize> = rollout.queries.iter().map(Vec::len).collect();
        let response_lens: Vec<usize> = rollout.responses.iter().map(Vec::len).collect();
        step_metrics(&StepRecord {
            step: self.step,
            raw_scores: &scores.raw,
            scores: &scores.processed,
            kls: &host(kl),
            non_score: &host(rewards.non_score_rewards),
            logprobs: &host(data.old_logprobs.clone()),
            mask: &data.batch.response_mask,
            r: data.batch.r,
            query_lens: &query_lens,
            response_lens: &response_lens,
            eos_count: scores.eos_count,
            kl_coef: self.kl.value(),
            learning_rate: self.parts.config.ppo.learning_rate,
            epochs,
        })
    }

    /// KL update: stop on a non-finite KL or loss, warn on a negative KL, then let the
    /// controller adapt β to this step's KL.
    fn update_kl(&mut self, metrics: &Metrics) -> Result<(), TrainError> {
        let get = |key: &str| metrics[key].as_f64().unwrap_or(f64::NAN);
        let (objective_kl, total_loss) = (get("objective/kl"), get("ppo/loss/total"));
        if !objective_kl.is_finite() || !total_loss.is_finite() {
            return Err(TrainError::Diverged {
                step: self.step,
                what: format!("objective/kl = {objective_kl}, ppo/loss/total = {total_loss}"),
            });
        }
        if objective_kl < -1.0 {
            tracing::warn!(
                kl = objective_kl,
                "KL divergence is negative: check the generation settings (top_k 0, top_p 1, \
                 no min length)"
            );
        }
        self.kl
            .update(objective_kl, self.parts.config.ppo.batch_size);
        Ok(())
    }

    /// The temperature log-probs are computed at (TRL's `temperature_scaled_logprobs`).
    pub(super) fn logprob_temperature(&self) -> f64 {
        let config = &self.parts.config;
        if config.ppo.temperature_scaled_logprobs {
            config.generation.temperature
        } else {
            1.0
        }
    }
}

/// A seeded RNG for one purpose (`stream`) of one step, so a resumed run draws exactly what an
/// uninterrupted one would (no RNG state needs saving).
fn step_rng(seed: u64, step: usize, stream: u64) -> StdRng {
    let mixed = seed
        ^ (step as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
    StdRng::seed_from_u64(mixed)
}

/// A seeded RNG for one row (by its index in the global batch) of one purpose of one step.
fn row_rng(seed: u64, step: usize, stream: u64, row: usize) -> StdRng {
    let base = step_rng(seed, step, stream).next_u64();
    StdRng::seed_from_u64(base ^ (row as u64 + 1).wrapping_mul(0xA24B_AED4_963E_E407))
}

fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}
