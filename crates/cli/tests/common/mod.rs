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
