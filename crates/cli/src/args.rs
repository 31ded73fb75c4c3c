//! Command-line arguments.

mod supervised;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use config::{Config, ConfigSources};

pub use supervised::{SftArgs, TrainRewardArgs};

/// RLHF with PPO for GPT-2 in Rust on burn: a native alternative to Python TRL.
#[derive(Debug, Parser)]
#[command(name = "rlhf", version, propagate_version = true)]
#[command(
    after_help = "Configuration layers, lowest first: built-in defaults < config/default.toml \
< --config FILE < RLHF_SECTION__KEY environment variables < --set flags. Keys: docs/config.md."
)]
pub struct Cli {
    /// Configuration options shared by every subcommand.
    #[command(flatten)]
    pub layers: ConfigArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Where the run configuration comes from.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// TOML run configuration (e.g. config/gpt2-sentiment.toml).
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Override one key, e.g. `--set ppo.learning_rate=1e-5`; repeatable, later flags win.
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Compute device: flex, cuda[:N], tch-cpu, tch-cuda[:N], vulkan[:N], vulkan-cpu (= --set device=...).
    #[arg(long, global = true, value_name = "DEVICE")]
    pub device: Option<String>,
}

impl ConfigArgs {
    /// Loads the configuration with every layer, plus `extra` overrides applied last.
    pub fn load(&self, extra: Vec<String>) -> anyhow::Result<Config> {
        let mut overrides = self.set.clone();
        overrides.extend(self.device.iter().map(|d| format!("device={d}")));
        overrides.extend(extra);
        ConfigSources::standard(self.config.clone(), overrides)
            .load()
            .context("cannot load the run configuration")
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fine-tune the policy with PPO against the reward model (TRL 0.11.4 semantics).
    Train(TrainArgs),
    /// Generate continuations of a prompt with a policy model (interactive without --prompt).
    Generate(GenerateArgs),
    /// Score texts with a reward classifier; prints label logits and probabilities as JSON lines.
    Score(ScoreArgs),
    /// Print statistics of a review dataset and sample prompts built from it.
    Data(DataArgs),
    /// Fine-tune (or pre-train from a fresh config) the GPT-2 policy on review text: packed blocks,
    /// next-token loss, AdamW with warm-up and decay, held-out perplexity each epoch (config
    /// section [sft]; e.g. --config config/sft-imdb.toml).
    Sft(SftArgs),
    /// Train a RoBERTa sentiment classifier (the reward model) on labelled reviews; saved in
    /// Hugging Face layout with labels NEGATIVE/POSITIVE, usable as reward.model (config section
    /// [reward_model]; e.g. --config config/reward-imdb.toml).
    TrainReward(TrainRewardArgs),
    /// Evaluate a trained policy against its baseline on held-out prompts: reward, fraction
    /// positive, KL and perplexity under the baseline, distinct-n, samples, a JSON report and a
    /// reward histogram.
    Eval(EvalArgs),
    /// Write a policy checkpoint as a Hugging Face model directory (config.json,
    /// model.safetensors, tokenizer.json) that transformers' GPT2LMHeadModel loads.
    Export(ExportArgs),
    /// Print the resolved configuration (all layers applied) as TOML.
    Config,
    /// Check the backend of --device against transformers' outputs and flex on the tiny fixtures:
    /// logits, KV-cached generation, one PPO update (the conformance suite; exit 1 on a mismatch).
    CheckBackend(CheckBackendArgs),
    /// Measure generation tokens/s and full PPO steps by phase on --device (what `cargo xtask
    /// bench` runs next to transformers and TRL; one JSON object per measurement).
    Bench(BenchArgs),
    /// Compare the frozen models as `[frozen]` sets them (device, bf16) with f32 on --device:
    /// reward differences and reference log-prob / KL differences over test reviews, and the
    /// forward times (one JSON object).
    Precision(PrecisionArgs),
}

/// `rlhf precision`.
#[derive(Debug, Args)]
pub struct PrecisionArgs {
    /// Test reviews compared (seeded shuffle of the test split).
    #[arg(long, default_value_t = 256)]
    pub texts: usize,
    /// Policy tokens kept of each review.
    #[arg(long, default_value_t = 64)]
    pub max_tokens: usize,
    /// Review parquet file (default: data.path, else the data set's test split).
    #[arg(long, value_name = "FILE")]
    pub path: Option<PathBuf>,
}

/// `rlhf bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// GPT-2 policy directory (e.g. target/reference-models/gpt2-124m).
    #[arg(long, value_name = "DIR")]
    pub policy: PathBuf,
    /// RoBERTa reward classifier directory (e.g. target/reference-models/roberta-large).
    #[arg(long, value_name = "DIR")]
    pub reward: PathBuf,
    /// JSON file `{"prompts": [..]}`.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "tests/reference/bench_prompts.json"
    )]
    pub prompts: PathBuf,
    /// Generation batch sizes (16 sampled tokens each); none = skip.
    #[arg(long, num_args = 0.., default_values_t = [1usize, 16])]
    pub generation_batch: Vec<usize>,
    /// PPO step batch sizes (mini-batch = batch, 4 epochs); none = skip.
    #[arg(long, num_args = 0.., default_values_t = [16usize])]
    pub ppo_batch: Vec<usize>,
    /// Timed repeats after one warm-up (the median is reported).
    #[arg(long, default_value_t = 2)]
    pub repeats: usize,
    /// Also time the backend's GEMM at the step's own shapes, listed in FILE (default
    /// tests/reference/gemm_shapes.json).
    #[arg(long, value_name = "FILE", num_args = 0..=1,
          default_missing_value = "tests/reference/gemm_shapes.json")]
    pub gemm_shapes: Option<PathBuf>,
    /// Under `mpirun` (feature `mpi`): also time summing the policy's gradients over the ranks,
    /// the communication of one optimizer step.
    #[arg(long)]
    pub all_reduce: bool,
}

