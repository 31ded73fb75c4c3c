//! Maps a configured [`DeviceSpec`] onto a burn device. Only this crate chooses a backend;
//! each arm exists only when its cargo feature is compiled in.

use anyhow::bail;
use burn::tensor::Device;
use config::DeviceSpec;

/// The burn device for `spec`, or an error naming the cargo feature that would provide it.
pub fn select(spec: DeviceSpec) -> anyhow::Result<Device> {
    #[allow(unreachable_patterns, deprecated)]
    let device = match spec {
        #[cfg(feature = "flex")]
        DeviceSpec::Flex => Device::flex(),
        #[cfg(feature = "cuda")]
        DeviceSpec::Cuda(index) => Device::cuda(index),
        #[cfg(feature = "tch")]
        DeviceSpec::TchCpu => Device::libtorch(),
        #[cfg(feature = "tch")]
        DeviceSpec::TchCuda(index) => Device::libtorch_cuda(index),
        #[cfg(feature = "vulkan")]
        DeviceSpec::Vulkan(index) => Device::vulkan(burn::tensor::DeviceKind::DiscreteGpu(index)),
        #[cfg(feature = "vulkan")]
        DeviceSpec::VulkanCpu => Device::vulkan(burn::tensor::DeviceKind::Cpu),
        _ => {
            let feature = spec.cargo_feature();
            bail!(
                "device `{spec}` needs the `{feature}` backend, which is not compiled into this \
                 binary; rebuild with `--features {feature}` (e.g. `cargo xtask train --features \
                 {feature}`), or pick a compiled-in device: {}",
                compiled_in().join(", ")
            )
        }
    };
    tracing::info!(device = %spec, "selected device");
    Ok(device)
}

/// The backends this binary was built with.
pub fn compiled_in() -> Vec<&'static str> {
    [
        (cfg!(feature = "flex"), "flex"),
        (cfg!(feature = "cuda"), "cuda"),
        (cfg!(feature = "tch"), "tch-cpu, tch-cuda"),
        (cfg!(feature = "vulkan"), "vulkan, vulkan-cpu"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect()
}
