//! A toy task that shows PPO learning in seconds: a tiny random GPT-2 (64-token vocabulary) is
//! rewarded for how often it emits one chosen token. Used by the learning test and by
//! `cargo run --release -p ppo --example learning_curve` (the curve in docs/benchmarks.md).

use std::path::PathBuf;

use burn::module::Module;
use burn::tensor::Device;
use config::Config;
use dataset::{Prompt, Tokenizer};
use models::{Gpt2Config, Gpt2WithValueHead, ValueHeadInit};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::TrainError;
use crate::scorer::Scorer;
use crate::trainer::TrainerParts;

/// Vocabulary of the toy policy.
pub const TOY_VOCAB: usize = 64;

/// Reward = number of times `token` occurs in the response.
#[derive(Debug, Clone, Copy)]
pub struct TokenCount {
    /// The rewarded token id.
    pub token: u32,
}

impl Scorer for TokenCount {
    fn score(&mut self, texts: &[String], responses: &[Vec<u32>]) -> Result<Vec<f64>, TrainError> {
        debug_assert_eq!(texts.len(), responses.len());
        Ok(responses
            .iter()
            .map(|r| r.iter().filter(|&&t| t == self.token).count() as f64)
            .collect())
    }
}

/// The toy run's configuration: batch 16 (two minibatches of 8), 4 epochs, 8-token responses,
/// lr 1e-3, adaptive KL from β = 0.05, EOS never produced (token 63 is EOS; it is not rewarded).
pub fn toy_config(steps: usize) -> Config {
    let mut config = Config {
        seed: 1,
        ..Config::default()
    };
    config.ppo.batch_size = 16;
    config.ppo.mini_batch_size = 8;
    config.ppo.steps = steps * 16;
    config.ppo.learning_rate = 1e-3;
    config.ppo.init_kl_coef = 0.05;
    config.generation.output_min_length = 8;
    config.generation.output_max_length = 9;
    config
}

/// Trainer parts for the toy task on `device` (an autodiff device), writing into `run_dir`.
pub fn toy_parts(
    config: Config,
    tokenizer: Tokenizer,
    device: &Device,
    run_dir: PathBuf,
    token: u32,
) -> TrainerParts {
    let mut gpt2 = Gpt2Config::tiny(TOY_VOCAB);
    gpt2.eos_token_id = TOY_VOCAB as u32 - 1;
    device.seed(config.seed);
    let policy =
        Gpt2WithValueHead::init(&gpt2, ValueHeadInit::Zero, device).with_stable_param_ids();
    let reference = policy.valid();
    let mut rng = StdRng::seed_from_u64(config.seed);
    let prompts = (0..256)
        .map(|i| {
            let len = rng.random_range(2..6);
            let input_ids: Vec<u32> = (0..len)
                .map(|_| rng.random_range(0..TOY_VOCAB as u32 - 1))
                .collect();
            Prompt {
                review: i,
                label: 0,
                query: String::new(),
                input_ids,
            }
        })
        .collect();
    TrainerParts {
        config,
        device: device.clone(),
        policy,
        reference,
        gpt2,
        tokenizer_files: vec![tokenizer.source().to_path_buf()],
        tokenizer,
        scorer: Box::new(TokenCount { token }),
        prompts,
        run_dir,
        collective: std::rc::Rc::new(crate::SingleProcess),
    }
}
