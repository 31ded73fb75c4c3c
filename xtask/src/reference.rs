//! `cargo xtask fixtures` and `cargo xtask parity`: reference outputs from transformers.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::{cargo, python};

/// Where the full-size random checkpoints live (ignored by git: ~1.9 GB).
pub const FULL_SIZE_DIR: &str = "target/reference-models";

/// Regenerates tests/fixtures/models (tiny checkpoints + expected outputs) and
/// tests/fixtures/ppo (TRL 0.11.4 golden numbers).
pub fn fixtures(root: &Path) -> anyhow::Result<()> {
    let py = python::require(root)?;
    python::run_script(root, &py, "make_model_fixtures.py", &[])?;
    python::run_script(
        root,
        &py,
        "make_model_fixtures.py",
        &["--only", "reward-heads"],
    )?;
    python::run_script(root, &py, "make_reward_arch_fixtures.py", &[])?;
    python::run_script(root, &py, "ppo_trl011.py", &[])?;
    eprintln!("fixtures regenerated; run `cargo test -p models` to check them");
    Ok(())
}

/// Where the narrow random checkpoints live (`make_full_size.py --size narrow`).
pub const NARROW_DIR: &str = "target/reference-models/narrow";

/// The benchmark's model sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModelSize {
    /// GPT-2 124M and RoBERTa-large.
    Full,
    /// Both at width 512 with the real vocabularies: every buffer fits lavapipe's 128 MiB.
    Narrow,
}

impl ModelSize {
    /// The directory holding `gpt2-124m/` and `roberta-large/` of this size.
    pub fn dir(self, root: &Path) -> PathBuf {
        root.join(match self {
            Self::Full => FULL_SIZE_DIR,
            Self::Narrow => NARROW_DIR,
        })
    }

    /// How the report names the weights.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Full => "random GPT-2 124M + RoBERTa-large (target/reference-models)",
            Self::Narrow => {
                "random GPT-2 and RoBERTa at width 512, real vocabularies \
                 (target/reference-models/narrow)"
            }
        }
    }
}

/// The full-size random GPT-2 124M and RoBERTa-large directories, created when missing.
pub fn full_size_models(root: &Path, py: &Path) -> anyhow::Result<Vec<PathBuf>> {
    models_of_size(root, py, ModelSize::Full)
}

/// The random GPT-2 and RoBERTa directories of `size`, created when missing.
pub fn models_of_size(root: &Path, py: &Path, size: ModelSize) -> anyhow::Result<Vec<PathBuf>> {
    let dir = size.dir(root);
    let models = vec![dir.join("gpt2-124m"), dir.join("roberta-large")];
    if !models.iter().all(|m| m.join("model.safetensors").is_file()) {
        let out = dir.to_string_lossy().into_owned();
        let size_arg = match size {
            ModelSize::Full => "full",
            ModelSize::Narrow => "narrow",
        };
        python::run_script(
            root,
            py,
            "make_full_size.py",
            &["--out", &out, "--size", size_arg],
        )?;
    }
    Ok(models)
}

/// Compares our logits with transformers' on each model directory (default: the full-size
/// random checkpoints) and fails if any error exceeds `tolerance`.
pub fn parity(root: &Path, model_dirs: Vec<PathBuf>, tolerance: f64) -> anyhow::Result<()> {
    let py = python::require(root)?;
    let model_dirs = if model_dirs.is_empty() {
        full_size_models(root, &py)?
    } else {
        model_dirs
    };
    cargo(
        root,
        &["build", "--release", "-p", "models", "--example", "parity"],
    )?;
    let out_dir = root.join("target/parity");
    std::fs::create_dir_all(&out_dir).context("cannot create target/parity")?;
    let mut failed = Vec::new();
    for dir in &model_dirs {
        let dir = std::fs::canonicalize(dir)
            .with_context(|| format!("model directory `{}` does not exist", dir.display()))?;
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let reference = out_dir.join(format!("{name}.safetensors"));
        let (dir_s, ref_s) = (dir.to_string_lossy(), reference.to_string_lossy());
        python::run_script(
            root,
            &py,
            "parity.py",
            &["--model-dir", &dir_s, "--out", &ref_s],
        )?;
        let binary = root.join("target/release/examples/parity");
        eprintln!("$ {} {dir_s} {ref_s} {tolerance}", binary.display());
        let status = std::process::Command::new(&binary)
            .args([&*dir_s, &*ref_s, &tolerance.to_string()])
            .current_dir(root)
            .status()
            .with_context(|| format!("cannot run `{}`", binary.display()))?;
        if !status.success() {
            failed.push(name);
        }
    }
    anyhow::ensure!(
        failed.is_empty(),
        "parity failed for: {}",
        failed.join(", ")
    );
    Ok(())
}
