//! Rollouts: sample responses from the policy, decode, score.

use burn::tensor::Device;
use config::RewardMode;
use dataset::{Tokenizer, left_pad};
use models::{GenerationConfig, Gpt2, RewardModel, generate};
use rand::Rng;

use super::TrainError;

/// Turns decoded `query + response` texts (and the response ids) into one score per sample.
pub trait Scorer {
    /// Scores, one per text.
    fn score(&mut self, texts: &[String], responses: &[Vec<u32>]) -> Result<Vec<f64>, TrainError>;
}

/// The reward classifier: one label's logit, probability or logit margin, the label chosen by
/// name (TRL's gpt2-sentiment uses the raw POSITIVE logit).
pub struct ClassifierScorer {
    model: RewardModel,
    label: usize,
    mode: RewardMode,
    batch_size: usize,
    max_length: usize,
}

impl ClassifierScorer {
    /// Wraps a loaded classifier; `label` must be one of its `id2label` names.
    pub fn new(
        model: RewardModel,
        label: &str,
        mode: RewardMode,
        batch_size: usize,
        max_length: usize,
    ) -> Result<Self, TrainError> {
        let index = model.label_index(label).ok_or_else(|| {
            TrainError::Config(format!(
                "reward.label `{label}` is not a label of the reward model (its labels: {}); \
                 set reward.label to one of them",
                model.labels.join(", ")
            ))
        })?;
        Ok(Self {
            model,
            label: index,
            mode,
            batch_size,
            max_length,
        })
    }
}

impl Scorer for ClassifierScorer {
    fn score(&mut self, texts: &[String], _responses: &[Vec<u32>]) -> Result<Vec<f64>, TrainError> {
        let logits = self.model.score(texts, self.batch_size, self.max_length)?;
        Ok(logits
            .iter()
            .map(|row| reduce(row, self.label, self.mode))
            .collect())
    }
}

/// One label's number from a row of logits.
pub fn reduce(row: &[f32], label: usize, mode: RewardMode) -> f64 {
    let logit = f64::from(row[label]);
    match mode {
        RewardMode::Logit => logit,
        RewardMode::Prob => {
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let z: f64 = row.iter().map(|&l| f64::from(l - max).exp()).sum();
            (logit - f64::from(max)).exp() / z
        }
        RewardMode::LogitMargin => {
            let other = row
                .iter()
                .enumerate()
                .filter(|&(i, _)| i != label)
                .map(|(_, &l)| f64::from(l))
                .fold(f64::NEG_INFINITY, f64::max);
            logit - other
        }
    }
}

/// The decoding settings of the run's `generation` section: sampling as configured, stop at
/// EOS (kept), pad with EOS, at most `max_new_tokens` new tokens.
pub fn decoding(g: &config::GenerationConfig, eos: u32, max_new_tokens: usize) -> GenerationConfig {
    GenerationConfig {
        max_new_tokens,
        min_new_tokens: 0,
        sampler: models::sampling::Sampler {
            do_sample: g.do_sample,
            temperature: g.temperature,
            top_k: g.top_k,
            top_p: g.top_p,
        },
        eos_token_id: Some(eos),
        pad_token_id: eos,
    }
}

/// One rollout batch.
#[derive(Debug, Clone)]
pub struct Rollout {
    /// Prompt ids.
    pub queries: Vec<Vec<u32>>,
    /// Sampled response ids (EOS kept when produced).
    pub responses: Vec<Vec<u32>>,
    /// `query + response` as decoded text (what the scorer saw).
    pub texts: Vec<String>,
    /// Decoded responses alone (sample tables).
    pub response_texts: Vec<String>,
    /// Raw scores, before scaling/clipping.
    pub scores: Vec<f64>,
}

/// Generates one response per query (each row's budget from `limits`), decodes it as TRL's
/// example does (`query` text + `tokenizer.decode(response)`, special tokens kept) and scores.
#[allow(clippy::too_many_arguments)]
pub fn rollout<R: Rng + ?Sized>(
    policy: &Gpt2,
    n_positions: usize,
    tokenizer: &Tokenizer,
    queries: Vec<Vec<u32>>,
    query_texts: &[String],
    limits: &[usize],
    gen_config: &GenerationConfig,
    scorer: &mut dyn Scorer,
    rng: &mut R,
    device: &Device,
) -> Result<(Rollout, f64, f64), TrainError> {
    let started = std::time::Instant::now();
    let refs: Vec<&[u32]> = queries.iter().map(Vec::as_slice).collect();
    let batch = left_pad(&refs, gen_config.pad_token_id);
    let generation = generate(
        policy,
        n_positions,
        &batch,
        gen_config,
        Some(limits),
        rng,
        device,
    )?;
    let generate_s = started.elapsed().as_secs_f64();
    let started = std::time::Instant::now();
    let mut texts = Vec::with_capacity(queries.len());
    let mut response_texts = Vec::with_capacity(queries.len());
    for (query, response) in query_texts.iter().zip(&generation.responses) {
        let text = tokenizer.decode(response, false)?;
        texts.push(format!("{query}{text}"));
        response_texts.push(text);
    }
    let scores = scorer.score(&texts, &generation.responses)?;
    if scores.len() != texts.len() {
        return Err(TrainError::Config(format!(
            "the scorer returned {} scores for {} texts",
            scores.len(),
            texts.len()
        )));
    }
    let rollout = Rollout {
        queries,
        responses: generation.responses,
        texts,
        response_texts,
        scores,
    };
    Ok((rollout, generate_s, started.elapsed().as_secs_f64()))
}
