//! The supervised trainers around PPO: `[sft]` (`rlhf sft`, causal-LM training of the policy)
//! and `[reward_model]` (`rlhf train-reward`, the sentiment classifier), each with its model
//! keys and a `training` table for the loop they share (AdamW with warm-up and linear decay,
//! evaluation after every epoch, checkpoints). Their training reviews are `data.path` (or
//! `data.dataset` at `data.split`); held-out reviews are `training.test_path` (or split `test`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The loop, data subset and output of a supervised trainer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainingConfig {
    /// Output directory: the model in Hugging Face layout, `metrics.jsonl`, `config.toml`,
    /// `checkpoints/` and `latest`.
    pub output_dir: PathBuf,
    /// Passes over the training examples.
    pub epochs: usize,
    /// Examples per optimizer step.
    pub batch_size: usize,
    /// Peak learning rate.
    pub learning_rate: f64,
    /// Fraction of all steps spent warming up linearly from 0; then linear decay to 0.
    pub warmup_frac: f64,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// Steps between checkpoints, besides the one after every epoch (0 = after epochs only).
    pub save_every: usize,
    /// At most this many training reviews, a seeded random subset (0 = all).
    pub train_samples: usize,
    /// At most this many held-out reviews, a seeded random subset (0 = all).
    pub test_samples: usize,
    /// Held-out reviews (parquet, `stanfordnlp/imdb` schema); unset: split `test` of the
    /// configured data set.
    pub test_path: Option<PathBuf>,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        TrainingConfig {
            output_dir: "saved_models/sft".into(),
            epochs: 1,
            batch_size: 16,
            learning_rate: 1e-3,
            warmup_frac: 0.05,
            weight_decay: 0.01,
            save_every: 100,
            train_samples: 0,
            test_samples: 200,
            test_path: None,
        }
    }
}

/// `rlhf sft`: a GPT-2 trained on packed review text (next-token loss).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SftConfig {
    /// Start from this GPT-2 (directory or hub id); unset: a fresh model of the size below.
    pub base_model: Option<String>,
    /// Hidden size of a fresh model (GPT-2 `n_embd`).
    pub n_embd: usize,
    /// Blocks of a fresh model (GPT-2 `n_layer`).
    pub n_layer: usize,
    /// Attention heads of a fresh model (GPT-2 `n_head`).
    pub n_head: usize,
    /// Tokens per training block (documents are joined with EOS and packed).
    pub block_size: usize,
    /// Loop, data subset and output.
    pub training: TrainingConfig,
}

impl Default for SftConfig {
    fn default() -> Self {
        SftConfig {
            base_model: None,
            n_embd: 128,
            n_layer: 2,
            n_head: 4,
            block_size: 128,
            training: TrainingConfig::default(),
        }
    }
}

/// What `rlhf train-reward` fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RewardObjective {
    /// A NEGATIVE/POSITIVE classifier on the reviews' labels (cross-entropy).
    Classification,
    /// A scalar reward from human comparisons (Bradley–Terry, TRL's `RewardTrainer`): pairs of
    /// reviews ranked by their reviewers' star ratings.
    Pairwise,
}

/// Which two reviews make a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PairScope {
    /// Two reviews of the same movie with different ratings (every such pair).
    SameMovie,
    /// Two reviews of different movies, drawn at random.
    CrossMovie,
}

/// `[reward_model.pairwise]`: preference pairs and the Bradley–Terry loss options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PairwiseConfig {
    /// Star ratings of the training reviews (`row`, `rating`, `movie`, row-aligned); unset:
    /// `<data file>-ratings.parquet` beside the training reviews.
    pub ratings_path: Option<PathBuf>,
    /// Star ratings of the held-out reviews; unset: beside `training.test_path`.
    pub test_ratings_path: Option<PathBuf>,
    /// Same-movie pairs, or random pairs across movies.
    pub pairs: PairScope,
    /// Smallest rating difference that makes a training pair (1–9); held-out pairs keep every
    /// gap.
    pub min_gap: u8,
    /// At most this many training pairs, a seeded sample (0 = all same-movie pairs; one
    /// cross-movie pair per review).
    pub max_pairs: usize,
    /// At most this many held-out pairs (0 = as for training).
    pub test_max_pairs: usize,
    /// Margin per star of rating gap: the loss is −log σ(r_chosen − r_rejected − margin × gap)
    /// (TRL's `margin` column, made from the ratings; 0 = none).
    pub margin: f64,
    /// TRL's `center_rewards_coefficient`: adds coefficient × mean((r_chosen + r_rejected)²)
    /// so that rewards stay centred on 0 (0 = off).
    pub center_rewards_coefficient: f64,
}

impl Default for PairwiseConfig {
    fn default() -> Self {
        PairwiseConfig {
            ratings_path: None,
            test_ratings_path: None,
            pairs: PairScope::SameMovie,
            min_gap: 1,
            max_pairs: 0,
            test_max_pairs: 0,
            margin: 0.0,
            center_rewards_coefficient: 0.0,
        }
    }
}

/// `rlhf train-reward`: a RoBERTa sentiment classifier (labels NEGATIVE/POSITIVE), or a scalar
/// reward model from comparisons (`objective = "pairwise"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RewardModelConfig {
    /// Classification on labels, or pairwise on preference pairs.
    pub objective: RewardObjective,
    /// Fine-tune this classifier (directory or hub id); unset: a fresh model of the size below.
    pub base_model: Option<String>,
    /// RoBERTa `tokenizer.json`; unset: the base model's.
    pub tokenizer: Option<PathBuf>,
    /// Hidden size of a fresh model (RoBERTa `hidden_size`; feed-forward is 4×).
    pub hidden_size: usize,
    /// Encoder layers of a fresh model (`num_hidden_layers`).
    pub num_hidden_layers: usize,
    /// Attention heads of a fresh model (`num_attention_heads`).
    pub num_attention_heads: usize,
    /// Tokens per review, `<s>` and `</s>` included (longer reviews are cut, keeping `</s>`).
    pub max_length: usize,
    /// Preference pairs and loss options (`objective = "pairwise"`).
    pub pairwise: PairwiseConfig,
    /// Loop, data subset and output.
    pub training: TrainingConfig,
}

impl Default for RewardModelConfig {
    fn default() -> Self {
        RewardModelConfig {
            objective: RewardObjective::Classification,
            pairwise: PairwiseConfig::default(),
            base_model: None,
            tokenizer: None,
            hidden_size: 64,
            num_hidden_layers: 1,
            num_attention_heads: 4,
            max_length: 256,
            training: TrainingConfig {
                output_dir: "saved_models/reward-model".into(),
                epochs: 2,
                batch_size: 32,
                warmup_frac: 0.1,
                test_samples: 1000,
                ..TrainingConfig::default()
            },
        }
    }
}
