//! `cargo xtask setup-vulkan`: Mesa's software Vulkan driver (lavapipe), so that
//! `--device vulkan-cpu` runs on a machine without a GPU.
//!
//! Debian bookworm's own Mesa (22.3.6) crashes inside `vkCreateComputePipelines` on CubeCL's
//! SPIR-V shaders (docs/backends.md); bookworm-backports' Mesa 25 runs them. So on bookworm the
//! driver comes from backports.

use std::process::Command;

use anyhow::bail;

/// The oldest Mesa that runs CubeCL's shaders here.
const MESA_MAJOR: u32 = 25;

/// Installs lavapipe (Mesa ≥ 25) and the Vulkan loader when they are missing.
pub fn setup() -> anyhow::Result<()> {
    if let Some(version) = mesa_version()
        && major(&version) >= MESA_MAJOR
        && loader_installed()
    {
        println!("lavapipe is installed (mesa-vulkan-drivers {version})");
        return Ok(());
    }
    crate::apt::require(
        &["debian"],
        &format!(
            "install Mesa {MESA_MAJOR} or newer (its Vulkan drivers, `lavapipe`) and the Vulkan \
             loader with your package manager"
        ),
    )?;
    crate::apt::install(&["mesa-vulkan-drivers", "libvulkan1"], true)?;
    match mesa_version() {
        Some(v) if major(&v) >= MESA_MAJOR => {
            println!("lavapipe installed (mesa-vulkan-drivers {v}); use --device vulkan-cpu");
            Ok(())
        }
        other => bail!(
            "mesa-vulkan-drivers is {} after the install; Mesa {MESA_MAJOR} or newer is needed \
             (older lavapipe crashes on CubeCL's shaders)",
            other.as_deref().unwrap_or("missing")
        ),
    }
}

/// The installed `mesa-vulkan-drivers` package version.
fn mesa_version() -> Option<String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", "mesa-vulkan-drivers"])
        .output()
        .ok()?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !version.is_empty()).then_some(version)
}

fn loader_installed() -> bool {
    std::path::Path::new("/usr/lib/x86_64-linux-gnu/libvulkan.so.1").exists()
}

/// The major version of a Debian version string (`1:25.0.7-2~bpo12+1` → 25).
fn major(version: &str) -> u32 {
    let upstream = version.split_once(':').map_or(version, |(_, v)| v);
    upstream
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::major;

    #[test]
    fn major_versions() {
        assert_eq!(major("25.0.7-2~bpo12+1"), 25);
        assert_eq!(major("22.3.6-1+deb12u2"), 22);
        assert_eq!(major("1:26.1.0-1"), 26);
        assert_eq!(major("garbage"), 0);
    }
}
