//! `[frozen]`: where and in what precision the frozen models run — the reference policy and the
//! reward model, which only ever do no-grad forwards during PPO.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::DeviceSpec;

/// The number format of the frozen models' matrix products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FrozenDtype {
    /// Full precision (the default).
    F32,
    /// bfloat16 weights and matrix products in the transformer blocks; embeddings, norms,
    /// softmax, the LM head, the value and classifier heads and the residual stream stay f32.
    Bf16,
}

impl fmt::Display for FrozenDtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FrozenDtype::F32 => "f32",
            FrozenDtype::Bf16 => "bf16",
        })
    }
}

/// The frozen models' device and precision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FrozenConfig {
    /// `f32` (default) or `bf16`.
    pub dtype: FrozenDtype,
    /// Their device; unset means the run's `device`. Only token ids and per-token log-probs
    /// or rewards cross between the two.
    pub device: Option<DeviceSpec>,
}

impl Default for FrozenConfig {
    fn default() -> Self {
        FrozenConfig {
            dtype: FrozenDtype::F32,
            device: None,
        }
    }
}

impl FrozenConfig {
    /// The device the frozen models run on, given the run's `device`.
    pub fn device_or(&self, run_device: DeviceSpec) -> DeviceSpec {
        self.device.unwrap_or(run_device)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test: a panic is the failure report.

    use super::*;

    #[test]
    fn parses_from_toml() {
        let c: FrozenConfig = toml::from_str("dtype = \"bf16\"\ndevice = \"tch-cpu\"").unwrap();
        assert_eq!(c.dtype, FrozenDtype::Bf16);
        assert_eq!(c.device_or(DeviceSpec::Flex), DeviceSpec::TchCpu);
        assert_eq!(
            FrozenConfig::default().device_or(DeviceSpec::Flex),
            DeviceSpec::Flex
        );
        assert!(toml::from_str::<FrozenConfig>("dtype = \"fp16\"").is_err());
    }
}
