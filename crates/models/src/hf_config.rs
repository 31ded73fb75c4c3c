//! Reading Hugging Face `config.json` files and locating a checkpoint's files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dataset::{HubOptions, RepoKind, hub::resolve_file};

use crate::ModelError;

/// Weight files tried in order: transformers prefers SafeTensors when both exist.
pub const WEIGHT_FILES: [&str; 2] = ["model.safetensors", "pytorch_model.bin"];

/// The files of one Hugging Face model, resolved from a directory or a cached hub id.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    /// `config.json`.
    pub config: PathBuf,
    /// `model.safetensors` or `pytorch_model.bin`.
    pub weights: PathBuf,
    /// `tokenizer.json`, when the model ships one.
    pub tokenizer: Option<PathBuf>,
}

impl ModelFiles {
    /// Resolves `spec` (a local directory or a hub id) at `revision`.
    pub fn resolve(spec: &str, revision: &str, hub: &HubOptions) -> Result<Self, ModelError> {
        let config = resolve_file(spec, RepoKind::Model, revision, "config.json", hub)?;
        let mut failures = Vec::new();
        let mut weights = None;
        for file in WEIGHT_FILES {
            match resolve_file(spec, RepoKind::Model, revision, file, hub) {
                Ok(path) => {
                    weights = Some(path);
                    break;
                }
                Err(e) => failures.push(e.to_string()),
            }
        }
        let weights = weights.ok_or_else(|| ModelError::NoWeights {
            spec: spec.to_string(),
            details: failures.join("; "),
        })?;
        let tokenizer = resolve_file(spec, RepoKind::Model, revision, "tokenizer.json", hub).ok();
        Ok(Self {
            config,
            weights,
            tokenizer,
        })
    }
}

/// Parses `path` as JSON.
pub fn read_config_json(path: &Path) -> Result<serde_json::Value, ModelError> {
    let bad = |message: String| ModelError::Config {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| bad(format!("invalid JSON: {e}")))
}

/// Checks `model_type` equals `expected`.
pub fn require_model_type(
    path: &Path,
    value: &serde_json::Value,
    expected: &'static str,
) -> Result<(), ModelError> {
    let found = value
        .get("model_type")
        .and_then(|v| v.as_str())
        .unwrap_or("(no model_type)");
    if found == expected {
        Ok(())
    } else {
        Err(ModelError::WrongArchitecture {
            path: path.to_path_buf(),
            expected,
            found: found.to_string(),
        })
    }
}

/// Largest accepted size of any one dimension in a `config.json`: far above every real GPT-2 or
/// RoBERTa, far below what would abort the process on allocation.
pub const MAX_DIM: usize = 1 << 20;

/// Checks that every `(key, value)` of a `config.json` is in `1..=MAX_DIM`, before anything is
/// allocated from it.
pub fn check_sizes(path: &Path, sizes: &[(&str, usize)]) -> Result<(), ModelError> {
    for &(key, value) in sizes {
        if value == 0 || value > MAX_DIM {
            return Err(ModelError::Config {
                path: path.to_path_buf(),
                message: format!("{key} = {value} is out of range (1..={MAX_DIM})"),
            });
        }
    }
    Ok(())
}

/// Checks that token id `id` (a special token of `key`) is inside the vocabulary.
pub fn check_token_id(
    path: &Path,
    key: &str,
    id: u32,
    vocab_size: usize,
) -> Result<(), ModelError> {
    if id as usize >= vocab_size {
        return Err(ModelError::Config {
            path: path.to_path_buf(),
            message: format!("{key} = {id} is not below vocab_size {vocab_size}"),
        });
    }
    Ok(())
}

/// Checks that every id `tokenizer` can produce has an embedding in a model of `vocab_size`
/// (described by `config`), so no text can index past the embedding table.
pub fn check_tokenizer(
    tokenizer: &dataset::Tokenizer,
    vocab_size: usize,
    config: &Path,
) -> Result<(), ModelError> {
    let tokens = tokenizer.vocab_size();
    if tokens > vocab_size {
        return Err(ModelError::TokenizerMismatch {
            tokenizer: tokenizer.source().to_path_buf(),
            tokens,
            config: config.to_path_buf(),
            vocab_size,
        });
    }
    Ok(())
}

/// Label names by class index from a `config.json`'s `id2label` (`LABEL_0`, `LABEL_1` when it
/// is absent, as transformers defaults to two labels).
pub fn label_names(id2label: &BTreeMap<String, String>) -> Result<Vec<String>, String> {
    if id2label.is_empty() {
        return Ok(vec!["LABEL_0".into(), "LABEL_1".into()]);
    }
    let mut labels = vec![None; id2label.len()];
    for (id, name) in id2label {
        let index: usize = id
            .parse()
            .map_err(|_| format!("id2label key `{id}` is not an integer"))?;
        let slot = labels
            .get_mut(index)
            .ok_or_else(|| format!("id2label ids must be 0..{}", id2label.len()))?;
        *slot = Some(name.clone());
    }
    Ok(labels.into_iter().map(Option::unwrap_or_default).collect())
}
