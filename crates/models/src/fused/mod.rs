//! Ops that burn-flex would run with one core waiting, done over all cores (issue #14).
//!
//! burn-flex runs every element-wise op as its own single-threaded pass, so GPT-2's `gelu_new`
//! (six ops, and as many again backward), RoBERTa's erf GELU and the log-softmax over the
//! 50,257-token vocabulary (six passes each way) kept one core busy while the other waited. On
//! flex f32 tensors, plain or under autodiff, these functions compute the whole function in one
//! pass split over the cores, with their own backward. [`matmul()`] does the same for the linear
//! products: direct gemm calls, one per core on its own output columns (see `matmul.rs`). On
//! any other backend or dtype they are the tensor ops they replace, so every backend computes
//! the same function.

mod decode;
mod decode_passes;
pub(crate) mod fast_math;
mod flex;
mod kernels;
mod matmul;

use std::cell::Cell;

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
/// On burn-flex f32: one fused pass over all cores each way (within 10⁻⁶ of burn's). Elsewhere:
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

/// `x · w` with one weight for every leading index: `[.., k]` · `[k, n]` → `[.., n]` (a
/// bias-free `Linear`, HF's `Conv1D`; `D ≥ 2`).
///
/// On burn-flex f32 (both operands plain or both under autodiff): gemm writes each product
/// straight into its output's buffer, forward and backward, and reads transposed operands
/// through their strides. Elsewhere: burn's `linear` without bias.
pub fn matmul<const D: usize>(x: Tensor<D>, w: Tensor<2>) -> Tensor<D> {
    if D >= 2 {
        match (to_flex(&x), to_flex(&w)) {
            (Some(FlexPrimitive::Autodiff(a)), Some(FlexPrimitive::Autodiff(b))) => {
                trace_path("autodiff");
                return Tensor::from_primitive::<Autodiff<Flex>>(matmul::matmul_autodiff(a, b));
            }
            (Some(FlexPrimitive::Plain(a)), Some(FlexPrimitive::Plain(b))) => {
                trace_path("plain");
                return Tensor::from_primitive::<Flex>(matmul::matmul(a, b));
            }
            _ => {}
        }
    }
    burn::tensor::module::linear(x, w, None)
}

thread_local! {
    /// Whether this thread is inside [`while_decoding`].
    static DECODING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with this thread's products of at most 16 rows taken by the AVX-512 decoding
/// kernel (`decode.rs`) where the CPU has it: a sampling loop's steps. Elsewhere such products
/// stay with gemm, so that a forward pass gives the same bits whatever its batch is cut into
/// (the policy and the reference agree exactly at step 1; the kernel sums in another order).
pub fn while_decoding<T>(f: impl FnOnce() -> T) -> T {
    let _scope = decoding_scope();
    f()
}

/// [`while_decoding`] until the returned guard drops (a panic included), when the thread's
/// previous state comes back.
pub fn decoding_scope() -> DecodingScope {
    DecodingScope(DECODING.with(|d| d.replace(true)))
}

/// See [`decoding_scope`]; holds the state to restore.
#[must_use = "the scope ends when this guard drops"]
pub struct DecodingScope(bool);

impl Drop for DecodingScope {
    fn drop(&mut self) {
        DECODING.with(|d| d.set(self.0));
    }
}

/// Whether this thread is in a sampling loop on an AVX-512 CPU: products of at most 16 rows go
/// to the decoding kernel, and `gelu_new` takes the vectorised sigmoid.
pub(crate) fn decoding() -> bool {
    DECODING.with(Cell::get) && decode::available()
}

/// Whether [`matmul`] multiplies `rows` rows of `x` with the AVX-512 decoding kernel: inside
/// [`while_decoding`], an f32 burn-flex `x` of at most 16 rows on a CPU with AVX-512F. That
/// kernel reads a transposed weight view (the tied LM head's `wteᵀ`) as fast as a row-major one.
pub fn decodes<const D: usize>(x: &Tensor<D>, rows: usize) -> bool {
    (1..=decode::MAX_ROWS).contains(&rows) && decoding() && to_flex(x).is_some()
}

/// Whether a sampling loop's one-token attention runs on the host (`gpt2/step_cache.rs`): inside
/// [`while_decoding`] on an AVX-512 CPU, for an f32 burn-flex `x`, whose data is host memory.
pub fn steps_on_host<const D: usize>(x: &Tensor<D>) -> bool {
    decoding() && to_flex(x).is_some()
}

/// An f32 burn-flex tensor's primitive, under autodiff or plain.
enum FlexPrimitive {
    Autodiff(flex::AutodiffFlexTensor),
    Plain(FlexTensor),
}

/// `x`'s primitive when `x` is an f32 burn-flex tensor (a clone: an `Arc` and a graph node).
fn to_flex<const D: usize>(x: &Tensor<D>) -> Option<FlexPrimitive> {
    if x.dtype() != DType::F32 {
        return None;
    }
    if let Ok(primitive) = x.clone().try_into_primitive::<Autodiff<Flex>>() {
        return Some(FlexPrimitive::Autodiff(primitive));
    }
    x.clone()
        .try_into_primitive::<Flex>()
        .ok()
        .map(FlexPrimitive::Plain)
}

/// Records which path a call took, for the tests.
fn trace_path(_path: &'static str) {
    #[cfg(test)]
    tests::PATH.set(Some(_path));
}

/// Runs `autodiff` on an f32 burn-flex tensor under autodiff, `plain` on a plain one; gives `x`
/// back (`Err`) for any other backend or dtype.
fn on_flex<const D: usize>(
    x: Tensor<D>,
    autodiff: impl FnOnce(flex::AutodiffFlexTensor) -> flex::AutodiffFlexTensor,
    plain: impl FnOnce(FlexTensor) -> FlexTensor,
) -> Result<Tensor<D>, Tensor<D>> {
    let primitive = to_flex(&x);
    // `x` is dropped before the work so that its buffer can be reused in place.
    match primitive {
        Some(FlexPrimitive::Autodiff(primitive)) => {
            drop(x);
            trace_path("autodiff");
            Ok(Tensor::from_primitive::<Autodiff<Flex>>(autodiff(
                primitive,
            )))
        }
        Some(FlexPrimitive::Plain(primitive)) => {
            drop(x);
            trace_path("plain");
            Ok(Tensor::from_primitive::<Flex>(plain(primitive)))
        }
        None => Err(x),
    }
}

#[cfg(test)]
mod matmul_tests;
#[cfg(test)]
mod tests;
