//! `[query ‖ response]` batches and the forward pass over their response window, shared by the
//! PPO trainer (rollout forward, epochs) and evaluation (KL and perplexity).
//!
//! Layout: queries left-padded to width `q`, responses right-padded to width `r`, so every
//! row's response starts at column `q`. The log-prob of response token `j` is read from the
//! logits at column `q - 1 + j` and its value from the hidden state there — TRL's alignment
//! (`logits[:, :-1]` against `ids[:, 1:]`, `values[:, :-1]`), restricted to the response.

use burn::tensor::{Device, Int, Tensor, TensorData};
use models::Gpt2WithValueHead;
use models::attention::AttentionMask;
use models::weights::ids_tensor;

pub use crate::packed_window::PackedWindow;

/// Queries and responses of one PPO batch, padded on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct SequenceBatch {
    /// `[b, q + r]` token ids.
    pub input_ids: Vec<u32>,
    /// `[b, q + r]`, 1 on real tokens.
    pub attention_mask: Vec<u32>,
    /// `[b, r]` response ids (pad after the end).
    pub response_ids: Vec<u32>,
    /// `[b, r]`, 1.0 on response tokens (EOS included).
    pub response_mask: Vec<f32>,
    /// Rows.
    pub b: usize,
    /// Query width.
    pub q: usize,
    /// Response width.
    pub r: usize,
}

impl SequenceBatch {
    /// Pads `queries` left and `responses` right with `pad`. Every query and response must
    /// have at least one token.
    pub fn new(queries: &[Vec<u32>], responses: &[Vec<u32>], pad: u32) -> Self {
        let b = queries.len();
        let q = queries.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let r = responses.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let mut batch = SequenceBatch {
            input_ids: Vec::with_capacity(b * (q + r)),
            attention_mask: Vec::with_capacity(b * (q + r)),
            response_ids: Vec::with_capacity(b * r),
            response_mask: Vec::with_capacity(b * r),
            b,
            q,
            r,
        };
        for (query, response) in queries.iter().zip(responses) {
            let (qp, rp) = (q - query.len(), r - response.len());
            batch.input_ids.extend(std::iter::repeat_n(pad, qp));
            batch.input_ids.extend(query.iter().chain(response.iter()));
            batch.input_ids.extend(std::iter::repeat_n(pad, rp));
            batch.attention_mask.extend(std::iter::repeat_n(0, qp));
            batch
                .attention_mask
                .extend(std::iter::repeat_n(1, query.len() + response.len()));
            batch.attention_mask.extend(std::iter::repeat_n(0, rp));
            batch.response_ids.extend(response.iter().copied());
            batch.response_ids.extend(std::iter::repeat_n(pad, rp));
            batch
                .response_mask
                .extend(std::iter::repeat_n(1.0, response.len()));
            batch.response_mask.extend(std::iter::repeat_n(0.0, rp));
        }
        batch
    }

    /// The rows `rows` (widths unchanged).
    pub fn select(&self, rows: &[usize]) -> Self {
        let t = self.q + self.r;
        let pick = |v: &[u32], w: usize| -> Vec<u32> {
            rows.iter()
                .flat_map(|&i| v[i * w..(i + 1) * w].iter().copied())
                .collect()
        };
        SequenceBatch {
            input_ids: pick(&self.input_ids, t),
            attention_mask: pick(&self.attention_mask, t),
            response_ids: pick(&self.response_ids, self.r),
            response_mask: rows
                .iter()
                .flat_map(|&i| {
                    self.response_mask[i * self.r..(i + 1) * self.r]
                        .iter()
                        .copied()
                })
                .collect(),
            b: rows.len(),
            q: self.q,
            r: self.r,
        }
    }

    /// The response mask as a `[b, r]` tensor.
    pub fn mask_tensor(&self, device: &Device) -> Tensor<2> {
        Tensor::from_data(
            TensorData::new(self.response_mask.clone(), [self.b, self.r]),
            device,
        )
    }
}

