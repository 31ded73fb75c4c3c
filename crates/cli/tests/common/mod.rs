//! Helpers shared by the integration tests: the real `rlhf` binary, run from the repository
//! root, offline, as a user would.

#![allow(dead_code)] // Each test binary uses its own subset.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The repository root (fixture paths in the tests are relative to it).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `rlhf args…` with the hub offline and logging at its default level.
pub fn rlhf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rlhf"))
        .args(args)
        .current_dir(repo_root())
        .env_remove("RUST_LOG")
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .expect("run rlhf")
}

/// Bytes of stdout/stderr as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `rlhf train` arguments for a run on the tiny fixtures: batch 8 in minibatches of 4, lr 1e-3,
/// a checkpoint every step, `steps` PPO steps, written to `<out>/<exp>`; `extra` comes last, so
/// its `--set` flags override these.
pub fn tiny_train_args(
    out: &std::path::Path,
    exp: &str,
    steps: usize,
    extra: &[&str],
) -> Vec<String> {
    let sets = [
        "policy.model=tests/fixtures/models/tiny-gpt2".to_string(),
        "reward.model=tests/fixtures/models/tiny-roberta".into(),
        "data.path=tests/fixtures/imdb/sample.parquet".into(),
        "ppo.batch_size=8".into(),
        "ppo.mini_batch_size=4".into(),
        "ppo.learning_rate=1e-3".into(),
        "output.save_freq=1".into(),
        format!("ppo.steps={}", steps * 8),
        format!("exp_name={exp}"),
        format!("output.dir={}", out.display()),
    ];
    let mut args = vec!["train".to_string()];
    for set in sets {
        args.extend(["--set".to_string(), set]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}
