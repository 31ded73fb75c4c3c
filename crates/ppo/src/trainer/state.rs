//! The trainer object and one PPO step.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use config::{Config, KlPenalty};
use dataset::{LengthSampler, Prompt, PromptLoader, Tokenizer};
use models::{Gpt2Config, Gpt2WithValueHead};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::json;

use super::TrainError;
use super::checkpoint::{self, TrainerState};
use super::metrics::Metrics;
use super::optimize::{EpochSettings, StepData, run_epochs};
use super::rollout::{Scorer, decoding, rollout};
use super::stats::{StepRecord, step_metrics};
use super::window::{SequenceBatch, forward_window};
use crate::advantages::{compute_advantages, compute_rewards, last_indices};
use crate::host_adam::HostAdam;
use crate::kl::{KlController, kl_full, kl_penalty};
use crate::loss::LossConfig;
use crate::scores::RunningMoments;
use crate::tf_adam::TfAdam;

/// Everything a trainer is built from.
pub struct TrainerParts {
    /// The resolved run configuration.
    pub config: Config,
    /// The autodiff device the policy trains on (e.g. `Device::flex().autodiff()`).
    pub device: Device,
    /// The policy, on `device`, with stable parameter ids.
    pub policy: Gpt2WithValueHead,
    /// The frozen reference model (the initial policy), on a plain device.
    pub reference: Gpt2WithValueHead,
    /// The policy's architecture.
    pub gpt2: Gpt2Config,
    /// Policy tokenizer (decodes responses for the scorer).
    pub tokenizer: Tokenizer,
    /// Tokenizer files copied into checkpoints.
    pub tokenizer_files: Vec<PathBuf>,
    /// The reward function.
    pub scorer: Box<dyn Scorer>,
    /// The prompt pool.
    pub prompts: Vec<Prompt>,
    /// `<output.dir>/<exp_name>`.
    pub run_dir: PathBuf,
}

/// One step's results.
#[derive(Debug, Clone)]
pub struct StepOutput {
    /// Metrics with TRL's names, timings included.
    pub metrics: Metrics,
    /// (query, response, raw score) of every sample.
    pub samples: Vec<(String, String, f64)>,
}

/// The PPO trainer.
pub struct Trainer {
    parts: TrainerParts,
    plain: Device,
    optimizer: ModuleOptimizer,
    kl: KlController,
    moments: RunningMoments,
    loader: PromptLoader,
    step: usize,
}

impl Trainer {
    /// A trainer at step 0.
    pub fn new(parts: TrainerParts) -> Result<Self, TrainError> {
        let ppo = &parts.config.ppo;
        let kl = KlController::new(ppo.adap_kl_ctrl, ppo.init_kl_coef, ppo.target, ppo.horizon);
        let loader = PromptLoader::new(parts.prompts.len(), ppo.batch_size, parts.config.seed)?;
        Self::assemble(parts, kl, RunningMoments::default(), loader, 0, None)
    }

    /// A trainer continuing from checkpoint directory `dir` (its policy must already be in
    /// `parts.policy`, loaded from `dir/policy`).
    pub fn resume(parts: TrainerParts, dir: &Path) -> Result<Self, TrainError> {
        let state: checkpoint::TrainerState = checkpoint::read_state(dir)?;
        if state.seed != parts.config.seed {
            return Err(TrainError::Config(format!(
                "the checkpoint was written with seed {} but the configuration says {}; resume \
                 with the run's own config.toml",
                state.seed, parts.config.seed
            )));
        }
        let loader = PromptLoader::resume(
            parts.prompts.len(),
            parts.config.ppo.batch_size,
            parts.config.seed,
            state.loader,
        )?;
        Self::assemble(
            parts,
            state.kl,
            state.moments,
            loader,
            state.step,
            Some(dir),
        )
    }

    fn assemble(
        parts: TrainerParts,
        kl: KlController,
        moments: RunningMoments,
        loader: PromptLoader,
        step: usize,
        checkpoint_dir: Option<&Path>,
    ) -> Result<Self, TrainError> {
        let ppo = &parts.config.ppo;
        if !parts.device.is_autodiff() {
            return Err(TrainError::Config(
                "the policy device must be an autodiff device".into(),
            ));
        }
        let optimizer = if parts.config.device.is_cpu() {
            // One fused parallel pass instead of a dozen single-threaded tensor ops.
            ModuleOptimizer::from(HostAdam {
                beta_1: 0.9,
                beta_2: 0.999,
                epsilon: ppo.adam_epsilon as f32,
                tf_style: ppo.tf_style_adam,
            })
        } else if ppo.tf_style_adam {
            ModuleOptimizer::from(TfAdam {
                beta_1: 0.9,
                beta_2: 0.999,
                epsilon: ppo.adam_epsilon as f32,
            })
        } else {
            AdamConfig::new()
                .with_beta_1(0.9)
                .with_beta_2(0.999)
                .with_epsilon(ppo.adam_epsilon as f32)
                .init()
        };
        let optimizer = match checkpoint_dir {
            Some(dir) => checkpoint::load_optimizer(dir, optimizer)?,
            None => optimizer,
        };
        let plain = parts.device.clone().without_autodiff();
        Ok(Self {
            parts,
            plain,
            optimizer,
            kl,
            moments,
            loader,
            step,
        })
    }

