//! Rollouts: sample a response to every prompt from the policy and decode `query + response`
//! the way TRL's example does. The PPO trainer and evaluation share this code.

use burn::tensor::Device;
use dataset::{Tokenizer, left_pad};
use models::{GenerationConfig, Gpt2, generate};
use rand::Rng;

use crate::TrainError;

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

/// A policy ready to sample: an inference copy (no autodiff) with its tokenizer and decoding.
#[derive(Debug, Clone, Copy)]
pub struct Sampler<'a> {
    /// The GPT-2 body of an inference copy of the policy (`policy.valid().transformer`).
    pub model: &'a Gpt2,
    /// Its position table size.
    pub n_positions: usize,
    /// The policy tokenizer (decodes responses).
    pub tokenizer: &'a Tokenizer,
    /// Decoding settings.
    pub generation: &'a GenerationConfig,
    /// The model's device.
    pub device: &'a Device,
}

/// One rollout batch.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Rollout {
    /// Prompt ids.
    pub queries: Vec<Vec<u32>>,
    /// Prompt texts.
    pub query_texts: Vec<String>,
    /// Sampled response ids (EOS kept when produced).
    pub responses: Vec<Vec<u32>>,
    /// `query + response` as decoded text (what the scorer sees).
    pub texts: Vec<String>,
    /// Decoded responses alone (sample tables).
    pub response_texts: Vec<String>,
}

impl Sampler<'_> {
    /// Generates one response per query (row `i` gets at most `limits[i]` new tokens, or
    /// `generation.max_new_tokens` without limits) and decodes it as TRL's example does:
    /// `query` text + `tokenizer.decode(response)`, special tokens kept. `rngs`: one generator
    /// for every row, or one per row (see [`models::generate`]).
    pub fn rollout<R: Rng + Send>(
        &self,
        queries: Vec<Vec<u32>>,
        query_texts: Vec<String>,
        limits: Option<&[usize]>,
        rngs: &mut [R],
    ) -> Result<Rollout, TrainError> {
        let refs: Vec<&[u32]> = queries.iter().map(Vec::as_slice).collect();
        let batch = left_pad(&refs, self.generation.pad_token_id);
        let generation = generate(
            self.model,
            self.n_positions,
            &batch,
            self.generation,
            limits,
            rngs,
            self.device,
        )?;
        let mut texts = Vec::with_capacity(queries.len());
        let mut response_texts = Vec::with_capacity(queries.len());
        for (query, response) in query_texts.iter().zip(&generation.responses) {
            let text = self.tokenizer.decode(response, false)?;
            texts.push(format!("{query}{text}"));
            response_texts.push(text);
        }
        Ok(Rollout {
            queries,
            query_texts,
            responses: generation.responses,
            texts,
            response_texts,
        })
    }
}

impl Rollout {
    /// The rows of several rollouts, in order (the ranks' shares of one global batch).
    pub fn concat(parts: Vec<Rollout>) -> Rollout {
        let mut all = Rollout::default();
        for part in parts {
            all.queries.extend(part.queries);
            all.query_texts.extend(part.query_texts);
            all.responses.extend(part.responses);
            all.texts.extend(part.texts);
            all.response_texts.extend(part.response_texts);
        }
        all
    }
}
