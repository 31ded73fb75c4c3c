//! Reward models from comparisons through the real `rlhf` binary: `train-reward --objective
//! pairwise` on the bundled preference subset, and PPO / eval against a scalar reward model.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use common::{rlhf, text, tiny_train_args};

const SCALAR: &str = "reward.model=tests/fixtures/models/tiny-roberta-scalar";

#[test]
fn pairwise_training_lowers_the_loss_and_saves_a_scalar_model() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rm");
    let args = [
        "train-reward",
        "--config",
        "config/reward-pairwise-imdb.toml",
        "--max-pairs",
        "128",
        "--set",
        "reward_model.pairwise.test_max_pairs=200",
        "--hidden-size",
        "16",
        "--heads",
        "2",
        "--max-length",
        "48",
        "--epochs",
        "2",
        "--lr",
        "1e-2",
        "--batch-size",
        "8",
        "--out",
        out.to_str().unwrap(),
    ];
    let run = rlhf(&args);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let stdout = text(&run.stdout);
    assert!(
        stdout.contains("128 training pairs among 246 reviews"),
        "{stdout}"
    );
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let reports: Vec<serde_json::Value> = metrics
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(reports.len(), 2);
    let last = &reports[1];
    for key in [
        "test_accuracy",
        "accuracy_gap_1_2",
        "accuracy_gap_3_plus",
        "reward_std",
    ] {
        assert!(last[key].as_f64().unwrap().is_finite(), "{key}: {last}");
    }
    assert!(!last["by_gap"].as_array().unwrap().is_empty());
    // Rewards start equal (loss ln 2); training must move them.
    assert!(last["train_loss"].as_f64().unwrap() < 0.69, "{last}");
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["id2label"], serde_json::json!({"0": "LABEL_0"}));
    // The same run again without --resume is refused; nothing is overwritten.
    let again = rlhf(&args);
    assert!(!again.status.success());
}

#[test]
fn ppo_and_eval_run_against_a_scalar_reward_model() {
    let dir = tempfile::tempdir().unwrap();
    let extra = ["--set", SCALAR, "--set", "reward.mode=\"scalar\""];
    let args = tiny_train_args(dir.path(), "scalar", 1, &extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = rlhf(&args);
    assert!(run.status.success(), "{}", text(&run.stderr));

    // A scalar model with a label mode is an error that names the fix.
    let args = tiny_train_args(dir.path(), "wrong-mode", 1, &["--set", SCALAR]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = rlhf(&args);
    assert!(!run.status.success());
    assert!(
        text(&run.stderr).contains("reward.mode = \"scalar\""),
        "{}",
        text(&run.stderr)
    );

    let eval_dir = dir.path().join("eval");
    let run = rlhf(&[
        "eval",
        "--policy",
        "tests/fixtures/models/tiny-gpt2",
        "--baseline",
        "tests/fixtures/models/tiny-gpt2",
        "--set",
        SCALAR,
        "--set",
        "reward.mode=\"scalar\"",
        "--data",
        "tests/fixtures/imdb/sample.parquet",
        "--num-prompts",
        "8",
        "--out",
        eval_dir.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(eval_dir.join("report.json")).unwrap())
            .unwrap();
    // Same model and seed on both sides: no prompt is won.
    assert_eq!(report["win_rate"].as_f64(), Some(0.0));
    let rewards = report["before"]["rewards"].as_array().unwrap();
    let positive = rewards.iter().filter(|r| r.as_f64().unwrap() > 0.0).count();
    assert_eq!(
        report["before"]["fraction_positive"].as_f64(),
        Some(positive as f64 / rewards.len() as f64)
    );
}

#[test]
fn reward_normalisation_is_fitted_stored_and_reused_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    let extra = [
        "--set",
        "reward.normalize=true",
        "--set",
        "reward.normalize_samples=16",
    ];
    let args = tiny_train_args(dir.path(), "norm", 1, &extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = rlhf(&args);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let line = |out: &std::process::Output| {
        text(&out.stdout)
            .lines()
            .find(|l| l.starts_with("reward normalisation: gain"))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no normalisation line in {}", text(&out.stdout)))
    };
    let first = line(&run);
    let file = dir.path().join("norm/reward_normalization.json");
    let fit: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(fit["samples"], 16);
    let (gain, std) = (fit["gain"].as_f64().unwrap(), fit["std"].as_f64().unwrap());
    assert!(gain > 0.0 && (gain * std - 1.0).abs() < 1e-9, "{fit}");
    // Resuming reads the stored fit instead of sampling again.
    let mut resumed = tiny_train_args(dir.path(), "norm", 2, &extra);
    resumed.push("--resume".into());
    let resumed: Vec<&str> = resumed.iter().map(String::as_str).collect();
    let run = rlhf(&resumed);
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert_eq!(line(&run), first);
}

#[test]
fn training_from_a_classifier_base_is_reproducible() {
    // The scalar head put on the classifier is drawn from the seeded device: two runs agree.
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str| {
        let out = dir.path().join(name);
        let args = [
            "train-reward",
            "--config",
            "config/reward-pairwise-imdb.toml",
            "--base-model",
            "tests/fixtures/models/tiny-roberta",
            "--max-pairs",
            "32",
            "--set",
            "reward_model.pairwise.test_max_pairs=64",
            "--max-length",
            "32",
            "--epochs",
            "1",
            "--out",
            out.to_str().unwrap(),
        ];
        let run = rlhf(&args);
        assert!(run.status.success(), "{}", text(&run.stderr));
        std::fs::read(out.join("model.safetensors")).unwrap()
    };
    assert!(
        run("a") == run("b"),
        "two seeded runs saved different weights"
    );
}
