//! The pipeline commands around PPO through the real `rlhf` binary: `eval`, `train-reward` and
//! `sft`, configured by flags or by their config sections.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use common::{rlhf, text};

const TINY_GPT2: &str = "tests/fixtures/models/tiny-gpt2";

#[test]
fn eval_reports_both_policies_and_zero_kl_for_the_baseline() {
    let out_dir = tempfile::tempdir().unwrap();
    let out = rlhf(&[
        "eval",
        "--policy",
        TINY_GPT2,
        "--baseline",
        TINY_GPT2,
        "--set",
        "reward.model=tests/fixtures/models/tiny-roberta",
        "--data",
        "tests/fixtures/imdb/sample.parquet",
        "--num-prompts",
        "8",
        "--out",
        out_dir.path().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("fraction positive"));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.path().join("report.json")).unwrap())
            .unwrap();
    for side in ["before", "after"] {
        assert_eq!(report[side]["samples"], 8);
        assert_eq!(report[side]["rewards"].as_array().unwrap().len(), 8);
        // The reference is the baseline itself: the sampled-token KL is exactly 0.
        assert_eq!(report[side]["kl_to_reference"].as_f64(), Some(0.0));
        assert!(report[side]["perplexity_under_reference"].as_f64().unwrap() > 1.0);
    }
    // Same seed, same model: identical samples.
    assert_eq!(report["before"]["rewards"], report["after"]["rewards"]);
    assert!(out_dir.path().join("rewards.svg").is_file());
}

