//! The run configuration structs and their defaults (the TRL 0.11.4 gpt2-sentiment preset).
//!
//! Every struct denies unknown fields, so a misspelt key is an error rather than silently
//! ignored. Keep `docs/config.md` in step: a test compares its key list with [`Config::keys`].

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::DeviceSpec;
use crate::frozen::FrozenConfig;
pub use crate::ppo::{KlPenalty, PpoConfig};
use crate::supervised::{RewardModelConfig, SftConfig};

/// A whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Name of the run; names its directory under `output.dir` (TRL `exp_name`).
    pub exp_name: String,
    /// Seed for prompt lengths, data order, sampling and initialisation (TRL `seed`).
    pub seed: u64,
    /// Compute device: `flex`, `cuda[:N]`, `tch-cpu`, `tch-cuda[:N]`, `vulkan[:N]` or `vulkan-cpu`.
    pub device: DeviceSpec,
    /// The policy (and the frozen reference, which starts from the same weights).
    pub policy: PolicyConfig,
    /// The reward model that scores decoded `query + response` text.
    pub reward: RewardConfig,
    /// Device and precision of the frozen models (reference policy and reward model).
    pub frozen: FrozenConfig,
    /// Where prompts come from and how they are cut.
    pub data: DataConfig,
    /// Sampling of responses during rollouts.
    pub generation: GenerationConfig,
    /// PPO hyper-parameters (TRL `PPOConfig`).
    pub ppo: PpoConfig,
    /// Checkpoints, metrics and samples.
    pub output: OutputConfig,
    /// `rlhf sft`: supervised training of the policy on review text.
    pub sft: SftConfig,
    /// `rlhf train-reward`: training the reward classifier.
    pub reward_model: RewardModelConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            exp_name: "gpt2-sentiment".into(),
            seed: 0,
            device: DeviceSpec::Flex,
            policy: PolicyConfig::default(),
            reward: RewardConfig::default(),
            frozen: FrozenConfig::default(),
            data: DataConfig::default(),
            generation: GenerationConfig::default(),
            ppo: PpoConfig::default(),
            output: OutputConfig::default(),
            sft: SftConfig::default(),
            reward_model: RewardModelConfig::default(),
        }
    }
}

/// How the scalar value head `v_head.summary` is initialised (TRL `v_head_init_strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueHeadInit {
    /// PyTorch's default `nn.Linear` init (TRL's default, `None`).
    Default,
    /// Normal(0, `v_head_initializer_range`) weights, zero bias (TRL `"normal"`).
    Normal,
    /// All zeros, as OpenAI's lm-human-preferences does.
    Zero,
}

/// The policy model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// Local model directory or hub id of a GPT-2 checkpoint.
    pub model: String,
    /// Hub revision (branch, tag or commit) when `model` is a hub id.
    pub revision: String,
    /// Value head initialisation.
    pub v_head_init_strategy: ValueHeadInit,
    /// Standard deviation for `v_head_init_strategy = "normal"`.
    pub v_head_initializer_range: f64,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            model: "lvwerra/gpt2-imdb".into(),
            revision: "main".into(),
            v_head_init_strategy: ValueHeadInit::Default,
            v_head_initializer_range: 0.2,
        }
    }
}

/// Which number of the reward classifier becomes the PPO score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RewardMode {
    /// The raw logit of `reward.label` (TRL's gpt2-sentiment choice).
    Logit,
    /// The softmax probability of `reward.label`.
    Prob,
    /// The logit of `reward.label` minus the largest other logit.
    LogitMargin,
    /// The single output of a scalar reward model (`num_labels = 1`, e.g. one trained on
    /// comparisons); `reward.label` is not used.
    Scalar,
}

/// The reward model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RewardConfig {
    /// Local model directory or hub id of a RoBERTa sequence classifier.
    pub model: String,
    /// Hub revision when `model` is a hub id.
    pub revision: String,
    /// The `id2label` name whose score is the reward (chosen by name, never by position).
    pub label: String,
    /// Logit, probability or logit margin of `label`.
    pub mode: RewardMode,
    /// Texts scored per forward pass.
    pub batch_size: usize,
    /// Reward-tokenizer truncation length, in tokens including `<s>` and `</s>`.
    pub max_length: usize,
    /// lm-human-preferences' reward normalisation: before the first PPO step, fit a gain and a
    /// bias so that the reward of the reference policy's samples has mean 0 and std 1, store
    /// them with the run, and apply them to every score.
    pub normalize: bool,
    /// Prompts sampled from the reference policy to fit the normalisation.
    pub normalize_samples: usize,
}

