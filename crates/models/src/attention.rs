//! How padding and causality reach burn's `attention`, per backend.
//!
//! burn's convention is a boolean mask with `true` = masked-out key, plus `is_causal` aligned
//! bottom-right (query `i` of `t` sees keys up to `i + t_k - t`, as a KV cache needs). burn-tch
//! 0.22.1 hands both straight to PyTorch's `scaled_dot_product_attention`, where a boolean mask
//! means the opposite (`true` = attend) and `is_causal` is aligned top-left, so on libtorch every
//! padded batch and every cached decoding step attends to the wrong keys. On libtorch devices the
//! masks therefore become one additive bias (0 or −∞), which burn-tch computes with burn's own
//! reference attention; every other backend keeps the fused path.

use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Device, Tensor, TensorData};

/// How masks are given to `attention` on a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskStyle {
    /// A boolean mask and `is_causal` (burn's convention; fused kernels).
    Fused,
    /// One additive `[b, n_head, t, t_k]` bias of 0 / −∞ (libtorch, see the module doc).
    Bias,
}

impl MaskStyle {
    /// The style for `device`: [`MaskStyle::Bias`] on libtorch devices (autodiff or not).
    pub fn for_device(device: &Device) -> Self {
        let name = format!("{:?}", device.as_dispatch());
        if name.starts_with("LibTorch") || name.starts_with("Autodiff { device: LibTorch") {
            MaskStyle::Bias
        } else {
            MaskStyle::Fused
        }
    }
}

/// The masks of one forward pass, built once and shared by every layer.
#[derive(Debug, Clone)]
pub struct AttentionMask {
    /// `[b, n_head, t, t_k]`, true = masked key (padding), for the fused style.
    padding: Option<Tensor<4, Bool>>,
    /// Causal attention (aligned bottom-right), for the fused style.
    causal: bool,
    /// Padding and causality as one additive bias, for the bias style.
    bias: Option<Tensor<4>>,
    /// For one query per row in a sampling loop (`fused::decoding`): the padding on the host,
    /// `[b, t_k]` row-major, true = pad, read by the host attention of `gpt2/step_cache.rs`.
    host_padding: Option<(usize, Vec<bool>)>,
}

impl AttentionMask {
    /// Masks for `t` queries over `t_k` keys of `n_head` heads, where `padding` (`[b, t_k]`,
    /// true = pad) hides keys and `causal` hides keys after each query's own position.
    pub fn new(
        padding: Option<Tensor<2, Bool>>,
        causal: bool,
        [b, n_head, t, t_k]: [usize; 4],
        device: &Device,
    ) -> Self {
        let host_padding = (t == 1 && crate::fused::decoding())
            .then(|| padding.clone())
            .flatten()
            .map(|p| (t_k, p.into_data().iter::<bool>().collect()));
        let padding = padding.map(|p| p.reshape([b, 1, 1, t_k]).expand([b, n_head, t, t_k]));
        match MaskStyle::for_device(device) {
            MaskStyle::Fused => AttentionMask {
                padding,
                causal,
                bias: None,
                host_padding,
            },
            MaskStyle::Bias => {
                let mut hidden =
                    causal.then(|| causal_mask(t, t_k, device).expand([b, n_head, t, t_k]));
                if let Some(padding) = padding {
                    hidden = Some(match hidden {
                        Some(causal) => causal.bool_or(padding),
                        None => padding,
                    });
                }
                let bias = hidden.map(|hidden| {
                    Tensor::zeros([b, n_head, t, t_k], device).mask_fill(hidden, f32::NEG_INFINITY)
                });
                AttentionMask {
                    padding: None,
                    causal: false,
                    bias,
                    host_padding,
                }
            }
        }
    }

    /// Masks from `hidden` `[b, 1, t, t_k]` (true = the query does not see the key), for
    /// `n_head` heads: e.g. the block-diagonal mask of a packed batch.
    pub fn from_hidden(
        hidden: Tensor<4, Bool>,
        [b, n_head, t, t_k]: [usize; 4],
        device: &Device,
    ) -> Self {
        let hidden = hidden.expand([b, n_head, t, t_k]);
        match MaskStyle::for_device(device) {
            MaskStyle::Fused => AttentionMask {
                padding: Some(hidden),
                causal: false,
                bias: None,
                host_padding: None,
            },
            MaskStyle::Bias => AttentionMask {
                padding: None,
                causal: false,
                bias: Some(
                    Tensor::zeros([b, n_head, t, t_k], device).mask_fill(hidden, f32::NEG_INFINITY),
                ),
                host_padding: None,
            },
        }
    }

