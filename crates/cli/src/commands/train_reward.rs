//! `rlhf train-reward`: a sentiment classifier for PPO's reward, trained on labelled reviews.

use anyhow::{Context, bail};
use dataset::{HubOptions, Tokenizer};
use models::{ModelFiles, RobertaConfig, RobertaForSequenceClassification};
use ppo::reward_training::{ClassifierTask, EpochReport, encode, evaluate_classifier};
use ppo::supervised::{self, Settings};

use super::load::read_splits;
use crate::args::{ConfigArgs, TrainRewardArgs};
use crate::{device, progress};

/// Trains and saves the classifier; prints loss and accuracy per epoch.
pub fn run(layers: &ConfigArgs, args: &TrainRewardArgs) -> anyhow::Result<()> {
    let config = layers.load(Vec::new())?;
    let plain = device::select(config.device)?;
    let autodiff = plain.clone().autodiff();
    let hub = HubOptions::from_env();
    let (train, test) = read_splits(&config, &args.reviews, args.test_samples)?;
    for (set, name) in [(&train, "training"), (&test, "test")] {
        if let Some(bad) = set.iter().find(|r| !(0..=1).contains(&r.label)) {
            bail!(
                "the {name} reviews contain label {}; the classifier needs 0 (negative) / 1 (positive)",
                bad.label
            );
        }
    }

    let (model, model_config, tokenizer_path) = match &args.base_model {
        Some(spec) => {
            let files = ModelFiles::resolve(spec, "main", &hub)?;
            let (model, cfg) = RobertaForSequenceClassification::load(&files, &autodiff)?;
            let tok = args.tokenizer.clone().or(files.tokenizer.clone());
            (model, cfg, tok)
        }
        None => {
            let cfg: RobertaConfig = serde_json::from_value(serde_json::json!({
                "model_type": "roberta", "vocab_size": 50265, "hidden_size": args.hidden_size,
                "num_hidden_layers": args.layers, "num_attention_heads": args.heads,
                "intermediate_size": 4 * args.hidden_size,
                "max_position_embeddings": args.max_length + 2, "type_vocab_size": 1,
                "pad_token_id": 1, "id2label": {"0": "NEGATIVE", "1": "POSITIVE"},
            }))?;
            if args.hidden_size == 0
                || args.heads == 0
                || !args.hidden_size.is_multiple_of(args.heads)
            {
                bail!("--hidden-size must be a positive multiple of --heads");
            }
            autodiff.seed(config.seed);
            (
                RobertaForSequenceClassification::init(&cfg, &autodiff),
                cfg,
                args.tokenizer.clone(),
            )
        }
    };
    let tokenizer_path = tokenizer_path
        .context("no RoBERTa tokenizer: pass --tokenizer (e.g. tests/fixtures/tokenizers/roberta/tokenizer.json)")?;
    let tokenizer = Tokenizer::from_file(&tokenizer_path)?;
    let max_length = args
        .max_length
        .min(model_config.max_position_embeddings - 2);
    let spinner = progress::spinner("tokenizing");
    let (train_enc, test_enc) = (
        encode(&tokenizer, &train, max_length)?,
        encode(&tokenizer, &test, max_length)?,
    );
    spinner.finish_and_clear();

    if !args.checkpoints.resume {
        let (loss0, acc0) = evaluate_classifier(
            &burn::module::Module::valid(&model),
            &test_enc,
            args.batch_size,
            model_config.pad_token_id,
            &plain,
        );
        println!(
            "before training: test loss {loss0:.4}, accuracy {:.1} % ({} reviews)",
            acc0 * 100.0,
            test.len()
        );
    }
    let settings = Settings {
        epochs: args.epochs,
        batch_size: args.batch_size,
        learning_rate: args.lr,
        warmup_frac: 0.1,
        weight_decay: 0.01,
        seed: config.seed,
    };
    let tokenizer_files = vec![tokenizer_path.clone()];
    let task = ClassifierTask {
        train: &train_enc,
        test: &test_enc,
        eval_batch: args.batch_size,
        config: &model_config,
        tokenizer_files: &tokenizer_files,
    };
    let steps = train_enc.ids.len().div_ceil(args.batch_size.max(1)) * args.epochs;
    let bar = progress::bar(steps, "training");
    let checkpointing = args.checkpoints.checkpointing(&args.out);
    let (_, reports) = supervised::train(
        &task,
        model,
        &settings,
        &checkpointing,
        &autodiff,
        progress::supervised_observer(&bar, &args.out, |r: &EpochReport| {
            format!(
                "epoch {}: train loss {:.4}, test loss {:.4}, accuracy {:.1} %",
                r.epoch,
                r.train_loss,
                r.test_loss,
                r.test_accuracy * 100.0
            )
        }),
    )?;
    bar.finish_and_clear();
    if let Some(last) = reports.last() {
        println!(
            "saved {} (test accuracy {:.1} % on {} reviews)",
            args.out.display(),
            last.test_accuracy * 100.0,
            test.len()
        );
    }
    Ok(())
}
