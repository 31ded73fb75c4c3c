//! Paths to the fixtures shipped in `tests/fixtures/` at the repository root.
#![allow(dead_code)]

use std::path::PathBuf;

/// `tests/fixtures/` at the repository root.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// The 512-review IMDB sample (256 negative, 256 positive).
pub fn sample_parquet() -> PathBuf {
    fixtures().join("imdb/sample.parquet")
}

/// The real GPT-2 `tokenizer.json`.
pub fn gpt2_tokenizer() -> PathBuf {
    fixtures().join("tokenizers/gpt2/tokenizer.json")
}

/// The real RoBERTa `tokenizer.json`.
pub fn roberta_tokenizer() -> PathBuf {
    fixtures().join("tokenizers/roberta/tokenizer.json")
}
