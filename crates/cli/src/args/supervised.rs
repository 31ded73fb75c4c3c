//! Flags of the supervised trainers (`sft`, `train-reward`). Every flag is an override of a key
//! of the `[sft]` or `[reward_model]` config section (docs/config.md), applied after `--set`,
//! so a config file can hold the whole run and flags change single keys.

use std::path::PathBuf;

use clap::Args;

/// `KEY=VALUE` overrides for the flags that were given.
#[derive(Debug, Default)]
struct Overrides(Vec<String>);

impl Overrides {
    /// A number or other TOML literal.
    fn value<T: std::fmt::Display>(&mut self, key: &str, value: Option<T>) -> &mut Self {
        if let Some(value) = value {
            self.0.push(format!("{key}={value}"));
        }
        self
    }

    /// A string or path, quoted as a TOML string.
    fn text(&mut self, key: &str, value: Option<&str>) -> &mut Self {
        if let Some(value) = value {
            self.0
                .push(format!("{key}={}", serde_json::Value::from(value)));
        }
        self
    }

    fn path(&mut self, key: &str, value: Option<&PathBuf>) -> &mut Self {
        let text = value.map(|p| p.to_string_lossy());
        self.text(key, text.as_deref())
    }
}

/// Data, loop and output flags shared by `sft` and `train-reward` (section `training` table).
#[derive(Debug, Args)]
pub struct TrainingArgs {
    /// Training reviews, parquet in the stanfordnlp/imdb schema [data.path; default: the
    /// configured data set at data.split].
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// Held-out reviews [training.test_path; default: split `test` of the configured data set].
    #[arg(long, value_name = "FILE")]
    pub test_data: Option<PathBuf>,
    /// At most this many training reviews, a seeded random subset; 0 = all
    /// [training.train_samples].
    #[arg(long)]
    pub train_samples: Option<usize>,
    /// At most this many held-out reviews [training.test_samples].
    #[arg(long)]
    pub test_samples: Option<usize>,
    /// Passes over the training examples [training.epochs].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Examples per optimizer step [training.batch_size].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Peak learning rate, after a linear warm-up; then linear decay [training.learning_rate].
    #[arg(long)]
    pub lr: Option<f64>,
    /// Output directory: HF-layout model, metrics.jsonl, config.toml, checkpoints/
    /// [training.output_dir].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Steps between checkpoints besides the one after every epoch; 0 = after epochs only
    /// [training.save_every].
    #[arg(long)]
    pub save_every: Option<usize>,
    /// Continue the run in the output directory from its newest checkpoint (same settings).
    #[arg(long)]
    pub resume: bool,
}

impl TrainingArgs {
    /// The overrides of the flags given, for the `training` table of `section`.
    fn overrides(&self, section: &str, out: &mut Overrides) {
        let key = |name: &str| format!("{section}.training.{name}");
        out.path("data.path", self.data.as_ref())
            .path(&key("test_path"), self.test_data.as_ref())
            .value(&key("train_samples"), self.train_samples)
            .value(&key("test_samples"), self.test_samples)
            .value(&key("epochs"), self.epochs)
            .value(&key("batch_size"), self.batch_size)
            .value(&key("learning_rate"), self.lr)
            .path(&key("output_dir"), self.out.as_ref())
            .value(&key("save_every"), self.save_every);
    }
}

/// `rlhf sft` (config section `[sft]`).
#[derive(Debug, Args)]
pub struct SftArgs {
    /// Data, loop and output.
    #[command(flatten)]
    pub training: TrainingArgs,
    /// Start from this GPT-2, a directory or hub id [sft.base_model; default: a fresh model].
    #[arg(long)]
    pub base_model: Option<String>,
    /// Hidden size of a fresh model [sft.n_embd].
    #[arg(long)]
    pub n_embd: Option<usize>,
    /// Blocks of a fresh model [sft.n_layer].
    #[arg(long)]
    pub n_layer: Option<usize>,
    /// Heads of a fresh model [sft.n_head].
    #[arg(long)]
    pub n_head: Option<usize>,
    /// Tokens per training block [sft.block_size].
    #[arg(long)]
    pub block_size: Option<usize>,
}

impl SftArgs {
    /// The flags given, as overrides of the configuration.
    pub fn overrides(&self) -> Vec<String> {
        let mut out = Overrides::default();
        self.training.overrides("sft", &mut out);
        out.text("sft.base_model", self.base_model.as_deref())
            .value("sft.n_embd", self.n_embd)
            .value("sft.n_layer", self.n_layer)
            .value("sft.n_head", self.n_head)
            .value("sft.block_size", self.block_size);
        out.0
    }
}

