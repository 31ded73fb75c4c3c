//! The demo's closing summary: stage times, the reward model's accuracy, and the before/after
//! table of the evaluation, checked against the pipeline's targets. Also written to
//! `target/demo/summary.json`.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use serde_json::{Value, json};

use crate::demo::{EVAL_PROMPTS, PPO_STEPS, PROFILE, RewardKind};

/// Wall time of one stage.
#[derive(Debug, Clone)]
pub struct StageTime {
    /// Short stage name.
    pub stage: String,
    /// Seconds.
    pub secs: f64,
}

/// Reward-model accuracy the demo must reach (the classifier's; the pairwise model's on pairs
/// with a rating gap of 3 or more).
const MIN_ACCURACY: f64 = 0.80;
/// Pairwise accuracy on pairs with a rating gap of 1–2 must beat chance.
const MIN_NEAR_ACCURACY: f64 = 0.50;
/// Mean-reward gain PPO must add over the SFT policy: logits for the classifier, standard
/// deviations of the SFT policy's rewards for the pairwise model (its scale is arbitrary).
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

/// Standard deviation of a JSON array of numbers.
fn std_dev(v: &Value) -> f64 {
    let xs: Vec<f64> = v
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    let n = xs.len().max(1) as f64;
    let mean = xs.iter().sum::<f64>() / n;
    (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt()
}

/// The summary text; writes `summary.json` next to the stage outputs in `out`.
pub fn summary(
    out: &Path,
    reward: RewardKind,
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
    let pairwise = reward == RewardKind::Pairwise;
    let accuracy = num(
        &rm,
        if pairwise {
            "accuracy_gap_3_plus"
        } else {
            "test_accuracy"
        },
    );
    let near_accuracy = num(&rm, "accuracy_gap_1_2");
    let raw_gain = num(after, "reward_mean") - num(before, "reward_mean");
    let sft_std = std_dev(&before["rewards"]);
    let gain = if pairwise {
        raw_gain / sft_std
    } else {
        raw_gain
    };
    let win_rate = num(&report, "win_rate");
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
    if pairwise {
        writeln!(
            s,
            "\nSFT held-out perplexity {:.1}; reward model pairwise accuracy {:.1} % (gap 1-2: \
             {:.1} %, gap >= 3: {:.1} %; {} epochs)",
            num(&sft, "eval_perplexity"),
            num(&rm, "test_accuracy") * 100.0,
            near_accuracy * 100.0,
            accuracy * 100.0,
            rm["epoch"]
        )?;
    } else {
        writeln!(
            s,
            "\nSFT held-out perplexity {:.1}; reward model test accuracy {:.1} % ({} epochs)",
            num(&sft, "eval_perplexity"),
            accuracy * 100.0,
            rm["epoch"]
        )?;
    }
    writeln!(
        s,
        "\n{EVAL_PROMPTS} held-out prompts, PPO {PPO_STEPS} steps x 32:\n{:<28} {:>10} {:>10} {:>9}",
        "metric", "SFT", "PPO", "change"
    )?;
    let rows = [
        ("reward mean", "reward_mean"),
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
    writeln!(
        s,
        "PPO's response out-scores the SFT response on {:.1} % of the prompts",
        win_rate * 100.0
    )?;
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    let mut checks = vec![(
        format!(
            "reward model accuracy{} >= {:.0} %",
            if pairwise { " (gap >= 3)" } else { "" },
            MIN_ACCURACY * 100.0
        ),
        format!("{:.1} %", accuracy * 100.0),
        accuracy >= MIN_ACCURACY,
    )];
    if pairwise {
        checks.push((
            format!("accuracy on gaps 1-2 > {:.0} %", MIN_NEAR_ACCURACY * 100.0),
            format!("{:.1} %", near_accuracy * 100.0),
            near_accuracy > MIN_NEAR_ACCURACY,
        ));
    }
    checks.extend([
        (
            format!(
                "mean reward gain >= {MIN_GAIN:.1} {}",
                if pairwise {
                    "std of SFT's rewards"
                } else {
                    "logit"
                }
            ),
            format!("{gain:+.3}"),
            gain >= MIN_GAIN,
        ),
        (
            format!("perplexity under SFT <= {MAX_PPL_RATIO:.0}x the SFT policy's"),
            format!("{ppl_ratio:.2}x"),
            ppl_ratio <= MAX_PPL_RATIO,
        ),
    ]);
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
        "reward": if pairwise { "pairwise" } else { "classifier" },
        "reward_model_accuracy": accuracy,
        "reward_model_accuracy_gap_1_2": if pairwise { near_accuracy } else { f64::NAN },
        "reward_gain": gain,
        "reward_gain_raw": raw_gain,
        "sft_reward_std": sft_std,
        "win_rate": win_rate,
        "perplexity_ratio": ppl_ratio,
        "before": {"reward_mean": num(before, "reward_mean"), "fraction_positive": num(before, "fraction_positive")},
        "after": {"reward_mean": num(after, "reward_mean"), "fraction_positive": num(after, "fraction_positive")},
        "targets_met": checks.iter().all(|c| c.2),
    });
    std::fs::write(out.join("summary.json"), serde_json::to_vec_pretty(&json)?)
        .with_context(|| format!("cannot write {}", out.join("summary.json").display()))?;
    Ok(s)
}
