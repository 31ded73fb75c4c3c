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
        #[cfg(feature = "vulkan-spirv")]
        DeviceSpec::Vulkan(index) => Device::vulkan(burn::tensor::DeviceKind::DiscreteGpu(index)),
        #[cfg(feature = "vulkan-spirv")]
        DeviceSpec::VulkanCpu => Device::vulkan(burn::tensor::DeviceKind::Cpu),
        #[cfg(all(feature = "vulkan", not(feature = "vulkan-spirv")))]
        DeviceSpec::Vulkan(index) => {
            vulkan_wgsl(spec, burn::tensor::DeviceKind::DiscreteGpu(index))?
        }
        #[cfg(all(feature = "vulkan", not(feature = "vulkan-spirv")))]
        DeviceSpec::VulkanCpu => vulkan_wgsl(spec, burn::tensor::DeviceKind::Cpu)?,
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

/// A Vulkan adapter of `kind` through wgpu with WGSL shaders. Pinned to the Vulkan API, so a
/// machine without a Vulkan driver gets an error here instead of another API or a panic later.
#[cfg(all(feature = "vulkan", not(feature = "vulkan-spirv")))]
fn vulkan_wgsl(spec: DeviceSpec, kind: burn::tensor::DeviceKind) -> anyhow::Result<Device> {
    use anyhow::Context;
    use burn::tensor::wgpu::WgpuBackend;
    Device::wgpu_options()
        .device_kind(kind)
        .graphics_api(WgpuBackend::Vulkan)
        .init()
        .with_context(|| {
            format!(
                "no Vulkan adapter for `{spec}`: install a Vulkan driver (a GPU's, or Mesa's \
                 software driver with `cargo xtask setup-vulkan` for vulkan-cpu)"
            )
        })
}

/// The backends this binary was built with.
pub fn compiled_in() -> Vec<&'static str> {
    [
        (cfg!(feature = "flex"), "flex"),
        (cfg!(feature = "cuda"), "cuda"),
        (cfg!(feature = "tch"), "tch-cpu, tch-cuda"),
        (
            cfg!(any(feature = "vulkan", feature = "vulkan-spirv")),
            "vulkan, vulkan-cpu",
        ),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect()
}
