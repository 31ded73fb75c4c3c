//! `rlhf train`: PPO on the configured policy, reward model and prompts.
//!
//! Writes into `<output.dir>/<exp_name>/`: `config.toml` (resolved), `metrics.jsonl` (one line
//! per step, TRL's stat names), `samples.jsonl`, `checkpoints/step-N/` + `latest`, and at the end
//! `final/` (HF layout, loadable by transformers) and `training.svg` (reward and KL per step).

use std::io::Write;

use anyhow::{Context, bail};
use burn::module::Module;
use config::RESUME_MAY_CHANGE;
use models::export::tokenizer_files;
use ppo::checkpoint::{ensure_fresh, latest};
use ppo::plot::metrics_svg;
use ppo::trainer::{MetricsLog, StepOutput, check_ranks, cut_after_step, read_lines, sample_table};
use ppo::{Trainer, TrainerParts};

use super::load::{load_policy, load_prompts, load_resumed_policy, load_scorer};
use super::normalize;
use crate::args::{ConfigArgs, TrainArgs};
use crate::frozen::Frozen;
use crate::ranks::Ranks;
use crate::{device, progress};

/// Trains, or continues the run with `--resume`; under `mpirun` (feature `mpi`) as one of its
/// ranks.
pub fn run(layers: &ConfigArgs, args: &TrainArgs) -> anyhow::Result<()> {
    let ranks = Ranks::init()?;
    let result = train(layers, args, &ranks);
    if let Err(error) = &result {
        ranks.fail(error);
    }
    result
}

