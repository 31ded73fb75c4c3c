//! Which Adam a PPO run uses. The choice is by device kind, not by backend code: on CPU devices
//! one fused parallel host pass ([`HostAdam`]) replaces a dozen single-threaded tensor ops per
//! parameter; elsewhere burn's tensor-op Adam or [`TfAdam`]. All keep burn's `AdamState`, so
//! checkpoints are interchangeable between devices.

use burn::optim::{AdamConfig, ModuleOptimizer};

use crate::host_adam::HostAdam;
use crate::tf_adam::TfAdam;

/// TRL's Adam betas.
const BETAS: (f32, f32) = (0.9, 0.999);

/// The Adam implementation of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptimizerKind {
    /// Fused host Adam (CPU devices), PyTorch form or TF1 form (`tf_style`).
    Host {
        /// TF1 form: epsilon added to `sqrt(v)` before the bias correction.
        tf_style: bool,
    },
    /// burn's tensor-op Adam (accelerators, PyTorch form).
    Tensor,
    /// TF1-form Adam with tensor ops (accelerators, `ppo.tf_style_adam`).
    TensorTf,
}

impl OptimizerKind {
    /// The kind for a device: `cpu` for `flex` and `tch-cpu`.
    pub fn for_device(cpu: bool, tf_style: bool) -> Self {
        match (cpu, tf_style) {
            (true, tf_style) => OptimizerKind::Host { tf_style },
            (false, false) => OptimizerKind::Tensor,
            (false, true) => OptimizerKind::TensorTf,
        }
    }
}

/// A fresh optimizer of `kind` with TRL's betas and `epsilon`.
pub fn build_optimizer(kind: OptimizerKind, epsilon: f64) -> ModuleOptimizer {
    let (beta_1, beta_2) = BETAS;
    let epsilon = epsilon as f32;
    match kind {
        OptimizerKind::Host { tf_style } => ModuleOptimizer::from(HostAdam {
            beta_1,
            beta_2,
            epsilon,
            tf_style,
        }),
        OptimizerKind::TensorTf => ModuleOptimizer::from(TfAdam {
            beta_1,
            beta_2,
            epsilon,
        }),
        OptimizerKind::Tensor => AdamConfig::new()
            .with_beta_1(beta_1)
            .with_beta_2(beta_2)
            .with_epsilon(epsilon)
            .init(),
    }
}

#[cfg(test)]
mod tests {
    use super::OptimizerKind;

    #[test]
    fn cpu_devices_take_the_host_adam_and_accelerators_the_tensor_one() {
        assert_eq!(
            OptimizerKind::for_device(true, false),
            OptimizerKind::Host { tf_style: false }
        );
        assert_eq!(
            OptimizerKind::for_device(true, true),
            OptimizerKind::Host { tf_style: true }
        );
        assert_eq!(
            OptimizerKind::for_device(false, false),
            OptimizerKind::Tensor
        );
        assert_eq!(
            OptimizerKind::for_device(false, true),
            OptimizerKind::TensorTf
        );
    }
}
