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
mod frozen;
mod lines;
mod progress;
mod ranks;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of glibc malloc: see the workspace Cargo.toml (measured in docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use tracing_subscriber::EnvFilter;

/// `mi_option_purge_delay` in mimalloc v3's `mi_option_t` (libmimalloc-sys 0.1.49, pinned in
/// the workspace Cargo.toml).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Makes mimalloc keep the memory it frees instead of purging it back to the OS after a delay.
/// A PPO step frees and allocates many large tensors; with purging, each new one landed on
/// fresh pages that the kernel zeroed first, a quarter of the step's CPU time (docs/benchmarks.md).
/// `MIMALLOC_PURGE_DELAY` in the environment still wins.
fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one integer option (an atomic in mimalloc, valid to set at any time);
        // -1 is mimalloc's documented "never purge".
        #[allow(unsafe_code)]
        unsafe {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
        }
    }
}

/// Stack of each compute thread: as much as a main thread gets (the autodiff graph of a PPO
/// step is dropped recursively).
const WORKER_STACK_BYTES: usize = 8 << 20;

/// Runs `work` on one thread of a rayon pool of `RAYON_NUM_THREADS` threads (default: one per
/// core), so the backends' parallel kernels (burn-flex, gemm) run on that pool with the calling
/// thread as one of its workers. Called from `main` instead, a kernel hands its work to the
/// global pool and sleeps: a third thread on two cores, and a wake-up per kernel (a b16 PPO
/// step 6.71 → 6.05 s on a Zen 5; docs/benchmarks.md).
fn on_compute_pool<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    match rayon::ThreadPoolBuilder::new()
        .stack_size(WORKER_STACK_BYTES)
        .thread_name(|i| format!("rlhf-compute-{i}"))
        .build()
    {
        Ok(pool) => pool.install(work),
        Err(error) => {
            tracing::warn!(
                "cannot start the compute threads ({error}); running on the main thread, \
                 which is slower (set RAYON_NUM_THREADS to fewer threads to fix this)"
            );
            work()
        }
    }
}

fn main() -> ExitCode {
    keep_freed_memory();
    let cli = args::Cli::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match on_compute_pool(|| commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
