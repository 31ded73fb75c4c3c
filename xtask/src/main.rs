//! Project automation, run as `cargo xtask <command>` (alias in `.cargo/config.toml`).
//!
//! Dependency-light on purpose: it only shells out to cargo, and to Python for the reference
//! tasks (`fixtures`, `parity`, `bench`), which CI never runs.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, bail};

mod apt;
mod avx2;
mod backends;
mod bench;
mod bench_floor;
mod bench_shapes;
mod build;
mod demo;
mod demo_report;
mod frozen;
mod kit;
mod libtorch;
mod mpi;
mod python;
mod reference;
mod vulkan;
use clap::{Parser, Subcommand};

/// Developer tasks for the rlhf workspace.
#[derive(Debug, Parser)]
#[command(name = "xtask", bin_name = "cargo xtask")]
struct Xtask {
    #[command(subcommand)]
    command: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Run `rlhf train` in release mode; remaining arguments go to `rlhf train`
    /// (e.g. `cargo xtask train --config config/gpt2-sentiment.toml --set ppo.batch_size=16`).
    Train {
        /// Backend cargo features of the cli crate: flex (default), cuda, tch, vulkan; add
        /// `mpi` for data-parallel training (implied by --ranks).
        #[arg(long, default_value = "flex")]
        features: String,
        /// Train on N MPI ranks: builds with `mpi` and starts `mpirun -np N` (on this machine,
        /// or on the hosts of --hostfile). Needs `cargo xtask setup-mpi`.
        #[arg(long, value_name = "N")]
        ranks: Option<usize>,
        /// An OpenMPI hostfile (one `host slots=K` line per machine) for --ranks.
        #[arg(long, value_name = "FILE", requires = "ranks")]
        hostfile: Option<PathBuf>,
        /// Arguments for `rlhf train`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// What CI runs: cargo fmt --check, clippy with warnings denied, and the workspace tests.
    Ci,
    /// Install torch 2.9.0 into `.venv` for the libtorch backend (`--features tch`); after it,
    /// `train --features tch` and `backends` find libtorch by themselves.
    SetupTch,
    /// Install Mesa's software Vulkan driver, lavapipe (Mesa 25 from bookworm-backports on
    /// Debian bookworm; needs root), so that `--device vulkan-cpu` runs without a GPU.
    SetupVulkan,
    /// Install QEMU's user-mode emulator (Debian `qemu-user`; needs root) for the `flex-avx2`
    /// device of `backends`: flex on an emulated AVX2-only CPU.
    SetupQemu,
    /// Install OpenMPI and libclang (Debian `openmpi-bin libopenmpi-dev libclang-dev`; needs
    /// root) for data-parallel training (`--features mpi`).
    SetupMpi,
    /// The data-parallel tests under `mpirun` (2 ranks equal 1 process, a killed rank, 3 ranks
    /// refused); needs `setup-mpi`.
    MpiTest,
    /// The conformance suite per backend: `rlhf check-backend`, every command once, and an exact
    /// resume, on the tiny fixtures. Default devices: flex, and tch-cpu when torch is set up.
    Backends {
        /// Devices to test (flex, tch-cpu, tch-cuda:N, vulkan:N, vulkan-cpu; flex-avx2 runs
        /// check-backend on flex under `qemu-x86_64 -cpu EPYC-Rome`); repeatable.
        #[arg(long)]
        device: Vec<String>,
        /// Test this `rlhf` instead of building one (the GPU kit's); fixtures are then read
        /// from the current directory.
        #[arg(long, value_name = "FILE")]
        binary: Option<PathBuf>,
    },
    /// Pack what a GPU machine without Rust or network needs to run the conformance suite and
    /// the PPO benchmark (release `rlhf` with flex, tch and vulkan, this xtask, the fixtures, a
    /// script): target/gpu-kit/rlhf-gpu-kit.tar.gz, at most 64 MiB. Needs `setup-tch` first.
    GpuKit,
    /// Regenerate tests/fixtures/models (tiny checkpoints and transformers' outputs) with
    /// tests/reference/make_model_fixtures.py and make_reward_arch_fixtures.py (needs Python:
    /// tests/reference/requirements.txt).
    Fixtures,
    /// Compare our logits with transformers' on Hugging Face model directories (needs Python).
    /// Without --model-dir: full-size random GPT-2 124M and RoBERTa-large, made if missing.
    Parity {
        /// A GPT-2 or RoBERTa-classifier directory; repeatable.
        #[arg(long)]
        model_dir: Vec<PathBuf>,
        /// Largest acceptable max-abs logit error.
        #[arg(long, default_value_t = 1e-3)]
        tolerance: f64,
    },
    /// Benchmarks side by side with the Python reference (transformers, TRL 0.11.4) when it is
    /// installed: generation tokens/s, reward scoring texts/s, full PPO steps by phase.
    Bench {
        /// Generation batch sizes.
        #[arg(long, num_args = 1.., default_values_t = [1usize, 16, 64])]
        batch: Vec<usize>,
        /// PPO step batch sizes (mini-batch = batch, 4 epochs).
        #[arg(long, num_args = 1.., default_values_t = [16usize, 64])]
        ppo_batch: Vec<usize>,
        /// Devices to measure ours on (default flex); repeatable, e.g. `--device tch-cpu`.
        #[arg(long)]
        device: Vec<String>,
        /// Report our figures only, even if Python is available.
        #[arg(long)]
        no_python: bool,
        /// Model size: `full` (GPT-2 124M, RoBERTa-large) or `narrow` (width 512, for drivers
        /// that bind at most 128 MiB per buffer, like lavapipe).
        #[arg(long, value_enum, default_value_t = reference::ModelSize::Full)]
        size: reference::ModelSize,
        /// Also time PPO steps with the frozen models (reference, reward) as `DTYPE[@DEVICE]`,
        /// e.g. `bf16@tch-cpu` (needs `cargo xtask setup-tch`); repeatable.
        #[arg(long, value_name = "DTYPE[@DEVICE]")]
        frozen: Vec<String>,
        /// Also time each side's GEMM at the PPO step's own shapes
        /// (tests/reference/gemm_shapes.json).
        #[arg(long)]
        gemm_shapes: bool,
    },
    /// `rlhf precision`: reward and reference log-prob/KL differences of the frozen models as
    /// `--frozen DTYPE[@DEVICE]` against f32, over 256 test reviews (default: the full-size
    /// random benchmark weights and the bundled demo test reviews); remaining arguments go to
    /// `rlhf precision` (e.g. `--set policy.model=DIR --set reward.model=DIR`).
    Precision {
        /// The frozen models' dtype and device.
        #[arg(long, value_name = "DTYPE[@DEVICE]", default_value = "bf16@tch-cpu")]
        frozen: String,
        /// Arguments for `rlhf precision`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The whole offline IMDB pipeline: SFT, reward model, PPO, evaluation, and a before/after
    /// summary (profile optdev; outputs in target/demo).
    Demo {
        /// A directory with the full data in the stanfordnlp/imdb layout (`train.parquet` and
        /// `test.parquet`, or `plain_text/<split>-00000-of-00001.parquet`); default: the subset
        /// bundled in tests/fixtures/imdb/demo.
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// `classifier` (labels) or `pairwise` (comparisons from star ratings; outputs in
        /// target/demo-pairwise).
        #[arg(long, value_enum, default_value_t = demo::RewardKind::Classifier)]
        reward: demo::RewardKind,
    },
}

fn main() -> ExitCode {
    match run(Xtask::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(task: Task) -> anyhow::Result<()> {
    let root = project_root();
    match task {
        Task::Train {
            features,
            ranks: Some(ranks),
            hostfile,
            args,
        } => mpi::train(&root, &features, ranks, hostfile.as_ref(), &args),
        Task::Train { features, args, .. } => {
            // `mpi` alone still needs a backend.
            let features = if features.split(',').any(|f| f.trim() == "mpi") {
                build::with_mpi(&features)
            } else {
                features
            };
            let env = if features.split(',').any(|f| f.trim() == "tch") {
                libtorch::env(&root)?
            } else {
                Vec::new()
            };
            let mut cargo_args: Vec<String> = [
                "run",
                "--release",
                "-p",
                "cli",
                "--no-default-features",
                "--features",
            ]
            .map(String::from)
            .to_vec();
            cargo_args.push(features);
            cargo_args.extend(["--", "train"].map(String::from));
            cargo_args.extend(args);
            cargo_env(&root, &cargo_args, &env)
        }
        Task::SetupTch => libtorch::setup(&root),
        Task::SetupVulkan => vulkan::setup(),
        Task::SetupMpi => mpi::setup(),
        Task::SetupQemu => avx2::setup(),
        Task::MpiTest => mpi::test(&root),
        Task::Backends { device, binary } => {
            // A given binary is tested where it lies (the GPU kit): fixtures and runs are
            // relative to the current directory.
            let root = match &binary {
                Some(_) => std::env::current_dir().context("no current directory")?,
                None => root,
            };
            backends::backends(&root, device, binary)
        }
        Task::GpuKit => kit::pack(&root),
        Task::Ci => {
            cargo(&root, &["fmt", "--all", "--", "--check"])?;
            cargo(
                &root,
                &[
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ],
            )?;
            cargo(&root, &["test", "--workspace"])
        }
        Task::Fixtures => reference::fixtures(&root),
        Task::Parity {
            model_dir,
            tolerance,
        } => reference::parity(&root, model_dir, tolerance),
        Task::Bench {
            batch,
            ppo_batch,
            device,
            no_python,
            size,
            frozen,
            gemm_shapes,
        } => bench::bench(
            &root,
            &bench::BenchPlan {
                generation: batch,
                ppo: ppo_batch,
                devices: device,
                skip_python: no_python,
                size,
                frozen,
                gemm_shapes,
            },
        ),
        Task::Precision { frozen, args } => frozen::precision(&root, &frozen, &args),
        Task::Demo { data, reward } => demo::demo(&root, data.as_deref(), reward),
    }
}

/// The workspace root: the parent of this crate's manifest directory, or the current directory
/// where that does not exist (the GPU kit's xtask runs on a machine without the sources).
fn project_root() -> PathBuf {
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).parent();
    match built {
        Some(dir) if dir.join("Cargo.toml").is_file() => dir.to_path_buf(),
        _ => std::env::current_dir().unwrap_or_default(),
    }
}

/// Runs the cargo that runs us (`$CARGO`), failing if the command fails.
pub(crate) fn cargo<S: AsRef<str>>(root: &Path, args: &[S]) -> anyhow::Result<()> {
    cargo_env(root, args, &[])
}

/// [`cargo`] with extra environment variables (for the build and the programs it runs).
pub(crate) fn cargo_env<S: AsRef<str>>(
    root: &Path,
    args: &[S],
    env: &[(String, String)],
) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    eprintln!("$ cargo {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(&args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(root)
        .status()
        .with_context(|| format!("cannot start `{cargo}`"))?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

/// Runs `command` (echoed to stderr), failing with its status when it fails.
pub(crate) fn run_command(command: &mut Command) -> anyhow::Result<()> {
    eprintln!("$ {command:?}");
    let status = command
        .status()
        .with_context(|| format!("cannot start {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed ({status})");
    }
    Ok(())
}
