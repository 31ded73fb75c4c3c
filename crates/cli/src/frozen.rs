//! `[frozen]`: the device and precision of the reference policy and the reward model.

use anyhow::bail;
use burn::module::Module;
use burn::tensor::{Device, FloatDType};
use config::{Config, DeviceSpec, FrozenDtype};
use models::precision::cast_block_linears;
use models::weights::with_own_storage;
use models::{Gpt2WithValueHead, RewardModel};

use crate::device;

/// Where the frozen models run, and the dtype of their block linears (`None`: f32).
#[derive(Debug, Clone)]
pub struct Frozen {
    /// Their device (the run's plain device unless `frozen.device` names another).
    pub device: Device,
    /// bf16 for `frozen.dtype = "bf16"`.
    pub dtype: Option<FloatDType>,
}

impl Frozen {
    /// f32 on `device` (what `rlhf eval` always uses: it is the judge).
    pub fn full_precision(device: &Device) -> Self {
        Frozen {
            device: device.clone(),
            dtype: None,
        }
    }

    /// The frozen models' placement for `config`, given the run's plain `device`.
    pub fn select(config: &Config, plain: &Device) -> anyhow::Result<Self> {
        let spec = config.frozen.device_or(config.device);
        let device = if spec == config.device {
            plain.clone()
        } else {
            device::select(spec)?
        };
        let dtype = match config.frozen.dtype {
            FrozenDtype::F32 => None,
            FrozenDtype::Bf16 => {
                if !device.supports_dtype(FloatDType::BF16) {
                    bail!(
                        "frozen.dtype = \"bf16\", but device `{spec}` has no bf16 tensors; set \
                         frozen.dtype = \"f32\", or frozen.device to one that has them (tch-cpu, \
                         a GPU)"
                    );
                }
                if spec == DeviceSpec::Flex {
                    tracing::warn!(
                        "frozen.dtype = \"bf16\" on flex: burn-flex converts bf16 matrices to f32 \
                         for every product, so this is slower than f32 there; for speed set \
                         frozen.device = \"tch-cpu\" (a binary built with --features tch)"
                    );
                }
                Some(FloatDType::BF16)
            }
        };
        tracing::info!(device = %spec, dtype = %config.frozen.dtype, "frozen models");
        Ok(Frozen { device, dtype })
    }

    /// The reference: `policy` (on a plain device) moved to the frozen device and cast.
    pub fn reference(&self, policy: Gpt2WithValueHead) -> Gpt2WithValueHead {
        let policy = with_own_storage(policy.to_device(&self.device));
        match self.dtype {
            Some(dtype) => cast_block_linears(policy, dtype).0,
            None => policy,
        }
    }

    /// The reward model (loaded on [`Frozen::device`]), cast.
    pub fn reward(&self, model: RewardModel) -> RewardModel {
        match self.dtype {
            Some(dtype) => model.with_block_dtype(dtype),
            None => model,
        }
    }
}