    /// PPO steps completed.
    pub fn step_index(&self) -> usize {
        self.step
    }

    /// The policy being trained.
    pub fn policy(&self) -> &Gpt2WithValueHead {
        &self.parts.policy
    }

    /// The state a checkpoint stores.
    pub fn state(&self) -> TrainerState {
        TrainerState {
            step: self.step,
            kl: self.kl.clone(),
            moments: self.moments.clone(),
            loader: self.loader.state(),
            seed: self.parts.config.seed,
        }
    }

    /// Writes a checkpoint of the current step; returns its directory.
    pub fn save_checkpoint(&self) -> Result<PathBuf, TrainError> {
        checkpoint::save(
            &self.parts.run_dir,
            &self.parts.policy,
            &self.parts.gpt2,
            &self.optimizer,
            &self.state(),
            &self.parts.tokenizer_files,
        )
    }

    /// Writes the policy in HF layout without the value head into `dir` (the final export).
    pub fn export(&self, dir: &Path) -> Result<(), TrainError> {
        let policy = self.parts.policy.valid();
        models::export::save_policy(
            &policy,
            &self.parts.gpt2,
            dir,
            false,
            &self.parts.tokenizer_files,
        )?;
        Ok(())
    }

    /// One PPO step: rollout, rewards, advantages, `ppo_epochs` of minibatch updates, KL update.
    pub fn step(&mut self) -> Result<StepOutput, TrainError> {
        let total = Instant::now();
        let config = self.parts.config.clone();
        let ppo = &config.ppo;
        let seed = config.seed;
        let mut gen_rng = step_rng(seed, self.step, 1);
        let mut shuffle_rng = step_rng(seed, self.step, 2);

        // Rollout on an inference copy (no autodiff, fused attention).
        let rows = self.loader.next_batch();
        let queries: Vec<Vec<u32>> = rows
            .iter()
            .map(|&i| self.parts.prompts[i].input_ids.clone())
            .collect();
        let query_texts: Vec<String> = rows
            .iter()
            .map(|&i| self.parts.prompts[i].query.clone())
            .collect();
        let g = &config.generation;
        let lengths = LengthSampler::new(g.output_min_length, g.output_max_length)?;
        let limits: Vec<usize> = rows.iter().map(|_| lengths.sample(&mut gen_rng)).collect();
        let eos = self.parts.gpt2.eos_token_id;
        let gen_config = decoding(g, eos, g.output_max_length);
        let inference = self.parts.policy.valid();
        let (rollout, generate_s, score_s) = rollout(
            &inference.transformer,
            self.parts.gpt2.n_positions,
            &self.parts.tokenizer,
            queries,
            &query_texts,
            &limits,
            &gen_config,
            self.parts.scorer.as_mut(),
            &mut gen_rng,
            &self.plain,
        )?;
        drop(inference);

        // Scores: missing-EOS penalty, then TRL's scaling / normalisation / clipping.
        let mut scores = rollout.scores.clone();
        let eos_count = rollout
            .responses
            .iter()
            .filter(|r| r.contains(&eos))
            .count();
        if let Some(penalty) = ppo.missing_eos_penalty {
            for (s, r) in scores.iter_mut().zip(&rollout.responses) {
                if !r.contains(&eos) {
                    *s -= penalty;
                }
            }
        }
        self.moments.process(
            &mut scores,
            ppo.use_score_scaling,
            ppo.use_score_norm,
            ppo.score_clip,
        );

        // No-grad forward of policy and reference, in minibatch-sized chunks.
        let t = Instant::now();
        let batch = SequenceBatch::new(&rollout.queries, &rollout.responses, eos);
        let temperature = if ppo.temperature_scaled_logprobs {
            g.temperature
        } else {
            1.0
        };
        let full = ppo.kl_penalty == KlPenalty::Full;
        // With one minibatch per epoch, the tracked forward epoch 0 trains on gives the rollout
        // log-probs and values too (ratio exactly 1 there), so it runs once, here.
        let single =
            ppo.mini_batch_size >= batch.b && ppo.gradient_accumulation_steps == 1 && !full;
        let mut first_forward = None;
        // Untracked copy for the rollout forward, only needed when it is not reused for training.
        let frozen = (!single).then(|| self.parts.policy.clone().no_grad());
        let (mut old_logprobs, mut old_values, mut ref_logprobs, mut full_kls) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let all: Vec<usize> = (0..batch.b).collect();
        for chunk in all.chunks(ppo.mini_batch_size) {
            let mb = batch.select(chunk);
            let ours = if let Some(frozen) = &frozen {
                forward_window(frozen, &mb, temperature, full, false, &self.parts.device)
            } else {
                let tracked = forward_window(
                    &self.parts.policy,
                    &mb,
                    temperature,
                    false,
                    true,
                    &self.parts.device,
                );
                first_forward = Some(tracked.clone());
                tracked
            };
            let theirs = forward_window(
                &self.parts.reference,
                &mb,
                temperature,
                full,
                false,
                &self.plain,
            );
            old_logprobs.extend(host(ours.logprobs.detach()));
            old_values.extend(host(ours.values.detach()));
            ref_logprobs.extend(host(theirs.logprobs));
            if let (Some(a), Some(b)) = (ours.log_dists, theirs.log_dists) {
                let a = Tensor::<3>::from_data(a.into_data(), &self.plain);
                full_kls.extend(host(kl_full(a, b)));
            }
        }
        drop(frozen);
        let forward_s = t.elapsed().as_secs_f64();

        // Rewards and advantages (no grad, plain device).
        let t = Instant::now();
        let (b, r) = (batch.b, batch.r);
        let tensor =
            |v: &[f32]| Tensor::<2>::from_data(TensorData::new(v.to_vec(), [b, r]), &self.plain);
        let kl = if full {
            tensor(&full_kls)
        } else {
            kl_penalty(tensor(&old_logprobs), tensor(&ref_logprobs), ppo.kl_penalty)
        };
        let last = last_indices(&batch.response_mask, r)
            .ok_or_else(|| TrainError::Config("a response has no tokens".into()))?;
        let scores_f32: Vec<f32> = scores.iter().map(|&s| s as f32).collect();
        let kl_coef = self.kl.value();
        let rewards = compute_rewards(&scores_f32, kl.clone(), kl_coef, &last);
        let rewards_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let mask = batch.mask_tensor(&self.plain);
        let adv = compute_advantages(
            tensor(&old_values),
            rewards.rewards,
            mask,
            ppo.gamma,
            ppo.lam,
            ppo.whiten_rewards,
        );
        let data = StepData {
            old_values: host(adv.values),
            advantages: host(adv.advantages),
            returns: host(adv.returns),
            old_logprobs: old_logprobs.clone(),
            batch,
        };
        let advantages_s = t.elapsed().as_secs_f64();

        // PPO epochs on the autodiff device.
        let t = Instant::now();
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
            temperature,
        };
        let policy = self.parts.policy.clone();
        let (policy, epochs) = run_epochs(
            policy,
            &mut self.optimizer,
            &data,
            &settings,
            first_forward,
            &mut shuffle_rng,
            &self.parts.device,
        );
        self.parts.policy = policy;
        let optimize_s = t.elapsed().as_secs_f64();

