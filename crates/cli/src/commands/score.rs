//! `rlhf score`: label logits and probabilities of texts under a sequence classifier.

use anyhow::{Context, bail};
use dataset::HubOptions;
use models::RewardModel;
use models::sampling::softmax;

use crate::args::{ConfigArgs, ScoreArgs};
use crate::lines::{LineReport, for_each_line};
use crate::{device, progress};

/// Scores `--text`s, `--file` lines, or stdin lines, printing one JSON object per text.
pub fn run(layers: &ConfigArgs, args: &ScoreArgs) -> anyhow::Result<()> {
    let config = layers.load(Vec::new())?;
    let device = device::select(config.device)?;
    let mut texts = args.text.clone();
    let mut collect = |_: usize, line: &str| {
        texts.push(line.to_string());
        Ok(())
    };
    let report = match &args.file {
        Some(path) => {
            let file = std::fs::File::open(path)
                .with_context(|| format!("cannot read texts from `{}`", path.display()))?;
            for_each_line(std::io::BufReader::new(file), &mut collect)?
        }
        None if args.text.is_empty() => for_each_line(std::io::stdin().lock(), &mut collect)?,
        None => LineReport::default(),
    };
    if texts.is_empty() {
        bail!("nothing to score: pass --text, --file, or lines on stdin");
    }
    let (spec, revision) = match &args.model {
        Some(model) => (model.as_str(), "main"),
        None => (
            config.reward.model.as_str(),
            config.reward.revision.as_str(),
        ),
    };
    let rm = RewardModel::load(spec, revision, &HubOptions::from_env(), &device)
        .with_context(|| format!("cannot load the reward model `{spec}`"))?;
    let batch = config.reward.batch_size.max(1);
    let bar = progress::bar(texts.len(), "scoring");
    for chunk in texts.chunks(batch) {
        let logits = rm.score(chunk, batch, config.reward.max_length)?;
        for (text, row) in chunk.iter().zip(&logits) {
            let probs: Vec<f32> = softmax(row).into_iter().map(|p| p as f32).collect();
            let named = |values: &[f32]| {
                rm.labels()
                    .iter()
                    .zip(values)
                    .map(|(l, v)| (l.clone(), serde_json::json!(v)))
                    .collect::<serde_json::Map<_, _>>()
            };
            // A scalar reward model (one output) has a reward, not class probabilities.
            let line = if row.len() == 1 {
                serde_json::json!({"text": text, "logits": named(row), "reward": row[0]})
            } else {
                serde_json::json!({
                    "text": text,
                    "logits": named(row),
                    "probabilities": named(&probs),
                })
            };
            progress::say(&bar, line);
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    report.finish()
}
