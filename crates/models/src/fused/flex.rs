//! The fused ops on burn-flex tensors, plain and under autodiff (with their own backward).

use std::borrow::Cow;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, Flex};
use burn::tensor::TensorData;
use rayon::prelude::*;

use super::kernels;

/// A burn-flex float tensor under autodiff (the policy's training device).
pub type AutodiffFlexTensor = <Autodiff<Flex> as burn::backend::BackendTypes>::FloatTensorPrimitive;

/// Applies `f` to an f32 tensor's values: in place when the buffer is this tensor's alone and
/// contiguous, else on a parallel copy.
fn map_f32(mut tensor: FlexTensor, f: impl FnOnce(&mut [f32])) -> FlexTensor {
    let n = tensor.layout().num_elements();
    if tensor.layout().contiguous_offsets() == Some((0, n))
        && let Some(storage) = tensor.try_storage_mut::<f32>()
    {
        f(&mut storage[..n]);
        return tensor;
    }
    let mut values = values(&tensor).par_iter().copied().collect::<Vec<f32>>();
    f(&mut values);
    FlexTensor::from_data(TensorData::new(values, tensor.layout().shape().clone()))
}

/// The tensor's f32 values in logical order, borrowed when its layout is already contiguous.
fn values(tensor: &FlexTensor) -> Cow<'_, [f32]> {
    match tensor.as_slice::<f32>() {
        Some(slice) => Cow::Borrowed(slice),
        None => Cow::Owned(
            tensor
                .to_contiguous()
                .as_slice::<f32>()
                .expect("a contiguous copy is one f32 slice")
                .to_vec(),
        ),
    }
}

/// The length of the last dimension (1 for a scalar).
fn last_dim(tensor: &FlexTensor) -> usize {
    tensor.layout().shape().last().copied().unwrap_or(1)
}

/// `gelu_new` of a plain f32 flex tensor.
pub fn gelu_new(x: FlexTensor) -> FlexTensor {
    map_f32(x, kernels::gelu_new)
}

/// The exact GELU of a plain f32 flex tensor.
pub fn gelu(x: FlexTensor) -> FlexTensor {
    map_f32(x, kernels::gelu)
}

/// Log-softmax over the last dimension of a plain f32 flex tensor.
pub fn log_softmax(x: FlexTensor) -> FlexTensor {
    let row = last_dim(&x);
    map_f32(x, |v| kernels::log_softmax_rows(v, row))
}

/// An element-wise function's derivative: `grad ← grad · f'(x)` in place, given `x`.
type Slope = fn(&[f32], &mut [f32]);

/// Backward of an element-wise function ([`gelu_new_autodiff`], [`gelu_autodiff`]); its state
/// is the input and the function's [`Slope`].
#[derive(Debug)]
struct ElementwiseBackward;

impl Backward<Flex, 1> for ElementwiseBackward {
    type State = (FlexTensor, Slope);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (x, slope) = ops.state;
        unary::<Flex, _>(ops.parents, ops.node, grads, |grad| {
            let input = values(&x);
            map_f32(grad, |g| slope(&input, g))
        });
    }
}

/// `forward` under autodiff with `slope` as its derivative: one fused pass each way.
fn elementwise_autodiff(
    x: AutodiffFlexTensor,
    forward: fn(FlexTensor) -> FlexTensor,
    slope: Slope,
) -> AutodiffFlexTensor {
    let (input, node) = x.into_parts();
    match ElementwiseBackward
        .prepare::<NoCheckpointing>([node])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            // The input is the backward's state, so the output gets a buffer of its own.
            let output = forward(input.clone());
            prep.finish((input, slope), output)
        }
        OpsKind::UnTracked(prep) => prep.finish(forward(input)),
    }
}

/// `gelu_new` of an f32 flex tensor under autodiff.
pub fn gelu_new_autodiff(x: AutodiffFlexTensor) -> AutodiffFlexTensor {
    elementwise_autodiff(x, gelu_new, kernels::gelu_new_backward)
}

/// The exact GELU of an f32 flex tensor under autodiff.
pub fn gelu_autodiff(x: AutodiffFlexTensor) -> AutodiffFlexTensor {
    elementwise_autodiff(x, gelu, kernels::gelu_backward)
}

/// Backward of [`log_softmax_autodiff`]; its state is the output.
#[derive(Debug)]
struct LogSoftmaxBackward;

impl Backward<Flex, 1> for LogSoftmaxBackward {
    type State = FlexTensor;

    fn backward(self, ops: Ops<FlexTensor, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let output = ops.state;
        unary::<Flex, _>(ops.parents, ops.node, grads, |grad| {
            let row = last_dim(&output);
            let out = values(&output);
            map_f32(grad, |g| kernels::log_softmax_backward_rows(&out, g, row))
        });
    }
}

/// Log-softmax over the last dimension of an f32 flex tensor under autodiff: one fused pass
/// each way; the backward needs only the output.
pub fn log_softmax_autodiff(x: AutodiffFlexTensor) -> AutodiffFlexTensor {
    let (input, node) = x.into_parts();
    let output = log_softmax(input);
    match LogSoftmaxBackward
        .prepare::<NoCheckpointing>([node])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(output.clone(), output),
        OpsKind::UnTracked(prep) => prep.finish(output),
    }
}
