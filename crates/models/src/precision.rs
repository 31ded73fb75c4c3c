//! Lower-precision frozen models: the linear layers of the transformer blocks in bf16, the rest
//! in f32 — what torch's CPU autocast does for a no-grad forward.
//!
//! Only the weights of `Linear` layers inside the repeated blocks (`h.N` of GPT-2, `layer.N` of
//! the encoders) change dtype. Embeddings (GPT-2's tied LM head among them), layer norms, the
//! value and classifier heads stay f32, and so do the activations between layers: [`linear`]
//! casts its input down for the product and the product back up, then adds the f32 bias. So the
//! residual stream, softmax and log-softmax keep full precision and only the matrix products,
//! the bulk of the FLOPs, round to bf16.

use burn::module::{Module, ModuleMapper, Param};
use burn::nn::Linear;
use burn::tensor::{FloatDType, Tensor};

/// Casts the weight of every `Linear` inside a `Vec` of blocks to `dtype`; returns the module
/// and how many weights were cast (0 means the module has no such layers).
pub fn cast_block_linears<M: Module>(module: M, dtype: FloatDType) -> (M, usize) {
    let mut mapper = BlockLinears {
        path: Vec::new(),
        dtype,
        cast: 0,
    };
    let module = module.map(&mut mapper);
    (module, mapper.cast)
}

/// `x·W + b` of `layer`, `[.., d_in]` → `[.., d_out]`, in `x`'s dtype, the product through
/// [`crate::fused::matmul`] (gemm straight into the output on flex). When the weight has
/// another dtype (bf16 blocks of a frozen model), the product runs in the weight's dtype and is
/// cast back before the bias, kept in `x`'s dtype, is added.
pub fn linear<const D: usize>(layer: &Linear, x: Tensor<D>) -> Tensor<D> {
    let weight = layer.weight.val();
    let dtype = x.dtype();
    if weight.dtype() == dtype {
        let y = crate::fused::matmul(x, weight);
        return match &layer.bias {
            Some(bias) => y + bias.val().unsqueeze(),
            None => y,
        };
    }
    let y = burn::tensor::module::linear(x.cast(weight.dtype()), weight, None).cast(dtype);
    match &layer.bias {
        Some(bias) => y + bias.val().cast(dtype).unsqueeze(),
        None => y,
    }
}

/// The mapper behind [`cast_block_linears`]: tracks the module path and casts `weight` fields
/// of `Linear` structs that sit below a `Vec`.
struct BlockLinears {
    /// (field or index, container type) from the root down.
    path: Vec<(String, String)>,
    dtype: FloatDType,
    cast: usize,
}

impl ModuleMapper for BlockLinears {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path
            .push((name.to_string(), container_type.to_string()));
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let in_block = self.path.iter().any(|(_, container)| container == "Vec");
        let linear_weight = matches!(
            self.path.last(),
            Some((name, container)) if name == "weight" && container == "Struct:Linear"
        );
        if in_block && linear_weight && D == 2 {
            self.cast += 1;
            let dtype = self.dtype;
            param.map(|tensor| tensor.cast(dtype))
        } else {
            param
        }
    }
}
