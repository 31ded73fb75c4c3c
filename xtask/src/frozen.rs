//! The frozen models as `DTYPE[@DEVICE]` (e.g. `bf16@tch-cpu`): the `[frozen]` flags of `rlhf`,
//! the extra PPO-step runs of `cargo xtask bench --frozen`, and `cargo xtask precision` —
//! `rlhf precision` built with the backends it needs (libtorch's environment included), so
//! nobody sets variables by hand. Without `--set policy.model=… --set reward.model=…` it
//! compares on the full-size random benchmark checkpoints, and without `data.path` on the
//! bundled demo test reviews.

use std::path::Path;
use std::process::Command;

use crate::{build, reference, run_command};

/// The device of `DTYPE@DEVICE`, if it names one.
pub fn device(spec: &str) -> Option<String> {
    Some(spec.split_once('@')?.1.to_string())
}

/// `DTYPE[@DEVICE]` → the `--set` flags of `[frozen]`.
pub fn frozen_sets(spec: &str) -> Vec<String> {
    let (dtype, device) = match spec.split_once('@') {
        Some((dtype, device)) => (dtype, Some(device)),
        None => (spec, None),
    };
    let mut sets = vec!["--set".to_string(), format!("frozen.dtype={dtype}")];
    if let Some(device) = device {
        sets.extend(["--set".to_string(), format!("frozen.device={device}")]);
    }
    sets
}

/// `rlhf` arguments of a PPO-step-only bench run on `device` with the frozen models as `spec`.
pub fn bench_args(
    device: &str,
    spec: &str,
    (gpt2, roberta): (&str, &str),
    ppo_sizes: &[String],
) -> Vec<String> {
    let mut args = vec!["--device".to_string(), device.to_string()];
    args.extend(frozen_sets(spec));
    args.extend(["bench", "--policy", gpt2, "--reward", roberta].map(String::from));
    args.push("--generation-batch".into());
    args.push("--ppo-batch".into());
    args.extend(ppo_sizes.iter().cloned());
    args
}

/// Builds `rlhf` (profile optdev) and runs `rlhf precision` with `frozen` and `args`.
pub fn precision(root: &Path, frozen: &str, args: &[String]) -> anyhow::Result<()> {
    let backends: Vec<String> = device(frozen).into_iter().collect();
    let rlhf = build::build(root, &backends, "optdev", None)?;
    let mut all = vec!["precision".to_string()];
    all.extend(frozen_sets(frozen));
    let names_models = args.iter().any(|a| a.starts_with("policy.model="))
        && args.iter().any(|a| a.starts_with("reward.model="));
    if !names_models {
        let models = reference::ModelSize::Full.dir(root);
        for (key, dir) in [("policy", "gpt2-124m"), ("reward", "roberta-large")] {
            let dir = models.join(dir);
            anyhow::ensure!(
                dir.join("model.safetensors").is_file(),
                "`{}` is missing: make the benchmark weights with `cargo xtask bench` (or \
                 `cargo xtask parity`), or name models with --set policy.model=… --set \
                 reward.model=…",
                dir.display()
            );
            all.extend(["--set".into(), format!("{key}.model={}", dir.display())]);
        }
    }
    let names_data = args
        .iter()
        .any(|a| a == "--path" || a.starts_with("data.path="));
    if !names_data {
        all.extend([
            "--path".into(),
            "tests/fixtures/imdb/demo/test.parquet".into(),
        ]);
    }
    all.extend(args.iter().cloned());
    run_command(
        Command::new(&rlhf.binary)
            .args(&all)
            .current_dir(root)
            .envs(rlhf.env.iter().map(|(k, v)| (k, v))),
    )
}
