//! `rlhf train-reward` with `reward_model.objective = "pairwise"`: a scalar reward model
//! trained on comparisons between reviews, ranked by their reviewers' star ratings
//! (`[reward_model.pairwise]`, docs/config.md).

use std::path::{Path, PathBuf};

use anyhow::Context;
use burn::module::Module;
use config::PairScope;
use dataset::{
    PairOptions, Review, preference_pairs, ratings_path_for, read_ratings, read_reviews,
};
use models::RobertaConfig;
use models::export::tokenizer_files;
use ppo::supervised::classifier::{ClassifierOutput, encode};
use ppo::supervised::pairwise::{
    EncodedPairs, PairwiseLoss, PairwiseTask, pairwise_report, score_all,
};

use super::load::split_file;
use super::supervised::Setup;
use super::train_reward::{classifier, tokenizer};
use crate::progress;

/// Reads reviews, ratings and pairs, trains and saves the scalar reward model; prints the
/// pairwise accuracy per epoch.
pub fn run(setup: &Setup) -> anyhow::Result<()> {
    let config = &setup.config;
    let rm = &config.reward_model;
    let p = &rm.pairwise;
    let fresh = RobertaConfig::scalar(
        rm.hidden_size,
        rm.num_hidden_layers,
        rm.num_attention_heads,
        rm.max_length,
    );
    let (mut model, mut model_config, tokenizer_path) = classifier(rm, setup, fresh)?;
    if model_config.num_labels() != 1 {
        // A classifier as the start (e.g. a sentiment model): its encoder, a fresh scalar head.
        println!(
            "reward_model.base_model has {} labels ({}); training its encoder with a fresh \
             one-output head",
            model_config.num_labels(),
            model_config.labels().unwrap_or_default().join(", ")
        );
        (model, model_config) = model.with_scalar_head(&model_config);
    }
    let (tokenizer, tokenizer_path) = tokenizer(rm, &model_config, tokenizer_path)?;
    let max_length = rm.max_length.min(model_config.max_position_embeddings - 2);
    let train_file = split_file(config, config.data.path.as_deref(), &config.data.split)?;
    let test_file = split_file(config, rm.training.test_path.as_deref(), "test")?;
    // Held-out pairs keep every gap, so that accuracy can be reported by gap.
    let options = |min_gap: u8, max_pairs: usize, seed: u64| PairOptions {
        scope: p.pairs,
        min_gap,
        max_pairs,
        seed,
    };
    let spinner = progress::spinner("reading ratings and tokenizing");
    let (train_reviews, train_pairs) = pairs(
        config,
        &train_file,
        p.ratings_path.as_deref(),
        options(p.min_gap, p.max_pairs, config.seed),
    )?;
    let test_max = if p.test_max_pairs > 0 {
        p.test_max_pairs
    } else {
        p.max_pairs
    };
    let (test_reviews, test_pairs) = pairs(
        config,
        &test_file,
        p.test_ratings_path.as_deref(),
        options(1, test_max, config.seed.wrapping_add(1)),
    )?;
    let train = EncodedPairs {
        ids: encode(&tokenizer, &train_reviews, max_length)?.ids,
        pairs: train_pairs,
    };
    let test = EncodedPairs {
        ids: encode(&tokenizer, &test_reviews, max_length)?.ids,
        pairs: test_pairs,
    };
    spinner.finish_and_clear();
    let scope = match p.pairs {
        PairScope::SameMovie => "same-movie",
        PairScope::CrossMovie => "cross-movie",
    };
    println!(
        "{} training pairs among {} reviews ({scope}, rating gap >= {}), {} held-out pairs among {}",
        train.pairs.len(),
        train.ids.len(),
        p.min_gap,
        test.pairs.len(),
        test.ids.len(),
    );
    let loss = PairwiseLoss {
        margin: p.margin,
        center_rewards_coefficient: p.center_rewards_coefficient,
    };
    let pad = model_config.pad_token_id;
    let batch = rm.training.batch_size;
    if !setup.resume {
        let rewards = score_all(&model.valid(), &test, batch, pad, &setup.plain);
        let before = pairwise_report(0, f64::NAN, &rewards, &test.pairs, loss);
        println!(
            "before training: test loss {:.4}, pairwise accuracy {:.1} %",
            before.test_loss,
            before.test_accuracy * 100.0
        );
    }
    let files = tokenizer_files(&tokenizer_path);
    let task = PairwiseTask {
        train: &train,
        test: &test,
        eval_batch: batch,
        loss,
        output: ClassifierOutput {
            config: &model_config,
            tokenizer_files: &files,
        },
    };
    setup.train(&task, model)?;
    Ok(())
}

/// The reviews of `file` in file order, their ratings (`ratings`, else the file beside it) and
/// the pairs among them.
fn pairs(
    config: &config::Config,
    file: &Path,
    ratings: Option<&Path>,
    options: PairOptions,
) -> anyhow::Result<(Vec<Review>, Vec<dataset::Pair>)> {
    let data = &config.data;
    let reviews = read_reviews(file, &data.text_column, &data.label_column)
        .with_context(|| format!("cannot read `{}`", file.display()))?;
    let ratings_file: PathBuf = ratings.map_or_else(|| ratings_path_for(file), Path::to_path_buf);
    let ratings = read_ratings(&ratings_file, &reviews).with_context(|| {
        format!(
            "cannot read the star ratings of `{}` (reward_model.pairwise.ratings_path / \
             test_ratings_path; default: the `-ratings.parquet` file beside the reviews)",
            file.display()
        )
    })?;
    let pairs = preference_pairs(&ratings, &options)?;
    Ok(used_reviews(reviews, pairs))
}

/// Only the reviews some pair compares (the rest are never tokenized or scored), with the
/// pairs renumbered to index them; file order is kept.
fn used_reviews(
    reviews: Vec<Review>,
    mut pairs: Vec<dataset::Pair>,
) -> (Vec<Review>, Vec<dataset::Pair>) {
    let mut index = vec![usize::MAX; reviews.len()];
    for p in &pairs {
        index[p.chosen] = 0;
        index[p.rejected] = 0;
    }
    let mut kept = Vec::new();
    for (i, review) in reviews.into_iter().enumerate() {
        if index[i] == 0 {
            index[i] = kept.len();
            kept.push(review);
        }
    }
    for p in &mut pairs {
        (p.chosen, p.rejected) = (index[p.chosen], index[p.rejected]);
    }
    (kept, pairs)
}

#[cfg(test)]
mod tests {
    use dataset::{Pair, Review};

    use super::used_reviews;

    #[test]
    fn unused_reviews_are_dropped_and_pairs_renumbered() {
        let review = |text: &str| Review {
            text: text.into(),
            label: 0,
        };
        let reviews = ["a", "b", "c", "d"].map(review).to_vec();
        let pair = |chosen, rejected| Pair {
            chosen,
            rejected,
            gap: 1,
        };
        let (kept, pairs) = used_reviews(reviews, vec![pair(3, 1), pair(1, 3)]);
        let texts: Vec<&str> = kept.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(texts, ["b", "d"]);
        assert_eq!(pairs, [pair(1, 0), pair(0, 1)]);
    }
}
