//! Checkpoint formats, bad inputs and the HF-layout export round trip.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use std::path::{Path, PathBuf};

use common::{device, gpt2_dir, max_abs_diff, roberta_dir};
use dataset::HubOptions;
use models::export::{policy_tensors, save_policy, write_safetensors};
use models::{
    Gpt2Config, Gpt2WithValueHead, ModelError, ModelFiles, RobertaConfig,
    RobertaForSequenceClassification, ValueHeadInit, WeightMap,
};

fn files(dir: &Path) -> ModelFiles {
    ModelFiles::resolve(dir.to_str().unwrap(), "main", &HubOptions::from_env()).unwrap()
}

/// Copies a fixture directory (config, one weight file, tokenizer) into a temp dir.
fn copy_dir(src: &Path, weights: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ["config.json", "tokenizer.json", weights] {
        std::fs::copy(src.join(name), dir.path().join(name)).unwrap();
    }
    dir
}

fn flat(policy: &Gpt2WithValueHead) -> Vec<(String, Vec<f32>)> {
    policy_tensors(policy, true)
        .into_iter()
        .map(|(k, v)| (k, v.iter::<f32>().collect()))
        .collect()
}

#[test]
fn both_file_formats_load_identical_weights() {
    let config = Gpt2Config::from_file(&gpt2_dir().join("config.json")).unwrap();
    let init = ValueHeadInit::default();
    let dev = device();
    let st =
        Gpt2WithValueHead::load_weights(&config, &gpt2_dir().join("model.safetensors"), init, &dev)
            .unwrap();
    let bin =
        Gpt2WithValueHead::load_weights(&config, &gpt2_dir().join("pytorch_model.bin"), init, &dev)
            .unwrap();
    assert_eq!(flat(&st), flat(&bin));

    let rconfig = RobertaConfig::from_file(&roberta_dir().join("config.json")).unwrap();
    let a = RobertaForSequenceClassification::load_weights(
        &rconfig,
        &roberta_dir().join("model.safetensors"),
        &dev,
    )
    .unwrap();
    let b = RobertaForSequenceClassification::load_weights(
        &rconfig,
        &roberta_dir().join("pytorch_model.bin"),
        &dev,
    )
    .unwrap();
    let wa: Vec<f32> = a
        .classifier
        .out_proj
        .weight
        .val()
        .into_data()
        .iter::<f32>()
        .collect();
    let wb: Vec<f32> = b
        .classifier
        .out_proj
        .weight
        .val()
        .into_data()
        .iter::<f32>()
        .collect();
    assert_eq!(wa, wb);
}

#[test]
fn a_directory_with_only_the_pickle_loads() {
    let dir = copy_dir(&gpt2_dir(), "pytorch_model.bin");
    let f = files(dir.path());
    assert!(f.weights.ends_with("pytorch_model.bin"));
    Gpt2WithValueHead::load(&f, ValueHeadInit::default(), &device()).unwrap();
}

#[test]
fn keys_without_the_transformer_prefix_load() {
    let (policy, config) =
        Gpt2WithValueHead::load(&files(&gpt2_dir()), ValueHeadInit::default(), &device()).unwrap();
    let bare: Vec<(String, burn::tensor::TensorData)> = policy_tensors(&policy, false)
        .into_iter()
        .map(|(k, v)| (k.trim_start_matches("transformer.").to_string(), v))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    write_safetensors(&path, &bare).unwrap();
    let zero = ValueHeadInit::Zero;
    let loaded = Gpt2WithValueHead::load_weights(&config, &path, zero, &device()).unwrap();
    let a = flat(&policy);
    let b = flat(&loaded);
    // Backbone equal; the value head was absent, so it is the zero init.
    assert_eq!(a[..a.len() - 2], b[..b.len() - 2]);
    assert!(b[b.len() - 2].1.iter().all(|&w| w == 0.0));
}

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

