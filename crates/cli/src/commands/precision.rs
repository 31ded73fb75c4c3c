//! `rlhf precision`: what `[frozen]` (device, bf16) does to the numbers PPO reads from the frozen
//! models — rewards of texts and reference log-probs — against f32 on the run's `device`.
//!
//! Texts: the first `--texts` reviews of the test split (seeded shuffle, as `rlhf eval` draws
//! them), cut to `--max-tokens` policy tokens. The reference reads each as a one-token query
//! and a response of the rest, as in a rollout; the reward model scores the decoded text.

use std::time::Instant;

use anyhow::{Context, ensure};
use burn::tensor::{Device, Tensor};
use config::Config;
use dataset::HubOptions;
use models::{Gpt2WithValueHead, RewardModel};
use ppo::forward::{SequenceBatch, WindowOptions, forward_window};
use ppo::kl::kl_full;
use ppo::{ClassifierScorer, Scorer};
use serde_json::json;

use super::load::{load_policy, read_split};
use crate::args::{ConfigArgs, PrecisionArgs};
use crate::frozen::Frozen;
use crate::{device, progress};

/// Rows per forward pass.
const BATCH: usize = 16;

/// Compares the frozen models as configured with f32 on `device`; prints one JSON object.
pub fn run(layers: &ConfigArgs, args: &PrecisionArgs) -> anyhow::Result<()> {
    ensure!(args.texts >= 1, "--texts must be at least 1");
    ensure!(
        args.max_tokens >= 2,
        "--max-tokens must be at least 2 (one query token and a response)"
    );
    let config = layers.load(Vec::new())?;
    let plain = device::select(config.device)?;
    let frozen = Frozen::select(&config, &plain)?;
    if config.frozen == config::FrozenConfig::default() {
        tracing::warn!(
            "[frozen] is at its defaults, so both sides are the same f32 models on `{}` and \
             every difference is 0; compare a setting with --set frozen.dtype=bf16 (and \
             --set frozen.device=tch-cpu)",
            config.device
        );
    }
    let path = args.path.as_deref().or(config.data.path.as_deref());
    let reviews = read_split(&config, path, "test", args.texts)?;
    let loaded = load_policy(&config, None, None, &plain)?;
    let mut rows = Vec::with_capacity(reviews.len());
    for review in &reviews {
        let mut ids = loaded.tokenizer.encode(&review.text, false)?;
        ids.truncate(args.max_tokens);
        if ids.len() >= 2 {
            rows.push(ids);
        }
    }
    ensure!(
        !rows.is_empty(),
        "no test review has two tokens; point --path at a review file"
    );
    let texts = rows
        .iter()
        .map(|ids| loaded.tokenizer.decode(ids, true))
        .collect::<Result<Vec<_>, _>>()?;

    let reference = frozen.reference(loaded.policy.clone());
    let eos = loaded.config.eos_token_id;
    let kl = compare_reference(&loaded.policy, &reference, &rows, eos, (&plain, &frozen))?;
    let rewards = compare_rewards(&config, &texts, &rows, (&plain, &frozen))?;
    let report = json!({
        "kind": "precision",
        "device": config.device.to_string(),
        "frozen_device": config.frozen.device_or(config.device).to_string(),
        "frozen_dtype": config.frozen.dtype.to_string(),
        "texts": rows.len(),
        "tokens_per_text": rows.iter().map(Vec::len).sum::<usize>() as f64 / rows.len() as f64,
        "reference": kl,
        "reward": rewards,
    });
    println!("{report}");
    Ok(())
}