        // Statistics, divergence check, KL controller.
        let t = Instant::now();
        self.step += 1;
        let query_lens: Vec<usize> = rollout.queries.iter().map(Vec::len).collect();
        let response_lens: Vec<usize> = rollout.responses.iter().map(Vec::len).collect();
        let mut metrics = step_metrics(&StepRecord {
            step: self.step,
            raw_scores: &rollout.scores,
            scores: &scores,
            kls: &host(kl),
            non_score: &host(rewards.non_score_rewards),
            logprobs: &old_logprobs,
            mask: &data.batch.response_mask,
            r,
            query_lens: &query_lens,
            response_lens: &response_lens,
            eos_count,
            kl_coef,
            learning_rate: ppo.learning_rate,
            epochs: &epochs,
        });
        let objective_kl = metrics["objective/kl"].as_f64().unwrap_or(f64::NAN);
        let total_loss = metrics["ppo/loss/total"].as_f64().unwrap_or(f64::NAN);
        if !objective_kl.is_finite() || !total_loss.is_finite() {
            return Err(TrainError::Diverged {
                step: self.step,
                what: format!("objective/kl = {objective_kl}, ppo/loss/total = {total_loss}"),
            });
        }
        if objective_kl < -1.0 {
            tracing::warn!(
                kl = objective_kl,
                "KL divergence is negative: check the generation settings (top_k 0, top_p 1, no min length)"
            );
        }
        self.kl.update(objective_kl, ppo.batch_size);
        for (key, secs) in [
            ("time/rollout/generate", generate_s),
            ("time/rollout/score", score_s),
            ("time/ppo/forward_pass", forward_s),
            ("time/ppo/compute_rewards", rewards_s),
            ("time/ppo/compute_advantages", advantages_s),
            ("time/ppo/optimize_step", optimize_s),
            ("time/ppo/calc_stats", t.elapsed().as_secs_f64()),
            ("time/ppo/total", total.elapsed().as_secs_f64()),
        ] {
            metrics.insert(key.into(), json!(secs));
        }
        let samples = query_texts
            .into_iter()
            .zip(rollout.response_texts)
            .zip(rollout.scores)
            .map(|((q, r), s)| (q, r, s))
            .collect();
        Ok(StepOutput { metrics, samples })
    }
}

/// A seeded RNG for one purpose of one step, so a resumed run draws exactly what an
/// uninterrupted one would (no RNG state needs saving).
fn step_rng(seed: u64, step: usize, stream: u64) -> StdRng {
    let mixed = seed
        ^ (step as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
    StdRng::seed_from_u64(mixed)
}

fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}
