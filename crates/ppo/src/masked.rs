//! Masked statistics over `[batch, response_len]` tensors (TRL `core.masked_mean/var/whiten`).
//!
//! Masks are float tensors of 0/1 of the same shape; only positions with 1 count.

use burn::tensor::Tensor;

/// Mean over the masked positions, as a one-element tensor: `Σ(x·m) / Σm`.
pub fn masked_mean(values: Tensor<2>, mask: Tensor<2>) -> Tensor<1> {
    (values * mask.clone()).sum() / mask.sum()
}

/// Variance over the masked positions. With `unbiased`, Bessel's correction `n / (n - 1)`
/// with `n = Σm` (TRL's default; it needs at least two unmasked positions).
pub fn masked_var(values: Tensor<2>, mask: Tensor<2>, unbiased: bool) -> Tensor<1> {
    let mean = masked_mean(values.clone(), mask.clone());
    let centered = values - mean.unsqueeze::<2>();
    let var = masked_mean(centered.square(), mask.clone());
    if unbiased {
        let n = mask.sum();
        var * n.clone() / n.sub_scalar(1.0)
    } else {
        var
    }
}

/// `(x - mean) / sqrt(var + 1e-8)` with masked mean and unbiased masked variance; with
/// `shift_mean = false` the mean is added back (TRL's reward whitening).
pub fn masked_whiten(values: Tensor<2>, mask: Tensor<2>, shift_mean: bool) -> Tensor<2> {
    let mean = masked_mean(values.clone(), mask.clone()).unsqueeze::<2>();
    let var = masked_var(values.clone(), mask, true).unsqueeze::<2>();
    let whitened = (values - mean.clone()) / var.add_scalar(1e-8).sqrt();
    if shift_mean {
        whitened
    } else {
        whitened + mean
    }
}
