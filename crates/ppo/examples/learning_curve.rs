//! The toy learning curve for docs/benchmarks.md: reward and KL per step on the token-count
//! task. `cargo run --release -p ppo --example learning_curve -- [STEPS]` writes
//! `target/learning/{metrics.jsonl, learning.svg}` and prints the curve.

use std::path::PathBuf;

use burn::tensor::Device;
use dataset::Tokenizer;
use ppo::Trainer;
use ppo::plot::metrics_svg;
use ppo::toy::{toy_config, toy_parts};
use ppo::trainer::{MetricsLog, read_lines};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let steps: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(40);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let tokenizer =
        Tokenizer::from_file(&root.join("tests/fixtures/tokenizers/gpt2/tokenizer.json"))?;
    let out = root.join("target/learning");
    let device = Device::flex().autodiff();
    let mut trainer = Trainer::new(toy_parts(
        toy_config(steps),
        tokenizer,
        &device,
        out.clone(),
        7,
    ))?;
    let log = MetricsLog::open(&out, None)?;
    println!(
        "{:>5} {:>12} {:>12} {:>10}",
        "step", "reward_mean", "objective/kl", "kl_coef"
    );
    for _ in 0..steps {
        let m = trainer.step()?.metrics;
        log.append(&m)?;
        let f = |k: &str| m[k].as_f64().unwrap_or(f64::NAN);
        println!(
            "{:>5} {:>12.3} {:>12.3} {:>10.4}",
            f("step"),
            f("env/reward_mean"),
            f("objective/kl"),
            f("objective/kl_coef")
        );
    }
    metrics_svg(
        &out.join("learning.svg"),
        &read_lines(log.path())?,
        &["env/reward_mean", "objective/kl"],
    )?;
    println!("wrote {}", out.join("learning.svg").display());
    Ok(())
}
