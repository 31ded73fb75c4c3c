//! One GPT-2 transformer block: pre-norm attention and MLP with residuals.
//!
//! Linear layers hold HF `Conv1D` weights as they are stored (`[d_in, d_out]`, which is burn's
//! `Linear` layout), so no transposition happens on load.

use burn::module::Module;
use burn::nn::{LayerNorm, Linear};
use burn::tensor::activation::{gelu, gelu_approximate};
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Tensor};

/// Keys and values of earlier positions of one layer, `[batch, n_head, past_len, head_dim]`.
#[derive(Debug, Clone)]
pub struct LayerCache {
    /// Keys.
    pub key: Tensor<4>,
    /// Values.
    pub value: Tensor<4>,
}

/// Causal multi-head self-attention with a fused query/key/value projection (`c_attn`).
#[derive(Module, Debug)]
pub struct Attention {
    /// `[n_embd, 3 * n_embd]` projection to queries, keys and values.
    pub c_attn: Linear,
    /// `[n_embd, n_embd]` output projection.
    pub c_proj: Linear,
    /// Number of heads.
    pub n_head: usize,
}

impl Attention {
    /// `x` `[b, t, d]`, `mask` `[b, n_head, t, past + t]` (true = masked key) →  `[b, t, d]`.
    ///
    /// With a cache, keys and values of the `t` new positions are appended to it.
    pub fn forward(
        &self,
        x: Tensor<3>,
        mask: Option<Tensor<4, Bool>>,
        cache: Option<&mut Option<LayerCache>>,
    ) -> Tensor<3> {
        let [b, t, d] = x.dims();
        let head_dim = d / self.n_head;
        let split = |x: Tensor<3>| x.reshape([b, t, self.n_head, head_dim]).swap_dims(1, 2);
        let mut qkv = self.c_attn.forward(x).chunk(3, 2).into_iter();
        let (Some(q), Some(k), Some(v)) = (qkv.next(), qkv.next(), qkv.next()) else {
            unreachable!("chunk(3) of a dimension of size 3 * n_embd gives three parts")
        };
        let (q, mut k, mut v) = (split(q), split(k), split(v));
        if let Some(slot) = cache {
            if let Some(past) = slot.take() {
                k = Tensor::cat(vec![past.key, k], 2);
                v = Tensor::cat(vec![past.value, v], 2);
            }
            *slot = Some(LayerCache {
                key: k.clone(),
                value: v.clone(),
            });
        }
        let options = AttentionModuleOptions {
            is_causal: true,
            ..Default::default()
        };
        let context = attention(q, k, v, mask, None, options);
        let context = context.swap_dims(1, 2).reshape([b, t, d]);
        self.c_proj.forward(context)
    }
}

/// Position-wise feed-forward network `c_fc → gelu → c_proj`.
#[derive(Module, Debug)]
pub struct Mlp {
    /// `[n_embd, n_inner]`.
    pub c_fc: Linear,
    /// `[n_inner, n_embd]`.
    pub c_proj: Linear,
    /// `gelu_new` (tanh approximation) when true, exact erf GELU otherwise.
    pub approximate_gelu: bool,
}

impl Mlp {
    /// `[b, t, d]` → `[b, t, d]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let h = self.c_fc.forward(x);
        let h = if self.approximate_gelu {
            gelu_approximate(h)
        } else {
            gelu(h)
        };
        self.c_proj.forward(h)
    }
}

/// `x + attn(ln_1(x))`, then `x + mlp(ln_2(x))`.
#[derive(Module, Debug)]
pub struct Block {
    /// Norm before attention.
    pub ln_1: LayerNorm,
    /// Self-attention.
    pub attn: Attention,
    /// Norm before the MLP.
    pub ln_2: LayerNorm,
    /// Feed-forward.
    pub mlp: Mlp,
}

impl Block {
    /// `[b, t, d]` → `[b, t, d]`; see [`Attention::forward`] for `mask` and `cache`.
    pub fn forward(
        &self,
        x: Tensor<3>,
        mask: Option<Tensor<4, Bool>>,
        cache: Option<&mut Option<LayerCache>>,
    ) -> Tensor<3> {
        let x = x.clone() + self.attn.forward(self.ln_1.forward(x), mask, cache);
        x.clone() + self.mlp.forward(self.ln_2.forward(x))
    }
}