/// Log-prob and KL differences of the reference (`low`) against f32 (`full`), and both
/// forward times.
fn compare_reference(
    full: &Gpt2WithValueHead,
    low: &Gpt2WithValueHead,
    rows: &[Vec<u32>],
    eos: u32,
    (plain, frozen): (&Device, &Frozen),
) -> anyhow::Result<serde_json::Value> {
    let options = WindowOptions::PLAIN.with_log_dists(true);
    let (mut seconds_full, mut seconds_low) = (0.0, 0.0);
    let (mut sequence_diffs, mut token_abs, mut token_kl, mut tokens) =
        (Vec::new(), 0.0f64, 0.0f64, 0.0f64);
    let bar = progress::bar(rows.len(), "reference log-probs, f32 and frozen");
    for chunk in rows.chunks(BATCH) {
        let queries: Vec<Vec<u32>> = chunk.iter().map(|r| r[..1].to_vec()).collect();
        let responses: Vec<Vec<u32>> = chunk.iter().map(|r| r[1..].to_vec()).collect();
        let batch = SequenceBatch::new(&queries, &responses, eos);
        let start = Instant::now();
        let a = forward_window(full, &batch, options, plain);
        let a_logprobs = a.logprobs.clone().into_data();
        seconds_full += start.elapsed().as_secs_f64();
        let start = Instant::now();
        let b = forward_window(low, &batch, options, &frozen.device);
        let b_logprobs = b.logprobs.clone().into_data();
        seconds_low += start.elapsed().as_secs_f64();
        let mask = batch.mask_tensor(plain);
        let (Some(a_dist), Some(b_dist)) = (a.log_dists, b.log_dists) else {
            anyhow::bail!("the forward pass returned no distributions");
        };
        let kl: Tensor<2> = kl_full(a_dist, b_dist.to_device(plain)) * mask.clone();
        token_kl += f64::from(kl.sum().into_scalar::<f32>());
        let a_logprobs = Tensor::<2>::from_data(a_logprobs, plain);
        let b_logprobs = Tensor::<2>::from_data(b_logprobs, plain);
        let diff = (a_logprobs - b_logprobs) * mask.clone();
        token_abs += f64::from(diff.clone().abs().sum().into_scalar::<f32>());
        tokens += f64::from(mask.sum().into_scalar::<f32>());
        sequence_diffs.extend(diff.sum_dim(1).into_data().iter::<f32>().map(f64::from));
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let n = sequence_diffs.len() as f64;
    Ok(json!({
        "sequence_logprob_diff_mean": sequence_diffs.iter().sum::<f64>() / n,
        "sequence_logprob_diff_mean_abs": sequence_diffs.iter().map(|d| d.abs()).sum::<f64>() / n,
        "sequence_logprob_diff_max_abs": sequence_diffs.iter().fold(0.0f64, |m, d| m.max(d.abs())),
        "token_logprob_diff_mean_abs": token_abs / tokens,
        "token_kl_full_mean": token_kl / tokens,
        "sequence_kl_full_mean": token_kl / n,
        "seconds_f32": seconds_full,
        "seconds_frozen": seconds_low,
    }))
}

/// Reward differences of the frozen reward model against f32, and both scoring times.
fn compare_rewards(
    config: &Config,
    texts: &[String],
    rows: &[Vec<u32>],
    (plain, frozen): (&Device, &Frozen),
) -> anyhow::Result<serde_json::Value> {
    let reward = &config.reward;
    let load = |device: &Device| {
        RewardModel::load(
            &reward.model,
            &reward.revision,
            &HubOptions::from_env(),
            device,
        )
        .with_context(|| format!("cannot load the reward model `{}`", reward.model))
    };
    let mut full = ClassifierScorer::new(load(plain)?, reward)?;
    let mut low = ClassifierScorer::new(frozen.reward(load(&frozen.device)?), reward)?;
    let spinner = progress::spinner("scoring in f32 and as frozen");
    let start = Instant::now();
    let a = full.score(texts, rows)?;
    let seconds_full = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let b = low.score(texts, rows)?;
    let seconds_low = start.elapsed().as_secs_f64();
    spinner.finish_and_clear();
    let n = a.len() as f64;
    let mean = a.iter().sum::<f64>() / n;
    let std = (a.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
    let diffs: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x - y).collect();
    let same_sign = a
        .iter()
        .zip(&b)
        .filter(|(x, y)| (**x >= 0.0) == (**y >= 0.0));
    Ok(json!({
        "mean_f32": mean,
        "std_f32": std,
        "diff_mean": diffs.iter().sum::<f64>() / n,
        "diff_mean_abs": diffs.iter().map(|d| d.abs()).sum::<f64>() / n,
        "diff_max_abs": diffs.iter().fold(0.0f64, |m, d| m.max(d.abs())),
        "same_sign": same_sign.count() as f64 / n,
        "seconds_f32": seconds_full,
        "seconds_frozen": seconds_low,
    }))
}
