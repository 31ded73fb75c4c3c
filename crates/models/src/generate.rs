//! Batched autoregressive generation with a KV cache.
//!
//! Prompts come left-padded; the attention mask covers the padding and position ids are
//! `cumsum(mask) - 1`, as in transformers' `generate`, so a padded row gives the same tokens as
//! the row alone. The prompt is processed in one pass (prefill), then one token per step reuses
//! the cache. Only the last position goes through the LM head.

use burn::tensor::{Device, Int, Tensor, TensorData, s};
use dataset::LeftPadded;
use rand::{Rng, RngExt};
use rayon::prelude::*;

use crate::ModelError;
use crate::gpt2::{Gpt2, Gpt2Input, KvCache, position_ids};
use crate::sampling::{Sampler, log_softmax};
use crate::weights::ids_tensor;

/// Decoding settings (transformers' `generate` names).
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationConfig {
    /// Upper bound of new tokens per row.
    pub max_new_tokens: usize,
    /// EOS is suppressed until a row has this many new tokens.
    pub min_new_tokens: usize,
    /// Sampling parameters (greedy when `do_sample` is false).
    pub sampler: Sampler,
    /// A row stops after producing this token; `None` never stops early.
    pub eos_token_id: Option<u32>,
    /// Filler for finished rows in [`Generation::responses`].
    pub pad_token_id: u32,
}

impl GenerationConfig {
    /// Greedy decoding of up to `max_new_tokens` tokens, stopping at `eos`.
    pub fn greedy(max_new_tokens: usize, eos: u32) -> Self {
        Self {
            max_new_tokens,
            min_new_tokens: 0,
            sampler: Sampler {
                do_sample: false,
                temperature: 1.0,
                top_k: 0,
                top_p: 1.0,
            },
            eos_token_id: Some(eos),
            pad_token_id: eos,
        }
    }
}

/// What [`generate`] returns: per row, the new tokens (EOS included when produced) and
/// their log-probabilities under the unmodified model distribution `log_softmax(logits)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    /// New tokens of each row.
    pub responses: Vec<Vec<u32>>,
    /// `log p(token | prefix)` of each new token, same shape as `responses`.
    pub logprobs: Vec<Vec<f32>>,
}

/// Generates continuations of `prompts`. `row_limits` optionally caps each row's new tokens
/// below `config.max_new_tokens` (TRL's per-sample response lengths). `rngs` holds one
/// generator shared by every row, or one per row (then a row's tokens do not depend on which
/// other rows share its batch). Run it on a non-autodiff model (`model.valid()`): nothing here
/// needs gradients. It runs in a [`crate::fused::decoding_scope`]: products of at most 16 rows
/// (the decoding steps of a batch of ≤ 16) take the decoding kernel, one-token steps attend on
/// the host.
pub fn generate<R: Rng + Send>(
    model: &Gpt2,
    n_positions: usize,
    prompts: &LeftPadded,
    config: &GenerationConfig,
    row_limits: Option<&[usize]>,
    rngs: &mut [R],
    device: &Device,
) -> Result<Generation, ModelError> {
    let _decoding = crate::fused::decoding_scope();
    let (b, t0) = (prompts.batch_size, prompts.seq_len);
    if rngs.len() != 1 && rngs.len() != b {
        return Err(ModelError::Generation(format!(
            "{} random generators for {b} prompts (give one, or one per prompt)",
            rngs.len()
        )));
    }
    let limits: Vec<usize> = match row_limits {
        Some(l) if l.len() != b => {
            return Err(ModelError::Generation(format!(
                "{} row limits for {b} prompts",
                l.len()
            )));
        }
        Some(l) => l.iter().map(|&n| n.min(config.max_new_tokens)).collect(),
        None => vec![config.max_new_tokens; b],
    };
    if b == 0 {
        return Err(ModelError::Generation("no prompts".into()));
    }
    if prompts
        .attention_mask
        .chunks(t0.max(1))
        .any(|row| row.iter().all(|&m| m == 0))
    {
        return Err(ModelError::Generation("a prompt has no tokens".into()));
    }
    let steps = limits.iter().copied().max().unwrap_or(0);
    if t0 + steps > n_positions {
        return Err(ModelError::Generation(format!(
            "prompt length {t0} + {steps} new tokens exceeds the model's {n_positions} positions"
        )));
    }
    if config.sampler.do_sample && config.sampler.temperature <= 0.0 {
        return Err(ModelError::Generation("temperature must be > 0".into()));
    }

    let mut cache = KvCache::new(model.n_layer());
    let mut mask: Vec<u32> = prompts.attention_mask.clone();
    let mut seen: Vec<u32> = vec![0; b];
    let mut input = Gpt2Input {
        input_ids: ids_tensor(&prompts.input_ids, b, t0, device),
        position_ids: position_ids(&mask, b, t0, &seen, device),
        attention_mask: Some(mask_tensor(&mask, b, t0, device)),
    };
    for (row, count) in seen.iter_mut().enumerate() {
        *count = prompts.row(row).1.iter().sum();
    }
    let mut out = Generation {
        responses: vec![Vec::new(); b],
        logprobs: vec![Vec::new(); b],
    };
    let mut done: Vec<bool> = limits.iter().map(|&l| l == 0).collect();
    let mut width = t0;
    for _ in 0..steps {
        if done.iter().all(|&d| d) {
            break;
        }
        let hidden = model.forward(input, Some(&mut cache));
        let [_, t, d] = hidden.dims();
        let last = hidden.slice(s![.., (t - 1)..t, ..]).reshape([b, 1, d]);
        let data = model
            .logits(last)
            .try_into_data()
            .map_err(ModelError::device("generating"))?;
        // f32 logits are read in place (a copy of `[16, vocab]` took 1.7 ms a step).
        let converted: Vec<f32>;
        let logits = match data.as_slice::<f32>() {
            Ok(logits) => logits,
            Err(_) => {
                converted = data.iter::<f32>().collect();
                &converted
            }
        };
        let vocab = logits.len() / b;
        let mut next = vec![config.pad_token_id; b];
        let choices = choose_tokens(config, logits, vocab, &out.responses, &done, rngs);
        for (row, choice) in choices.into_iter().enumerate() {
            let Some((token, logprob)) = choice else {
                continue;
            };
            out.responses[row].push(token as u32);
            out.logprobs[row].push(logprob);
            next[row] = token as u32;
            let hit_eos = config.eos_token_id == Some(token as u32);
            done[row] = hit_eos || out.responses[row].len() >= limits[row];
        }
        // Every row gets a real position, finished rows included (their output is ignored).
        width += 1;
        let mut grown = Vec::with_capacity(b * width);
        for row in 0..b {
            grown.extend_from_slice(&mask[row * (width - 1)..(row + 1) * (width - 1)]);
            grown.push(1);
        }
        mask = grown;
        input = Gpt2Input {
            input_ids: ids_tensor(&next, b, 1, device),
            position_ids: position_ids(&[1; 1].repeat(b), b, 1, &seen, device),
            attention_mask: Some(mask_tensor(&mask, b, width, device)),
        };
        seen.iter_mut().for_each(|s| *s += 1);
    }
    Ok(out)
}

