//! Reward models with a scalar head (`num_labels = 1`, what pairwise training saves) against
//! transformers (tests/reference/make_model_fixtures.py --only reward-heads), and the layout
//! we save them in.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use std::collections::BTreeMap;

use common::{device, fixtures, floats, ints, max_abs_diff};
use dataset::HubOptions;
use models::{ModelFiles, RewardModel, RobertaForSequenceClassification};

const TOL: f32 = 1e-4;

fn expected() -> serde_json::Value {
    let text = std::fs::read_to_string(fixtures().join("expected-reward-heads.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn load(dir: &std::path::Path) -> RewardModel {
    RewardModel::load(
        dir.to_str().unwrap(),
        "main",
        &HubOptions::from_env(),
        &device(),
    )
    .unwrap()
}

#[test]
fn scalar_roberta_scores_like_transformers() {
    let rm = load(&fixtures().join("tiny-roberta-scalar"));
    assert_eq!(rm.labels(), ["LABEL_0"]);
    assert_eq!(rm.architecture(), models::Architecture::Roberta);
    let exp = expected();
    let cases = exp["roberta_scalar"]["single"].as_array().unwrap();
    let texts: Vec<String> = cases
        .iter()
        .map(|c| c["text"].as_str().unwrap().to_string())
        .collect();
    for batch_size in [1, texts.len()] {
        let scores = rm.score(&texts, batch_size, 512).unwrap();
        for (case, got) in cases.iter().zip(&scores) {
            assert_eq!(got.len(), 1);
            let err = max_abs_diff(got, &floats(&case["logits"]));
            assert!(err < TOL, "batch {batch_size}: error {err}");
        }
    }
    let padded = &exp["roberta_scalar"]["padded"];
    let rows: Vec<Vec<u32>> = padded["input_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| ints(r).into_iter().filter(|&id| id != 1).collect())
        .collect();
    for (got, want) in rm
        .logits(&rows)
        .unwrap()
        .iter()
        .zip(padded["logits"].as_array().unwrap())
    {
        assert!(max_abs_diff(got, &floats(want)) < TOL);
    }
}

/// Tensor names and shapes of a safetensors file.
fn layout(path: &std::path::Path) -> BTreeMap<String, Vec<usize>> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(name, view)| (name, view.shape().to_vec()))
        .collect()
}

#[test]
fn a_saved_scalar_model_has_transformers_layout_and_the_same_outputs() {
    let src = fixtures().join("tiny-roberta-scalar");
    let files =
        ModelFiles::resolve(src.to_str().unwrap(), "main", &HubOptions::from_env()).unwrap();
    let (model, config) = RobertaForSequenceClassification::load(&files, &device()).unwrap();
    let out = tempfile::tempdir().unwrap();
    model
        .save(&config, out.path(), &[src.join("tokenizer.json")])
        .unwrap();
    // Same tensor names and shapes as transformers' own save_pretrained.
    assert_eq!(
        layout(&out.path().join("model.safetensors")),
        layout(&src.join("model.safetensors"))
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("config.json")).unwrap())
            .unwrap();
    assert_eq!(json["id2label"], serde_json::json!({"0": "LABEL_0"}));
    assert_eq!(json["architectures"][0], "RobertaForSequenceClassification");
    let texts = ["A wonderful film".to_string(), "Dull.".to_string()];
    let a = load(&src).score(&texts, 2, 512).unwrap();
    let b = load(out.path()).score(&texts, 2, 512).unwrap();
    assert_eq!(a, b);
}
