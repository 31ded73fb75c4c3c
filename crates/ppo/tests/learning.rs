//! PPO learns: on the toy task (reward = count of one token), the mean reward rises clearly
//! within a bounded number of steps while the KL stays finite.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

use std::path::PathBuf;

use burn::tensor::Device;
use dataset::Tokenizer;
use ppo::Trainer;
use ppo::toy::{toy_config, toy_parts};

#[test]
fn reward_rises_on_the_token_count_task() {
    let steps = 25;
    let tokenizer = Tokenizer::from_file(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/tokenizers/gpt2/tokenizer.json"),
    )
    .unwrap();
    let run = tempfile::tempdir().unwrap();
    let device = Device::flex().autodiff();
    let parts = toy_parts(
        toy_config(steps),
        tokenizer,
        &device,
        run.path().to_path_buf(),
        7,
    );
    let mut trainer = Trainer::new(parts).unwrap();
    let mut rewards = Vec::new();
    for _ in 0..steps {
        let out = trainer.step().unwrap();
        let kl = out.metrics["objective/kl"].as_f64().unwrap();
        assert!(kl.is_finite(), "KL {kl}");
        rewards.push(out.metrics["env/reward_mean"].as_f64().unwrap());
    }
    let first: f64 = rewards[..5].iter().sum::<f64>() / 5.0;
    let last: f64 = rewards[steps - 5..].iter().sum::<f64>() / 5.0;
    eprintln!("reward per step: {rewards:.2?}");
    assert!(
        last > first + 1.0 && last > 3.0 * first,
        "first {first:.3}, last {last:.3}"
    );
}
