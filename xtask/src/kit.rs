//! `cargo xtask gpu-kit`: what a GPU machine without Rust or network needs to run the
//! conformance suite and the PPO benchmark, in one archive of at most 64 MiB:
//!
//! ```text
//! rlhf-gpu-kit/
//!   run.sh, README.md          the entry point (xtask/kit/)
//!   bin/rlhf                   optimised build (profile optdev) with flex, tch and vulkan, stripped
//!   bin/xtask                  this program: `xtask backends --binary bin/rlhf` is the suite
//!   lib/libvulkan.so.1         the Vulkan loader (GPU images often lack it)
//!   lib/libGLdispatch.so.0, lib/libGLX.so.0   libglvnd, which NVIDIA's Vulkan driver
//!                              (`libGLX_nvidia.so.0`) loads through
//!   TORCH_VERSION              the torch the binary was linked against; run.sh skips tch
//!                              devices when the machine's differs (libtorch's C++ ABI)
//!   tests/fixtures/...         tiny models + transformers' outputs, IMDB sample, tokenizers
//!   tests/reference/...        the full-size model maker and TRL's benchmark script
//! ```

use std::path::Path;
use std::process::Command;

use anyhow::{Context, ensure};

use crate::{build, cargo, run_command};

/// The archive's size limit (what one device call may carry).
const LIMIT: u64 = 64 << 20;

/// Files and directories copied from the repository, relative to its root: of the tiny models,
/// only those the conformance suite and the benchmark use (the archive has a size limit).
const COPIED: [&str; 11] = [
    "tests/fixtures/models/tiny-gpt2",
    "tests/fixtures/models/tiny-roberta",
    "tests/fixtures/models/expected.json",
    "tests/fixtures/imdb/sample.parquet",
    "tests/fixtures/tokenizers",
    "tests/reference/make_full_size.py",
    "tests/reference/bench_ppo_step.py",
    "tests/reference/bench_generate.py",
    "tests/reference/bench_prompts.json",
    "tests/reference/requirements.txt",
    "config/default.toml",
];

/// Builds and packs the kit into `target/gpu-kit/rlhf-gpu-kit.tar.gz`.
pub fn pack(root: &Path) -> anyhow::Result<()> {
    let devices = ["tch-cpu".to_string(), "vulkan-cpu".to_string()];
    let rlhf = build::build(root, &devices, "optdev", None)?;
    cargo(root, &["build", "--release", "-p", "xtask"])?;
    let out = root.join("target/gpu-kit");
    let kit = out.join("rlhf-gpu-kit");
    if kit.exists() {
        std::fs::remove_dir_all(&kit).context("cannot clear the previous kit")?;
    }
    for dir in ["bin", "lib"] {
        std::fs::create_dir_all(kit.join(dir))?;
    }
    copy(&rlhf.binary, &kit.join("bin/rlhf"))?;
    copy(
        &build::cargo_target_dir(root).join("release/xtask"),
        &kit.join("bin/xtask"),
    )?;
    for binary in ["bin/rlhf", "bin/xtask"] {
        run_command(Command::new("strip").arg(kit.join(binary)))
            .context("`strip` (Debian binutils) keeps the kit under 64 MiB")?;
    }
    let loader = Path::new("/usr/lib/x86_64-linux-gnu/libvulkan.so.1");
    let loader = loader.canonicalize().with_context(|| {
        format!(
            "the Vulkan loader `{}` is missing; apt-get install libvulkan1",
            loader.display()
        )
    })?;
    copy(&loader, &kit.join("lib/libvulkan.so.1"))?;
    for lib in ["libGLdispatch.so.0", "libGLX.so.0"] {
        let path = Path::new("/usr/lib/x86_64-linux-gnu").join(lib);
        let path = path.canonicalize().with_context(|| {
            format!(
                "`{}` is missing; apt-get install libglvnd0 libglx0",
                path.display()
            )
        })?;
        copy(&path, &kit.join("lib").join(lib))?;
    }
    let (torch, _) = crate::libtorch::torch_lib(root)?;
    std::fs::write(kit.join("TORCH_VERSION"), format!("{torch}\n"))?;
    for item in COPIED {
        let target = kit.join(item);
        std::fs::create_dir_all(target.parent().unwrap_or(&kit))?;
        run_command(
            Command::new("cp")
                .arg("-r")
                .arg(root.join(item))
                .arg(&target),
        )?;
    }
    for file in ["run.sh", "README.md"] {
        copy(&root.join("xtask/kit").join(file), &kit.join(file))?;
    }
    let archive = out.join("rlhf-gpu-kit.tar.gz");
    run_command(
        Command::new("tar")
            .arg("-czf")
            .arg(&archive)
            .arg("-C")
            .arg(&out)
            .arg("rlhf-gpu-kit"),
    )?;
    let size = std::fs::metadata(&archive)?.len();
    ensure!(
        size <= LIMIT,
        "the kit is {:.1} MiB, over the 64 MiB a device call carries",
        size as f64 / f64::from(1 << 20)
    );
    println!(
        "wrote {} ({:.1} MiB); on the GPU machine: tar xzf rlhf-gpu-kit.tar.gz && \
         rlhf-gpu-kit/run.sh (README.md inside)",
        archive.display(),
        size as f64 / f64::from(1 << 20)
    );
    Ok(())
}

fn copy(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::copy(from, to)
        .with_context(|| format!("cannot copy `{}` to `{}`", from.display(), to.display()))?;
    Ok(())
}