#[test]
fn export_round_trips_and_keeps_hf_layout() {
    let (policy, config) =
        Gpt2WithValueHead::load(&files(&gpt2_dir()), ValueHeadInit::default(), &device()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let tokenizer: Vec<PathBuf> = vec![gpt2_dir().join("tokenizer.json")];
    save_policy(&policy, &config, out.path(), true, &tokenizer).unwrap();
    for name in ["config.json", "model.safetensors", "tokenizer.json"] {
        assert!(out.path().join(name).is_file(), "{name} written");
    }
    let (again, config2) =
        Gpt2WithValueHead::load(&files(out.path()), ValueHeadInit::Zero, &device()).unwrap();
    assert_eq!(config, config2);
    assert_eq!(flat(&policy), flat(&again));
    // The file holds exactly transformers' key names.
    let mut map = WeightMap::read(&out.path().join("model.safetensors")).unwrap();
    assert!(map.contains("transformer.h.0.attn.c_attn.weight"));
    assert!(map.contains("v_head.summary.weight"));
    let w = map
        .take("v_head.summary.weight", &[1, config.n_embd])
        .unwrap();
    assert_eq!(w.shape().to_vec(), vec![1, config.n_embd]);
    let values: Vec<f32> = w.iter::<f32>().collect();
    let ours: Vec<f32> = policy
        .v_head
        .summary
        .weight
        .val()
        .into_data()
        .iter::<f32>()
        .collect();
    assert!(max_abs_diff(&values, &ours) == 0.0);
}

#[test]
fn hub_ids_load_from_the_hf_cache_offline() {
    // huggingface_hub's layout: models--owner--name/{refs/main, snapshots/<commit>/<files>}.
    let cache = tempfile::tempdir().unwrap();
    let repo = cache.path().join("models--lvwerra--gpt2-imdb");
    let commit = "0123456789abcdef0123456789abcdef01234567";
    let snapshot = repo.join("snapshots").join(commit);
    std::fs::create_dir_all(&snapshot).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), commit).unwrap();
    // transformers' layout for this repo: config + pickle weights, no safetensors.
    for name in ["config.json", "pytorch_model.bin", "tokenizer.json"] {
        std::fs::copy(gpt2_dir().join(name), snapshot.join(name)).unwrap();
    }
    let hub = HubOptions {
        cache_dir: cache.path().to_path_buf(),
        offline: true,
    };
    let files = ModelFiles::resolve("lvwerra/gpt2-imdb", "main", &hub).unwrap();
    assert!(files.weights.ends_with("pytorch_model.bin"));
    let (policy, _) = Gpt2WithValueHead::load(&files, ValueHeadInit::default(), &device()).unwrap();
    let (local, _) = Gpt2WithValueHead::load(
        &self::files(&gpt2_dir()),
        ValueHeadInit::default(),
        &device(),
    )
    .unwrap();
    assert_eq!(flat(&policy), flat(&local));

    // A repo that is not cached names the cache and the offline switch.
    let err =
        ModelFiles::resolve("siebert/sentiment-roberta-large-english", "main", &hub).unwrap_err();
    assert!(err.to_string().contains("HF_HUB_OFFLINE"), "{err}");
}

#[test]
fn a_fresh_roberta_classifier_saves_in_hf_layout_and_loads_back() {
    let mut config = RobertaConfig::from_file(&roberta_dir().join("config.json")).unwrap();
    config.num_hidden_layers = 1;
    let dev = device();
    let model = RobertaForSequenceClassification::init(&config, &dev);
    let dir = tempfile::tempdir().unwrap();
    model
        .save(&config, dir.path(), &[roberta_dir().join("tokenizer.json")])
        .unwrap();
    let (loaded, config2) =
        RobertaForSequenceClassification::load(&files(dir.path()), &dev).unwrap();
    assert_eq!(config2.id2label, config.id2label);
    let a: Vec<Vec<f32>> = model
        .hf_tensors()
        .into_iter()
        .map(|(_, t)| t.iter::<f32>().collect())
        .collect();
    let b: Vec<Vec<f32>> = loaded
        .hf_tensors()
        .into_iter()
        .map(|(_, t)| t.iter::<f32>().collect())
        .collect();
    assert_eq!(a, b);
    // Padding rows start at zero, as transformers initialises them.
    let pad: Vec<f32> = model
        .roberta
        .embeddings
        .word_embeddings
        .weight
        .val()
        .into_data()
        .iter::<f32>()
        .skip(config.hidden_size)
        .take(config.hidden_size)
        .collect();
    assert!(pad.iter().all(|&x| x == 0.0));
}
