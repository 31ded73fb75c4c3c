//! `cargo xtask backends [--device D]…`: the conformance suite per backend. One binary is built
//! with every backend asked for; then, per device: `rlhf check-backend` (fixture logits,
//! KV-cached generation, a PPO update against flex), every command once on the tiny fixtures,
//! and a 3-step `rlhf train` that must resume exactly after stopping at step 2.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::build::{self, Rlhf};
use crate::libtorch;

/// Runs the suite on `devices` (default: flex, and tch-cpu when `cargo xtask setup-tch` ran),
/// with a debug `rlhf` (built into `target/debug`), or with `binary` (the GPU kit's, built
/// elsewhere; its backends must cover the devices).
pub fn backends(root: &Path, devices: Vec<String>, binary: Option<PathBuf>) -> anyhow::Result<()> {
    let devices = if devices.is_empty() {
        let mut all = vec!["flex".to_string()];
        if libtorch::installed(root) {
            all.push("tch-cpu".into());
        } else {
            eprintln!("not testing tch-cpu: torch is not set up (cargo xtask setup-tch)");
        }
        all
    } else {
        devices
    };
    let rlhf = match binary {
        Some(binary) => Rlhf {
            binary,
            env: Vec::new(),
        },
        // The workspace's own target directory: the test build's dependencies (polars,
        // tokenizers, ...) are reused; only burn and our crates build again with the backends.
        None => build::build(root, &devices, "dev", None)?,
    };
    let (binary, env) = (rlhf.binary, rlhf.env);
    let target = root.join("target/backends");
    let mut failed = Vec::new();
    for device in &devices {
        eprintln!("\n=== backend {device} ===");
        let runs = target.join("runs").join(device);
        if runs.exists() {
            std::fs::remove_dir_all(&runs).context("cannot clear the previous runs")?;
        }
        let suite = Suite {
            root,
            binary: &binary,
            device,
            runs,
            env: &env,
        };
        let result = if device == crate::avx2::DEVICE {
            crate::avx2::check(root, &binary, &env)
        } else {
            suite.run()
        };
        match result {
            Ok(()) => println!("backend {device}: passed"),
            Err(e) => {
                println!("backend {device}: FAILED: {e:#}");
                failed.push(device.clone());
            }
        }
    }
    if !failed.is_empty() {
        bail!("the suite failed on {}", failed.join(", "));
    }
    println!("the suite passed on {}", devices.join(", "));
    Ok(())
}

/// One device's suite.
struct Suite<'a> {
    root: &'a Path,
    binary: &'a Path,
    device: &'a str,
    runs: PathBuf,
    env: &'a [(String, String)],
}

const GPT2: &str = "tests/fixtures/models/tiny-gpt2";
const ROBERTA: &str = "tests/fixtures/models/tiny-roberta";
const SAMPLE: &str = "tests/fixtures/imdb/sample.parquet";
/// CubeCL's autotune effort (`minimal`, `balanced`, `extensive`, `full`).
const AUTOTUNE: &str = "CUBECL_AUTOTUNE_LEVEL";

