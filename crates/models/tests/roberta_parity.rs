//! RoBERTa classifier against transformers outputs (tests/reference/make_model_fixtures.py).

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use common::{device, expected, floats, ints, max_abs_diff, roberta_dir};
use dataset::HubOptions;
use models::RewardModel;

const TOL: f32 = 1e-4;

fn load() -> RewardModel {
    RewardModel::load(
        roberta_dir().to_str().unwrap(),
        "main",
        &HubOptions::from_env(),
        &device(),
    )
    .expect("fixture loads")
}

#[test]
fn labels_come_from_id2label() {
    let rm = load();
    assert_eq!(
        rm.labels(),
        vec!["NEGATIVE".to_string(), "POSITIVE".to_string()]
    );
    assert_eq!(rm.label_index("positive"), Some(1));
    assert_eq!(rm.label_index("neutral"), None);
}

#[test]
fn texts_score_like_transformers() {
    let rm = load();
    let exp = expected();
    let cases = exp["roberta"]["single"].as_array().unwrap();
    let texts: Vec<String> = cases
        .iter()
        .map(|c| c["text"].as_str().unwrap().to_string())
        .collect();
    // Our tokenizer gives the same ids as the fixture's.
    for case in cases {
        let ids = rm
            .tokenizer
            .encode(case["text"].as_str().unwrap(), true)
            .unwrap();
        assert_eq!(ids, ints(&case["input_ids"]));
    }
    // One at a time, and all in one right-padded batch.
    for batch_size in [1, texts.len()] {
        let scores = rm.score(&texts, batch_size, 512).unwrap();
        for (case, got) in cases.iter().zip(&scores) {
            let err = max_abs_diff(got, &floats(&case["logits"]));
            assert!(err < TOL, "batch {batch_size}: error {err}");
        }
    }
}

#[test]
fn padded_batch_matches_transformers() {
    let rm = load();
    let exp = expected();
    let padded = &exp["roberta"]["padded"];
    let rows: Vec<Vec<u32>> = padded["input_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| ints(r).into_iter().filter(|&id| id != 1).collect())
        .collect();
    let logits = rm.logits(&rows).unwrap();
    for (got, want) in logits.iter().zip(padded["logits"].as_array().unwrap()) {
        let err = max_abs_diff(got, &floats(want));
        assert!(err < TOL, "error {err}");
    }
}
