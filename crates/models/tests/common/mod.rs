//! Shared helpers for the models tests: fixture paths and the expected outputs.

#![allow(dead_code)]

use std::path::PathBuf;

use burn::tensor::Device;

/// `tests/fixtures/models` at the workspace root.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/models")
}

/// The tiny GPT-2 (with TRL value head) directory.
pub fn gpt2_dir() -> PathBuf {
    fixtures().join("tiny-gpt2")
}

/// The tiny RoBERTa classifier directory.
pub fn roberta_dir() -> PathBuf {
    fixtures().join("tiny-roberta")
}

/// `expected.json` written by tests/reference/make_model_fixtures.py.
pub fn expected() -> serde_json::Value {
    let text = std::fs::read_to_string(fixtures().join("expected.json")).expect("expected.json");
    serde_json::from_str(&text).expect("valid JSON")
}

/// The CPU device every test runs on.
pub fn device() -> Device {
    Device::flex()
}

/// A JSON array of numbers as f32.
pub fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

/// A JSON array of integers as u32.
pub fn ints(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("integer") as u32)
        .collect()
}

/// Largest absolute difference.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// The resolved files of a model directory.
pub fn files(dir: &std::path::Path) -> models::ModelFiles {
    models::ModelFiles::resolve(
        dir.to_str().unwrap(),
        "main",
        &dataset::HubOptions::from_env(),
    )
    .unwrap()
}

/// Copies a fixture directory (config, one weight file, tokenizer) into a temp dir.
pub fn copy_dir(src: &std::path::Path, weights: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ["config.json", "tokenizer.json", weights] {
        std::fs::copy(src.join(name), dir.path().join(name)).unwrap();
    }
    dir
}
