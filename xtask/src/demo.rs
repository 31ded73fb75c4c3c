//! `cargo xtask demo`: the offline IMDB pipeline with the `rlhf` binary: SFT a small GPT-2 →
//! train a small reward model → PPO → evaluate against the SFT policy, then print the
//! before/after table. Everything goes to `target/demo/` (`target/demo-pairwise/` with
//! `--reward pairwise`); each stage shows its own progress.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

use crate::cargo;
use crate::demo_report::{StageTime, summary};

/// The cargo profile of the demo's binary (Cargo.toml): release-like speed where it matters, a
/// third of a cold `--release` build's time.
pub const PROFILE: &str = "optdev";
/// PPO steps of the demo (each 32 prompts).
pub const PPO_STEPS: usize = 80;
/// Held-out prompts of the evaluation.
pub const EVAL_PROMPTS: usize = 256;

/// Which reward model the demo trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RewardKind {
    /// A NEGATIVE/POSITIVE classifier on the reviews' labels; PPO maximises the POSITIVE logit.
    Classifier,
    /// A scalar reward model on comparisons from the reviewers' star ratings (Bradley–Terry);
    /// PPO maximises its output (`reward.mode = "scalar"`).
    Pairwise,
}

/// Runs the stages (four; five for `pairwise`) on `data` (a directory with `train.parquet` and `test.parquet` in the
/// `stanfordnlp/imdb` schema, and for `pairwise` the `-ratings.parquet` files beside them;
/// default: the bundled subsets) and prints the summary.
pub fn demo(root: &Path, data: Option<&Path>, reward: RewardKind) -> anyhow::Result<()> {
    let started = Instant::now();
    cargo(root, &["build", "--profile", PROFILE, "-p", "cli"])?;
    let built = started.elapsed().as_secs_f64();
    let (train, test) = splits(root, data)?;
    let out = root.join(match reward {
        RewardKind::Classifier => "target/demo",
        RewardKind::Pairwise => "target/demo-pairwise",
    });
    if out.exists() {
        std::fs::remove_dir_all(&out)
            .with_context(|| format!("cannot clear the previous demo in {}", out.display()))?;
    }
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let path = |p: &str| out.join(p).to_string_lossy().into_owned();
    let (sft, classifier, rm, runs, eval) = (
        path("sft"),
        path("classifier"),
        path("reward-model"),
        path("runs"),
        path("eval"),
    );
    let run_dir = out.join("runs/demo").to_string_lossy().into_owned();
    let set = |key: &str, value: &str| format!("{key}={}", toml_string(value));
    let reward_mode = match reward {
        RewardKind::Classifier => "reward.mode=\"logit\"",
        RewardKind::Pairwise => "reward.mode=\"scalar\"",
    };
    let classifier_stage = |out: &str| {
        strings(&[
            "train-reward",
            "--config",
            "config/reward-imdb.toml",
            "--data",
            &train,
            "--test-data",
            &test,
            "--out",
            out,
        ])
    };
    let mut stages: Vec<(&str, Vec<String>)> = vec![(
        "SFT: a small GPT-2 (n_embd 128, 2 layers) on review text",
        strings(&[
            "sft",
            "--config",
            "config/sft-imdb.toml",
            "--data",
            &train,
            "--test-data",
            &test,
            "--out",
            &sft,
        ]),
    )];
    match reward {
        RewardKind::Classifier => stages.push((
            "reward model: a small RoBERTa sentiment classifier",
            classifier_stage(&rm),
        )),
        RewardKind::Pairwise => {
            // The classifier's encoder is the start; the comparisons train a scalar head on it.
            stages.push((
                "classifier: the pairwise model's starting point, on labels",
                classifier_stage(&classifier),
            ));
            let mut args = strings(&[
                "train-reward",
                "--config",
                "config/reward-pairwise-imdb.toml",
                "--base-model",
                &classifier,
                "--out",
                &rm,
            ]);
            // Full data: its ratings files sit beside the reviews.
            if data.is_some() {
                args.extend(strings(&["--data", &train, "--test-data", &test]));
            }
            stages.push((
                "reward model: Bradley-Terry on star-rating comparisons",
                args,
            ));
        }
    }
    stages.extend([
        (
            "PPO against the reward model",
            strings(&[
                "train",
                "--set",
                &set("policy.model", &sft),
                "--set",
                &set("reward.model", &rm),
                "--set",
                &set("data.path", &train),
                "--set",
                &set("output.dir", &runs),
                "--set",
                "exp_name=\"demo\"",
                "--set",
                "ppo.batch_size=32",
                "--set",
                "ppo.mini_batch_size=8",
                "--set",
                "ppo.learning_rate=5e-4",
                "--set",
                "ppo.init_kl_coef=0.05",
                "--set",
                &format!("ppo.steps={}", PPO_STEPS * 32),
                "--set",
                "output.save_freq=25",
                "--set",
                "output.sample_freq=25",
                "--set",
                reward_mode,
            ]),
        ),
        (
            "evaluation: PPO policy vs the SFT policy on held-out prompts",
            strings(&[
                "eval",
                "--policy",
                &run_dir,
                "--baseline",
                &sft,
                "--set",
                &set("reward.model", &rm),
                "--data",
                &test,
                "--num-prompts",
                &EVAL_PROMPTS.to_string(),
                "--out",
                &eval,
                "--set",
                reward_mode,
            ]),
        ),
    ]);
    let binary = root.join("target").join(PROFILE).join("rlhf");
    let mut times = Vec::new();
    let n = stages.len();
    for (i, (title, args)) in stages.into_iter().enumerate() {
        eprintln!("\n=== {}/{n} {title} ===", i + 1);
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
        times.push(StageTime {
            stage: title.split(':').next().unwrap_or(title).to_string(),
            secs: t.elapsed().as_secs_f64(),
        });
    }
    let total = started.elapsed().as_secs_f64();
    println!("{}", summary(&out, reward, built, &times, total)?);
    Ok(())
}

