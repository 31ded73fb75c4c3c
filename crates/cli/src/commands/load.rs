//! Loading the models the commands work on: a policy from a model directory, hub id or run
//! checkpoint, with its tokenizer.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use burn::tensor::Device;
use config::ValueHeadInit as InitStrategy;
use config::{Config, TrainingConfig};
use dataset::{
    HubOptions, LengthSampler, Prompt, Review, Tokenizer, build_prompts, read_reviews,
    resolve_data_file,
};
use models::hf_config::check_tokenizer;
use models::{
    Gpt2Config, Gpt2WithValueHead, ModelFiles, RewardModel, ValueHeadInit, ValueHeadSource,
};
use ppo::ClassifierScorer;

use crate::frozen::Frozen;

/// A policy ready to generate, with where it came from.
pub struct LoadedPolicy {
    /// The model.
    pub policy: Gpt2WithValueHead,
    /// Its architecture.
    pub config: Gpt2Config,
    /// The tokenizer (the model's own `tokenizer.json`, else `data.tokenizer`).
    pub tokenizer: Tokenizer,
    /// The files it was read from.
    pub files: ModelFiles,
}

/// The value head initialisation the configuration asks for.
pub fn value_head_init(config: &Config) -> ValueHeadInit {
    match config.policy.v_head_init_strategy {
        InitStrategy::Default => ValueHeadInit::Default,
        InitStrategy::Normal => ValueHeadInit::Normal {
            std: config.policy.v_head_initializer_range,
        },
        InitStrategy::Zero => ValueHeadInit::Zero,
    }
}

/// Loads the policy from `checkpoint` if given, else `model`, else `policy.model`; a model
/// without a value head gets a fresh one (`policy.v_head_init_strategy`).
pub fn load_policy(
    config: &Config,
    model: Option<&str>,
    checkpoint: Option<&Path>,
    device: &Device,
) -> anyhow::Result<LoadedPolicy> {
    let value_head = ValueHeadSource::OrInit(value_head_init(config));
    load_policy_with(config, model, checkpoint, value_head, device)
}

/// Loads the policy of a PPO checkpoint to resume it: its trained value head must be there.
pub fn load_resumed_policy(
    config: &Config,
    checkpoint: &Path,
    device: &Device,
) -> anyhow::Result<LoadedPolicy> {
    load_policy_with(
        config,
        None,
        Some(checkpoint),
        ValueHeadSource::Required,
        device,
    )
}

fn load_policy_with(
    config: &Config,
    model: Option<&str>,
    checkpoint: Option<&Path>,
    value_head: ValueHeadSource,
    device: &Device,
) -> anyhow::Result<LoadedPolicy> {
    let hub = HubOptions::from_env();
    let (spec, revision) = match (checkpoint, model) {
        (Some(dir), _) => (
            resolve_checkpoint(dir)?.to_string_lossy().into_owned(),
            "main",
        ),
        (None, Some(model)) => (model.to_string(), "main"),
        (None, None) => (config.policy.model.clone(), config.policy.revision.as_str()),
    };
    let files = ModelFiles::resolve(&spec, revision, &hub)
        .with_context(|| format!("cannot find the policy model `{spec}`"))?;
    // A checkpoint without a value head (an SFT model, the hub's gpt2-imdb) gets a fresh one:
    // draw it from the run's seed, as TRL's `set_seed` does, so that runs repeat.
    device.seed(config.seed);
    let (policy, gpt2) = Gpt2WithValueHead::load(&files, value_head, device)
        .with_context(|| format!("cannot load the policy model `{spec}`"))?;
    let tokenizer = match (&files.tokenizer, &config.data.tokenizer) {
        (Some(path), _) => Tokenizer::from_file(path)?,
        (None, Some(spec)) => Tokenizer::from_spec(spec, "main", &hub)?,
        (None, None) => bail!(
            "`{spec}` has no tokenizer.json; set data.tokenizer to a GPT-2 tokenizer.json \
             (e.g. tests/fixtures/tokenizers/gpt2/tokenizer.json)"
        ),
    };
    check_tokenizer(&tokenizer, gpt2.vocab_size, &files.config)?;
    tracing::info!(model = %spec, weights = %files.weights.display(), "loaded policy");
    Ok(LoadedPolicy {
        policy,
        config: gpt2,
        tokenizer,
        files,
    })
}

