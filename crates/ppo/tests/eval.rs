//! Evaluation scores what training scores: the same rollout and the same classifier settings,
//! so reward inputs are cut at `reward.max_length` in both.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

use std::path::PathBuf;

use burn::tensor::Device;
use config::{GenerationConfig, RewardConfig};
use dataset::{HubOptions, Tokenizer};
use models::{Gpt2WithValueHead, ModelFiles, RewardModel, ValueHeadInit};
use ppo::ClassifierScorer;
use ppo::eval::{EvalReport, EvalSetup, evaluate};
use ppo::rollout::decoding;
use rand::SeedableRng;
use rand::rngs::StdRng;

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/models")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// Evaluates the tiny GPT-2 against itself, scored by the tiny RoBERTa cut at `max_length`.
fn report(max_length: usize) -> EvalReport {
    let device = Device::flex();
    let hub = HubOptions::from_env();
    let files = ModelFiles::resolve(&fixture("tiny-gpt2"), "main", &hub).unwrap();
    let (policy, gpt2) = Gpt2WithValueHead::load(&files, ValueHeadInit::Zero, &device).unwrap();
    let tokenizer = Tokenizer::from_file(files.tokenizer.as_ref().unwrap()).unwrap();
    let prompts: Vec<(Vec<u32>, String)> = ["The movie was", "I did not like", "A truly", "Worst"]
        .iter()
        .map(|t| (tokenizer.encode(t, false).unwrap(), t.to_string()))
        .collect();
    let reward = RewardConfig {
        model: fixture("tiny-roberta"),
        batch_size: 4,
        max_length,
        ..RewardConfig::default()
    };
    let model = RewardModel::load(&reward.model, "main", &hub, &device).unwrap();
    let scorer = ClassifierScorer::new(model, &reward).unwrap();
    let setup = EvalSetup {
        reference: &policy,
        n_positions: gpt2.n_positions,
        tokenizer: &tokenizer,
        scorer: &scorer,
        generation: decoding(&GenerationConfig::default(), gpt2.eos_token_id, 8),
        device: &device,
    };
    evaluate(&policy, &prompts, &setup, &mut StdRng::seed_from_u64(0)).unwrap()
}

#[test]
fn eval_cuts_reward_inputs_at_reward_max_length() {
    let full = report(512);
    assert!(
        full.rewards.windows(2).any(|w| w[0] != w[1]),
        "different texts should score differently: {:?}",
        full.rewards
    );
    // Cut to `<s> </s>`, every text reads the same to the classifier.
    let cut = report(2);
    assert!(
        cut.rewards.windows(2).all(|w| w[0] == w[1]),
        "reward.max_length was not applied: {:?}",
        cut.rewards
    );
    // The policy is its own reference: zero KL either way.
    assert_eq!(full.kl_to_reference, 0.0);
}