/// `rlhf check-backend`.
#[derive(Debug, Args)]
pub struct CheckBackendArgs {
    /// Directory with tiny-gpt2/, tiny-roberta/ and expected.json (tests/fixtures/models).
    #[arg(long, value_name = "DIR", default_value = "tests/fixtures/models")]
    pub fixtures: PathBuf,
    /// Largest accepted absolute difference.
    #[arg(long, default_value_t = 1e-4)]
    pub tolerance: f64,
}

/// `rlhf train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Continue the run in `<output.dir>/<exp_name>` from its last checkpoint.
    #[arg(long)]
    pub resume: bool,
}

/// `rlhf generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Model directory or hub id (default: policy.model).
    #[arg(long)]
    pub model: Option<String>,
    /// A trained run's checkpoint: a run directory (its latest checkpoint is used) or one
    /// checkpoint directory. Takes precedence over --model.
    #[arg(long, value_name = "DIR")]
    pub checkpoint: Option<PathBuf>,
    /// The prompt; without it, prompts are read line by line from stdin.
    #[arg(long)]
    pub prompt: Option<String>,
    /// Most new tokens per prompt.
    #[arg(long, default_value_t = 32)]
    pub max_new_tokens: usize,
    /// EOS cannot end a response before this many new tokens.
    #[arg(long, default_value_t = 0)]
    pub min_new_tokens: usize,
    /// Decode greedily instead of sampling.
    #[arg(long)]
    pub greedy: bool,
    /// Sampling temperature (default: generation.temperature).
    #[arg(long)]
    pub temperature: Option<f64>,
    /// Keep the k most likely tokens, 0 = off (default: generation.top_k).
    #[arg(long)]
    pub top_k: Option<usize>,
    /// Nucleus mass, 1.0 = off (default: generation.top_p).
    #[arg(long)]
    pub top_p: Option<f64>,
    /// Sampling seed (default: seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Samples per prompt.
    #[arg(long, default_value_t = 1)]
    pub num_samples: usize,
    /// Print JSON lines with tokens and log-probabilities instead of plain text.
    #[arg(long)]
    pub json: bool,
}

/// `rlhf eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The trained policy: a run directory (newest checkpoint), checkpoint or model directory.
    #[arg(long, value_name = "DIR")]
    pub policy: PathBuf,
    /// The baseline and reference model (default: policy.model).
    #[arg(long)]
    pub baseline: Option<String>,
    /// Held-out reviews (parquet, stanfordnlp/imdb schema; = --set data.path=...). Default: the
    /// configured data set with split `test`.
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// Prompts to evaluate (a seeded random subset).
    #[arg(long, default_value_t = 256)]
    pub num_prompts: usize,
    /// Output directory for report.json and rewards.svg (default: `<output.dir>/<exp_name>/eval`).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// `rlhf export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Checkpoint to export: a run directory (latest checkpoint) or a checkpoint directory;
    /// default: policy.model.
    #[arg(long, value_name = "DIR")]
    pub checkpoint: Option<PathBuf>,
    /// Output directory (created; files in it are replaced).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Keep the value head (`v_head.summary.*`, TRL naming) in model.safetensors.
    #[arg(long)]
    pub with_value_head: bool,
}

/// `rlhf score`.
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// Classifier directory or hub id (default: reward.model).
    #[arg(long)]
    pub model: Option<String>,
    /// A text to score; repeatable.
    #[arg(long)]
    pub text: Vec<String>,
    /// A file with one text per line. Without --text and --file, lines are read from stdin.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// `rlhf data`.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// Local parquet file in the stanfordnlp/imdb schema (= --set data.path=...);
    /// default: the hub dataset `data.dataset`, split `data.split`.
    #[arg(long, value_name = "FILE")]
    pub path: Option<PathBuf>,
    /// Prompt tokenizer: tokenizer.json, a directory with one, or a hub id (= --set data.tokenizer=...).
    #[arg(long)]
    pub tokenizer: Option<String>,
    /// Sample prompts to print.
    #[arg(long, default_value_t = 5)]
    pub samples: usize,
}
