//! `cargo xtask demo`: the offline IMDB pipeline on the bundled subset, with the release binary:
//! SFT a small GPT-2 → train a small reward classifier → PPO → evaluate against the SFT policy.
//! Everything goes to `target/demo/`; each stage's own progress bars and tables are shown.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

use crate::cargo;

/// Runs the four stages and prints the before/after evaluation.
pub fn demo(root: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    cargo(root, &["build", "--release", "-p", "cli"])?;
    let out = root.join("target/demo");
    std::fs::create_dir_all(&out).context("cannot create target/demo")?;
    let path = |p: &str| out.join(p).to_string_lossy().into_owned();
    let (sft, rm, runs, eval) = (
        path("sft"),
        path("reward-model"),
        path("runs"),
        path("eval"),
    );
    let train = "tests/fixtures/imdb/demo/train.parquet";
    let test = "tests/fixtures/imdb/demo/test.parquet";
    let run_dir = out.join("runs/demo");
    if run_dir.exists() {
        std::fs::remove_dir_all(&run_dir).context("cannot clear the previous demo run")?;
    }
    let stages: [(&str, Vec<String>); 4] = [
        (
            "1/4 SFT: a small GPT-2 on review text",
            strings(&[
                "sft",
                "--data",
                train,
                "--test-data",
                test,
                "--train-samples",
                "800",
                "--test-samples",
                "100",
                "--n-embd",
                "128",
                "--n-layer",
                "2",
                "--n-head",
                "4",
                "--block-size",
                "64",
                "--epochs",
                "1",
                "--lr",
                "2e-3",
                "--out",
                &sft,
            ]),
        ),
        (
            "2/4 reward model: a small RoBERTa sentiment classifier",
            strings(&[
                "train-reward",
                "--data",
                train,
                "--test-data",
                test,
                "--test-samples",
                "1000",
                "--tokenizer",
                "tests/fixtures/tokenizers/roberta/tokenizer.json",
                "--epochs",
                "1",
                "--out",
                &rm,
            ]),
        ),
        (
            "3/4 PPO against the reward model",
            strings(&[
                "train",
                "--set",
                &format!("policy.model={}", json(&sft)),
                "--set",
                &format!("reward.model={}", json(&rm)),
                "--set",
                &format!("data.path={}", json(train)),
                "--set",
                &format!("output.dir={}", json(&runs)),
                "--set",
                "exp_name=\"demo\"",
                "--set",
                "ppo.batch_size=32",
                "--set",
                "ppo.mini_batch_size=32",
                "--set",
                "ppo.learning_rate=1e-4",
                "--set",
                "ppo.steps=1280",
                "--set",
                "output.save_freq=10",
                "--set",
                "output.sample_freq=10",
            ]),
        ),
        (
            "4/4 evaluation: PPO policy vs the SFT policy on held-out prompts",
            strings(&[
                "eval",
                "--policy",
                &run_dir.to_string_lossy(),
                "--baseline",
                &sft,
                "--set",
                &format!("reward.model={}", json(&rm)),
                "--data",
                test,
                "--num-prompts",
                "256",
                "--out",
                &eval,
            ]),
        ),
    ];
    let binary = root.join("target/release/rlhf");
    for (title, args) in stages {
        eprintln!("\n=== {title} ===");
        let t = Instant::now();
        let status = Command::new(&binary)
            .args(&args)
            .current_dir(root)
            .env("HF_HUB_OFFLINE", "1")
            .status()
            .with_context(|| format!("cannot run `{}`", binary.display()))?;
        if !status.success() {
            bail!("stage `{title}` failed ({status})");
        }
        eprintln!("({title}: {:.0} s)", t.elapsed().as_secs_f64());
    }
    eprintln!(
        "\ndemo finished in {:.1} min; report {}/report.json, histogram {}/rewards.svg",
        started.elapsed().as_secs_f64() / 60.0,
        eval,
        eval
    );
    Ok(())
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// A TOML string literal for `--set` values that are paths.
fn json(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}
