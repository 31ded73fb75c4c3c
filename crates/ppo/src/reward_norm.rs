//! Reward normalisation as in OpenAI's lm-human-preferences: before PPO starts, a gain and a
//! bias are fitted so that the reward of the reference policy's samples has mean 0 and std 1;
//! every later score is `gain · score + bias`. The fit is stored in the run directory, so that
//! a resumed run scores exactly as the uninterrupted one.

use std::path::Path;

use burn::tensor::Device;
use dataset::{Prompt, Tokenizer};
use models::Gpt2WithValueHead;
use models::generate::GenerationConfig;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::checkpoint::write_json;
use crate::rollout::Sampler;
use crate::scorer::{ClassifierScorer, Scorer};

/// The file in the run directory.
pub const FILE: &str = "reward_normalization.json";

/// A fitted gain and bias, with the statistics they came from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RewardNormalization {
    /// Multiplies every score (1 / std).
    pub gain: f64,
    /// Added after the gain (−mean / std).
    pub bias: f64,
    /// Mean raw reward of the reference policy's samples.
    pub mean: f64,
    /// Their standard deviation.
    pub std: f64,
    /// How many samples.
    pub samples: usize,
}

impl RewardNormalization {
    /// Fits gain and bias to raw `scores`; an error when they do not vary.
    pub fn fit(scores: &[f64]) -> Result<Self, TrainError> {
        let n = scores.len().max(1) as f64;
        let mean = scores.iter().sum::<f64>() / n;
        let std = (scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / n).sqrt();
        if !(std.is_finite() && std > 1e-12) {
            return Err(TrainError::Setup(format!(
                "reward.normalize: the reference policy's {} samples all score {mean} (std \
                 {std}), so no gain fits; raise reward.normalize_samples or turn \
                 reward.normalize off",
                scores.len()
            )));
        }
        Ok(Self {
            gain: 1.0 / std,
            bias: -mean / std,
            mean,
            std,
            samples: scores.len(),
        })
    }

    /// `gain · score + bias`.
    pub fn apply(&self, score: f64) -> f64 {
        self.gain * score + self.bias
    }

    /// Writes `reward_normalization.json` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), TrainError> {
        write_json(&dir.join(FILE), self)
    }

    /// Reads the fit a run stored in `dir`.
    pub fn read(dir: &Path) -> Result<Self, TrainError> {
        let path = dir.join(FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))?;
        serde_json::from_str(&text).map_err(|source| TrainError::Json { path, source })
    }
}

/// A scorer whose scores are normalised.
pub struct NormalizedScorer<S> {
    /// The raw scorer.
    pub inner: S,
    /// The fit applied to its scores.
    pub normalization: RewardNormalization,
}

impl<S: Scorer> Scorer for NormalizedScorer<S> {
    fn score(&mut self, texts: &[String], responses: &[Vec<u32>]) -> Result<Vec<f64>, TrainError> {
        let raw = self.inner.score(texts, responses)?;
        Ok(raw.iter().map(|&s| self.normalization.apply(s)).collect())
    }
}

/// What sampling the reference policy needs.
pub struct ReferenceSampling<'a> {
    /// The reference policy (plain device).
    pub reference: &'a Gpt2WithValueHead,
    /// Its position table size.
    pub n_positions: usize,
    /// Its tokenizer.
    pub tokenizer: &'a Tokenizer,
    /// Decoding.
    pub generation: GenerationConfig,
    /// The device of both models.
    pub device: &'a Device,
}

/// Raw scores of the reference policy's responses to `prompts`, sampled `scorer.batch_size()`
/// at a time with a generator seeded by `seed`.
pub fn reference_scores(
    sampling: &ReferenceSampling<'_>,
    prompts: &[Prompt],
    scorer: &mut ClassifierScorer,
    seed: u64,
) -> Result<Vec<f64>, TrainError> {
    let sampler = Sampler {
        model: &sampling.reference.transformer,
        n_positions: sampling.n_positions,
        tokenizer: sampling.tokenizer,
        generation: &sampling.generation,
        device: sampling.device,
    };
    let mut rng = StdRng::seed_from_u64(seed);
    let mut scores = Vec::with_capacity(prompts.len());
    for chunk in prompts.chunks(scorer.batch_size()) {
        let queries = chunk.iter().map(|p| p.input_ids.clone()).collect();
        let texts = chunk.iter().map(|p| p.query.clone()).collect();
        let rollout = sampler.rollout(queries, texts, None, std::slice::from_mut(&mut rng))?;
        scores.extend(scorer.score(&rollout.texts, &rollout.responses)?);
    }
    Ok(scores)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fit_maps_the_samples_to_mean_0_std_1() {
        let scores = [1.0, 3.0, 5.0, 7.0];
        let fit = RewardNormalization::fit(&scores).unwrap();
        let z: Vec<f64> = scores.iter().map(|&s| fit.apply(s)).collect();
        let mean = z.iter().sum::<f64>() / 4.0;
        let var = z.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 4.0;
        assert!(mean.abs() < 1e-12 && (var - 1.0).abs() < 1e-12);
        assert!(RewardNormalization::fit(&[2.0, 2.0]).is_err());
        let dir = tempfile::tempdir().unwrap();
        fit.write(dir.path()).unwrap();
        assert_eq!(RewardNormalization::read(dir.path()).unwrap(), fit);
    }
}
