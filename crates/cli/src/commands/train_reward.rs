//! `rlhf train-reward`: a sentiment classifier for PPO's reward, trained on labelled reviews
//! (config section `[reward_model]`), or with `reward_model.objective = "pairwise"` a scalar
//! reward model trained on comparisons ([`super::train_pairwise`]).

use anyhow::{Context, bail};
use burn::module::Module;
use config::{RewardModelConfig, RewardObjective};
use dataset::{HubOptions, Tokenizer};
use models::export::tokenizer_files;
use models::hf_config::check_tokenizer;
use models::{ModelFiles, RobertaConfig, RobertaForSequenceClassification};
use ppo::supervised::classifier::{ClassifierOutput, ClassifierTask, encode, evaluate_classifier};

use super::supervised::Setup;
use crate::args::{ConfigArgs, TrainRewardArgs};
use crate::progress;

/// Trains and saves the classifier; prints loss and accuracy per epoch.
pub fn run(layers: &ConfigArgs, args: &TrainRewardArgs) -> anyhow::Result<()> {
    let setup = Setup::load(layers, args.overrides(), args.training.resume, |c| {
        &c.reward_model.training
    })?;
    let rm = &setup.config.reward_model;
    if rm.objective == RewardObjective::Pairwise {
        return super::train_pairwise::run(&setup);
    }
    let training = &rm.training;
    let (train, test) = setup.splits()?;
    for (set, name) in [(&train, "training"), (&test, "test")] {
        if let Some(bad) = set.iter().find(|r| !(0..=1).contains(&r.label)) {
            bail!(
                "the {name} reviews contain label {}; the classifier needs 0 (negative) / 1 (positive)",
                bad.label
            );
        }
    }
    let fresh = RobertaConfig::sentiment(
        rm.hidden_size,
        rm.num_hidden_layers,
        rm.num_attention_heads,
        rm.max_length,
    );
    let (model, model_config, tokenizer_path) = classifier(rm, &setup, fresh)?;
    let (tokenizer, tokenizer_path) = tokenizer(rm, &model_config, tokenizer_path)?;
    let max_length = rm.max_length.min(model_config.max_position_embeddings - 2);
    let spinner = progress::spinner("tokenizing");
    let (train_enc, test_enc) = (
        encode(&tokenizer, &train, max_length)?,
        encode(&tokenizer, &test, max_length)?,
    );
    spinner.finish_and_clear();
    let pad = model_config.pad_token_id;
    if !setup.resume {
        let (loss0, acc0) = evaluate_classifier(
            &model.valid(),
            &test_enc,
            training.batch_size,
            pad,
            &setup.plain,
        );
        println!(
            "before training: test loss {loss0:.4}, accuracy {:.1} % ({} reviews)",
            acc0 * 100.0,
            test.len()
        );
    }
    let files = tokenizer_files(&tokenizer_path);
    let task = ClassifierTask {
        train: &train_enc,
        test: &test_enc,
        eval_batch: training.batch_size,
        output: ClassifierOutput {
            config: &model_config,
            tokenizer_files: &files,
        },
    };
    setup.train(&task, model)?;
    Ok(())
}

/// The reward model's tokenizer (`reward_model.tokenizer`, else the base model's), checked
/// against the model's vocabulary; with its path.
pub(super) fn tokenizer(
    rm: &RewardModelConfig,
    model_config: &RobertaConfig,
    path: Option<std::path::PathBuf>,
) -> anyhow::Result<(Tokenizer, std::path::PathBuf)> {
    let path = path.context(
        "no RoBERTa tokenizer: pass --tokenizer or set reward_model.tokenizer (e.g. \
         tests/fixtures/tokenizers/roberta/tokenizer.json)",
    )?;
    let tokenizer = Tokenizer::from_file(&path)?;
    let model_desc = rm
        .base_model
        .as_deref()
        .unwrap_or("the fresh RoBERTa (reward_model.*)");
    check_tokenizer(
        &tokenizer,
        model_config.vocab_size,
        std::path::Path::new(model_desc),
    )?;
    Ok((tokenizer, path))
}

/// The model to train: `reward_model.base_model`, or `fresh`; with its config and tokenizer
/// file (`reward_model.tokenizer` first). The device is seeded with the run's seed first, so
/// every fresh weight (a fresh model, or a fresh head put on the base) is reproducible.
pub(super) fn classifier(
    rm: &RewardModelConfig,
    setup: &Setup,
    fresh: RobertaConfig,
) -> anyhow::Result<(
    RobertaForSequenceClassification,
    RobertaConfig,
    Option<std::path::PathBuf>,
)> {
    setup.autodiff.seed(setup.config.seed);
    if let Some(spec) = &rm.base_model {
        let files = ModelFiles::resolve(spec, "main", &HubOptions::from_env())?;
        let (model, cfg) = RobertaForSequenceClassification::load(&files, &setup.autodiff)?;
        return Ok((model, cfg, rm.tokenizer.clone().or(files.tokenizer)));
    }
    let model = RobertaForSequenceClassification::init(&fresh, &setup.autodiff);
    Ok((model, fresh, rm.tokenizer.clone()))
}
