//! `rlhf`: RLHF with PPO for GPT-2 on burn.
//!
//! Subcommands: `train` (PPO), `sft` (supervised training of the policy), `train-reward` (the
//! reward classifier), `eval` (a trained policy against its baseline), `generate`, `score`,
//! `export` (a checkpoint as a Hugging Face directory), `data` (dataset statistics and sample
//! prompts) and `config` (print the resolved configuration). Run `rlhf --help` for details.
//! Logging goes to stderr and is filtered with `RUST_LOG` (default `info`).

mod args;
mod commands;
mod device;
mod lines;
mod progress;
mod ranks;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of glibc malloc: see the workspace Cargo.toml (measured in docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
