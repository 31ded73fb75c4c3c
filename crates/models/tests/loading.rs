//! Checkpoint formats and the HF-layout export round trip (bad checkpoints: bad_checkpoints.rs).

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use std::path::PathBuf;

use common::{copy_dir, device, files, gpt2_dir, max_abs_diff, roberta_dir};
use dataset::HubOptions;
use models::export::{ValueHeadWeights, policy_tensors, save_policy, write_safetensors};
use models::{
    Gpt2Config, Gpt2WithValueHead, ModelFiles, RobertaConfig, RobertaForSequenceClassification,
    ValueHeadInit, WeightMap,
};

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

#[test]
fn export_round_trips_and_keeps_hf_layout() {
    let (policy, config) =
        Gpt2WithValueHead::load(&files(&gpt2_dir()), ValueHeadInit::default(), &device()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let tokenizer: Vec<PathBuf> = vec![gpt2_dir().join("tokenizer.json")];
    save_policy(
        &policy,
        &config,
        out.path(),
        ValueHeadWeights::Keep,
        &tokenizer,
    )
    .unwrap();
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
