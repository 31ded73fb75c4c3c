//! GPT-2 hyper-parameters, read from a Hugging Face `config.json` (`GPT2Config` field names).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::ModelError;
use crate::hf_config::{check_sizes, check_token_id, read_config_json, require_model_type};

/// The fields of transformers' `GPT2Config` this implementation uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gpt2Config {
    /// Vocabulary size (50257 for GPT-2).
    pub vocab_size: usize,
    /// Maximum sequence length (learned position embeddings).
    pub n_positions: usize,
    /// Hidden size.
    pub n_embd: usize,
    /// Number of transformer blocks.
    pub n_layer: usize,
    /// Attention heads per block.
    pub n_head: usize,
    /// MLP inner size; `None` means `4 * n_embd`.
    #[serde(default)]
    pub n_inner: Option<usize>,
    /// LayerNorm epsilon.
    #[serde(default = "default_eps")]
    pub layer_norm_epsilon: f64,
    /// Activation; only `gelu_new` (tanh approximation) and `gelu` are supported.
    #[serde(default = "default_activation")]
    pub activation_function: String,
    /// Beginning-of-sequence token id.
    #[serde(default = "default_eos")]
    pub bos_token_id: u32,
    /// End-of-sequence token id (also the pad id for generation).
    #[serde(default = "default_eos")]
    pub eos_token_id: u32,
    /// Whether attention weights are scaled by `1/sqrt(head_dim)` (always true in GPT-2).
    #[serde(default = "default_true")]
    pub scale_attn_weights: bool,
}

fn default_eps() -> f64 {
    1e-5
}
fn default_activation() -> String {
    "gelu_new".into()
}
fn default_eos() -> u32 {
    50256
}
fn default_true() -> bool {
    true
}

impl Gpt2Config {
    /// Reads and checks `config.json`; another `model_type` is [`ModelError::WrongArchitecture`].
    pub fn from_file(path: &Path) -> Result<Self, ModelError> {
        Self::from_value(path, read_config_json(path)?)
    }

    /// [`Gpt2Config::from_file`] on a `config.json` already read from `path`.
    pub fn from_value(path: &Path, value: serde_json::Value) -> Result<Self, ModelError> {
        require_model_type(path, &value, "gpt2")?;
        let config: Self = serde_json::from_value(value).map_err(|e| ModelError::Config {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        config.check(path)?;
        Ok(config)
    }

    /// MLP inner size.
    pub fn inner_dim(&self) -> usize {
        self.n_inner.unwrap_or(4 * self.n_embd)
    }

    /// Per-head size.
    pub fn head_dim(&self) -> usize {
        self.n_embd / self.n_head
    }

    fn check(&self, path: &Path) -> Result<(), ModelError> {
        let bad = |message: String| ModelError::Config {
            path: path.to_path_buf(),
            message,
        };
        check_sizes(
            path,
            &[
                ("vocab_size", self.vocab_size),
                ("n_positions", self.n_positions),
                ("n_embd", self.n_embd),
                ("n_layer", self.n_layer),
                ("n_head", self.n_head),
                ("n_inner", self.inner_dim()),
            ],
        )?;
        check_token_id(path, "eos_token_id", self.eos_token_id, self.vocab_size)?;
        check_token_id(path, "bos_token_id", self.bos_token_id, self.vocab_size)?;
        if self.n_head == 0 || !self.n_embd.is_multiple_of(self.n_head) {
            return Err(bad(format!(
                "n_embd ({}) must be a multiple of n_head ({})",
                self.n_embd, self.n_head
            )));
        }
        if !matches!(self.activation_function.as_str(), "gelu_new" | "gelu") {
            return Err(bad(format!(
                "activation_function `{}` is not supported (gelu_new, gelu)",
                self.activation_function
            )));
        }
        if !self.scale_attn_weights {
            return Err(bad("scale_attn_weights = false is not supported".into()));
        }
        Ok(())
    }

    /// The `config.json` written by an export: transformers' keys, `GPT2LMHeadModel`.
    pub fn to_hf_json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            map.insert("model_type".into(), "gpt2".into());
            map.insert(
                "architectures".into(),
                serde_json::json!(["GPT2LMHeadModel"]),
            );
            map.insert("n_ctx".into(), self.n_positions.into());
            for key in [
                "resid_pdrop",
                "embd_pdrop",
                "attn_pdrop",
                "summary_first_dropout",
            ] {
                map.insert(key.into(), 0.1.into());
            }
            map.insert("initializer_range".into(), 0.02.into());
            map.insert("torch_dtype".into(), "float32".into());
        }
        value
    }

    /// A tiny config for unit tests.
    pub fn tiny(vocab_size: usize) -> Self {
        Self {
            vocab_size,
            n_positions: 64,
            n_embd: 16,
            n_layer: 2,
            n_head: 2,
            n_inner: None,
            layer_norm_epsilon: 1e-5,
            activation_function: "gelu_new".into(),
            bos_token_id: 0,
            eos_token_id: 0,
            scale_attn_weights: true,
        }
    }
}
