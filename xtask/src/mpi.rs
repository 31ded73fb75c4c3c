//! Data-parallel training over MPI: `cargo xtask setup-mpi` (OpenMPI and libclang from Debian),
//! `cargo xtask train --features mpi --ranks N` (a release build under `mpirun`) and
//! `cargo xtask mpi-test` (clippy on the `mpi` code, then the tests under `mpirun -np 2` and
//! `-np 3`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::{build, cargo, cargo_env, libtorch, run_command};

/// Debian packages the `mpi` feature needs: `mpirun`, the OpenMPI headers and library, and
/// libclang for the bindings generator of the `mpi` crate.
const PACKAGES: [&str; 3] = ["openmpi-bin", "libopenmpi-dev", "libclang-dev"];

/// Installs OpenMPI and libclang when any of them is missing.
pub fn setup() -> anyhow::Result<()> {
    let missing: Vec<&str> = PACKAGES.into_iter().filter(|p| !installed(p)).collect();
    if missing.is_empty() {
        println!("OpenMPI and libclang are installed ({})", mpirun_version());
        return Ok(());
    }
    crate::apt::require(
        &["debian", "ubuntu"],
        "install OpenMPI (mpirun, the development headers) and libclang with your package manager",
    )?;
    crate::apt::install(&missing, false)?;
    println!("installed {}; {}", missing.join(", "), mpirun_version());
    Ok(())
}

fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

fn mpirun_version() -> String {
    Command::new("mpirun")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_string)
        })
        .unwrap_or_else(|| "mpirun not found".into())
}

/// `mpirun`'s flags for this machine: running as root needs `--allow-run-as-root`, and more
/// ranks than cores `--oversubscribe`.
pub fn mpirun_flags(ranks: usize, hostfile: Option<&Path>) -> Vec<String> {
    let mut flags = Vec::new();
    if std::env::var("USER").as_deref() == Ok("root") || is_root() {
        flags.push("--allow-run-as-root".to_string());
    }
    match hostfile {
        Some(file) => flags.extend(["--hostfile".to_string(), file.display().to_string()]),
        None => flags.push("--oversubscribe".to_string()),
    }
    flags.extend(["-np".to_string(), ranks.to_string()]);
    flags
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .is_some_and(|l| l.split_whitespace().nth(1) == Some("0"))
    })
}

/// `cargo xtask train --features … --ranks N`: a release `rlhf` with `features` and `mpi`,
/// started by `mpirun` on `ranks` ranks (on the hosts of `hostfile`, else this machine).
pub fn train(
    root: &Path,
    features: &str,
    ranks: usize,
    hostfile: Option<&PathBuf>,
    args: &[String],
) -> anyhow::Result<()> {
    let features = build::with_mpi(features);
    let env = if features.split(',').any(|f| f == "tch") {
        libtorch::env(root)?
    } else {
        Vec::new()
    };
    cargo_env(
        root,
        &[
            "build",
            "--release",
            "-p",
            "cli",
            "--no-default-features",
            "--features",
            &features,
        ],
        &env,
    )?;
    let rlhf = build::cargo_target_dir(root).join("release/rlhf");
    run_command(
        Command::new("mpirun")
            .args(mpirun_flags(ranks, hostfile.map(PathBuf::as_path)))
            .arg(rlhf)
            .arg("train")
            .args(args)
            .envs(env)
            .current_dir(root),
    )
    .context("is OpenMPI installed? `cargo xtask setup-mpi`")
}

/// `cargo xtask mpi-test`: the `mpi` feature's tests (crates/cli/tests/mpi.rs).
pub fn test(root: &Path) -> anyhow::Result<()> {
    if !PACKAGES.iter().all(|p| installed(p)) {
        bail!("OpenMPI or libclang is missing; run `cargo xtask setup-mpi` first");
    }
    let clippy = [
        "clippy",
        "-p",
        "cli",
        "--all-targets",
        "--features",
        "mpi",
        "--",
        "-D",
        "warnings",
    ];
    cargo(root, &clippy)?;
    cargo(
        root,
        &["test", "-p", "cli", "--features", "mpi", "--test", "mpi"],
    )
}