impl Suite<'_> {
    fn run(&self) -> anyhow::Result<()> {
        self.rlhf("check-backend", &["check-backend"])?;
        self.commands()?;
        self.resume()
    }

    /// `rlhf --device D args…`, failing with its output when it fails.
    fn rlhf(&self, what: &str, args: &[&str]) -> anyhow::Result<String> {
        let start = std::time::Instant::now();
        let mut command = Command::new(self.binary);
        if self.device.starts_with("vulkan") && std::env::var_os(AUTOTUNE).is_none() {
            // CubeCL's default autotune times every candidate kernel at each new shape; on
            // lavapipe each candidate is compiled by LLVM first. A cold `sft` took 680 s
            // with it and 77 s with the minimal level (docs/backends.md).
            command.env(AUTOTUNE, "minimal");
        }
        let out = command
            .args(["--device", self.device])
            .args(args)
            .current_dir(self.root)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("HF_HUB_OFFLINE", "1")
            .output()
            .with_context(|| format!("cannot run `{}`", self.binary.display()))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            bail!(
                "{what} failed ({}):\n{stdout}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let seconds = start.elapsed().as_secs_f64();
        if what == "check-backend" {
            print!("{stdout}");
            println!("      ({seconds:.0} s)");
        } else {
            println!("ok    {what} ({seconds:.0} s)");
        }
        Ok(stdout)
    }

    fn dir(&self, name: &str) -> String {
        self.runs.join(name).to_string_lossy().into_owned()
    }

    /// Every other command once, on the tiny fixtures.
    fn commands(&self) -> anyhow::Result<()> {
        let prompt = [
            "generate",
            "--model",
            GPT2,
            "--prompt",
            "Hello",
            "--max-new-tokens",
            "4",
        ];
        self.rlhf("generate", &prompt)?;
        self.rlhf(
            "score",
            &["score", "--model", ROBERTA, "--text", "A wonderful film"],
        )?;
        let (sft, rm) = (self.dir("sft"), self.dir("rm"));
        let data = ["--data", SAMPLE, "--test-data", SAMPLE];
        // Few examples: on a software Vulkan driver every step is slow, and each command only
        // has to run once.
        let sft_args = [
            "--train-samples",
            "2",
            "--test-samples",
            "1",
            "--n-embd",
            "16",
        ];
        let sft_size = [
            "--n-layer",
            "1",
            "--n-head",
            "2",
            "--block-size",
            "16",
            "--out",
            &sft,
        ];
        let args = [&["sft"][..], &data, &sft_args, &sft_size].concat();
        self.rlhf("sft", &args)?;
        let tokenizer = "tests/fixtures/tokenizers/roberta/tokenizer.json";
        let rm_args = [
            "--train-samples",
            "8",
            "--test-samples",
            "4",
            "--hidden-size",
            "16",
        ];
        let rm_rest = [
            "--max-length",
            "48",
            "--epochs",
            "1",
            "--tokenizer",
            tokenizer,
            "--out",
            &rm,
        ];
        let args = [&["train-reward"][..], &data, &rm_args, &rm_rest].concat();
        self.rlhf("train-reward", &args)?;
        let eval_out = self.dir("eval");
        let reward = format!("reward.model={rm}");
        let eval = [
            "eval",
            "--policy",
            &sft,
            "--baseline",
            &sft,
            "--set",
            &reward,
            "--data",
            SAMPLE,
        ];
        let args = [&eval[..], &["--num-prompts", "4", "--out", &eval_out]].concat();
        self.rlhf("eval", &args)?;
        Ok(())
    }

    /// `rlhf train` on the tiny fixtures for `steps` steps into `runs/<exp>`.
    fn train(&self, exp: &str, steps: usize, resume: bool) -> anyhow::Result<()> {
        let settings = [
            format!("policy.model={GPT2}"),
            format!("reward.model={ROBERTA}"),
            format!("data.path={SAMPLE}"),
            "ppo.batch_size=8".into(),
            "ppo.mini_batch_size=4".into(),
            "ppo.learning_rate=1e-3".into(),
            "output.save_freq=1".into(),
            format!("ppo.steps={}", steps * 8),
            format!("exp_name={exp}"),
            format!("output.dir={}", self.runs.display()),
        ];
        let mut args = vec!["train"];
        for s in &settings {
            args.extend(["--set", s.as_str()]);
        }
        if resume {
            args.push("--resume");
        }
        self.rlhf(&format!("train {exp} to step {steps}"), &args)?;
        Ok(())
    }

    /// 3 steps straight, and 2 steps then `--resume` to 3: equal metrics (but times) and
    /// byte-equal step-3 weights; step 1's KL is 0 (policy = reference).
    fn resume(&self) -> anyhow::Result<()> {
        self.train("full", 3, false)?;
        self.train("split", 2, false)?;
        self.train("split", 3, true)?;
        let (full, split) = (
            metrics(&self.runs.join("full"))?,
            metrics(&self.runs.join("split"))?,
        );
        if full.len() != 3 || split.len() != 3 {
            bail!(
                "expected 3 metrics lines, got {} and {}",
                full.len(),
                split.len()
            );
        }
        let kl = full[0]["objective/kl"].as_f64().unwrap_or(f64::NAN);
        if kl.abs() > 1e-4 {
            bail!(
                "objective/kl at step 1 is {kl}; the policy is its own reference, so it must be 0"
            );
        }
        for (a, b) in full.iter().zip(&split) {
            let a = a.as_object().context("metrics line")?;
            for (key, value) in a.iter().filter(|(k, _)| !k.starts_with("time/")) {
                if Some(value) != b.get(key) {
                    bail!(
                        "resume differs at step {}: {key} {value} vs {:?}",
                        a["step"],
                        b.get(key)
                    );
                }
            }
        }
        let weights = |exp: &str| {
            let path = self
                .runs
                .join(exp)
                .join("checkpoints/step-000003/policy/model.safetensors");
            std::fs::read(&path).with_context(|| format!("cannot read `{}`", path.display()))
        };
        if weights("full")? != weights("split")? {
            bail!("the resumed run's step-3 weights differ from the uninterrupted run's");
        }
        println!("ok    resume after step 2 equals the uninterrupted run (metrics, weights)");
        Ok(())
    }
}

fn metrics(run: &Path) -> anyhow::Result<Vec<Value>> {
    let path = run.join("metrics.jsonl");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    text.lines()
        .map(|l| serde_json::from_str(l).context("a metrics line is not JSON"))
        .collect()
}
