//! Held-out evaluation of a policy: sample responses to prompts, score them, and measure how far
//! the policy moved from a reference (KL, perplexity) and how varied its text is (distinct-n).
//! Sampling, decoding and scoring are the PPO rollout's own ([`crate::rollout`],
//! [`crate::scorer`]), so evaluation sees exactly what training optimises.

use std::collections::HashSet;

use burn::tensor::Device;
use dataset::Tokenizer;
use models::{GenerationConfig, Gpt2WithValueHead};
use rand::rngs::StdRng;
use serde::Serialize;

use crate::TrainError;
use crate::forward::{SequenceBatch, WindowOptions, forward_window};
use crate::rollout::Sampler;
use crate::scorer::ClassifierScorer;

/// One evaluated sample.
#[derive(Debug, Clone, Serialize)]
pub struct EvalSample {
    /// Prompt text.
    pub query: String,
    /// Response text.
    pub response: String,
    /// Score (reward mode of the config).
    pub reward: f64,
}

/// Summary of one policy on the evaluation prompts.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// Number of prompts.
    pub samples: usize,
    /// Mean score.
    pub reward_mean: f64,
    /// Median score.
    pub reward_median: f64,
    /// Fraction of texts whose argmax label is the rewarded label; for a scalar reward model
    /// (`reward.mode = "scalar"`), the fraction with a reward above 0.
    pub fraction_positive: f64,
    /// Mean over samples of Σ_t (log π − log π_ref) on the sampled tokens.
    pub kl_to_reference: f64,
    /// exp(mean NLL of the response tokens under the reference model).
    pub perplexity_under_reference: f64,
    /// Unique unigrams / all unigrams over the responses.
    pub distinct_1: f64,
    /// Unique bigrams / all bigrams.
    pub distinct_2: f64,
    /// Mean response length in tokens.
    pub response_len_mean: f64,
    /// Every score (for histograms).
    pub rewards: Vec<f64>,
    /// The first samples.
    pub examples: Vec<EvalSample>,
}

/// What an evaluation needs besides the policy.
pub struct EvalSetup<'a> {
    /// The frozen reference (usually the policy before PPO).
    pub reference: &'a Gpt2WithValueHead,
    /// Positions of the GPT-2 config.
    pub n_positions: usize,
    /// Policy tokenizer.
    pub tokenizer: &'a Tokenizer,
    /// The reward classifier with the run's `reward` settings; its batch size is also the
    /// number of prompts sampled at a time.
    pub scorer: &'a ClassifierScorer,
    /// Decoding.
    pub generation: GenerationConfig,
    /// Device of both models (plain).
    pub device: &'a Device,
}

/// Running sums over the evaluated samples.
#[derive(Default)]
struct Totals {
    rewards: Vec<f64>,
    positive: usize,
    kl: f64,
    nll: f64,
    tokens: usize,
    responses: Vec<Vec<u32>>,
    examples: Vec<EvalSample>,
}

/// Evaluates `policy` (an inference copy) on `prompts` (ids and texts).
pub fn evaluate(
    policy: &Gpt2WithValueHead,
    prompts: &[(Vec<u32>, String)],
    setup: &EvalSetup<'_>,
    rng: &mut StdRng,
) -> Result<EvalReport, TrainError> {
    let sampler = Sampler {
        model: &policy.transformer,
        n_positions: setup.n_positions,
        tokenizer: setup.tokenizer,
        generation: &setup.generation,
        device: setup.device,
    };
    let eos = setup.generation.pad_token_id;
    let mut totals = Totals::default();
    for chunk in prompts.chunks(setup.scorer.batch_size()) {
        let queries = chunk.iter().map(|(ids, _)| ids.clone()).collect();
        let texts = chunk.iter().map(|(_, text)| text.clone()).collect();
        let rollout = sampler.rollout(queries, texts, None, std::slice::from_mut(rng))?;
        let logits = setup.scorer.logits(&rollout.texts)?;
        let batch = SequenceBatch::new(&rollout.queries, &rollout.responses, eos);
        let ours = forward_window(policy, &batch, WindowOptions::PLAIN, setup.device);
        let theirs = forward_window(setup.reference, &batch, WindowOptions::PLAIN, setup.device);
        let lp: Vec<f32> = ours.logprobs.into_data().iter::<f32>().collect();
        let ref_lp: Vec<f32> = theirs.logprobs.into_data().iter::<f32>().collect();
        let r = batch.r;
        for (row, response) in rollout.responses.iter().enumerate() {
            let tokens = row * r..row * r + response.len();
            totals.kl += tokens
                .clone()
                .map(|i| f64::from(lp[i] - ref_lp[i]))
                .sum::<f64>();
            totals.nll -= tokens.map(|i| f64::from(ref_lp[i])).sum::<f64>();
            totals.tokens += response.len();
            let score = setup.scorer.reduce(&logits[row]);
            let positive = if setup.scorer.is_scalar() {
                score > 0.0
            } else {
                models::sampling::argmax(&logits[row]) == setup.scorer.label()
            };
            totals.positive += usize::from(positive);
            if totals.examples.len() < 16 {
                totals.examples.push(EvalSample {
                    query: rollout.query_texts[row].clone(),
                    response: setup.tokenizer.decode(response, true)?,
                    reward: score,
                });
            }
            totals.rewards.push(score);
        }
        totals.responses.extend(rollout.responses);
    }
    Ok(totals.report())
}

impl Totals {
    fn report(self) -> EvalReport {
        let n = self.rewards.len().max(1) as f64;
        let mut sorted = self.rewards.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN);
        EvalReport {
            samples: self.rewards.len(),
            reward_mean: self.rewards.iter().sum::<f64>() / n,
            reward_median: median,
            fraction_positive: self.positive as f64 / n,
            kl_to_reference: self.kl / n,
            perplexity_under_reference: (self.nll / self.tokens.max(1) as f64).exp(),
            distinct_1: distinct(&self.responses, 1),
            distinct_2: distinct(&self.responses, 2),
            response_len_mean: self.tokens as f64 / n,
            rewards: self.rewards,
            examples: self.examples,
        }
    }
}

/// Unique n-grams / all n-grams over `responses` (0 when there are none).
pub fn distinct(responses: &[Vec<u32>], n: usize) -> f64 {
    let mut seen = HashSet::new();
    let mut total = 0usize;
    for r in responses {
        for gram in r.windows(n) {
            seen.insert(gram.to_vec());
            total += 1;
        }
    }
    if total == 0 {
        0.0
    } else {
        seen.len() as f64 / total as f64
    }
}

#[cfg(test)]
mod tests {
    use super::distinct;

    #[test]
    fn distinct_counts_unique_ngrams() {
        let r = vec![vec![1, 2, 1, 2], vec![3]];
        assert!((distinct(&r, 1) - 3.0 / 5.0).abs() < 1e-12);
        assert!((distinct(&r, 2) - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(distinct(&[], 2), 0.0);
    }
}
