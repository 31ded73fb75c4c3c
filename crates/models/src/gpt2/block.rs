//! One GPT-2 transformer block: pre-norm attention and MLP with residuals.
//!
//! Linear layers hold HF `Conv1D` weights as they are stored (`[d_in, d_out]`, which is burn's
//! `Linear` layout), so no transposition happens on load.

use std::borrow::Cow;

use burn::module::Module;
use burn::nn::{LayerNorm, Linear};
use burn::tensor::{Tensor, TensorData};

use super::step_cache::{CacheShape, StepCache};
use crate::attention::AttentionMask;
pub use crate::fused::gelu_new;
use crate::fused::{self, gelu};
use crate::precision::linear;

/// Keys and values of earlier positions of one layer.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // One per layer: boxing would save nothing that matters.
pub enum LayerCache {
    /// Keys and values `[batch, n_head, past_len, head_dim]`, grown by concatenation.
    Tensors {
        /// Keys.
        key: Tensor<4>,
        /// Values.
        value: Tensor<4>,
    },
    /// On the host, for a sampling loop's one-token steps on burn-flex (see `step_cache.rs`).
    Steps(StepCache),
}

impl LayerCache {
    /// Number of cached positions.
    pub fn len(&self) -> usize {
        match self {
            LayerCache::Tensors { key, .. } => key.dims()[2],
            LayerCache::Steps(cache) => cache.len(),
        }
    }

    /// True when no position is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
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
        let qkv = linear(&self.c_attn, x);
        let cache = match cache {
            Some(slot) if t == 1 && slot.is_some() && fused::steps_on_host(&qkv) => {
                return linear(&self.c_proj, self.host_step(qkv, mask, slot));
            }
            other => other,
        };
        let split = |x: Tensor<3>| x.reshape([b, t, self.n_head, head_dim]).swap_dims(1, 2);
        let mut qkv = qkv.chunk(3, 2).into_iter();
        let (Some(q), Some(k), Some(v)) = (qkv.next(), qkv.next(), qkv.next()) else {
            unreachable!("chunk(3) of a dimension of size 3 * n_embd gives three parts")
        };
        let (q, mut k, mut v) = (split(q), split(k), split(v));
        if let Some(slot) = cache {
            match slot.take() {
                Some(LayerCache::Tensors { key, value }) => {
                    k = Tensor::cat(vec![key, k], 2);
                    v = Tensor::cat(vec![value, v], 2);
                }
                Some(LayerCache::Steps(_)) => {
                    unreachable!("a host cache only exists inside a sampling loop on burn-flex")
                }
                None => {}
            }
            *slot = Some(LayerCache::Tensors {
                key: k.clone(),
                value: v.clone(),
            });
        }
        let context = mask.attend(q, k, v);
        let context = context.swap_dims(1, 2).reshape([b, t, d]);
        linear(&self.c_proj, context)
    }
}

impl Attention {
    /// One position per row (`qkv` `[b, 1, 3 · n_embd]`) attending over a host cache (made from
    /// the cached tensors on the first such step); returns the context `[b, 1, n_embd]`.
    fn host_step(
        &self,
        qkv: Tensor<3>,
        mask: &AttentionMask,
        slot: &mut Option<LayerCache>,
    ) -> Tensor<3> {
        let [b, _, width] = qkv.dims();
        let device = qkv.device();
        let shape = CacheShape {
            b,
            n_head: self.n_head,
            head_dim: width / 3 / self.n_head,
        };
        let mut cache = match slot.take() {
            Some(LayerCache::Steps(cache)) if cache.shape() == shape => cache,
            Some(LayerCache::Steps(_)) | None => {
                unreachable!("a host step follows cached tensors of the same shape")
            }
            Some(LayerCache::Tensors { key, value }) => {
                let len = key.dims()[2];
                let (key, value) = (key.into_data(), value.into_data());
                StepCache::new(&f32s(&key), &f32s(&value), shape, len)
            }
        };
        let qkv = qkv.into_data();
        let context = cache.step(&f32s(&qkv), |row, j| mask.hides_key(row, j));
        *slot = Some(LayerCache::Steps(cache));
        Tensor::from_data(TensorData::new(context, [b, 1, width / 3]), &device)
    }
}

/// The values of `data` as f32: borrowed when it holds f32, else converted.
fn f32s(data: &TensorData) -> Cow<'_, [f32]> {
    match data.as_slice::<f32>() {
        Ok(values) => Cow::Borrowed(values),
        Err(_) => Cow::Owned(data.iter::<f32>().collect()),
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