#[test]
fn train_reward_saves_a_classifier_that_score_loads() {
    let out_dir = tempfile::tempdir().unwrap();
    let out_path = out_dir.path().join("rm");
    let train_reward = |extra: &[&str]| {
        let mut args = vec![
            "train-reward",
            "--data",
            "tests/fixtures/imdb/sample.parquet",
            "--test-data",
            "tests/fixtures/imdb/sample.parquet",
            "--train-samples",
            "64",
            "--test-samples",
            "32",
            "--tokenizer",
            "tests/fixtures/tokenizers/roberta/tokenizer.json",
            "--hidden-size",
            "16",
            "--max-length",
            "48",
            "--out",
            out_path.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        rlhf(&args)
    };
    let out = train_reward(&["--epochs", "1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("epoch 1: train loss"));
    let metrics = std::fs::read_to_string(out_path.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 1);
    let out = rlhf(&[
        "score",
        "--model",
        out_path.to_str().unwrap(),
        "--text",
        "great",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("POSITIVE"));

    // The run directory is resumable: starting over is refused, --resume continues (here: the
    // run is complete, so nothing is left to do), other flags on resume are refused.
    let out = train_reward(&["--epochs", "1"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--resume"),
        "{}",
        text(&out.stderr)
    );
    let out = train_reward(&["--epochs", "1", "--resume"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = train_reward(&["--epochs", "2", "--resume"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("same flags"),
        "{}",
        text(&out.stderr)
    );

    // A missing tokenizer file is a clear error.
    let out = rlhf(&[
        "train-reward",
        "--data",
        "tests/fixtures/imdb/sample.parquet",
        "--tokenizer",
        "no/such/tokenizer.json",
        "--out",
        out_path.to_str().unwrap(),
        "--test-data",
        "tests/fixtures/imdb/sample.parquet",
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("tokenizer"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn sft_lowers_held_out_loss_and_saves_a_loadable_policy() {
    let out_dir = tempfile::tempdir().unwrap();
    let out_path = out_dir.path().join("sft");
    let out = rlhf(&[
        "sft",
        "--data",
        "tests/fixtures/imdb/sample.parquet",
        "--test-data",
        "tests/fixtures/imdb/sample.parquet",
        "--train-samples",
        "12",
        "--test-samples",
        "4",
        "--n-embd",
        "16",
        "--n-layer",
        "1",
        "--n-head",
        "2",
        "--block-size",
        "16",
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--lr",
        "3e-3",
        "--out",
        out_path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let reports: Vec<serde_json::Value> = std::fs::read_to_string(out_path.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(reports.len(), 2);
    let loss = |i: usize| reports[i]["eval_loss"].as_f64().unwrap();
    assert!(loss(1) < loss(0), "{reports:?}");
    // Only the newest checkpoint is kept, and `latest` names it.
    let kept: Vec<_> = std::fs::read_dir(out_path.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let latest = std::fs::read_to_string(out_path.join("latest")).unwrap();
    assert_eq!(latest, format!("checkpoints/{}", kept[0]));
    let out = rlhf(&[
        "generate",
        "--model",
        out_path.to_str().unwrap(),
        "--prompt",
        "The",
        "--max-new-tokens",
        "3",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// A run file with small `[sft]` and `[reward_model]` sections writing into `dir`.
fn run_file(dir: &std::path::Path) -> std::path::PathBuf {
    let (sft, rm) = (dir.join("sft"), dir.join("rm"));
    let file = dir.join("run.toml");
    let toml = format!(
        r#"
[data]
path = "tests/fixtures/imdb/sample.parquet"

[sft]
n_embd = 16
n_layer = 1
n_head = 2
block_size = 16

[sft.training]
output_dir = {sft:?}
test_path = "tests/fixtures/imdb/sample.parquet"
train_samples = 12
test_samples = 4
epochs = 2
batch_size = 8

[reward_model]
tokenizer = "tests/fixtures/tokenizers/roberta/tokenizer.json"
hidden_size = 16
max_length = 48

[reward_model.training]
output_dir = {rm:?}
test_path = "tests/fixtures/imdb/sample.parquet"
train_samples = 32
test_samples = 16
epochs = 1
"#,
        sft = sft.to_str().unwrap(),
        rm = rm.to_str().unwrap(),
    );
    std::fs::write(&file, toml).unwrap();
    file
}

#[test]
fn sft_and_train_reward_read_their_config_sections() {
    let dir = tempfile::tempdir().unwrap();
    let file = run_file(dir.path());
    let config = file.to_str().unwrap();
    let epochs = |out: &str| {
        let metrics = std::fs::read_to_string(dir.path().join(out).join("metrics.jsonl")).unwrap();
        metrics.lines().count()
    };

    // Flags override the file (here `sft.training.epochs = 2`); the resolved config is saved.
    for (command, out, expected) in [
        (
            ["sft", "--epochs", "1"],
            "sft",
            ["n_embd = 16", "epochs = 1"],
        ),
        (
            ["train-reward", "--layers", "1"],
            "rm",
            ["[reward_model]", "hidden_size = 16"],
        ),
    ] {
        let args = [command[0], "--config", config, command[1], command[2]];
        let run = rlhf(&args);
        assert!(run.status.success(), "{}", text(&run.stderr));
        assert_eq!(epochs(out), 1);
        let saved = std::fs::read_to_string(dir.path().join(out).join("config.toml")).unwrap();
        assert!(expected.iter().all(|e| saved.contains(e)), "{saved}");
    }

    // The same layering and errors as `train`: unknown keys, bad values, env variables.
    let fails = |args: &[&str], env: (&str, &str), expected: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rlhf"))
            .args(args)
            .current_dir(common::repo_root())
            .env(env.0, env.1)
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(expected.iter().all(|e| stderr.contains(e)), "{stderr}");
    };
    let none = ("HF_HUB_OFFLINE", "1");
    let set = ["sft", "--config", config, "--set", "sft.n_hed=2"];
    fails(&set, none, &["`sft.n_hed`", "sft.n_head"]);
    let heads = ["train-reward", "--config", config, "--heads", "3"];
    fails(&heads, none, &["reward_model.hidden_size"]);
    let env = ("RLHF_SFT__TRAINING__LEARNING_RATE", "-1");
    fails(
        &["sft", "--config", config],
        env,
        &["sft.training.learning_rate"],
    );
}
