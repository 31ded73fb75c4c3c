//! One writer per run directory (issue #12): while one `rlhf train` runs, a second `train`
//! (plain or `--resume`) and any other command writing there are refused with an error naming
//! the holder; killing the holder with SIGKILL releases the lock.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{repo_root, rlhf, text, tiny_train_args};

/// `rlhf train` args on the tiny fixtures for `steps` steps into `<out>/run`, no checkpoints.
fn train_args(out: &Path, steps: usize) -> Vec<String> {
    tiny_train_args(out, "run", steps, &["--set", "output.save_freq=0"])
}

fn spawn(args: &[String]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_rlhf"))
        .args(args)
        .current_dir(repo_root())
        .env("HF_HUB_OFFLINE", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn a_second_writer_is_refused_naming_the_holder_and_sigkill_releases_the_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let mut holder = spawn(&train_args(tmp.path(), 10_000));
    let pid = holder.id().to_string();
    // Wait until the first run holds the lock and has said who it is.
    let started = Instant::now();
    let lock = run.join(".rlhf.lock");
    while !std::fs::read_to_string(&lock).is_ok_and(|s| s.contains(&pid)) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the first run never took the lock"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let second = |args: &[String]| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = rlhf(&args);
        let stderr = text(&out.stderr);
        assert!(
            !out.status.success(),
            "{args:?} was accepted beside a running train"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            stderr.contains("is in use by process") && stderr.contains(&pid),
            "{stderr}"
        );
    };
    second(&train_args(tmp.path(), 1));
    let mut resume = train_args(tmp.path(), 1);
    resume.push("--resume".into());
    second(&resume);
    let sft_into_run = [
        "sft",
        "--data",
        "tests/fixtures/imdb/sample.parquet",
        "--test-data",
        "tests/fixtures/imdb/sample.parquet",
        "--out",
    ];
    let mut sft: Vec<String> = sft_into_run.iter().map(|s| s.to_string()).collect();
    sft.push(run.display().to_string());
    second(&sft);

    // SIGKILL: the kernel releases the lock, and a new run may start at once.
    holder.kill().unwrap();
    holder.wait().unwrap();
    let args = train_args(tmp.path(), 1);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = rlhf(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
}
