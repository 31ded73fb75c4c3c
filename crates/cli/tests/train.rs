//! `rlhf train` end to end on the tiny fixtures (CPU, offline): metrics, checkpoints, changed
//! weights, and a resumed run that reproduces the uninterrupted one.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use std::path::Path;
use std::process::Output;

use common::{repo_root, rlhf, tiny_train_args};
use serde_json::Value;

fn train(out_dir: &Path, exp: &str, steps: usize, extra: &[&str]) -> Output {
    let args = tiny_train_args(out_dir, exp, steps, extra);
    rlhf(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

fn metrics(run: &Path) -> Vec<serde_json::Map<String, Value>> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn weights(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("model.safetensors")).unwrap()
}

const TRL_KEYS: [&str; 24] = [
    "env/reward_mean",
    "env/reward_std",
    "objective/kl",
    "objective/kl_coef",
    "objective/entropy",
    "ppo/mean_non_score_reward",
    "ppo/mean_scores",
    "ppo/std_scores",
    "ppo/loss/policy",
    "ppo/loss/value",
    "ppo/loss/total",
    "ppo/policy/entropy",
    "ppo/policy/approxkl",
    "ppo/policy/policykl",
    "ppo/policy/clipfrac",
    "ppo/policy/advantages_mean",
    "ppo/returns/mean",
    "ppo/returns/var",
    "ppo/val/vpred",
    "ppo/val/error",
    "ppo/val/clipfrac",
    "ppo/val/var_explained",
    "tokens/responses_len_mean",
    "time/ppo/total",
];

#[test]
fn three_steps_write_metrics_checkpoints_and_resume_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let out = train(tmp.path(), "full", 3, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = tmp.path().join("full");
    let lines = metrics(&run);
    assert_eq!(lines.len(), 3);
    for line in &lines {
        for key in TRL_KEYS {
            let v = line.get(key).and_then(Value::as_f64);
            assert!(
                v.is_some_and(f64::is_finite),
                "step {}: {key} = {:?}",
                line["step"],
                line.get(key)
            );
        }
    }
    // Invariant: before any update the ratio of the first minibatch is exactly 1.
    assert_eq!(lines[0]["ppo/first_minibatch_ratio"].as_f64(), Some(1.0));
    // Checkpoints, `latest`, the final export, the plot, the resolved config.
    for step in 1..=3 {
        let dir = run.join(format!("checkpoints/step-{step:06}"));
        for file in [
            "policy/config.json",
            "policy/model.safetensors",
            "optimizer.bpk",
            "trainer_state.json",
        ] {
            assert!(dir.join(file).is_file(), "{}", dir.join(file).display());
        }
    }
    assert_eq!(
        std::fs::read_to_string(run.join("latest")).unwrap(),
        "checkpoints/step-000003"
    );
    for file in [
        "final/config.json",
        "final/model.safetensors",
        "training.svg",
        "config.toml",
    ] {
        assert!(run.join(file).is_file(), "{file}");
    }
    // The policy changed.
    let start = weights(&repo_root().join("tests/fixtures/models/tiny-gpt2"));
    assert_ne!(weights(&run.join("checkpoints/step-000003/policy")), start);

    // Stop after step 2, resume, and get step 3's metrics and weights exactly.
    let out = train(tmp.path(), "split", 2, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = train(tmp.path(), "split", 3, &["--resume"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let resumed = metrics(&tmp.path().join("split"));
    assert_eq!(resumed.len(), 3);
    for (a, b) in lines.iter().zip(&resumed) {
        for (key, value) in a {
            if !key.starts_with("time/") {
                assert_eq!(Some(value), b.get(key), "step {}: {key}", a["step"]);
            }
        }
    }
    assert_eq!(
        weights(&run.join("checkpoints/step-000003/policy")),
        weights(&tmp.path().join("split/checkpoints/step-000003/policy"))
    );

    // A second plain start on a run with checkpoints refuses instead of overwriting.
    let out = train(tmp.path(), "full", 3, &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--resume"));
}

#[test]
fn resume_without_a_checkpoint_and_a_wrong_label_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = train(tmp.path(), "none", 1, &["--resume"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no checkpoint to resume"));
    let out = train(tmp.path(), "label", 1, &["--set", "reward.label=HAPPY"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("HAPPY") && stderr.contains("NEGATIVE, POSITIVE"),
        "{stderr}"
    );
}

#[test]
fn one_minibatch_per_epoch_trains_on_the_rollout_forward() {
    // mini_batch_size = batch_size: epoch 0 reuses the forward that gave the old log-probs.
    let tmp = tempfile::tempdir().unwrap();
    let out = train(
        tmp.path(),
        "single",
        2,
        &[
            "--set",
            "ppo.mini_batch_size=8",
            "--set",
            "ppo.max_grad_norm=1.0",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = metrics(&tmp.path().join("single"));
    assert_eq!(lines.len(), 2);
    for line in &lines {
        assert_eq!(line["ppo/first_minibatch_ratio"].as_f64(), Some(1.0));
        assert_eq!(line["ppo/minibatches"].as_u64(), Some(4));
        assert!(line["ppo/grad_norm"].as_f64().is_some_and(f64::is_finite));
    }
}

#[test]
fn resume_drops_the_samples_written_after_its_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let every_step = [
        "--set",
        "output.sample_freq=1",
        "--set",
        "output.save_freq=2",
    ];
    let out = train(tmp.path(), "samples", 3, &every_step);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A crash after step 3's samples but before its checkpoint: `latest` still names step 2.
    let run = tmp.path().join("samples");
    std::fs::write(run.join("latest"), "checkpoints/step-000002").unwrap();
    std::fs::remove_dir_all(run.join("checkpoints/step-000003")).unwrap();
    let resume = [&every_step[..], &["--resume"]].concat();
    let out = train(tmp.path(), "samples", 3, &resume);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(run.join("samples.jsonl")).unwrap();
    let steps: Vec<u64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["step"]
                .as_u64()
                .unwrap()
        })
        .collect();
    for step in 1..=3 {
        let n = steps.iter().filter(|&&s| s == step).count();
        assert_eq!(
            n, 8,
            "step {step} has {n} sample lines, expected one per prompt (8)"
        );
    }
    assert_eq!(metrics(&run).len(), 3);
}

#[test]
fn resume_with_other_settings_is_refused_naming_each_key() {
    let tmp = tempfile::tempdir().unwrap();
    let out = train(tmp.path(), "settings", 2, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let saved = tmp.path().join("settings/config.toml");
    let before = std::fs::read_to_string(&saved).unwrap();
    let changed = [
        "--set",
        "ppo.learning_rate=2e-3",
        "--set",
        "ppo.batch_size=4",
        "--resume",
    ];
    let out = train(tmp.path(), "settings", 3, &changed);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a resume with other settings was accepted"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    for expected in [
        "`ppo.learning_rate`: 0.001 → 0.002",
        "`ppo.batch_size`: 8 → 4",
    ] {
        assert!(
            stderr.contains(expected),
            "{expected} missing from:\n{stderr}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(&saved).unwrap(),
        before,
        "config.toml was rewritten"
    );
    // Running longer (ppo.steps) is allowed.
    let out = train(tmp.path(), "settings", 3, &["--resume"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(metrics(&tmp.path().join("settings")).len(), 3);
}

#[test]
fn resume_completes_a_finish_cut_short_by_a_crash() {
    let tmp = tempfile::tempdir().unwrap();
    let out = train(tmp.path(), "finish", 2, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = tmp.path().join("finish");
    let exported = weights(&run.join("final"));
    // A crash during the finish: the export's temporary directory half written, no final/ and
    // no plot yet.
    std::fs::remove_dir_all(run.join("final")).unwrap();
    std::fs::remove_file(run.join("training.svg")).unwrap();
    std::fs::create_dir_all(run.join(".final.tmp")).unwrap();
    std::fs::write(run.join(".final.tmp/model.safetensors"), b"half").unwrap();
    let out = train(tmp.path(), "finish", 2, &["--resume"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(weights(&run.join("final")), exported);
    assert!(run.join("final/config.json").is_file() && run.join("training.svg").is_file());
    assert!(!run.join(".final.tmp").exists());
    assert_eq!(metrics(&run).len(), 2, "no step was run again");
}

#[test]
fn resume_from_a_checkpoint_without_its_value_head_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = train(tmp.path(), "head", 2, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = tmp.path().join("head");
    // The step-2 checkpoint loses its value head: its weights become a plain GPT-2 export.
    let plain = tmp.path().join("plain");
    let run_arg = run.to_str().unwrap();
    let out = rlhf(&[
        "export",
        "--checkpoint",
        run_arg,
        "--out",
        plain.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let policy = run.join("checkpoints/step-000002/policy");
    std::fs::copy(
        plain.join("model.safetensors"),
        policy.join("model.safetensors"),
    )
    .unwrap();
    let out = train(tmp.path(), "head", 3, &["--resume"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "resumed with a fresh value head");
    assert!(
        stderr.contains("v_head.summary.weight") && stderr.contains("step-000002"),
        "{stderr}"
    );
}

/// A build without the `mpi` feature started by `mpirun -np 2` (seen through OpenMPI's
/// variables) refuses to train, instead of two processes each training alone.
#[cfg(not(feature = "mpi"))]
#[test]
fn mpirun_with_a_build_without_mpi_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let args = tiny_train_args(tmp.path(), "ranks", 1, &[]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rlhf"))
        .args(&args)
        .current_dir(repo_root())
        .env("HF_HUB_OFFLINE", "1")
        .env("OMPI_COMM_WORLD_SIZE", "2")
        .env("OMPI_COMM_WORLD_RANK", "0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("built without MPI"), "{stderr}");
    assert!(stderr.contains("--features mpi"), "{stderr}");
    assert!(!tmp.path().join("ranks").exists());
}

#[test]
fn ppo_trains_against_every_reward_architecture() {
    let tmp = tempfile::tempdir().unwrap();
    for (exp, model) in [
        ("bert", "tiny-bert"),
        ("distilbert", "tiny-distilbert"),
        ("gpt2", "tiny-gpt2-classifier"),
    ] {
        let reward = format!("reward.model=tests/fixtures/models/{model}");
        let out = train(tmp.path(), exp, 1, &["--set", &reward]);
        assert!(
            out.status.success(),
            "{model}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines = metrics(&tmp.path().join(exp));
        let score = lines[0].get("ppo/mean_scores").and_then(Value::as_f64);
        assert!(score.is_some_and(f64::is_finite), "{model}: {score:?}");
    }
}

/// The tiny GPT-2 in `dir` without its value head (as an SFT model or the hub's gpt2-imdb is).
fn policy_without_value_head(dir: &Path) -> String {
    let src = repo_root().join("tests/fixtures/models/tiny-gpt2");
    for file in ["config.json", "tokenizer.json", "tokenizer_config.json"] {
        std::fs::copy(src.join(file), dir.join(file)).unwrap();
    }
    let bytes = std::fs::read(src.join("model.safetensors")).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let kept: Vec<_> = tensors
        .tensors()
        .into_iter()
        .filter(|(name, _)| !name.starts_with("v_head"))
        .collect();
    safetensors::serialize_to_file(kept, None, &dir.join("model.safetensors")).unwrap();
    format!("policy.model={}", Value::from(dir.to_str().unwrap()))
}

#[test]
fn a_fresh_value_head_is_drawn_from_the_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("policy");
    std::fs::create_dir(&model).unwrap();
    let policy = policy_without_value_head(&model);
    let run = |exp: &str| {
        let out = train(tmp.path(), exp, 1, &["--set", &policy]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut line = metrics(&tmp.path().join(exp)).remove(0);
        line.retain(|key, _| !key.starts_with("time/"));
        line
    };
    assert_eq!(run("a"), run("b"), "two runs with one seed differ");
}