/// `rlhf train-reward` (config section `[reward_model]`).
#[derive(Debug, Args)]
pub struct TrainRewardArgs {
    /// Data, loop and output.
    #[command(flatten)]
    pub training: TrainingArgs,
    /// Fine-tune this classifier, a directory or hub id [reward_model.base_model; default: a
    /// fresh model].
    #[arg(long)]
    pub base_model: Option<String>,
    /// RoBERTa tokenizer.json [reward_model.tokenizer; default: the base model's].
    #[arg(long, value_name = "FILE")]
    pub tokenizer: Option<PathBuf>,
    /// Hidden size of a fresh model [reward_model.hidden_size].
    #[arg(long)]
    pub hidden_size: Option<usize>,
    /// Encoder layers of a fresh model [reward_model.num_hidden_layers].
    #[arg(long)]
    pub layers: Option<usize>,
    /// Attention heads of a fresh model [reward_model.num_attention_heads].
    #[arg(long)]
    pub heads: Option<usize>,
    /// Tokens per review; longer reviews are cut, keeping `</s>` [reward_model.max_length].
    #[arg(long)]
    pub max_length: Option<usize>,
    /// `classification` (labels) or `pairwise` (comparisons from star ratings)
    /// [reward_model.objective].
    #[arg(long, value_parser = ["classification", "pairwise"])]
    pub objective: Option<String>,
    /// Star ratings of the training reviews [reward_model.pairwise.ratings_path; default: the
    /// `-ratings.parquet` file beside them].
    #[arg(long, value_name = "FILE")]
    pub ratings: Option<PathBuf>,
    /// Star ratings of the held-out reviews [reward_model.pairwise.test_ratings_path].
    #[arg(long, value_name = "FILE")]
    pub test_ratings: Option<PathBuf>,
    /// `same_movie` or `cross_movie` pairs [reward_model.pairwise.pairs].
    #[arg(long, value_parser = ["same_movie", "cross_movie"])]
    pub pairs: Option<String>,
    /// Smallest rating gap of a pair [reward_model.pairwise.min_gap].
    #[arg(long)]
    pub min_gap: Option<u8>,
    /// At most this many training pairs, a seeded sample; 0 = all [reward_model.pairwise.max_pairs].
    #[arg(long)]
    pub max_pairs: Option<usize>,
    /// Margin per star of rating gap in the Bradley–Terry loss [reward_model.pairwise.margin].
    #[arg(long)]
    pub margin: Option<f64>,
    /// TRL's center_rewards_coefficient [reward_model.pairwise.center_rewards_coefficient].
    #[arg(long)]
    pub center_rewards_coefficient: Option<f64>,
}

impl TrainRewardArgs {
    /// The flags given, as overrides of the configuration.
    pub fn overrides(&self) -> Vec<String> {
        let mut out = Overrides::default();
        self.training.overrides("reward_model", &mut out);
        out.text("reward_model.base_model", self.base_model.as_deref())
            .path("reward_model.tokenizer", self.tokenizer.as_ref())
            .value("reward_model.hidden_size", self.hidden_size)
            .value("reward_model.num_hidden_layers", self.layers)
            .value("reward_model.num_attention_heads", self.heads)
            .value("reward_model.max_length", self.max_length)
            .text("reward_model.objective", self.objective.as_deref())
            .path("reward_model.pairwise.ratings_path", self.ratings.as_ref())
            .path(
                "reward_model.pairwise.test_ratings_path",
                self.test_ratings.as_ref(),
            )
            .text("reward_model.pairwise.pairs", self.pairs.as_deref())
            .value("reward_model.pairwise.min_gap", self.min_gap)
            .value("reward_model.pairwise.max_pairs", self.max_pairs)
            .value("reward_model.pairwise.margin", self.margin)
            .value(
                "reward_model.pairwise.center_rewards_coefficient",
                self.center_rewards_coefficient,
            );
        out.0
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::SftArgs;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        sft: SftArgs,
    }

    #[test]
    fn only_given_flags_become_quoted_overrides() {
        let args = Wrapper::parse_from(["x", "--n-embd", "32", "--out", "a \"b\"", "--lr", "2e-3"]);
        assert_eq!(
            args.sft.overrides(),
            [
                "sft.training.learning_rate=0.002",
                "sft.training.output_dir=\"a \\\"b\\\"\"",
                "sft.n_embd=32",
            ]
        );
    }
}
