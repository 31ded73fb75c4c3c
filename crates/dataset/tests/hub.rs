//! Resolution through a local directory and a huggingface_hub-layout cache, fully offline.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use std::path::Path;

use dataset::hub::{HubError, HubOptions, RepoKind, is_hub_id, resolve_file};
use dataset::{Tokenizer, read_reviews, resolve_data_file};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// Lays out `<cache>/<kind>s--owner--name/{refs/main, snapshots/<commit>/<file>}`.
fn seed_cache(cache: &Path, folder: &str, file: &str, source: &Path) {
    let repo = cache.join(folder);
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), COMMIT).unwrap();
    let target = repo.join("snapshots").join(COMMIT).join(file);
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::copy(source, target).unwrap();
}

fn offline(cache: &Path) -> HubOptions {
    HubOptions {
        cache_dir: cache.to_path_buf(),
        offline: true,
    }
}

#[test]
fn hub_ids_are_told_apart_from_paths() {
    for id in [
        "gpt2",
        "lvwerra/gpt2-imdb",
        "siebert/sentiment-roberta-large-english",
        "a.b_c/d-1",
    ] {
        assert!(is_hub_id(id), "{id}");
    }
    for not_id in [
        "",
        "/abs/path",
        "./rel",
        "a/b/c",
        "../x",
        "a//b",
        "has space/x",
    ] {
        assert!(!is_hub_id(not_id), "{not_id}");
    }
}

#[test]
fn cached_dataset_and_tokenizer_files_resolve_offline() {
    let cache = tempfile::tempdir().unwrap();
    let file = "plain_text/train-00000-of-00001.parquet";
    seed_cache(
        cache.path(),
        "datasets--stanfordnlp--imdb",
        file,
        &common::sample_parquet(),
    );
    seed_cache(
        cache.path(),
        "models--lvwerra--gpt2-imdb",
        "tokenizer.json",
        &common::gpt2_tokenizer(),
    );

    let data = config::DataConfig::default();
    let path = resolve_data_file(&data, &offline(cache.path())).expect("cached parquet");
    assert_eq!(read_reviews(&path, "text", "label").unwrap().len(), 512);

    let tokenizer = Tokenizer::from_spec("lvwerra/gpt2-imdb", "main", &offline(cache.path()))
        .expect("cached tokenizer");
    assert_eq!(
        tokenizer.encode("Hello world", false).unwrap(),
        [15496, 995]
    );

    // A commit hash as revision reads the snapshot directly.
    let by_commit = resolve_file(
        "stanfordnlp/imdb",
        RepoKind::Dataset,
        COMMIT,
        file,
        &offline(cache.path()),
    );
    assert_eq!(by_commit.unwrap(), path);
}

#[test]
fn a_cache_miss_offline_says_what_to_do() {
    let cache = tempfile::tempdir().unwrap();
    let err = resolve_file(
        "lvwerra/gpt2-imdb",
        RepoKind::Model,
        "main",
        "config.json",
        &offline(cache.path()),
    )
    .unwrap_err();
    assert!(matches!(err, HubError::NotCached { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("HF_HUB_OFFLINE") && message.contains("local path"),
        "{message}"
    );
}

#[test]
fn local_directories_win_and_report_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(common::gpt2_tokenizer(), dir.path().join("tokenizer.json")).unwrap();
    let spec = dir.path().to_str().unwrap();
    let options = offline(dir.path());
    let tokenizer = Tokenizer::from_spec(spec, "main", &options).expect("local dir");
    assert_eq!(tokenizer.source(), dir.path().join("tokenizer.json"));

    let err = resolve_file(spec, RepoKind::Model, "main", "config.json", &options).unwrap_err();
    assert!(matches!(err, HubError::MissingLocalFile { .. }), "{err:?}");
    let err = resolve_file(
        "./no/such/dir",
        RepoKind::Model,
        "main",
        "config.json",
        &options,
    )
    .unwrap_err();
    assert!(matches!(err, HubError::NotFound { .. }), "{err:?}");
}
