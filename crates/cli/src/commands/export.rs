//! `rlhf export`: a policy checkpoint as a Hugging Face model directory.

use anyhow::Context;
use models::export::{ValueHeadWeights, save_policy, tokenizer_files};

use super::load::load_policy;
use crate::args::{ConfigArgs, ExportArgs};
use crate::device;

/// Loads the checkpoint and writes config.json, model.safetensors and tokenizer.json to `--out`.
pub fn run(layers: &ConfigArgs, args: &ExportArgs) -> anyhow::Result<()> {
    let config = layers.load(Vec::new())?;
    let device = device::select(config.device)?;
    let loaded = load_policy(&config, None, args.checkpoint.as_deref(), &device)?;
    save_policy(
        &loaded.policy,
        &loaded.config,
        &args.out,
        if args.with_value_head {
            ValueHeadWeights::Keep
        } else {
            ValueHeadWeights::Drop
        },
        &tokenizer_files(loaded.tokenizer.source()),
    )
    .with_context(|| format!("cannot export to `{}`", args.out.display()))?;
    println!(
        "exported {} to {}",
        loaded.files.weights.display(),
        args.out.display()
    );
    Ok(())
}
