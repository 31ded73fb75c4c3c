//! `kill -9` at several points of a tiny training run, then `--resume`: the metrics (but times)
//! and the final weights equal an uninterrupted run's (issue #12). The kill lands wherever the
//! run is when its step-N checkpoint appears: inside the next step, its checkpoint, or the finish.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{repo_root, tiny_train_args};
use serde_json::Value;

const STEPS: usize = 6;

fn args(out: &Path, exp: &str, resume: bool) -> Vec<String> {
    let resume: &[&str] = if resume { &["--resume"] } else { &[] };
    tiny_train_args(out, exp, STEPS, resume)
}

fn command(args: &[String]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rlhf"));
    command
        .args(args)
        .current_dir(repo_root())
        .env("HF_HUB_OFFLINE", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

fn run(args: &[String]) -> Output {
    let out = command(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Metrics lines without the timing keys.
fn metrics(run: &Path) -> Vec<Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v.as_object_mut()
                .unwrap()
                .retain(|k, _| !k.starts_with("time/"));
            v
        })
        .collect()
}

#[test]
fn kill_9_at_several_points_then_resume_equals_an_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    run(&args(tmp.path(), "whole", false));
    let whole = tmp.path().join("whole");
    let weights = |run: &Path| std::fs::read(run.join("final/model.safetensors")).unwrap();
    for kill_after in [1, 3] {
        let exp = format!("killed-{kill_after}");
        let dir = tmp.path().join(&exp);
        let mut child = command(&args(tmp.path(), &exp, false)).spawn().unwrap();
        let marker = dir.join(format!("checkpoints/step-{kill_after:06}"));
        let started = Instant::now();
        while !marker.exists() && child.try_wait().unwrap().is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "no checkpoint appeared"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap(); // SIGKILL: no cleanup, as `kill -9`
        child.wait().unwrap();
        run(&args(tmp.path(), &exp, true));
        assert_eq!(
            metrics(&dir),
            metrics(&whole),
            "killed after step {kill_after}"
        );
        assert_eq!(
            weights(&dir),
            weights(&whole),
            "killed after step {kill_after}"
        );
        assert!(!dir.join("final.tmp").exists() && !dir.join(".final.tmp").exists());
    }
}

/// The third point: inside the final export. The policy's `tokenizer.json` is padded with
/// whitespace to ~200 MB so that copying it into `final/` takes long enough to be caught.
#[test]
fn kill_9_during_the_final_export_then_resume_finishes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("model");
    std::fs::create_dir_all(&model).unwrap();
    let fixture = repo_root().join("tests/fixtures/models/tiny-gpt2");
    for name in ["config.json", "model.safetensors"] {
        std::fs::copy(fixture.join(name), model.join(name)).unwrap();
    }
    let mut tokenizer = std::fs::read(fixture.join("tokenizer.json")).unwrap();
    tokenizer.extend(std::iter::repeat_n(b' ', 200 << 20));
    std::fs::write(model.join("tokenizer.json"), tokenizer).unwrap();
    let with_model = |exp: &str, resume: bool| {
        let mut a = args(tmp.path(), exp, resume);
        a.extend(["--set".into(), format!("policy.model={}", model.display())]);
        a.extend([
            "--set".into(),
            "output.save_freq=0".into(),
            "--set".into(),
            "ppo.steps=16".into(),
        ]);
        a
    };
    run(&with_model("whole", false));
    let dir = tmp.path().join("killed");
    let mut child = command(&with_model("killed", false)).spawn().unwrap();
    let started = Instant::now();
    while !dir.join(".final.tmp").exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before its export was caught"
        );
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the export never started"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !dir.join("final/model.safetensors").exists(),
        "the export was not cut short"
    );
    run(&with_model("killed", true));
    let whole = tmp.path().join("whole");
    assert_eq!(metrics(&dir), metrics(&whole));
    let file = |run: &Path, name: &str| std::fs::read(run.join("final").join(name)).unwrap();
    assert_eq!(
        file(&dir, "model.safetensors"),
        file(&whole, "model.safetensors")
    );
    assert_eq!(
        file(&dir, "tokenizer.json").len(),
        file(&whole, "tokenizer.json").len()
    );
    assert!(!dir.join(".final.tmp").exists());
}