/// Each unfinished row's next token and its log-probability (`None` for finished rows), from
/// `[b, vocab]` host logits. With one generator per row the rows are drawn in parallel (each
/// row's draw depends only on its own generator); with one shared generator, in row order.
fn choose_tokens<R: Rng + Send>(
    config: &GenerationConfig,
    logits: &[f32],
    vocab: usize,
    responses: &[Vec<u32>],
    done: &[bool],
    rngs: &mut [R],
) -> Vec<Option<(usize, f32)>> {
    let row_logits = |row: usize| &logits[row * vocab..(row + 1) * vocab];
    let banned = |row: usize| {
        config
            .eos_token_id
            .filter(|_| responses[row].len() < config.min_new_tokens)
            .map(|e| e as usize)
    };
    let choose = |row: usize, rng: &mut R| {
        (!done[row]).then(|| config.sampler.choose(row_logits(row), banned(row), rng))
    };
    match rngs {
        [shared] if config.sampler.draws_one_uniform() => {
            // One uniform per unfinished row, taken in row order, then every row's
            // log-softmax and draw in parallel: the tokens of a draw in row order.
            let uniforms: Vec<Option<f64>> = done
                .iter()
                .map(|&d| (!d).then(|| shared.random::<f64>()))
                .collect();
            (0..done.len())
                .into_par_iter()
                .map(|row| {
                    let u = uniforms[row]?;
                    Some(
                        config
                            .sampler
                            .choose_with_uniform(row_logits(row), banned(row), u),
                    )
                })
                .collect()
        }
        [shared] => {
            // The log-softmax of every row in parallel, then the draws in row order.
            let logprobs: Vec<Option<Vec<f32>>> = (0..done.len())
                .into_par_iter()
                .map(|row| (!done[row]).then(|| log_softmax(row_logits(row))))
                .collect();
            logprobs
                .iter()
                .enumerate()
                .map(|(row, lp)| {
                    let lp = lp.as_deref()?;
                    Some(
                        config
                            .sampler
                            .choose_given(row_logits(row), lp, banned(row), shared),
                    )
                })
                .collect()
        }
        per_row => per_row
            .par_iter_mut()
            .enumerate()
            .map(|(row, rng)| choose(row, rng))
            .collect(),
    }
}

fn mask_tensor(mask: &[u32], b: usize, t: usize, device: &Device) -> Tensor<2, Int> {
    let values: Vec<i32> = mask.iter().map(|&m| m as i32).collect();
    Tensor::from_data(TensorData::new(values, [b, t]), device)
}
