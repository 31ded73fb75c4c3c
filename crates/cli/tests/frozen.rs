//! `[frozen]` end to end on the tiny fixtures: `rlhf precision` measures bf16 frozen models
//! against f32, PPO trains with them, and bad settings are clear errors.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use std::path::Path;

use common::{rlhf, text, tiny_train_args};
use serde_json::Value;

fn precision(extra: &[&str]) -> (Value, String) {
    let mut args = vec![
        "precision",
        "--texts",
        "16",
        "--max-tokens",
        "24",
        "--set",
        "policy.model=tests/fixtures/models/tiny-gpt2",
        "--set",
        "reward.model=tests/fixtures/models/tiny-roberta",
        "--set",
        "data.path=tests/fixtures/imdb/sample.parquet",
    ];
    args.extend(extra);
    let out = rlhf(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let report = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    (report, text(&out.stderr))
}

fn number(report: &Value, model: &str, key: &str) -> f64 {
    report[model][key].as_f64().unwrap()
}

#[test]
fn precision_sees_bf16_rounding_and_nothing_without_it() {
    let (same, stderr) = precision(&[]);
    assert!(stderr.contains("every difference is 0"), "{stderr}");
    assert_eq!(same["texts"], 16);
    assert_eq!(
        number(&same, "reference", "token_logprob_diff_mean_abs"),
        0.0
    );
    assert_eq!(number(&same, "reward", "diff_max_abs"), 0.0);

    let (bf16, _) = precision(&["--set", "frozen.dtype=bf16"]);
    assert_eq!(bf16["frozen_dtype"], "bf16");
    for (model, key) in [
        ("reference", "token_logprob_diff_mean_abs"),
        ("reference", "token_kl_full_mean"),
        ("reward", "diff_mean_abs"),
    ] {
        let value = number(&bf16, model, key);
        assert!(value > 0.0 && value < 0.05, "{model} {key}: {value}");
    }
}

fn step_one(dir: &Path, exp: &str, extra: &[&str]) -> (serde_json::Map<String, Value>, String) {
    let args = tiny_train_args(dir, exp, 1, extra);
    let out = rlhf(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let line = std::fs::read_to_string(dir.join(exp).join("metrics.jsonl")).unwrap();
    (
        serde_json::from_str(line.lines().next().unwrap()).unwrap(),
        stderr,
    )
}

#[test]
fn ppo_trains_with_bf16_frozen_models() {
    let dir = tempfile::tempdir().unwrap();
    let (full, _) = step_one(dir.path(), "f32", &[]);
    let (low, stderr) = step_one(dir.path(), "bf16", &["--set", "frozen.dtype=bf16"]);
    assert!(stderr.contains("slower than f32"), "{stderr}");
    let kl = |m: &serde_json::Map<String, Value>| m["objective/kl"].as_f64().unwrap();
    // At step 1 the policy is the reference: KL is 0 in f32 and only bf16 rounding in bf16.
    assert!(kl(&full).abs() < 1e-6, "f32 KL {}", kl(&full));
    assert!(
        kl(&low) != 0.0 && kl(&low).abs() < 0.1,
        "bf16 KL {}",
        kl(&low)
    );
    let reward = |m: &serde_json::Map<String, Value>| m["env/reward_mean"].as_f64().unwrap();
    assert!((reward(&full) - reward(&low)).abs() < 0.05);
}

#[test]
fn bad_frozen_settings_name_the_fix() {
    let out = rlhf(&["config", "--set", "frozen.dtype=fp16"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("frozen.dtype") && stderr.contains("bf16"),
        "{stderr}"
    );

    let dir = tempfile::tempdir().unwrap();
    let args = tiny_train_args(dir.path(), "cuda", 1, &["--set", "frozen.device=cuda"]);
    let out = rlhf(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("--features cuda"), "{stderr}");
}