impl Default for RewardConfig {
    fn default() -> Self {
        RewardConfig {
            model: "siebert/sentiment-roberta-large-english".into(),
            revision: "main".into(),
            label: "POSITIVE".into(),
            mode: RewardMode::Logit,
            batch_size: 16,
            max_length: 512,
            normalize: false,
            normalize_samples: 256,
        }
    }
}

/// The prompt data set (IMDB reviews in the `stanfordnlp/imdb` parquet schema).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// Local parquet file; when set, `dataset`/`split` are not used.
    pub path: Option<PathBuf>,
    /// Hub dataset id, used when `path` is not set.
    pub dataset: String,
    /// Hub revision of the dataset.
    pub revision: String,
    /// Split to read from the hub dataset.
    pub split: String,
    /// File inside the hub dataset; `{split}` is replaced by `split`.
    pub data_files: String,
    /// Column holding the review text.
    pub text_column: String,
    /// Column holding the integer label (0 = negative, 1 = positive).
    pub label_column: String,
    /// Keep only reviews with more than this many characters (TRL keeps `len > 200`).
    pub min_text_chars: usize,
    /// Shortest prompt, in policy tokens (TRL `input_min_text_length`).
    pub input_min_text_length: usize,
    /// Prompt lengths are drawn from `[min, max)` (TRL `input_max_text_length`).
    pub input_max_text_length: usize,
    /// Tokenizer for prompts: a `tokenizer.json`, a directory holding one, or a hub id.
    /// Unset means the policy model's own tokenizer.
    pub tokenizer: Option<String>,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            path: None,
            dataset: "stanfordnlp/imdb".into(),
            revision: "main".into(),
            split: "train".into(),
            data_files: "plain_text/{split}-00000-of-00001.parquet".into(),
            text_column: "text".into(),
            label_column: "label".into(),
            min_text_chars: 200,
            input_min_text_length: 2,
            input_max_text_length: 8,
            tokenizer: None,
        }
    }
}

/// Response sampling during rollouts (TRL's `generation_kwargs` plus the length sampler).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GenerationConfig {
    /// Shortest response budget, in new tokens (TRL `output_min_length`).
    pub output_min_length: usize,
    /// Response budgets are drawn from `[min, max)` (TRL `output_max_length`).
    pub output_max_length: usize,
    /// Sample (true) or decode greedily (false).
    pub do_sample: bool,
    /// Keep only the k most likely tokens; 0 disables top-k (TRL default 0).
    pub top_k: usize,
    /// Nucleus sampling mass; 1.0 disables it.
    pub top_p: f64,
    /// Softmax temperature.
    pub temperature: f64,
}

impl Default for GenerationConfig {
    fn default() -> Self {
        GenerationConfig {
            output_min_length: 4,
            output_max_length: 16,
            do_sample: true,
            top_k: 0,
            top_p: 1.0,
            temperature: 1.0,
        }
    }
}

/// Checkpoints, metrics and sample tables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    /// Runs are written to `<dir>/<exp_name>/`.
    pub dir: PathBuf,
    /// Save a checkpoint every this many PPO steps (0 = only at the end).
    pub save_freq: usize,
    /// Log a table of (prompt, response, reward) samples every this many steps (0 = never).
    pub sample_freq: usize,
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            dir: "saved_models".into(),
            save_freq: 50,
            sample_freq: 10,
        }
    }
}

impl Config {
    /// Every key of the configuration as a dotted path (`ppo.learning_rate`), sorted.
    pub fn keys() -> Vec<String> {
        let value = serde_json::to_value(Config::default()).expect("the config always serializes");
        let mut keys = Vec::new();
        collect_keys(&value, "", &mut keys);
        keys
    }

    /// The run directory, `<output.dir>/<exp_name>`.
    pub fn run_dir(&self) -> PathBuf {
        self.output.dir.join(&self.exp_name)
    }
}

fn collect_keys(value: &serde_json::Value, prefix: &str, keys: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (name, child) in map {
                let path = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}.{name}")
                };
                collect_keys(child, &path, keys);
            }
        }
        _ => keys.push(prefix.to_string()),
    }
}
