//! Bad checkpoints are refused with errors that name the file, the key and the fix: another
//! architecture, corrupt weights, missing or unexpected weights, wrong shapes, missing files.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use std::path::Path;

use common::{copy_dir, device, files, gpt2_dir, roberta_dir};
use dataset::HubOptions;
use models::export::{policy_tensors, write_safetensors};
use models::{
    Gpt2Config, Gpt2WithValueHead, ModelError, ModelFiles, RobertaForSequenceClassification,
    ValueHeadInit,
};

fn load_err(dir: &Path) -> ModelError {
    Gpt2WithValueHead::load(&files(dir), ValueHeadInit::default(), &device()).unwrap_err()
}

#[test]
fn wrong_architecture_is_named() {
    let err = Gpt2WithValueHead::load(&files(&roberta_dir()), ValueHeadInit::default(), &device())
        .unwrap_err();
    assert!(
        matches!(&err, ModelError::WrongArchitecture { found, .. } if found == "roberta"),
        "{err}"
    );
    let err = RobertaForSequenceClassification::load(&files(&gpt2_dir()), &device()).unwrap_err();
    assert!(err.to_string().contains("`gpt2` model"), "{err}");
}

#[test]
fn corrupt_weights_are_reported_with_the_file() {
    let dir = copy_dir(&gpt2_dir(), "model.safetensors");
    let path = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = load_err(dir.path());
    assert!(matches!(err, ModelError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("model.safetensors"), "{err}");

    let dir = copy_dir(&gpt2_dir(), "pytorch_model.bin");
    std::fs::write(dir.path().join("pytorch_model.bin"), b"not a pickle").unwrap();
    assert!(matches!(load_err(dir.path()), ModelError::Corrupt { .. }));
}

#[test]
fn missing_and_unexpected_weights_name_the_key() {
    let (policy, _) =
        Gpt2WithValueHead::load(&files(&gpt2_dir()), ValueHeadInit::default(), &device()).unwrap();
    let dir = copy_dir(&gpt2_dir(), "config.json");
    let path = dir.path().join("model.safetensors");

    let mut tensors = policy_tensors(&policy, true);
    tensors.retain(|(k, _)| k != "transformer.h.1.mlp.c_fc.bias");
    write_safetensors(&path, &tensors).unwrap();
    let err = load_err(dir.path());
    assert!(
        matches!(&err, ModelError::MissingWeight { key, .. } if key == "h.1.mlp.c_fc.bias"),
        "{err}"
    );

    let mut tensors = policy_tensors(&policy, true);
    let extra = tensors[0].1.clone();
    tensors.push(("transformer.h.7.attn.c_attn.weight".into(), extra));
    write_safetensors(&path, &tensors).unwrap();
    let err = load_err(dir.path());
    assert!(err.to_string().contains("h.7.attn.c_attn.weight"), "{err}");
}

#[test]
fn shape_mismatch_names_key_and_shapes() {
    let dir = copy_dir(&gpt2_dir(), "model.safetensors");
    let config_path = dir.path().join("config.json");
    let text = std::fs::read_to_string(&config_path).unwrap();
    std::fs::write(
        &config_path,
        text.replace("\"n_positions\": 64", "\"n_positions\": 32"),
    )
    .unwrap();
    let err = load_err(dir.path());
    match err {
        ModelError::ShapeMismatch {
            key,
            expected,
            found,
            ..
        } => {
            assert_eq!(key, "wpe.weight");
            assert_eq!((expected[0], found[0]), (32, 64));
        }
        other => panic!("expected a shape mismatch, got {other}"),
    }
}

#[test]
fn missing_files_and_bad_config_are_clear() {
    let empty = tempfile::tempdir().unwrap();
    let err = ModelFiles::resolve(
        empty.path().to_str().unwrap(),
        "main",
        &HubOptions::from_env(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("config.json"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        gpt2_dir().join("config.json"),
        dir.path().join("config.json"),
    )
    .unwrap();
    let err = ModelFiles::resolve(
        dir.path().to_str().unwrap(),
        "main",
        &HubOptions::from_env(),
    )
    .unwrap_err();
    assert!(matches!(err, ModelError::NoWeights { .. }), "{err}");

    std::fs::write(dir.path().join("config.json"), "{ not json").unwrap();
    let err = Gpt2Config::from_file(&dir.path().join("config.json")).unwrap_err();
    assert!(err.to_string().contains("invalid JSON"), "{err}");
}
