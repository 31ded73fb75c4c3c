//! GPT-2 (`GPT2Model` + the tied `GPT2LMHeadModel` head).

use burn::module::Module;
use burn::nn::{Embedding, LayerNorm};
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::block::{Block, LayerCache};
use crate::attention::AttentionMask;
use crate::fused;

/// From this many rows on, [`Gpt2::logits`] multiplies by the transposed table (see there).
const LOGITS_WINDOW_ROWS: usize = 32;

/// Key/value cache of every layer for incremental decoding.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    layers: Vec<Option<LayerCache>>,
}

impl KvCache {
    /// An empty cache for `n_layer` layers.
    pub fn new(n_layer: usize) -> Self {
        Self {
            layers: vec![None; n_layer],
        }
    }

    /// Number of cached positions (0 when empty).
    pub fn len(&self) -> usize {
        self.layers
            .first()
            .and_then(|l| l.as_ref())
            .map_or(0, LayerCache::len)
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// GPT-2 backbone: token + learned position embeddings, `n_layer` blocks, final norm.
/// The language-model head is tied to `wte`.
#[derive(Module, Debug)]
pub struct Gpt2 {
    /// Token embeddings `[vocab_size, n_embd]`; also the LM head.
    pub wte: Embedding,
    /// Position embeddings `[n_positions, n_embd]`.
    pub wpe: Embedding,
    /// Transformer blocks.
    pub h: Vec<Block>,
    /// Final LayerNorm.
    pub ln_f: LayerNorm,
    /// Attention heads per block.
    pub n_head: usize,
}

/// Inputs of one forward pass.
#[derive(Debug, Clone)]
pub struct Gpt2Input {
    /// Token ids `[b, t]`.
    pub input_ids: Tensor<2, Int>,
    /// Position ids `[b, t]` (see [`position_ids`]).
    pub position_ids: Tensor<2, Int>,
    /// 1 for real tokens, 0 for padding, `[b, past + t]` (cached positions included).
    /// `None` means no padding.
    pub attention_mask: Option<Tensor<2, Int>>,
}

impl Gpt2 {
    /// Final hidden states `[b, t, n_embd]` (after `ln_f`). With `cache`, attends to the
    /// cached positions too and appends the new ones.
    pub fn forward(&self, input: Gpt2Input, cache: Option<&mut KvCache>) -> Tensor<3> {
        let [b, t] = input.input_ids.dims();
        let past = cache.as_deref().map_or(0, KvCache::len);
        let device = input.input_ids.device();
        let padding = input.attention_mask.map(|m| m.equal_elem(0));
        let mask = AttentionMask::new(padding, true, [b, self.n_head, t, past + t], &device);
        self.forward_masked(input.input_ids, input.position_ids, &mask, cache)
    }

    /// [`Gpt2::forward`] of ids and positions `[b, t]` under a given mask (e.g. the causal
    /// block-diagonal mask of rows packed end to end, [`crate::packing::Packing`]).
    pub fn forward_masked(
        &self,
        input_ids: Tensor<2, Int>,
        position_ids: Tensor<2, Int>,
        mask: &AttentionMask,
        mut cache: Option<&mut KvCache>,
    ) -> Tensor<3> {
        let mut x = self.wte.forward(input_ids) + self.wpe.forward(position_ids);
        for (i, block) in self.h.iter().enumerate() {
            let slot = cache.as_deref_mut().map(|c| &mut c.layers[i]);
            x = block.forward(x, mask, slot);
        }
        self.ln_f.forward(x)
    }

    /// Language-model logits `[b, t, vocab]` from hidden states `[b, t, n_embd]` (tied head).
    ///
    /// For a few rows (a decoding step) computed as `(wte · hᵀ)ᵀ`: multiplying by the
    /// transposed `[n_embd, vocab]` view of `wte` makes burn-flex copy the 150 MB table on every
    /// call (~150 ms for GPT-2 at one token), while `wte` in its stored layout needs no copy
    /// (10 ms for 16 rows). From 32 rows on, `h · wteᵀ` through [`fused::matmul`], which
    /// reads the view through its strides and leaves no `[vocab, rows]` product to transpose
    /// (32 rows: 17 against 20 ms; 352 rows: 91 against 139). Also `h · wteᵀ` for at most 16
    /// rows where [`fused::decodes`] them: that kernel streams `wte` row by row.
    pub fn logits(&self, hidden: Tensor<3>) -> Tensor<3> {
        let [b, t, d] = hidden.dims();
        let wte = self.wte.weight.val();
        let vocab = wte.dims()[0];
        if b * t >= LOGITS_WINDOW_ROWS || fused::decodes(&hidden, b * t) {
            return fused::matmul(hidden, wte.transpose());
        }
        let h = hidden.reshape([b * t, d]).transpose();
        wte.matmul(h).transpose().reshape([b, t, vocab])
    }

    /// Number of blocks.
    pub fn n_layer(&self) -> usize {
        self.h.len()
    }
}

/// Position ids as transformers' `generate` computes them for padded batches:
/// `cumsum(mask) - 1`, pads at 0. Row-major `[b, t]` host mask → `[b, t]` ids on `device`.
pub fn position_ids(
    mask: &[u32],
    b: usize,
    t: usize,
    offset: &[u32],
    device: &Device,
) -> Tensor<2, Int> {
    let mut ids = Vec::with_capacity(b * t);
    for row in 0..b {
        let mut seen = offset.get(row).copied().unwrap_or(0) as i32;
        for col in 0..t {
            let real = mask[row * t + col] != 0;
            ids.push(if real { seen } else { seen.max(1) - 1 }.max(0));
            if real {
                seen += 1;
            }
        }
    }
    Tensor::from_data(TensorData::new(ids, [b, t]), device)
}