/// What one forward pass gives for the response window, all `[b, r]` unless noted.
#[derive(Debug, Clone)]
pub struct WindowOutput {
    /// `log π(token)` of each response token.
    pub logprobs: Tensor<2>,
    /// Value of the state before each response token.
    pub values: Tensor<2>,
    /// Full log-distributions `[b, r, vocab]`, when asked for (`kl_penalty = "full"`).
    pub log_dists: Option<Tensor<3>>,
    /// Entropy of the policy at each position, when asked for (statistics).
    pub entropy: Option<Tensor<2>>,
}

/// What [`forward_window`] computes besides log-probs and values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowOptions {
    /// Logits are divided by this first (1.0 = TRL's default; `temperature_scaled_logprobs`
    /// passes the sampling temperature).
    pub temperature: f64,
    /// Keep the full log-distributions (`WindowOutput::log_dists`).
    pub log_dists: bool,
    /// Compute the per-position entropy (`WindowOutput::entropy`).
    pub entropy: bool,
}

impl WindowOptions {
    /// Log-probs and values only, at temperature 1.
    pub const PLAIN: WindowOptions = WindowOptions {
        temperature: 1.0,
        log_dists: false,
        entropy: false,
    };

    /// Log-probs and values at `temperature`.
    pub fn at(temperature: f64) -> Self {
        WindowOptions {
            temperature,
            ..Self::PLAIN
        }
    }

    /// These options, keeping the full log-distributions when `yes`.
    pub fn with_log_dists(self, yes: bool) -> Self {
        WindowOptions {
            log_dists: yes,
            ..self
        }
    }

    /// These options, with the entropy when `yes`.
    pub fn with_entropy(self, yes: bool) -> Self {
        WindowOptions {
            entropy: yes,
            ..self
        }
    }
}

/// Runs `model` on the batch and reads the response window.
///
/// The rows go through the model packed end to end ([`PackedWindow`]): the same states as
/// the padded batch at every real token, with the padding mostly left out.
///
/// # Shapes
/// - `batch`: `b` rows of `q + r` tokens;
/// - returns `[b, r]` log-probs, values and entropy, `[b, r, vocab]` log-distributions.
pub fn forward_window(
    model: &Gpt2WithValueHead,
    batch: &SequenceBatch,
    options: WindowOptions,
    device: &Device,
) -> WindowOutput {
    let (b, r) = (batch.b, batch.r);
    let gpt2 = &model.transformer;
    let packed = PackedWindow::new(batch, gpt2.wte.weight.dims()[1], device);
    let [n, width] = packed.input_ids.dims();
    let mask = AttentionMask::from_hidden(packed.hidden, [n, gpt2.n_head, width, width], device);
    let hidden = gpt2.forward_masked(packed.input_ids, packed.position_ids, &mask, None);
    let d = hidden.dims()[2];
    let window = hidden
        .reshape([n * width, d])
        .select(0, packed.window)
        .reshape([b, r, d]); // [b, r, n_embd]
    let values = model.v_head.forward(window.clone());
    let mut logits = model.transformer.logits(window); // [b, r, vocab]
    if options.temperature != 1.0 {
        logits = logits.div_scalar(options.temperature);
    }
    let log_dist = models::fused::log_softmax(logits);
    let ids: Tensor<2, Int> = ids_tensor(&batch.response_ids, b, r, device);
    let logprobs = log_dist
        .clone()
        .gather(2, ids.unsqueeze_dim::<3>(2))
        .squeeze_dim::<2>(2);
    let entropy = options.entropy.then(|| {
        let d = log_dist.clone().detach();
        (d.clone().exp() * d).sum_dim(2).squeeze_dim::<2>(2).neg()
    });
    WindowOutput {
        logprobs,
        values,
        log_dists: options.log_dists.then_some(log_dist),
        entropy,
    }
}