/// The train and test parquet files: the bundled subset, or those in `data` (either
/// `train.parquet`/`test.parquet` or the hub's `plain_text/<split>-00000-of-00001.parquet`).
fn splits(root: &Path, data: Option<&Path>) -> anyhow::Result<(String, String)> {
    let Some(dir) = data else {
        return Ok((
            "tests/fixtures/imdb/demo/train.parquet".into(),
            "tests/fixtures/imdb/demo/test.parquet".into(),
        ));
    };
    let dir = root.join(dir);
    let find = |split: &str| -> anyhow::Result<String> {
        let candidates: [PathBuf; 2] = [
            dir.join(format!("{split}.parquet")),
            dir.join(format!("plain_text/{split}-00000-of-00001.parquet")),
        ];
        candidates
            .iter()
            .find(|p| p.is_file())
            .map(|p| p.to_string_lossy().into_owned())
            .with_context(|| {
                format!(
                    "`{}` has no {split} split: expected {} or {}",
                    dir.display(),
                    candidates[0].display(),
                    candidates[1].display()
                )
            })
    };
    Ok((find("train")?, find("test")?))
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// A TOML string literal (for `--set` values that are paths).
fn toml_string(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // A panic is the failure report.

    use super::splits;

    #[test]
    fn data_dir_accepts_both_layouts_and_names_what_is_missing() {
        let root = tempfile::tempdir().unwrap();
        let (train, _) = splits(root.path(), None).unwrap();
        assert!(train.ends_with("tests/fixtures/imdb/demo/train.parquet"));

        let flat = root.path().join("flat");
        std::fs::create_dir_all(&flat).unwrap();
        for split in ["train", "test"] {
            std::fs::write(flat.join(format!("{split}.parquet")), b"").unwrap();
        }
        let (train, test) = splits(root.path(), Some("flat".as_ref())).unwrap();
        assert!(train.ends_with("flat/train.parquet") && test.ends_with("flat/test.parquet"));

        let hub = root.path().join("hub/plain_text");
        std::fs::create_dir_all(&hub).unwrap();
        std::fs::write(hub.join("train-00000-of-00001.parquet"), b"").unwrap();
        let err = splits(root.path(), Some("hub".as_ref()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no test split"), "{err}");
        std::fs::write(hub.join("test-00000-of-00001.parquet"), b"").unwrap();
        let (_, test) = splits(root.path(), Some("hub".as_ref())).unwrap();
        assert!(test.ends_with("plain_text/test-00000-of-00001.parquet"));
    }
}
