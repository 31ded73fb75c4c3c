//! The measurements of `rlhf bench`: generation, full PPO steps and the gradient all-reduce
//! (see `bench.rs` for what is measured and how it is reported).

use std::path::Path;
use std::time::Instant;

use anyhow::ensure;
use burn::module::Module;
use burn::tensor::Device;
use config::Config;
use dataset::{HubOptions, Prompt, Tokenizer, left_pad};
use models::sampling::Sampler;
use models::{GenerationConfig, Gpt2WithValueHead, ModelFiles, RewardModel, ValueHeadInit};
use ppo::{ClassifierScorer, Trainer, TrainerParts};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::json;

use super::bench::NEW_TOKENS;
use crate::args::BenchArgs;
use crate::frozen::Frozen;
use crate::ranks::Ranks;

/// Median seconds of summing gradients the size of the policy's parameters over the ranks
/// (device → host, MPI all-reduce, host → device), after one warm-up.
pub(super) fn all_reduce(
    files: &ModelFiles,
    ranks: &Ranks,
    repeats: usize,
    plain: &Device,
) -> anyhow::Result<serde_json::Value> {
    ensure!(
        ranks.size() > 1,
        "--all-reduce measures communication between MPI ranks: run it under `mpirun -np 2` \
         with a build that has the `mpi` feature"
    );
    let (policy, _) = Gpt2WithValueHead::load(files, ValueHeadInit::Default, plain)?;
    let policy = policy.with_stable_param_ids();
    let floats = policy.num_params();
    let collective = ranks.collective();
    let mut times = Vec::new();
    for i in 0..=repeats {
        let mut grads = ppo::collective::parameters_as_gradients(&policy);
        let start = Instant::now();
        ppo::collective::sum_gradients(&policy, &mut grads, &*collective);
        if i > 0 {
            times.push(start.elapsed().as_secs_f64());
        }
    }
    let seconds = median(times);
    Ok(json!({
        "kind": "all_reduce",
        "ranks": ranks.size(),
        "floats": floats,
        "megabytes": floats as f64 * 4.0 / 1e6,
        "seconds": seconds,
        "algorithm_gb_per_s": floats as f64 * 4.0 / 1e9 / seconds,
    }))
}

/// Median seconds of sampling [`NEW_TOKENS`] for a left-padded batch of `prompts`, after one
/// warm-up.
pub(super) fn generation(
    files: &ModelFiles,
    prompts: &[Prompt],
    repeats: usize,
    device: &Device,
) -> anyhow::Result<f64> {
    let (policy, config) = Gpt2WithValueHead::load(files, ValueHeadInit::Default, device)?;
    let eos = config.eos_token_id;
    let gen_config = GenerationConfig {
        max_new_tokens: NEW_TOKENS,
        min_new_tokens: NEW_TOKENS,
        sampler: Sampler {
            do_sample: true,
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
        },
        eos_token_id: Some(eos),
        pad_token_id: eos,
    };
    let rows: Vec<&[u32]> = prompts.iter().map(|p| p.input_ids.as_slice()).collect();
    let batch = left_pad(&rows, eos);
    let mut rng = StdRng::seed_from_u64(0);
    let mut times = Vec::new();
    for i in 0..=repeats {
        let start = Instant::now();
        let out = models::generate(
            &policy.transformer,
            config.n_positions,
            &batch,
            &gen_config,
            None,
            std::slice::from_mut(&mut rng),
            device,
        )?;
        ensure!(
            out.responses.iter().all(|r| r.len() == NEW_TOKENS),
            "a response is not {NEW_TOKENS} tokens long"
        );
        if i > 0 {
            times.push(start.elapsed().as_secs_f64());
        }
    }
    Ok(median(times))
}

/// Phase seconds (medians over `repeats` steps after one warm-up step) of full PPO steps.
pub(super) fn ppo_step(
    files: &ModelFiles,
    reward_dir: &Path,
    config: Config,
    prompts: Vec<Prompt>,
    tokenizer: &Tokenizer,
    args: &BenchArgs,
    (plain, ranks): (&Device, &Ranks),
) -> anyhow::Result<serde_json::Value> {
    let autodiff = plain.clone().autodiff();
    let (policy, gpt2) = Gpt2WithValueHead::load(files, ValueHeadInit::Default, &autodiff)?;
    let frozen = Frozen::select(&config, plain)?;
    let reward = RewardModel::load(
        &reward_dir.to_string_lossy(),
        "main",
        &HubOptions::from_env(),
        &frozen.device,
    )?;
    let run_dir = std::env::temp_dir().join(format!("rlhf-bench-{}", std::process::id()));
    let parts = TrainerParts {
        scorer: Box::new(ClassifierScorer::new(
            frozen.reward(reward),
            &config.reward,
        )?),
        reference: frozen.reference(policy.valid()),
        policy: policy.with_stable_param_ids(),
        device: autodiff,
        gpt2,
        tokenizer: tokenizer.clone(),
        tokenizer_files: Vec::new(),
        prompts,
        run_dir: run_dir.clone(),
        config,
        collective: ranks.collective(),
    };
    let mut trainer = Trainer::new(parts)?;
    let mut runs = Vec::new();
    for _ in 0..=args.repeats {
        runs.push(trainer.step()?.metrics);
    }
    std::fs::remove_dir_all(&run_dir).ok();
    let phase = |key: &str| {
        median(
            runs[1..]
                .iter()
                .filter_map(|m| m.get(key)?.as_f64())
                .collect(),
        )
    };
    let (generate, score, total) = (
        phase("time/rollout/generate"),
        phase("time/rollout/score"),
        phase("time/ppo/total"),
    );
    Ok(json!({
        "generate": generate,
        "score": score,
        "forward_pass": phase("time/ppo/forward_pass"),
        "optimize_step": phase("time/ppo/optimize_step"),
        "ppo_step": total - generate - score,
        "total": total,
    }))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}