/// Finds the model directory inside a checkpoint path: the directory itself when it has a
/// `config.json`, its `policy/` sub-directory, or the checkpoint a `latest` file names.
pub fn resolve_checkpoint(dir: &Path) -> anyhow::Result<PathBuf> {
    let mut current = dir.to_path_buf();
    for _ in 0..4 {
        if current.join("config.json").is_file() {
            return Ok(current);
        }
        if current.join("policy/config.json").is_file() {
            return Ok(current.join("policy"));
        }
        let latest = current.join("latest");
        if latest.is_file() {
            let name = std::fs::read_to_string(&latest)
                .with_context(|| format!("cannot read `{}`", latest.display()))?;
            current = current.join(name.trim());
            continue;
        }
        break;
    }
    if !dir.exists() {
        bail!("checkpoint `{}` does not exist", dir.display());
    }
    bail!(
        "`{}` is not a checkpoint: expected config.json, policy/config.json or a `latest` file \
         naming a checkpoint directory",
        dir.display()
    )
}

/// The reward classifier `reward.model` with the run's `reward` settings,
/// on the frozen models' device and in their precision.
pub fn load_scorer(config: &Config, frozen: &Frozen) -> anyhow::Result<ClassifierScorer> {
    let reward = &config.reward;
    let model = RewardModel::load(
        &reward.model,
        &reward.revision,
        &HubOptions::from_env(),
        &frozen.device,
    )
    .with_context(|| format!("cannot load the reward model `{}`", reward.model))?;
    Ok(ClassifierScorer::new(frozen.reward(model), reward)?)
}

/// The review file, its reviews, the prompt tokenizer and the prompts built from them.
pub struct PromptSet {
    /// The parquet file read.
    pub path: PathBuf,
    /// All reviews of the file.
    pub reviews: Vec<Review>,
    /// The prompt tokenizer (`data.tokenizer`, else the policy's).
    pub tokenizer: Tokenizer,
    /// Prompts as TRL's example builds them.
    pub prompts: Vec<Prompt>,
}

/// Reads the configured reviews and builds the prompts, with progress display.
pub fn load_prompts(config: &Config) -> anyhow::Result<PromptSet> {
    let data = &config.data;
    let hub = HubOptions::from_env();
    let path = resolve_data_file(data, &hub).context("cannot find the review data")?;
    let spinner = crate::progress::spinner("reading reviews");
    let reviews = read_reviews(&path, &data.text_column, &data.label_column);
    spinner.finish_and_clear();
    let reviews = reviews.context("cannot read the review data")?;
    let (spec, revision) = match &data.tokenizer {
        Some(tokenizer) => (tokenizer.as_str(), "main"),
        None => (
            config.policy.model.as_str(),
            config.policy.revision.as_str(),
        ),
    };
    let tokenizer = Tokenizer::from_spec(spec, revision, &hub).with_context(|| {
        format!("cannot load the prompt tokenizer `{spec}`; pass --tokenizer or set data.tokenizer")
    })?;
    let lengths = LengthSampler::new(data.input_min_text_length, data.input_max_text_length)?;
    let bar = crate::progress::bar(reviews.len(), "tokenizing");
    let prompts = build_prompts(
        &reviews,
        &tokenizer,
        data.min_text_chars,
        lengths,
        config.seed,
        |n| bar.inc(n as u64),
    );
    bar.finish_and_clear();
    Ok(PromptSet {
        path,
        reviews,
        tokenizer,
        prompts: prompts?,
    })
}

/// Reviews of `path`, or of the configured data set at `split` when no path is given, shuffled
/// with the run seed and cut to `limit` (0 = all).
pub fn read_split(
    config: &Config,
    path: Option<&Path>,
    split: &str,
    limit: usize,
) -> anyhow::Result<Vec<Review>> {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    let file = split_file(config, path, split)?;
    let data = &config.data;
    let mut reviews = read_reviews(&file, &data.text_column, &data.label_column)
        .with_context(|| format!("cannot read `{}`", file.display()))?;
    reviews.shuffle(&mut rand::rngs::StdRng::seed_from_u64(config.seed));
    if limit > 0 {
        reviews.truncate(limit);
    }
    Ok(reviews)
}

/// The parquet file of a split: `path` when given, else the configured data set's `split`.
pub fn split_file(config: &Config, path: Option<&Path>, split: &str) -> anyhow::Result<PathBuf> {
    let mut data = config.data.clone();
    data.split = split.into();
    data.path = path.map(Path::to_path_buf);
    resolve_data_file(&data, &HubOptions::from_env())
        .with_context(|| format!("cannot find the {split} reviews"))
}

/// The training reviews (`data.path`, else the data set at `data.split`) and the held-out
/// reviews (`training.test_path`, else the data set's `test` split) of a supervised trainer,
/// each a seeded subset of `training.train_samples` / `training.test_samples`.
pub fn read_splits(
    config: &Config,
    training: &TrainingConfig,
) -> anyhow::Result<(Vec<Review>, Vec<Review>)> {
    let train = read_split(
        config,
        config.data.path.as_deref(),
        &config.data.split,
        training.train_samples,
    )?;
    let test = read_split(
        config,
        training.test_path.as_deref(),
        "test",
        training.test_samples,
    )?;
    Ok((train, test))
}
