//! `rlhf data`: statistics of a review file and sample prompts, built exactly as PPO builds them.

use anyhow::Context;
use dataset::{
    DataStats, HubOptions, LengthSampler, PromptLoader, Tokenizer, build_prompts, read_reviews,
    resolve_data_file,
};

use crate::args::{ConfigArgs, DataArgs};
use crate::progress;

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
    let hub = HubOptions::from_env();

    let path = resolve_data_file(data, &hub).context("cannot find the review data")?;
    let spinner = progress::spinner("reading reviews");
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
    let bar = progress::bar(reviews.len(), "tokenizing");
    let prompts = build_prompts(
        &reviews,
        &tokenizer,
        data.min_text_chars,
        lengths,
        config.seed,
        |n| bar.inc(n as u64),
    );
    bar.finish_and_clear();
    let prompts = prompts?;

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
