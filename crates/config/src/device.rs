//! Device names as written in configs and on the command line (`--device`).
//!
//! The config crate only parses and validates the name; the cli crate maps it onto a burn
//! `Device` and reports a backend that was not compiled in.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A compute device: the backend plus, for GPUs, the device index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DeviceSpec {
    /// burn-flex, the pure-Rust CPU backend (the default).
    Flex,
    /// CUDA GPU `n` through CubeCL (cargo feature `cuda`).
    Cuda(usize),
    /// libtorch on the CPU (cargo feature `tch`).
    TchCpu,
    /// libtorch on CUDA GPU `n` (cargo feature `tch`).
    TchCuda(usize),
    /// Vulkan GPU `n` through wgpu (cargo feature `vulkan`).
    Vulkan(usize),
    /// A software Vulkan adapter such as Mesa's lavapipe (cargo feature `vulkan`); automatic
    /// adapter selection skips these, so they are asked for by name.
    VulkanCpu,
}

/// The accepted spellings, for error messages.
pub const DEVICE_SYNTAX: &str = "flex, cuda[:N], tch-cpu, tch-cuda[:N], vulkan[:N], vulkan-cpu";

impl DeviceSpec {
    /// True for devices whose memory is host memory (`flex`, `tch-cpu`).
    pub fn is_cpu(&self) -> bool {
        matches!(self, DeviceSpec::Flex | DeviceSpec::TchCpu)
    }

    /// The cargo feature of the cli crate that compiles this backend in.
    pub fn cargo_feature(self) -> &'static str {
        match self {
            DeviceSpec::Flex => "flex",
            DeviceSpec::Cuda(_) => "cuda",
            DeviceSpec::TchCpu | DeviceSpec::TchCuda(_) => "tch",
            DeviceSpec::Vulkan(_) | DeviceSpec::VulkanCpu => "vulkan",
        }
    }
}

/// Builds a device from its index.
type IndexedDevice = fn(usize) -> DeviceSpec;

/// Splits `name[:index]`; a missing index means 0.
fn indexed(s: &str, name: &str) -> Option<Result<usize, String>> {
    let rest = s.strip_prefix(name)?;
    if rest.is_empty() {
        return Some(Ok(0));
    }
    let index = rest.strip_prefix(':')?;
    Some(
        index
            .parse()
            .map_err(|_| format!("device index in `{s}` must be a non-negative integer")),
    )
}

impl FromStr for DeviceSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "flex" => return Ok(DeviceSpec::Flex),
            "tch-cpu" => return Ok(DeviceSpec::TchCpu),
            "vulkan-cpu" => return Ok(DeviceSpec::VulkanCpu),
            _ => {}
        }
        // `tch-cuda` must be tried before `cuda` would be (it does not start with `cuda`).
        let parsers: [(&str, IndexedDevice); 3] = [
            ("tch-cuda", DeviceSpec::TchCuda),
            ("cuda", DeviceSpec::Cuda),
            ("vulkan", DeviceSpec::Vulkan),
        ];
        for (name, make) in parsers {
            if let Some(index) = indexed(&s, name) {
                return index.map(make);
            }
        }
        Err(format!(
            "unknown device `{s}`; expected one of: {DEVICE_SYNTAX}"
        ))
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Flex => write!(f, "flex"),
            DeviceSpec::Cuda(i) => write!(f, "cuda:{i}"),
            DeviceSpec::TchCpu => write!(f, "tch-cpu"),
            DeviceSpec::TchCuda(i) => write!(f, "tch-cuda:{i}"),
            DeviceSpec::Vulkan(i) => write!(f, "vulkan:{i}"),
            DeviceSpec::VulkanCpu => write!(f, "vulkan-cpu"),
        }
    }
}

impl TryFrom<String> for DeviceSpec {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<DeviceSpec> for String {
    fn from(d: DeviceSpec) -> String {
        d.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_spelling_and_round_trips() {
        let cases = [
            ("flex", DeviceSpec::Flex),
            ("FLEX", DeviceSpec::Flex),
            ("cuda", DeviceSpec::Cuda(0)),
            ("cuda:3", DeviceSpec::Cuda(3)),
            ("tch-cpu", DeviceSpec::TchCpu),
            ("tch-cuda", DeviceSpec::TchCuda(0)),
            ("tch-cuda:1", DeviceSpec::TchCuda(1)),
            ("vulkan:2", DeviceSpec::Vulkan(2)),
            ("vulkan-cpu", DeviceSpec::VulkanCpu),
        ];
        for (text, spec) in cases {
            assert_eq!(text.parse::<DeviceSpec>(), Ok(spec), "{text}");
            assert_eq!(spec.to_string().parse::<DeviceSpec>(), Ok(spec));
        }
    }

    #[test]
    fn rejects_unknown_names_and_bad_indices() {
        let err = "gpu".parse::<DeviceSpec>().unwrap_err();
        assert!(
            err.contains("unknown device `gpu`") && err.contains("tch-cpu"),
            "{err}"
        );
        let err = "cuda:x".parse::<DeviceSpec>().unwrap_err();
        assert!(err.contains("non-negative integer"), "{err}");
        assert!("cudax".parse::<DeviceSpec>().is_err());
    }
}
