//! One GPT-2 transformer block: pre-norm attention and MLP with residuals.
//!
//! Linear layers hold HF `Conv1D` weights as they are stored (`[d_in, d_out]`, which is burn's
//! `Linear` layout), so no transposition happens on load.

use burn::module::Module;
use burn::nn::{LayerNorm, Linear};
use burn::tensor::Tensor;

use crate::attention::AttentionMask;
use crate::fused::gelu;
pub use crate::fused::gelu_new;
use crate::precision::linear;

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
    /// `x` `[b, t, d]` → `[b, t, d]`, attending over `past + t` keys under `mask` (causal,
    /// padding).
    ///
    /// With a cache, keys and values of the `t` new positions are appended to it.
    pub fn forward(
        &self,
        x: Tensor<3>,
        mask: &AttentionMask,
        cache: Option<&mut Option<LayerCache>>,
    ) -> Tensor<3> {
        let [b, t, d] = x.dims();
        let head_dim = d / self.n_head;
        let split = |x: Tensor<3>| x.reshape([b, t, self.n_head, head_dim]).swap_dims(1, 2);
        let mut qkv = linear(&self.c_attn, x).chunk(3, 2).into_iter();
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
        let context = mask.attend(q, k, v);
        let context = context.swap_dims(1, 2).reshape([b, t, d]);
        linear(&self.c_proj, context)
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
        let h = linear(&self.c_fc, x);
        let h = if self.approximate_gelu {
            gelu_new(h)
        } else {
            gelu(h)
        };
        linear(&self.c_proj, h)
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
        mask: &AttentionMask,
        cache: Option<&mut Option<LayerCache>>,
    ) -> Tensor<3> {
        let x = x.clone() + self.attn.forward(self.ln_1.forward(x), mask, cache);
        x.clone() + self.mlp.forward(self.ln_2.forward(x))
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::activation::gelu_approximate;
    use burn::tensor::{Device, Tensor};

    #[test]
    fn gelu_new_equals_the_tanh_formula() {
        let device = Device::flex();
        let x: Tensor<1> =
            Tensor::from_floats([-6.0, -2.5, -1.0, -0.1, 0.0, 0.3, 1.0, 2.0, 7.5], &device);
        let a: Vec<f32> = super::gelu_new(x.clone())
            .into_data()
            .iter::<f32>()
            .collect();
        let b: Vec<f32> = gelu_approximate(x).into_data().iter::<f32>().collect();
        for (p, q) in a.iter().zip(&b) {
            assert!((p - q).abs() < 2e-6, "{a:?} vs {b:?}");
        }
    }
}
