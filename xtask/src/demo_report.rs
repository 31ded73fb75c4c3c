//! The demo's closing summary: stage times, the reward model's accuracy, and the before/after
//! table of the evaluation, checked against the pipeline's targets. Also written to
//! `target/demo/summary.json`.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use serde_json::{Value, json};

use crate::demo::{EVAL_PROMPTS, PPO_STEPS, PROFILE};

/// Wall time of one stage.
#[derive(Debug, Clone)]
pub struct StageTime {
    /// Short stage name.
    pub stage: String,
    /// Seconds.
    pub secs: f64,
}

/// Reward-model accuracy the demo must reach.
const MIN_ACCURACY: f64 = 0.80;
/// Mean-reward gain (logits) PPO must add over the SFT policy.
const MIN_GAIN: f64 = 1.0;
/// Largest allowed perplexity ratio (PPO samples under the SFT model vs SFT samples). Only a rise
/// means drift into text the reference finds unlikely; PPO samples usually score lower.
const MAX_PPL_RATIO: f64 = 2.0;

fn last_line(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let line = text
        .lines()
        .last()
        .with_context(|| format!("{} is empty", path.display()))?;
    Ok(serde_json::from_str(line)?)
}

fn num(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or(f64::NAN)
}

/// The summary text; writes `summary.json` next to the stage outputs in `out`.
pub fn summary(
    out: &Path,
    build_secs: f64,
    times: &[StageTime],
    total: f64,
) -> anyhow::Result<String> {
    let sft = last_line(&out.join("sft/metrics.jsonl"))?;
    let rm = last_line(&out.join("reward-model/metrics.jsonl"))?;
    let report_path = out.join("eval/report.json");
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(&report_path)
            .with_context(|| format!("cannot read {}", report_path.display()))?,
    )?;
    let (before, after) = (&report["before"], &report["after"]);
    let accuracy = num(&rm, "test_accuracy");
    let gain = num(after, "reward_mean") - num(before, "reward_mean");
    let ppl_ratio =
        num(after, "perplexity_under_reference") / num(before, "perplexity_under_reference");

    let mut s = String::new();
    writeln!(s, "\n=== demo summary ===")?;
    writeln!(
        s,
        "{:<32} {build_secs:>6.0} s",
        format!("build (profile {PROFILE})")
    )?;
    for t in times {
        writeln!(s, "{:<32} {:>6.0} s", t.stage, t.secs)?;
    }
    writeln!(
        s,
        "total                            {total:>6.0} s ({:.1} min)",
        total / 60.0
    )?;
    writeln!(
        s,
        "\nSFT held-out perplexity {:.1}; reward model test accuracy {:.1} % ({} epochs)",
        num(&sft, "eval_perplexity"),
        accuracy * 100.0,
        rm["epoch"]
    )?;
    writeln!(
        s,
        "\n{EVAL_PROMPTS} held-out prompts, PPO {PPO_STEPS} steps x 32:\n{:<28} {:>10} {:>10} {:>9}",
        "metric", "SFT", "PPO", "change"
    )?;
    let rows = [
        ("reward mean (logit)", "reward_mean"),
        ("reward median", "reward_median"),
        ("fraction positive", "fraction_positive"),
        ("perplexity under SFT", "perplexity_under_reference"),
        ("KL to SFT (nats/seq)", "kl_to_reference"),
        ("distinct-2", "distinct_2"),
    ];
    for (name, key) in rows {
        let (b, a) = (num(before, key), num(after, key));
        writeln!(s, "{name:<28} {b:>10.3} {a:>10.3} {:>+9.3}", a - b)?;
    }
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    let checks = [
        (
            format!("reward model accuracy >= {:.0} %", MIN_ACCURACY * 100.0),
            format!("{:.1} %", accuracy * 100.0),
            accuracy >= MIN_ACCURACY,
        ),
        (
            format!("mean reward gain >= {MIN_GAIN:.1} logit"),
            format!("{gain:+.3}"),
            gain >= MIN_GAIN,
        ),
        (
            format!("perplexity under SFT <= {MAX_PPL_RATIO:.0}x the SFT policy's"),
            format!("{ppl_ratio:.2}x"),
            ppl_ratio <= MAX_PPL_RATIO,
        ),
    ];
    writeln!(s, "\ntargets:")?;
    for (what, value, ok) in &checks {
        writeln!(s, "  {what:<40} {value:>9}  {}", verdict(*ok))?;
    }
    writeln!(
        s,
        "\nplots: {0}/eval/rewards.svg (reward histogram), {0}/runs/demo/training.svg",
        out.display()
    )?;
    let json = json!({
        "build_secs": build_secs,
        "stages": times.iter().map(|t| json!({"stage": t.stage, "secs": t.secs})).collect::<Vec<_>>(),
        "total_secs": total,
        "sft_perplexity": num(&sft, "eval_perplexity"),
        "reward_model_accuracy": accuracy,
        "reward_gain": gain,
        "perplexity_ratio": ppl_ratio,
        "before": {"reward_mean": num(before, "reward_mean"), "fraction_positive": num(before, "fraction_positive")},
        "after": {"reward_mean": num(after, "reward_mean"), "fraction_positive": num(after, "fraction_positive")},
        "targets_met": checks.iter().all(|c| c.2),
    });
    std::fs::write(out.join("summary.json"), serde_json::to_vec_pretty(&json)?)
        .context("cannot write target/demo/summary.json")?;
    Ok(s)
}
