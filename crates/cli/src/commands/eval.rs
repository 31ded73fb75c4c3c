//! `rlhf eval`: a trained policy next to its baseline on held-out prompts.

use anyhow::bail;
use burn::module::Module;
use dataset::PromptLoader;
use models::hf_config::check_tokenizer;
use ppo::checkpoint::write_json;
use ppo::eval::{EvalReport, EvalSetup, evaluate};
use ppo::plot::histogram_svg;
use ppo::rollout::decoding;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::json;

use super::load::{load_policy, load_prompts, load_scorer};
use crate::args::{ConfigArgs, EvalArgs};
use crate::frozen::Frozen;
use crate::{device, progress};

/// Evaluates `--policy` and the baseline on the same prompts with the same seed.
pub fn run(layers: &ConfigArgs, args: &EvalArgs) -> anyhow::Result<()> {
    let mut extra = Vec::new();
    match &args.data {
        Some(path) => extra.push(format!(
            "data.path={}",
            serde_json::Value::from(path.to_string_lossy().as_ref())
        )),
        None => extra.push("data.split=\"test\"".into()),
    }
    let config = layers.load(extra)?;
    let device = device::select(config.device)?;
    if args.num_prompts == 0 {
        bail!("--num-prompts must be at least 1");
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| config.run_dir().join("eval"));
    let _lock = super::lock(&out)?;
    let prompt_set = load_prompts(&config)?;
    let n = args.num_prompts.min(prompt_set.prompts.len());
    let mut loader = PromptLoader::new(prompt_set.prompts.len(), n, config.seed ^ 0xE7A1)?;
    let prompts: Vec<(Vec<u32>, String)> = loader
        .next_batch()
        .into_iter()
        .map(|i| {
            (
                prompt_set.prompts[i].input_ids.clone(),
                prompt_set.prompts[i].query.clone(),
            )
        })
        .collect();

    let spinner = progress::spinner("loading models");
    let trained = load_policy(&config, None, Some(&args.policy), &device)?;
    let baseline = load_policy(&config, args.baseline.as_deref(), None, &device)?;
    // The baseline reads the policy's samples: it must embed every id of the policy's tokenizer
    // and have positions for the longest prompt + response evaluation can make.
    check_tokenizer(
        &trained.tokenizer,
        baseline.config.vocab_size,
        &baseline.files.config,
    )?;
    let longest = config.data.input_max_text_length + config.generation.output_max_length;
    for (model, positions) in [
        (&baseline, baseline.config.n_positions),
        (&trained, trained.config.n_positions),
    ] {
        if positions < longest {
            bail!(
                "`{}` has {positions} positions, fewer than the {longest} tokens of the longest \
                 prompt + response (data.input_max_text_length + generation.output_max_length); \
                 lower those, or evaluate with a model of more positions",
                model.files.config.display()
            );
        }
    }
    let scorer = load_scorer(&config, &Frozen::full_precision(&device))?;
    spinner.finish_and_clear();
    let g = &config.generation;
    let eos = trained.config.eos_token_id;
    let setup = EvalSetup {
        reference: &baseline.policy,
        n_positions: trained.config.n_positions,
        tokenizer: &trained.tokenizer,
        scorer: &scorer,
        generation: decoding(g, eos, g.output_max_length.saturating_sub(1).max(1)),
        device: &device,
    };
    let spinner = progress::spinner("evaluating the baseline");
    let before = evaluate(
        &baseline.policy.valid(),
        &prompts,
        &setup,
        &mut StdRng::seed_from_u64(config.seed),
    )?;
    spinner.set_message("evaluating the policy");
    let after = evaluate(
        &trained.policy.valid(),
        &prompts,
        &setup,
        &mut StdRng::seed_from_u64(config.seed),
    )?;
    spinner.finish_and_clear();

    print_table(&before, &after);
    let win_rate = win_rate(&before.rewards, &after.rewards);
    println!(
        "the policy's response scores higher than the baseline's on {:.1} % of the prompts",
        win_rate * 100.0
    );
    let report = json!({
        "win_rate": win_rate,
        "policy": args.policy,
        "baseline": args.baseline.clone().unwrap_or(config.policy.model.clone()),
        "prompts": prompts.len(),
        "seed": config.seed,
        "before": before,
        "after": after,
    });
    write_json(&out.join("report.json"), &report)?;
    let series = [
        ("baseline", &before.rewards[..]),
        ("policy", &after.rewards[..]),
    ];
    histogram_svg(&out.join("rewards.svg"), &series, "reward")?;
    println!(
        "wrote {} and {}",
        out.join("report.json").display(),
        out.join("rewards.svg").display()
    );
    Ok(())
}

fn print_table(before: &EvalReport, after: &EvalReport) {
    println!(
        "{:<28} {:>10} {:>10} {:>10}",
        "metric", "baseline", "policy", "change"
    );
    let rows = [
        ("reward mean", before.reward_mean, after.reward_mean),
        ("reward median", before.reward_median, after.reward_median),
        (
            "fraction positive",
            before.fraction_positive,
            after.fraction_positive,
        ),
        (
            "KL to baseline (nats/seq)",
            before.kl_to_reference,
            after.kl_to_reference,
        ),
        (
            "perplexity under baseline",
            before.perplexity_under_reference,
            after.perplexity_under_reference,
        ),
        ("distinct-1", before.distinct_1, after.distinct_1),
        ("distinct-2", before.distinct_2, after.distinct_2),
        (
            "response length",
            before.response_len_mean,
            after.response_len_mean,
        ),
    ];
    for (name, a, b) in rows {
        println!("{name:<28} {a:>10.3} {b:>10.3} {:>+10.3}", b - a);
    }
    println!("\nsamples (same prompt, baseline | policy):");
    for (x, y) in before.examples.iter().zip(&after.examples).take(6) {
        println!(
            "  {:?}\n    {:+.2} {:?}\n    {:+.2} {:?}",
            x.query, x.reward, x.response, y.reward, y.response
        );
    }
}

/// Share of prompts whose policy response out-scores the baseline's (both sampled from the same
/// prompts in the same order); ties count as losses.
fn win_rate(before: &[f64], after: &[f64]) -> f64 {
    let wins = before.iter().zip(after).filter(|(b, a)| a > b).count();
    wins as f64 / before.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    #[test]
    fn win_rate_counts_strict_wins_per_prompt() {
        assert_eq!(
            super::win_rate(&[1.0, 2.0, 3.0, 0.0], &[2.0, 2.0, 1.0, 0.5]),
            0.5
        );
        assert_eq!(super::win_rate(&[], &[]), 0.0);
    }
}
