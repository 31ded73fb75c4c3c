//! `rlhf data`: statistics of a review file and sample prompts, built exactly as PPO builds them.

use dataset::{DataStats, PromptLoader};

use super::load::{PromptSet, load_prompts};
use crate::args::{ConfigArgs, DataArgs};

/// Loads the data set and tokenizer the configuration names and prints what PPO would see.
pub fn run(layers: &ConfigArgs, args: &DataArgs) -> anyhow::Result<()> {
    let mut extra = Vec::new();
    if let Some(path) = &args.path {
        extra.push(format!(
            "data.path={}",
            toml_string(&path.to_string_lossy())
        ));
    }
    if let Some(tokenizer) = &args.tokenizer {
        extra.push(format!("data.tokenizer={}", toml_string(tokenizer)));
    }
    let config = layers.load(extra)?;
    let data = &config.data;
    let PromptSet {
        path,
        reviews,
        tokenizer,
        prompts,
    } = load_prompts(&config)?;

    println!("file               {}", path.display());
    println!("tokenizer          {}", tokenizer.source().display());
    print!(
        "{}",
        DataStats::compute(&reviews, &prompts, data.min_text_chars)
    );
    let shown = args.samples.min(prompts.len());
    if shown > 0 {
        println!("sample prompts (seed {})", config.seed);
        let mut loader = PromptLoader::new(prompts.len(), shown, config.seed)?;
        for index in loader.next_batch() {
            let prompt = &prompts[index];
            let label = if prompt.label == 1 { "pos" } else { "neg" };
            println!(
                "  [{label}] {} tokens  {:?}",
                prompt.input_ids.len(),
                prompt.query
            );
        }
    }
    Ok(())
}

/// Quotes `text` as a TOML basic string for a `--set` value (JSON string escapes are valid TOML),
/// so a path such as `123` or `true` stays a string.
fn toml_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}
