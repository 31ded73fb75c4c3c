//! Element-wise functions fused into one multi-threaded pass on burn-flex (issue #14).
//!
//! burn-flex runs every element-wise op as its own single-threaded pass, so GPT-2's `gelu_new`
//! (six ops, and as many again backward), RoBERTa's erf GELU and the log-softmax over the
//! 50,257-token vocabulary (six passes each way) kept one core busy while the other waited. On
//! flex f32 tensors, plain or under autodiff, these functions compute the whole function in one
//! pass split over the cores, with their own backward. On any other backend or dtype they are
//! the tensor ops they replace, so every backend computes the same function.

mod flex;
mod kernels;

use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, Flex};
use burn::tensor::activation::{gelu as gelu_chain, log_softmax as log_softmax_chain, sigmoid};
use burn::tensor::{DType, Tensor};

/// GPT-2's `gelu_new`, `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`, computed as the equal
/// `x·σ(x·(c₁ + c₂·x²))` with `c₁ = 2√(2/π)`, `c₂ = 0.044715·c₁` (since `½(1 + tanh z) = σ(2z)`).
///
/// On burn-flex f32: one fused pass over all cores each way. Elsewhere: six element-wise ops
/// with a native sigmoid (burn's `powf` + `tanh` chain took a third of a CPU block forward).
/// Any shape.
pub fn gelu_new<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    on_flex(x, flex::gelu_new_autodiff, flex::gelu_new).unwrap_or_else(gelu_new_chain)
}

/// [`gelu_new`] as six element-wise tensor ops (every backend).
fn gelu_new_chain<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    const C1: f64 = 2.0 * 0.797_884_560_802_865_4; // 2·√(2/π)
    const C2: f64 = 0.044_715 * C1;
    let inner = (x.clone() * x.clone()).mul_scalar(C2).add_scalar(C1) * x.clone();
    x * sigmoid(inner)
}

/// The exact GELU, `0.5·x·(1 + erf(x/√2))` (BERT's and RoBERTa's `gelu`). Any shape.
///
/// On burn-flex f32: one fused pass over all cores each way, bit-identical to burn's. Elsewhere:
/// burn's `gelu`.
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    on_flex(x, flex::gelu_autodiff, flex::gelu).unwrap_or_else(gelu_chain)
}

/// Log-softmax over the last dimension: `[.., n]` → `[.., n]`.
///
/// On burn-flex f32: one fused pass over all cores each way (the exponentials summed in f64).
/// Elsewhere: burn's `log_softmax`.
pub fn log_softmax<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    on_flex(x, flex::log_softmax_autodiff, flex::log_softmax)
        .unwrap_or_else(|x| log_softmax_chain(x, D - 1))
}

/// Runs `autodiff` on an f32 burn-flex tensor under autodiff, `plain` on a plain one; gives `x`
/// back (`Err`) for any other backend or dtype.
fn on_flex<const D: usize>(
    x: Tensor<D>,
    autodiff: impl FnOnce(flex::AutodiffFlexTensor) -> flex::AutodiffFlexTensor,
    plain: impl FnOnce(FlexTensor) -> FlexTensor,
) -> Result<Tensor<D>, Tensor<D>> {
    if x.dtype() != DType::F32 {
        return Err(x);
    }
    // The conversions consume their input, so they are tried on a clone (an `Arc` and a graph
    // node); `x` is dropped before the work so that its buffer can be reused in place.
    if let Ok(primitive) = x.clone().try_into_primitive::<Autodiff<Flex>>() {
        drop(x);
        #[cfg(test)]
        tests::PATH.set(Some("autodiff"));
        return Ok(Tensor::from_primitive::<Autodiff<Flex>>(autodiff(
            primitive,
        )));
    }
    if let Ok(primitive) = x.clone().try_into_primitive::<Flex>() {
        drop(x);
        #[cfg(test)]
        tests::PATH.set(Some("plain"));
        return Ok(Tensor::from_primitive::<Flex>(plain(primitive)));
    }
    Err(x)
}

#[cfg(test)]
mod tests;