    /// Whether key `j` of `row` is padding, for a one-query pass built inside
    /// `fused::while_decoding` (false elsewhere: no padding given, or not such a pass).
    pub fn hides_key(&self, row: usize, j: usize) -> bool {
        self.host_padding
            .as_ref()
            .is_some_and(|(t_k, hidden)| hidden.get(row * t_k + j).copied().unwrap_or(false))
    }

    /// Scaled dot-product attention of `q` `[b, n_head, t, head_dim]` over `k`, `v`
    /// `[b, n_head, t_k, head_dim]` under these masks; returns `[b, n_head, t, head_dim]`.
    pub fn attend(&self, q: Tensor<4>, k: Tensor<4>, v: Tensor<4>) -> Tensor<4> {
        let options = AttentionModuleOptions {
            is_causal: self.causal,
            ..Default::default()
        };
        attention(q, k, v, self.padding.clone(), self.bias.clone(), options)
    }
}

/// `[1, 1, t, t_k]`, true where key `j` comes after query `i` (`j > i + t_k - t`).
fn causal_mask(t: usize, t_k: usize, device: &Device) -> Tensor<4, Bool> {
    let offset = t_k - t;
    let hidden: Vec<bool> = (0..t)
        .flat_map(|i| (0..t_k).map(move |j| j > i + offset))
        .collect();
    Tensor::from_data(TensorData::new(hidden, [1, 1, t, t_k]), device)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test: a panic is the failure report.

    use burn::tensor::{Device, Distribution, Tensor, TensorData};

    use super::*;

    /// The bias style gives the fused style's outputs, padding and a KV-cache offset included.
    #[test]
    fn bias_style_equals_the_fused_style() {
        let device = Device::flex();
        device.seed(1);
        let [b, h, t, t_k, d] = [2, 2, 3, 5, 4];
        let q: Tensor<4> = Tensor::random([b, h, t, d], Distribution::Default, &device);
        let k: Tensor<4> = Tensor::random([b, h, t_k, d], Distribution::Default, &device);
        let v: Tensor<4> = Tensor::random([b, h, t_k, d], Distribution::Default, &device);
        let pad = vec![
            true, false, false, false, false, false, false, false, false, false,
        ];
        let padding: Tensor<2, Bool> = Tensor::from_data(TensorData::new(pad, [b, t_k]), &device);
        let fused = AttentionMask::new(Some(padding.clone()), true, [b, h, t, t_k], &device);
        assert!(fused.bias.is_none());
        let hidden = padding.reshape([b, 1, 1, t_k]).expand([b, h, t, t_k]);
        let hidden = hidden.bool_or(causal_mask(t, t_k, &device).expand([b, h, t, t_k]));
        let bias = AttentionMask {
            padding: None,
            causal: false,
            bias: Some(Tensor::zeros([b, h, t, t_k], &device).mask_fill(hidden, f32::NEG_INFINITY)),
            host_padding: None,
        };
        let (a, c) = (
            fused.attend(q.clone(), k.clone(), v.clone()),
            bias.attend(q, k, v),
        );
        let diff = (a - c).abs().max().into_scalar::<f32>();
        assert!(diff < 1e-6, "max difference {diff}");
    }

    #[test]
    fn causal_mask_aligns_bottom_right() {
        let hidden: Vec<bool> = causal_mask(2, 4, &Device::flex())
            .into_data()
            .iter::<bool>()
            .collect();
        // Query 0 sees keys 0..=2, query 1 sees all four.
        assert_eq!(
            hidden,
            [false, false, false, true, false, false, false, false]
        );
        assert_eq!(MaskStyle::for_device(&Device::flex()), MaskStyle::Fused);
        assert_eq!(
            MaskStyle::for_device(&Device::flex().autodiff()),
            MaskStyle::Fused
        );
    }
}
