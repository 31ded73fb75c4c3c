//! One full PPO step on CPU (flex), the counterpart of tests/reference/bench_ppo_step.py.
//!
//! `cargo run --release -p ppo --example bench_step -- POLICY_DIR REWARD_DIR [BATCH ...]`
//! Prompts from tests/reference/bench_prompts.json, exactly 16 sampled new tokens, reward =
//! POSITIVE logit, mini-batch = batch, 4 epochs. One warm-up step, then the median of two; prints
//! one JSON object per batch size with phase timings and the peak resident memory so far.

use std::path::PathBuf;

use burn::module::Module;
use burn::tensor::Device;
use config::Config;
use dataset::{HubOptions, Prompt, Tokenizer};
use models::{Gpt2WithValueHead, ModelFiles, RewardModel, ValueHeadInit};
use ppo::Trainer;
use ppo::{ClassifierScorer, TrainerParts};

/// The same allocator as the `rlhf` binary, so the figures match what users run.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const NEW_TOKENS: usize = 16;
const REPEATS: usize = 2;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (policy_dir, reward_dir) = match (args.first(), args.get(1)) {
        (Some(p), Some(r)) => (p.clone(), r.clone()),
        _ => return Err("usage: bench_step POLICY_DIR REWARD_DIR [BATCH ...]".into()),
    };
    let batches: Vec<usize> = args[2..]
        .iter()
        .map(|b| b.parse())
        .collect::<Result<_, _>>()?;
    let batches = if batches.is_empty() {
        vec![16]
    } else {
        batches
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let prompts: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        root.join("tests/reference/bench_prompts.json"),
    )?)?;
    let texts: Vec<String> = prompts["prompts"]
        .as_array()
        .ok_or("prompts")?
        .iter()
        .filter_map(|p| p.as_str().map(String::from))
        .collect();
    let hub = HubOptions::from_env();
    let plain = Device::flex();
    let autodiff = plain.clone().autodiff();
    let files = ModelFiles::resolve(&policy_dir, "main", &hub)?;
    let tokenizer = Tokenizer::from_file(files.tokenizer.as_ref().ok_or("no tokenizer.json")?)?;
    for b in batches {
        let (policy, gpt2) = Gpt2WithValueHead::load(&files, ValueHeadInit::Default, &autodiff)?;
        let reward = RewardModel::load(&reward_dir, "main", &hub, &plain)?;
        let mut config = Config::default();
        config.ppo.batch_size = b;
        config.ppo.mini_batch_size = b;
        config.ppo.steps = b * (REPEATS + 1);
        config.generation.output_min_length = NEW_TOKENS;
        config.generation.output_max_length = NEW_TOKENS + 1;
        config.reward.batch_size = b;
        let prompts: Vec<Prompt> = texts
            .iter()
            .cycle()
            .take(b.max(texts.len()))
            .enumerate()
            .map(|(i, t)| {
                Ok(Prompt {
                    review: i,
                    label: 0,
                    input_ids: tokenizer.encode(t, false)?,
                    query: t.clone(),
                })
            })
            .collect::<Result<_, dataset::DatasetError>>()?;
        let parts = TrainerParts {
            scorer: Box::new(ClassifierScorer::new(reward, &config.reward)?),
            reference: policy.valid(),
            policy: policy.with_stable_param_ids(),
            device: autodiff.clone(),
            gpt2: gpt2.clone(),
            tokenizer: tokenizer.clone(),
            tokenizer_files: Vec::new(),
            prompts,
            run_dir: root.join("target/bench/run"),
            config,
        };
        let mut trainer = Trainer::new(parts)?;
        let mut runs = Vec::new();
        for _ in 0..=REPEATS {
            runs.push(trainer.step()?.metrics);
        }
        let median = |key: &str| {
            let mut v: Vec<f64> = runs[1..]
                .iter()
                .filter_map(|m| m.get(key)?.as_f64())
                .collect();
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
        };
        let generate = median("time/rollout/generate");
        let score = median("time/rollout/score");
        let total = median("time/ppo/total");
        let line = serde_json::json!({
            "impl": "rlhf-burn-flex",
            "batch": b,
            "new_tokens": NEW_TOKENS,
            "seconds": {
                "generate": generate,
                "score": score,
                "forward_pass": median("time/ppo/forward_pass"),
                "optimize_step": median("time/ppo/optimize_step"),
                "ppo_step": total - generate - score,
                "total": total,
            },
            "peak_rss_mb": peak_rss_mb(),
        });
        println!("{line}");
    }
    Ok(())
}

/// Peak resident set size of this process (`VmHWM`), in MB.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}
