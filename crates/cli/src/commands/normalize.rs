//! `reward.normalize` for `rlhf train`: fit the reward normalisation on the reference policy's
//! samples before the first step (or read it back on `--resume`) and wrap the scorer with it.

use std::path::Path;

use anyhow::Context;
use burn::tensor::Device;
use config::Config;
use dataset::{Prompt, Tokenizer};
use models::{Gpt2Config, Gpt2WithValueHead};
use ppo::reward_norm::{
    NormalizedScorer, ReferenceSampling, RewardNormalization, reference_scores,
};
use ppo::rollout::decoding;
use ppo::{ClassifierScorer, Scorer};

use crate::progress;

/// The reference policy and what sampling it needs.
pub struct Reference<'a> {
    /// The frozen reference (plain device).
    pub policy: &'a Gpt2WithValueHead,
    /// Its config.
    pub config: &'a Gpt2Config,
    /// Its tokenizer.
    pub tokenizer: &'a Tokenizer,
    /// The plain device.
    pub device: &'a Device,
}

/// `scorer` as the trainer gets it: unchanged, or normalised (`reward.normalize`) with a fit
/// made now on `prompts` (a fresh run; rank 0 stores it in `run_dir`) or read from `run_dir`
/// (`resume`).
pub fn scorer(
    config: &Config,
    mut scorer: ClassifierScorer,
    reference: Reference<'_>,
    prompts: &[Prompt],
    run_dir: &Path,
    resume: bool,
    write: bool,
) -> anyhow::Result<Box<dyn Scorer>> {
    let reward = &config.reward;
    if !reward.normalize {
        return Ok(Box::new(scorer));
    }
    let normalization = if resume {
        RewardNormalization::read(run_dir)
            .context("the run was started with reward.normalize; its fit is missing")?
    } else {
        let n = reward.normalize_samples.min(prompts.len());
        let order = dataset::permutation(prompts.len(), config.seed, 0x6e6f726d);
        let sample: Vec<Prompt> = order[..n].iter().map(|&i| prompts[i].clone()).collect();
        let g = &config.generation;
        let sampling = ReferenceSampling {
            reference: reference.policy,
            n_positions: reference.config.n_positions,
            tokenizer: reference.tokenizer,
            generation: decoding(
                g,
                reference.config.eos_token_id,
                g.output_max_length.saturating_sub(1).max(1),
            ),
            device: reference.device,
        };
        let spinner = progress::spinner(&format!(
            "fitting the reward normalisation on {n} reference samples"
        ));
        let scores = reference_scores(&sampling, &sample, &mut scorer, config.seed)?;
        spinner.finish_and_clear();
        let fit = RewardNormalization::fit(&scores)?;
        if write {
            fit.write(run_dir)?;
        }
        fit
    };
    println!(
        "reward normalisation: gain {:.4}, bias {:+.4} (the reference policy's reward: mean {:.4}, \
         std {:.4} over {} samples)",
        normalization.gain,
        normalization.bias,
        normalization.mean,
        normalization.std,
        normalization.samples
    );
    Ok(Box::new(NormalizedScorer {
        inner: scorer,
        normalization,
    }))
}
