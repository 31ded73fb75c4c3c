//! `rlhf sft`: causal-LM training of the policy on review text.

use anyhow::bail;
use dataset::{HubOptions, Review, Tokenizer};
use models::{Gpt2Config, Gpt2WithValueHead, ModelFiles, ValueHeadInit};
use ppo::sft::{SftReport, SftTask, eval_loss, pack};
use ppo::supervised::{self, Settings};

use super::load::read_splits;
use crate::args::{ConfigArgs, SftArgs};
use crate::{device, progress};

/// Trains and saves the language model; prints perplexity per epoch.
pub fn run(layers: &ConfigArgs, args: &SftArgs) -> anyhow::Result<()> {
    let config = layers.load(Vec::new())?;
    let plain = device::select(config.device)?;
    let autodiff = plain.clone().autodiff();
    let hub = HubOptions::from_env();
    let (train, test) = read_splits(&config, &args.reviews, args.test_samples)?;

    let (model, gpt2, tokenizer_path) = match &args.base_model {
        Some(spec) => {
            let files = ModelFiles::resolve(spec, "main", &hub)?;
            let (model, cfg) = Gpt2WithValueHead::load(&files, ValueHeadInit::Default, &autodiff)?;
            (model, cfg, files.tokenizer.clone())
        }
        None => {
            if args.n_head == 0 || !args.n_embd.is_multiple_of(args.n_head) {
                bail!("--n-embd must be a positive multiple of --n-head");
            }
            let cfg = Gpt2Config {
                n_embd: args.n_embd,
                n_layer: args.n_layer,
                n_head: args.n_head,
                n_positions: (args.block_size + 1).max(128),
                ..Gpt2Config::tiny(50257)
            };
            let cfg = Gpt2Config {
                bos_token_id: 50256,
                eos_token_id: 50256,
                ..cfg
            };
            autodiff.seed(config.seed);
            (
                Gpt2WithValueHead::init(&cfg, ValueHeadInit::Zero, &autodiff),
                cfg,
                None,
            )
        }
    };
    let tokenizer = match (&tokenizer_path, &config.data.tokenizer) {
        (Some(path), _) => Tokenizer::from_file(path)?,
        (None, Some(spec)) => Tokenizer::from_spec(spec, "main", &hub)?,
        (None, None) => bail!(
            "no GPT-2 tokenizer: set data.tokenizer or use --base-model with a tokenizer.json"
        ),
    };
    if args.block_size + 1 > gpt2.n_positions {
        bail!(
            "--block-size {} exceeds the model's {} positions",
            args.block_size,
            gpt2.n_positions
        );
    }
    let spinner = progress::spinner("tokenizing");
    let eos = gpt2.eos_token_id;
    let train_blocks = pack(&tokenizer, &texts(&train), eos, args.block_size)?;
    let eval_blocks = pack(&tokenizer, &texts(&test), eos, args.block_size)?;
    spinner.finish_and_clear();
    println!(
        "{} training blocks, {} held-out blocks of {} tokens",
        train_blocks.len(),
        eval_blocks.len(),
        args.block_size
    );
    if !args.checkpoints.resume {
        let before = eval_loss(
            &burn::module::Module::valid(&model),
            &eval_blocks,
            args.batch_size,
            &plain,
        );
        println!("before training: held-out perplexity {:.1}", before.exp());
    }
    let tokenizer_files = vec![tokenizer.source().to_path_buf()];
    let settings = Settings {
        epochs: args.epochs,
        batch_size: args.batch_size,
        learning_rate: args.lr,
        warmup_frac: 0.05,
        weight_decay: 0.01,
        seed: config.seed,
    };
    let task = SftTask {
        train: &train_blocks,
        eval: &eval_blocks,
        eval_batch: args.batch_size,
        config: &gpt2,
        tokenizer_files: &tokenizer_files,
    };
    let steps = train_blocks.len().div_ceil(args.batch_size.max(1)) * args.epochs;
    let bar = progress::bar(steps, "sft");
    let checkpointing = args.checkpoints.checkpointing(&args.out);
    let (_, reports) = supervised::train(
        &task,
        model,
        &settings,
        &checkpointing,
        &autodiff,
        progress::supervised_observer(&bar, &args.out, |r: &SftReport| {
            format!(
                "epoch {}: train loss {:.4}, held-out loss {:.4}, perplexity {:.1}",
                r.epoch, r.train_loss, r.eval_loss, r.eval_perplexity
            )
        }),
    )?;
    bar.finish_and_clear();
    if let Some(last) = reports.last() {
        println!(
            "saved {} (held-out perplexity {:.1})",
            args.out.display(),
            last.eval_perplexity
        );
    }
    Ok(())
}

fn texts(reviews: &[Review]) -> Vec<&str> {
    reviews.iter().map(|r| r.text.as_str()).collect()
}