fn train(layers: &ConfigArgs, args: &TrainArgs, ranks: &Ranks) -> anyhow::Result<()> {
    let config = layers.load(Vec::new())?;
    let ppo_config = &config.ppo;
    check_ranks(
        ranks.size(),
        ppo_config.batch_size,
        ppo_config.mini_batch_size,
    )?;
    let root = ranks.is_root();
    let plain = device::select(config.device)?;
    let autodiff = plain.clone().autodiff();
    let run_dir = config.run_dir();
    // Rank 0 alone writes the run directory; the others read the checkpoint they resume from.
    let _lock = if root {
        Some(super::lock(&run_dir)?)
    } else {
        None
    };
    let resume_from = if args.resume {
        let checkpoint = latest(&run_dir)?;
        same_settings(&config, &run_dir)?;
        Some(checkpoint)
    } else {
        if root {
            ensure_fresh(&run_dir).context("set another exp_name or output.dir for a new run")?;
        }
        None
    };
    if root {
        std::fs::create_dir_all(&run_dir)
            .with_context(|| format!("cannot create `{}`", run_dir.display()))?;
        config.write_resolved(&run_dir)?;
    }

    let prompt_set = load_prompts(&config)?;
    tracing::info!(prompts = prompt_set.prompts.len(), file = %prompt_set.path.display(), "prompts ready");

    let spinner = progress::spinner("loading models");
    let start = load_policy(&config, None, None, &autodiff)?;
    let frozen = Frozen::select(&config, &plain)?;
    let reference = frozen.reference(start.policy.valid());
    let loaded = match &resume_from {
        Some(dir) => load_resumed_policy(&config, dir, &autodiff)?,
        None => start,
    };
    let scorer = load_scorer(&config, &frozen)?;
    spinner.finish_and_clear();
    let (policy, tokenizer, gpt2) = (loaded.policy, loaded.tokenizer, loaded.config);
    let reference_parts = normalize::Reference {
        policy: &reference,
        config: &gpt2,
        tokenizer: &tokenizer,
        device: &frozen.device,
    };
    let scorer = normalize::scorer(
        &config,
        scorer,
        reference_parts,
        &prompt_set.prompts,
        &run_dir,
        resume_from.is_some(),
        root,
    )?;
    let tokenizer_files = tokenizer_files(tokenizer.source());
    let parts = TrainerParts {
        config: config.clone(),
        device: autodiff,
        policy: policy.with_stable_param_ids(),
        reference,
        gpt2,
        tokenizer,
        tokenizer_files,
        scorer,
        prompts: prompt_set.prompts,
        run_dir: run_dir.clone(),
        collective: ranks.collective(),
    };
    let mut trainer = match &resume_from {
        Some(dir) => Trainer::resume(parts, dir)?,
        None => Trainer::new(parts)?,
    };
    let total = config.ppo.total_ppo_steps();
    if !root {
        while trainer.step_index() < total {
            trainer.step()?;
        }
        return Ok(());
    }
    let keep_through = resume_from.as_ref().map(|_| trainer.step_index());
    let log = MetricsLog::open(&run_dir, keep_through)?;
    let samples = run_dir.join("samples.jsonl");
    match keep_through {
        Some(step) => cut_after_step(&samples, step)?,
        None if samples.exists() => std::fs::remove_file(&samples)
            .with_context(|| format!("cannot remove `{}`", samples.display()))?,
        None => {}
    }
    if trainer.step_index() > total {
        bail!(
            "the run is already at step {} of {total}; raise ppo.steps to train further",
            trainer.step_index()
        );
    }
    if trainer.step_index() == total {
        // Every step is done; a crash may have cut the finish short, so it is redone.
        println!("all {total} steps were done; writing final/ and training.svg again");
    }
    let bar = progress::bar(total, "ppo steps");
    bar.set_position(trainer.step_index() as u64);
    while trainer.step_index() < total {
        let out = trainer.step()?;
        log.append(&out.metrics)?;
        report(&bar, &out, &config, &run_dir)?;
        let step = trainer.step_index();
        let save_freq = config.output.save_freq;
        if (save_freq > 0 && step.is_multiple_of(save_freq)) || step == total {
            let dir = trainer.save_checkpoint()?;
            tracing::info!(checkpoint = %dir.display(), "saved");
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    trainer.export(&run_dir.join("final"))?;
    let history = read_lines(log.path())?;
    metrics_svg(
        &run_dir.join("training.svg"),
        &history,
        &["env/reward_mean", "objective/kl", "objective/kl_coef"],
    )?;
    println!(
        "trained {total} steps; metrics {}, final model {}, plot {}",
        log.path().display(),
        run_dir.join("final").display(),
        run_dir.join("training.svg").display()
    );
    Ok(())
}

/// Refuses a resume whose settings differ from the run's saved `config.toml`, except the keys
/// of [`RESUME_MAY_CHANGE`], naming every differing key with both values.
fn same_settings(config: &config::Config, run_dir: &std::path::Path) -> anyhow::Result<()> {
    let saved = config::Config::read_resolved(run_dir).with_context(|| {
        format!(
            "cannot read the settings `{}` was started with",
            run_dir.display()
        )
    })?;
    let changed: Vec<String> = saved
        .changes(config)
        .into_iter()
        .filter(|c| !RESUME_MAY_CHANGE.contains(&c.key.as_str()))
        .map(|c| format!("  - {c}"))
        .collect();
    if !changed.is_empty() {
        bail!(
            "cannot resume `{}` with other settings than it was started with:\n{}\nresume with \
             the run's own settings (--config {}/config.toml; only {} may change), or start a new \
             run with another exp_name",
            run_dir.display(),
            changed.join("\n"),
            run_dir.display(),
            RESUME_MAY_CHANGE.join(", ")
        );
    }
    Ok(())
}

/// Progress message, and the sample table every `output.sample_freq` steps.
fn report(
    bar: &indicatif::ProgressBar,
    out: &StepOutput,
    config: &config::Config,
    run_dir: &std::path::Path,
) -> anyhow::Result<()> {
    let get = |k: &str| {
        out.metrics
            .get(k)
            .and_then(|v| v.as_f64())
            .unwrap_or(f64::NAN)
    };
    let step = get("step") as usize;
    bar.set_message(format!(
        "reward {:+.3} kl {:.3} β {:.3}",
        get("env/reward_mean"),
        get("objective/kl"),
        get("objective/kl_coef")
    ));
    tracing::info!(
        step,
        reward = get("env/reward_mean"),
        kl = get("objective/kl"),
        loss = get("ppo/loss/total"),
        secs = get("time/ppo/total"),
        "step done"
    );
    let freq = config.output.sample_freq;
    if freq > 0 && step.is_multiple_of(freq) {
        bar.suspend(|| {
            eprint!(
                "{}",
                sample_table(step, &out.samples[..out.samples.len().min(8)])
            )
        });
        let path = run_dir.join("samples.jsonl");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        for (query, response, reward) in &out.samples {
            let line = serde_json::json!({"step": step, "query": query, "response": response, "reward": reward});
            writeln!(file, "{line}")?;
        }
    }
    Ok(())
}
