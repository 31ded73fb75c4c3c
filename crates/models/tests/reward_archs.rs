//! The other reward-model architectures `reward.model` accepts (GPT-2, BERT, DistilBERT
//! sequence classifiers) against transformers (tests/reference/make_reward_arch_fixtures.py):
//! the same token ids, and the same logits alone and in a right-padded batch.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use common::{copy_dir, device, fixtures, floats, ints, max_abs_diff};
use dataset::HubOptions;
use models::{Architecture, ModelError, RewardModel};

const TOL: f32 = 1e-4;

fn expected() -> serde_json::Value {
    let text = std::fs::read_to_string(fixtures().join("expected-reward-archs.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn try_load(dir: &std::path::Path) -> Result<RewardModel, ModelError> {
    RewardModel::load(
        dir.to_str().unwrap(),
        "main",
        &HubOptions::from_env(),
        &device(),
    )
}

/// Loads `dir`, checks its architecture and labels, and compares every expected case.
fn check(dir: &str, key: &str, architecture: Architecture) {
    let rm = try_load(&fixtures().join(dir)).unwrap();
    assert_eq!(rm.architecture(), architecture);
    assert_eq!(rm.labels(), ["NEGATIVE", "POSITIVE"]);
    let exp = &expected()[key];
    let cases = exp["single"].as_array().unwrap();
    let texts: Vec<String> = cases
        .iter()
        .map(|c| c["text"].as_str().unwrap().to_string())
        .collect();
    for (case, text) in cases.iter().zip(&texts) {
        let ids = rm.tokenizer.encode(text, true).unwrap();
        assert_eq!(ids, ints(&case["input_ids"]), "{key}: tokens of {text:?}");
    }
    for batch_size in [1, 2, texts.len()] {
        let scores = rm.score(&texts, batch_size, 512).unwrap();
        for (case, got) in cases.iter().zip(&scores) {
            let err = max_abs_diff(got, &floats(&case["logits"]));
            assert!(err < TOL, "{key}, batch {batch_size}: error {err}");
        }
    }
    // transformers' own right-padded batch, cut back to each row's length.
    let padded = &exp["padded"];
    let rows: Vec<Vec<u32>> = padded["input_ids"]
        .as_array()
        .unwrap()
        .iter()
        .zip(ints(&padded["lengths"]))
        .map(|(row, len)| ints(row)[..len as usize].to_vec())
        .collect();
    let got = rm.logits(&rows).unwrap();
    for (got, want) in got.iter().zip(padded["logits"].as_array().unwrap()) {
        let err = max_abs_diff(got, &floats(want));
        assert!(err < TOL, "{key}, padded: error {err}");
    }
}

#[test]
fn gpt2_sequence_classifier_scores_like_transformers() {
    check("tiny-gpt2-classifier", "gpt2", Architecture::Gpt2);
}

#[test]
fn bert_classifier_scores_like_transformers() {
    check("tiny-bert", "bert", Architecture::Bert);
}

#[test]
fn distilbert_classifier_scores_like_transformers() {
    check("tiny-distilbert", "distilbert", Architecture::DistilBert);
}

#[test]
fn truncation_keeps_bert_sep_and_cuts_gpt2_at_the_end() {
    let text = ["I really did not like the acting in this film, because".to_string()];
    let bert = try_load(&fixtures().join("tiny-bert")).unwrap();
    let ids = bert.tokenizer.encode(&text[0], true).unwrap();
    let kept = vec![ids[0], ids[1], ids[2], *ids.last().unwrap()];
    assert_eq!(
        bert.score(&text, 1, 4).unwrap(),
        bert.logits(&[kept]).unwrap()
    );
    let gpt2 = try_load(&fixtures().join("tiny-gpt2-classifier")).unwrap();
    let ids = gpt2.tokenizer.encode(&text[0], true).unwrap();
    assert_eq!(
        gpt2.score(&text, 1, 4).unwrap(),
        gpt2.logits(&[ids[..4].to_vec()]).unwrap()
    );
}

#[test]
fn a_language_model_or_an_unknown_family_is_refused_by_name() {
    let err = try_load(&fixtures().join("tiny-gpt2")).unwrap_err();
    assert!(
        matches!(&err, ModelError::NotAClassifier { architecture, .. } if architecture == "GPT2LMHeadModel"),
        "{err}"
    );
    assert!(
        err.to_string().contains("GPT2ForSequenceClassification"),
        "{err}"
    );
    let dir = copy_dir(&fixtures().join("tiny-bert"), "model.safetensors");
    let config = dir.path().join("config.json");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("\"bert\"", "\"t5\"")).unwrap();
    let err = try_load(dir.path()).unwrap_err();
    assert!(
        err.to_string().contains("`t5`") && err.to_string().contains("distilbert"),
        "{err}"
    );
}

#[test]
fn an_empty_text_is_an_error_for_gpt2() {
    let rm = try_load(&fixtures().join("tiny-gpt2-classifier")).unwrap();
    let err = rm
        .score(&["fine".into(), String::new()], 2, 64)
        .unwrap_err();
    assert!(
        matches!(err, ModelError::EmptyText { index: 1, .. }),
        "{err}"
    );
}
