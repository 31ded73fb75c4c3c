//! Held-out evaluation of a policy: sample responses to prompts, score them, and measure how far
//! the policy moved from a reference (KL, perplexity) and how varied its text is (distinct-n).

use std::collections::HashSet;

use burn::tensor::Device;
use dataset::{Tokenizer, left_pad};
use models::{GenerationConfig, Gpt2WithValueHead, RewardModel, generate};
use rand::rngs::StdRng;
use serde::Serialize;

use crate::trainer::{SequenceBatch, TrainError, forward_window, reduce};
use config::RewardMode;

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
    /// Fraction of texts whose argmax label is the rewarded label.
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
    /// Reward classifier.
    pub reward: &'a RewardModel,
    /// Index of the rewarded label.
    pub label: usize,
    /// Score reduction.
    pub mode: RewardMode,
    /// Texts per scoring batch.
    pub batch_size: usize,
    /// Decoding.
    pub generation: GenerationConfig,
    /// Device of both models (plain).
    pub device: &'a Device,
}

/// Evaluates `policy` on `prompts` (ids and texts), `batch` prompts at a time.
pub fn evaluate(
    policy: &Gpt2WithValueHead,
    prompts: &[(Vec<u32>, String)],
    setup: &EvalSetup<'_>,
    rng: &mut StdRng,
) -> Result<EvalReport, TrainError> {
    let mut rewards = Vec::new();
    let mut positive = 0usize;
    let (mut kl_sum, mut nll_sum, mut tokens) = (0.0f64, 0.0f64, 0usize);
    let mut responses: Vec<Vec<u32>> = Vec::new();
    let mut examples = Vec::new();
    let eos = setup.generation.pad_token_id;
    for chunk in prompts.chunks(setup.batch_size.max(1)) {
        let queries: Vec<Vec<u32>> = chunk.iter().map(|(ids, _)| ids.clone()).collect();
        let refs: Vec<&[u32]> = queries.iter().map(Vec::as_slice).collect();
        let padded = left_pad(&refs, eos);
        let out = generate(
            &policy.transformer,
            setup.n_positions,
            &padded,
            &setup.generation,
            None,
            rng,
            setup.device,
        )?;
        let mut texts = Vec::with_capacity(chunk.len());
        for ((_, query), response) in chunk.iter().zip(&out.responses) {
            texts.push(format!(
                "{query}{}",
                setup.tokenizer.decode(response, false)?
            ));
        }
        let logits = setup.reward.score(&texts, setup.batch_size, 512)?;
        let batch = SequenceBatch::new(&queries, &out.responses, eos);
        let ours = forward_window(policy, &batch, 1.0, false, false, setup.device);
        let theirs = forward_window(setup.reference, &batch, 1.0, false, false, setup.device);
        let lp: Vec<f32> = ours.logprobs.into_data().iter::<f32>().collect();
        let ref_lp: Vec<f32> = theirs.logprobs.into_data().iter::<f32>().collect();
        for (row, response) in out.responses.iter().enumerate() {
            let r = batch.r;
            let kl: f64 = (0..response.len())
                .map(|t| f64::from(lp[row * r + t] - ref_lp[row * r + t]))
                .sum();
            kl_sum += kl;
            nll_sum -= (0..response.len())
                .map(|t| f64::from(ref_lp[row * r + t]))
                .sum::<f64>();
            tokens += response.len();
            let row_logits = &logits[row];
            let score = reduce(row_logits, setup.label, setup.mode);
            let best = models::sampling::argmax(row_logits);
            positive += usize::from(best == setup.label);
            if examples.len() < 16 {
                examples.push(EvalSample {
                    query: chunk[row].1.clone(),
                    response: setup.tokenizer.decode(response, true)?,
                    reward: score,
                });
            }
            rewards.push(score);
        }
        responses.extend(out.responses);
    }
    let n = rewards.len().max(1) as f64;
    let mut sorted = rewards.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN);
    Ok(EvalReport {
        samples: rewards.len(),
        reward_mean: rewards.iter().sum::<f64>() / n,
        reward_median: median,
        fraction_positive: positive as f64 / n,
        kl_to_reference: kl_sum / n,
        perplexity_under_reference: (nll_sum / tokens.max(1) as f64).exp(),
        distinct_1: distinct(&responses, 1),
        distinct_2: distinct(&responses, 2),
        response_len_mean: tokens as f64 / n,
        rewards,
        examples,
    })
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

/// An SVG with two overlaid reward histograms (e.g. before and after PPO).
pub fn histogram_svg(series: &[(&str, &[f64])]) -> String {
    let (w, h, pad, bins) = (640.0, 300.0, 40.0, 30usize);
    let all: Vec<f64> = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .filter(|v| v.is_finite())
        .collect();
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let span = if hi > lo { hi - lo } else { 1.0 };
    let colors = ["#1f77b4", "#ff7f0e", "#2ca02c"];
    let mut counts = Vec::new();
    for (_, values) in series {
        let mut c = vec![0usize; bins];
        for v in values.iter().filter(|v| v.is_finite()) {
            let i = (((v - lo) / span) * bins as f64) as usize;
            c[i.min(bins - 1)] += 1;
        }
        counts.push(c);
    }
    let max = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
    let bw = (w - 2.0 * pad) / bins as f64;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" \
         font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    for (k, ((name, _), c)) in series.iter().zip(&counts).enumerate() {
        let color = colors[k % colors.len()];
        for (i, &n) in c.iter().enumerate() {
            let bh = n as f64 / max * (h - 2.0 * pad);
            svg.push_str(&format!(
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{color}\" fill-opacity=\"0.5\"/>\n",
                pad + i as f64 * bw,
                h - pad - bh,
                bw
            ));
        }
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" fill=\"{color}\">{name}</text>\n",
            w - 200.0,
            20.0 + 16.0 * k as f64
        ));
    }
    svg.push_str(&format!(
        "<text x=\"{pad}\" y=\"{}\">{lo:.2}</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{hi:.2}</text>\n\
         <text x=\"{pad}\" y=\"20\">reward</text>\n</svg>\n",
        h - pad + 16.0,
        w - pad,
        h - pad + 16.0
    ));
    svg
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
