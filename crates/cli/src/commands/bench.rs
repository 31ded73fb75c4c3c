//! `rlhf bench`: generation tokens/s and full PPO steps on the `--device` backend, the
//! counterparts of tests/reference/bench_generate.py (transformers) and bench_ppo_step.py
//! (TRL 0.11.4). `cargo xtask bench` runs both sides and prints the tables; the GPU kit runs
//! this command on its own.
//!
//! Same prompts and settings as the Python side: tests/reference/bench_prompts.json, sampling
//! with top_k = 0 and top_p = 1, exactly 16 new tokens, reward = POSITIVE logit, mini-batch =
//! batch, 4 epochs. Prints one JSON object per measurement on stdout.

use std::path::Path;

use anyhow::{Context, ensure};
use dataset::{HubOptions, Prompt, Tokenizer};
use models::ModelFiles;
use serde_json::json;

use super::bench_flops::{gemm_isa, peak_rss_mb, threads};
use super::bench_runs::{all_reduce, generation, ppo_step};
use crate::args::{BenchArgs, ConfigArgs};
use crate::device;
use crate::ranks::Ranks;

/// New tokens per response, on both sides.
pub(super) const NEW_TOKENS: usize = 16;

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
        if let Some(path) = &args.gemm_shapes {
            for line in super::bench_shapes::measure(&plain, path, &label)? {
                say(line);
            }
        }
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

/// Side of the square matrices of the GEMM measurement.
const GEMM_N: usize = 2048;

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
