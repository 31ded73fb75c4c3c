//! Reading Hugging Face `config.json` files and locating a checkpoint's files.

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
