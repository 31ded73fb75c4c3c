//! The `flex-avx2` device of `cargo xtask backends`: `rlhf check-backend` on flex, run on an
//! emulated AVX2-only CPU (QEMU user mode, `-cpu EPYC-Rome`: AVX2 and FMA, no AVX-512). The
//! workspace builds burn-flex's GEMM with `x86-v4`, which picks its kernels at run time; this
//! tests the AVX2/FMA path with the same binary on any x86-64 machine, AVX-512 or not.
//! `cargo xtask setup-qemu` installs QEMU (Debian's `qemu-user`).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

/// The pseudo-device name.
pub const DEVICE: &str = "flex-avx2";
/// QEMU's model of an AMD EPYC 7002 (Zen 2): AVX2 and FMA, no AVX-512.
const CPU: &str = "EPYC-Rome";
/// What `check-backend` prints when the FMA kernels were chosen.
const FMA_PATH: &str = "flex GEMM kernels on this CPU: avx2+fma";

/// Runs `binary --device flex check-backend` under `qemu-x86_64 -cpu EPYC-Rome`; fails unless
/// every check passes on the AVX2/FMA kernels.
pub fn check(root: &Path, binary: &Path, env: &[(String, String)]) -> anyhow::Result<()> {
    let start = std::time::Instant::now();
    let out = Command::new("qemu-x86_64")
        .args(["-cpu", CPU])
        .arg(binary)
        .args(["--device", "flex", "check-backend"])
        .current_dir(root)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .context("cannot run qemu-x86_64; install it with `cargo xtask setup-qemu`")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    println!(
        "      ({:.0} s, emulated {CPU})",
        start.elapsed().as_secs_f64()
    );
    if !out.status.success() {
        bail!(
            "check-backend failed on the emulated {CPU} ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if !stdout.contains(FMA_PATH) {
        bail!("the emulated {CPU} did not get the AVX2/FMA GEMM kernels (expected `{FMA_PATH}`)");
    }
    Ok(())
}

/// Installs `qemu-x86_64` (Debian `qemu-user`) when it is missing.
pub fn setup() -> anyhow::Result<()> {
    if let Ok(out) = Command::new("qemu-x86_64").arg("--version").output() {
        let version = String::from_utf8_lossy(&out.stdout);
        println!(
            "{}",
            version.lines().next().unwrap_or("qemu-x86_64 is installed")
        );
        return Ok(());
    }
    crate::apt::require(
        &["debian", "ubuntu"],
        "install QEMU's user-mode emulator (qemu-x86_64, 7.2 or newer)",
    )?;
    // The version tested here is bookworm-backports' QEMU 10.0.
    crate::apt::install(&["qemu-user"], true)?;
    println!("installed qemu-user; use `cargo xtask backends --device {DEVICE}`");
    Ok(())
}
