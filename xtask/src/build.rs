//! One `rlhf` build with the backends a list of devices needs, and the environment that
//! building and running it need (libtorch's variables for `tch-*` devices).

use std::path::{Path, PathBuf};

use crate::{cargo_env, libtorch};

/// A built `rlhf` and the environment to run it in.
pub struct Rlhf {
    /// The executable.
    pub binary: PathBuf,
    /// Extra environment variables (empty unless a `tch-*` device is asked for).
    pub env: Vec<(String, String)>,
}

/// The cli crate's cargo features for `devices`: always `flex` (the reference every backend is
/// checked against), plus `tch` and `vulkan` when a device needs them. `cuda` is not offered:
/// it cannot be built offline.
pub fn features(devices: &[String]) -> anyhow::Result<String> {
    let mut features = vec!["flex"];
    for device in devices {
        let feature = match device.split(':').next().unwrap_or_default() {
            "flex" | crate::avx2::DEVICE => continue,
            "tch-cpu" | "tch-cuda" => "tch",
            "vulkan" | "vulkan-cpu" => "vulkan",
            "cuda" => anyhow::bail!(
                "the `cuda` backend cannot be built without network access (cubecl-llvm downloads \
                 LLVM); build it yourself: cargo build --release -p cli --features cuda"
            ),
            other => anyhow::bail!(
                "unknown device `{other}`; expected flex, flex-avx2 (flex on an emulated AVX2 \
                 CPU, `backends` only), tch-cpu, tch-cuda[:N], vulkan[:N] or vulkan-cpu"
            ),
        };
        if !features.contains(&feature) {
            features.push(feature);
        }
    }
    Ok(features.join(","))
}

/// `features` (the cli crate's) with `mpi` added, and `flex` when it names no backend.
pub fn with_mpi(features: &str) -> String {
    let mut list: Vec<&str> = features
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .collect();
    let backends = ["flex", "tch", "vulkan", "vulkan-spirv", "cuda"];
    if !list.iter().any(|f| backends.contains(f)) {
        list.insert(0, "flex");
    }
    if !list.contains(&"mpi") {
        list.push("mpi");
    }
    list.join(",")
}

/// Where cargo builds: `$CARGO_TARGET_DIR` when set (relative to `root`), else `root/target`.
pub fn cargo_target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .filter(|dir| !dir.is_empty())
        .map_or_else(|| root.join("target"), |dir| root.join(dir))
}

/// Builds `rlhf` with [`features`] for `devices`, with cargo `profile` (`dev` or `release`),
/// into `target_dir` (None: `$CARGO_TARGET_DIR` when set, as cargo itself does, else the
/// workspace's `target/`).
pub fn build(
    root: &Path,
    devices: &[String],
    profile: &str,
    target_dir: Option<&Path>,
) -> anyhow::Result<Rlhf> {
    let features = features(devices)?;
    let env = if features.contains("tch") {
        libtorch::env(root)?
    } else {
        Vec::new()
    };
    let target = target_dir.map_or_else(|| cargo_target_dir(root), Path::to_path_buf);
    let target_arg = target.to_string_lossy().into_owned();
    cargo_env(
        root,
        &[
            "build",
            "--profile",
            profile,
            "-p",
            "cli",
            "--features",
            &features,
            "--target-dir",
            &target_arg,
        ],
        &env,
    )?;
    let dir = if profile == "dev" { "debug" } else { profile };
    Ok(Rlhf {
        binary: target.join(dir).join("rlhf"),
        env,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn mpi_builds_keep_a_backend() {
        assert_eq!(super::with_mpi("mpi"), "flex,mpi");
        assert_eq!(super::with_mpi("tch"), "tch,mpi");
        assert_eq!(super::with_mpi("vulkan,mpi"), "vulkan,mpi");
    }

    use super::*;

    fn devices(list: &[&str]) -> Vec<String> {
        list.iter().map(|d| d.to_string()).collect()
    }

    #[test]
    fn features_follow_the_devices() {
        assert_eq!(features(&[]).unwrap(), "flex");
        assert_eq!(
            features(&devices(&["vulkan-cpu", "tch-cpu", "vulkan:1"])).unwrap(),
            "flex,vulkan,tch"
        );
        assert!(features(&devices(&["cuda:0"])).is_err());
        assert!(features(&devices(&["gpu"])).is_err());
    }
}
