//! `rlhf bench`: generation tokens/s and full PPO steps on the `--device` backend, the
//! counterparts of tests/reference/bench_generate.py (transformers) and bench_ppo_step.py
//! (TRL 0.11.4). `cargo xtask bench` runs both sides and prints the tables; the GPU kit runs
//! this command on its own.
//!
//! Same prompts and settings as the Python side: tests/reference/bench_prompts.json, sampling
//! with top_k = 0 and top_p = 1, exactly 16 new tokens, reward = POSITIVE logit, mini-batch =
//! batch, 4 epochs. Prints one JSON object per measurement on stdout.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, ensure};
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

use super::bench_flops::{gemm_isa, peak_rss_mb, threads};
use crate::args::{BenchArgs, ConfigArgs};
use crate::device;
use crate::frozen::Frozen;
use crate::ranks::Ranks;

/// New tokens per response, on both sides.
const NEW_TOKENS: usize = 16;

/// Runs the generation and PPO-step measurements asked for.
pub fn run(layers: &ConfigArgs, args: &BenchArgs) -> anyhow::Result<()> {
    ensure!(args.repeats >= 1, "--repeats must be at least 1");
    let ranks = Ranks::init()?;
    let base = layers.load(Vec::new())?;
    let plain = device::select(base.device)?;
    let mut label = match ranks.size() {
        1 => format!("rlhf-burn-{}", base.device),
        n => format!("rlhf-burn-{}-{n}ranks", base.device),
    };
    if base.frozen != config::FrozenConfig::default() {
        let on = base.frozen.device_or(base.device);
        label = format!("{label}+frozen-{}@{on}", base.frozen.dtype);
    }
    // Several ranks share only the PPO step (and the all-reduce); rank 0 reports.
    let say = |line: serde_json::Value| {
        if ranks.is_root() {
            println!("{line}");
        }
    };
    let texts = read_prompts(&args.prompts)?;
    let hub = HubOptions::from_env();
    let files = ModelFiles::resolve(&args.policy.to_string_lossy(), "main", &hub)?;
    let tokenizer = Tokenizer::from_file(
        files
            .tokenizer
            .as_ref()
            .context("the policy directory has no tokenizer.json")?,
    )?;
    let prompts = |b: usize| -> anyhow::Result<Vec<Prompt>> {
        texts
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
            .collect()
    };
    let generation_batches = if ranks.size() == 1 {
        &args.generation_batch[..]
    } else {
        &[]
    };
    if args.all_reduce {
        let policy_files = &files;
        say(all_reduce(policy_files, &ranks, args.repeats, &plain)?);
    }
    if ranks.size() == 1 {
        say(json!({
            "kind": "gemm",
            "impl": label,
            "n": GEMM_N,
            "gflops": super::bench_flops::gemm_gflops(&plain, GEMM_N, 5),
            "threads": threads(),
            "gemm_isa": gemm_isa(),
        }));
    }
    for &b in generation_batches {
        let seconds = generation(&files, &prompts(b)?[..b], args.repeats, &plain)?;
        let line = json!({
            "kind": "generation",
            "impl": label,
            "batch": b,
            "new_tokens": NEW_TOKENS,
            "seconds": seconds,
            "tokens_per_s": (b * NEW_TOKENS) as f64 / seconds,
        });
        say(line);
    }
    for &b in &args.ppo_batch {
        let mut config = base.clone();
        config.ppo.batch_size = b;
        config.ppo.mini_batch_size = b;
        config.ppo.gradient_accumulation_steps = 1;
        config.ppo.ppo_epochs = 4;
        config.ppo.steps = b * (args.repeats + 1);
        config.generation.output_min_length = NEW_TOKENS;
        config.generation.output_max_length = NEW_TOKENS + 1;
        config.reward.batch_size = b;
        let rows = prompts(b)?;
        let prompt_len =
            rows[..b].iter().map(|p| p.input_ids.len()).sum::<usize>() as f64 / b as f64;
        let seconds = ppo_step(
            &files,
            &args.reward,
            config,
            rows,
            &tokenizer,
            args,
            (&plain, &ranks),
        )?;
        let (gpt2, roberta) = (
            models::Gpt2Config::from_file(&files.config)?,
            models::RobertaConfig::from_file(&args.reward.join("config.json"))?,
        );
        // The reward tokenizer sees the decoded prompt + response (+ <s>, </s>): about as many
        // tokens as GPT-2's.
        let reward_len = prompt_len + NEW_TOKENS as f64 + 2.0;
        let flops = super::bench_flops::StepFlops::new(
            &gpt2,
            &roberta,
            (b, prompt_len, NEW_TOKENS, reward_len, 4),
        );
        let total = seconds["total"].as_f64().unwrap_or(f64::NAN);
        let line = json!({
            "kind": "ppo_step",
            "impl": label,
            "batch": b,
            "new_tokens": NEW_TOKENS,
            "seconds": seconds,
            "peak_rss_mb": peak_rss_mb(),
            "gemm_isa": gemm_isa(),
            "threads": threads(),
            "prompt_tokens_mean": prompt_len,
            "flops": {
                "generate": flops.generate,
                "score": flops.score,
                "forward_pass": flops.forward,
                "optimize_step": flops.optimize,
                "total": flops.total(),
            },
            "gflops_per_s": flops.total() / total / 1e9,
        });
        say(line);
    }
    Ok(())
}

/// Median seconds of summing gradients the size of the policy's parameters over the ranks
/// (device → host, MPI all-reduce, host → device), after one warm-up.
fn all_reduce(
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

/// The prompt texts of a `{"prompts": [..]}` file.
fn read_prompts(path: &Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the prompts `{}`", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("`{}` is not JSON", path.display()))?;
    let texts: Vec<String> = value["prompts"]
        .as_array()
        .with_context(|| format!("`{}` has no \"prompts\" list", path.display()))?
        .iter()
        .filter_map(|p| p.as_str().map(String::from))
        .collect();
    ensure!(!texts.is_empty(), "`{}` lists no prompts", path.display());
    Ok(texts)
}

/// Median seconds of sampling [`NEW_TOKENS`] for a left-padded batch of `prompts`, after one
/// warm-up.
fn generation(
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
fn ppo_step(
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

/// Side of the square matrices of the GEMM measurement.
const GEMM_N: usize = 2048;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}
