//! `rlhf sft`: causal-LM training of the policy on review text (config section `[sft]`).

use anyhow::bail;
use burn::module::Module;
use config::SftConfig;
use dataset::{HubOptions, Review, Tokenizer};
use models::export::tokenizer_files;
use models::hf_config::check_tokenizer;
use models::{Gpt2Config, Gpt2WithValueHead, ModelFiles, ValueHeadInit};
use ppo::supervised::sft::{SftTask, eval_loss, pack};

use super::supervised::Setup;
use crate::args::{ConfigArgs, SftArgs};
use crate::progress;

/// Trains and saves the language model; prints perplexity per epoch.
pub fn run(layers: &ConfigArgs, args: &SftArgs) -> anyhow::Result<()> {
    let setup = Setup::load(layers, args.overrides(), args.training.resume, |c| {
        &c.sft.training
    })?;
    let sft = &setup.config.sft;
    let training = &sft.training;
    let hub = HubOptions::from_env();
    let (model, gpt2, tokenizer_path) = policy(sft, &setup)?;
    let tokenizer = match (&tokenizer_path, &setup.config.data.tokenizer) {
        (Some(path), _) => Tokenizer::from_file(path)?,
        (None, Some(spec)) => Tokenizer::from_spec(spec, "main", &hub)?,
        (None, None) => bail!(
            "no GPT-2 tokenizer: set data.tokenizer or use --base-model with a tokenizer.json"
        ),
    };
    let model_desc = sft
        .base_model
        .as_deref()
        .unwrap_or("the fresh GPT-2 (sft.n_embd, ...)");
    check_tokenizer(
        &tokenizer,
        gpt2.vocab_size,
        std::path::Path::new(model_desc),
    )?;
    if sft.block_size + 1 > gpt2.n_positions {
        bail!(
            "sft.block_size {} exceeds the model's {} positions; lower --block-size",
            sft.block_size,
            gpt2.n_positions
        );
    }
    let spinner = progress::spinner("tokenizing");
    let eos = gpt2.eos_token_id;
    let (train, test) = setup.splits()?;
    let train_blocks = pack(&tokenizer, &texts(&train), eos, sft.block_size)?;
    let eval_blocks = pack(&tokenizer, &texts(&test), eos, sft.block_size)?;
    spinner.finish_and_clear();
    println!(
        "{} training blocks, {} held-out blocks of {} tokens",
        train_blocks.len(),
        eval_blocks.len(),
        sft.block_size
    );
    if !setup.resume {
        let before = eval_loss(
            &model.valid(),
            &eval_blocks,
            training.batch_size,
            &setup.plain,
        );
        println!("before training: held-out perplexity {:.1}", before.exp());
    }
    let files = tokenizer_files(tokenizer.source());
    let task = SftTask {
        train: &train_blocks,
        eval: &eval_blocks,
        eval_batch: training.batch_size,
        config: &gpt2,
        tokenizer_files: &files,
    };
    setup.train(&task, model)?;
    Ok(())
}

/// The policy to train: `sft.base_model`, or a fresh GPT-2 of the configured size with GPT-2's
/// vocabulary; with its config and the tokenizer file it ships.
fn policy(
    sft: &SftConfig,
    setup: &Setup,
) -> anyhow::Result<(Gpt2WithValueHead, Gpt2Config, Option<std::path::PathBuf>)> {
    if let Some(spec) = &sft.base_model {
        let files = ModelFiles::resolve(spec, "main", &HubOptions::from_env())?;
        let (model, cfg) =
            Gpt2WithValueHead::load(&files, ValueHeadInit::Default, &setup.autodiff)?;
        return Ok((model, cfg, files.tokenizer));
    }
    let cfg = Gpt2Config {
        n_embd: sft.n_embd,
        n_layer: sft.n_layer,
        n_head: sft.n_head,
        n_positions: (sft.block_size + 1).max(128),
        bos_token_id: 50256,
        eos_token_id: 50256,
        ..Gpt2Config::tiny(50257)
    };
    setup.autodiff.seed(setup.config.seed);
    let model = Gpt2WithValueHead::init(&cfg, ValueHeadInit::Zero, &setup.autodiff);
    Ok((model, cfg, None))
}

fn texts(reviews: &[Review]) -> Vec<&str> {
    reviews.iter().map(|r| r.text.as_str()).collect()
}
