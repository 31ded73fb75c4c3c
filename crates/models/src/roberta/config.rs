//! RoBERTa hyper-parameters and labels, read from a Hugging Face `config.json`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::ModelError;
use crate::hf_config::{
    check_sizes, check_token_id, label_names, read_config_json, require_model_type,
};

/// The fields of transformers' `RobertaConfig` this implementation uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RobertaConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Hidden size.
    pub hidden_size: usize,
    /// Encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads.
    pub num_attention_heads: usize,
    /// Feed-forward size.
    pub intermediate_size: usize,
    /// Activation; only the exact `gelu` is supported.
    #[serde(default = "default_act")]
    pub hidden_act: String,
    /// Position table size (514 for RoBERTa: positions start at `pad_token_id + 1`).
    pub max_position_embeddings: usize,
    /// Token-type table size (1 for RoBERTa).
    #[serde(default = "default_one")]
    pub type_vocab_size: usize,
    /// LayerNorm epsilon.
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    /// Pad id, also the position `padding_idx`.
    #[serde(default = "default_one_u32")]
    pub pad_token_id: u32,
    /// Class index → label name, e.g. `{"0": "NEGATIVE", "1": "POSITIVE"}`.
    #[serde(default)]
    pub id2label: BTreeMap<String, String>,
}

fn default_act() -> String {
    "gelu".into()
}
fn default_one() -> usize {
    1
}
fn default_one_u32() -> u32 {
    1
}
fn default_eps() -> f64 {
    1e-5
}

impl RobertaConfig {
    /// A fresh binary sentiment classifier (labels NEGATIVE/POSITIVE) with RoBERTa's vocabulary
    /// and pad id, a 4× feed-forward, and positions for `max_length` tokens.
    pub fn sentiment(
        hidden_size: usize,
        num_hidden_layers: usize,
        num_attention_heads: usize,
        max_length: usize,
    ) -> Self {
        let pad_token_id = 1;
        RobertaConfig {
            vocab_size: 50265,
            hidden_size,
            num_hidden_layers,
            num_attention_heads,
            intermediate_size: 4 * hidden_size,
            hidden_act: default_act(),
            // Positions start at `pad_token_id + 1`.
            max_position_embeddings: max_length + pad_token_id as usize + 1,
            type_vocab_size: 1,
            layer_norm_eps: default_eps(),
            pad_token_id,
            id2label: [("0", "NEGATIVE"), ("1", "POSITIVE")]
                .map(|(id, name)| (id.to_string(), name.to_string()))
                .into(),
        }
    }

    /// A fresh scalar reward model: [`RobertaConfig::sentiment`] with one output (`num_labels =
    /// 1`, transformers' `LABEL_0`), as trained on comparisons.
    pub fn scalar(
        hidden_size: usize,
        num_hidden_layers: usize,
        num_attention_heads: usize,
        max_length: usize,
    ) -> Self {
        Self::sentiment(
            hidden_size,
            num_hidden_layers,
            num_attention_heads,
            max_length,
        )
        .with_scalar_output()
    }

    /// The same architecture with one output, named `LABEL_0` as transformers names it when
    /// `num_labels = 1`.
    pub fn with_scalar_output(mut self) -> Self {
        self.id2label = [("0".to_string(), "LABEL_0".to_string())].into();
        self
    }

    /// Reads and checks `config.json`; another `model_type` is [`ModelError::WrongArchitecture`].
    pub fn from_file(path: &Path) -> Result<Self, ModelError> {
        Self::from_roberta_value(path, read_config_json(path)?)
    }

    /// [`RobertaConfig::from_file`] on a `config.json` already read from `path`.
    pub fn from_roberta_value(path: &Path, value: serde_json::Value) -> Result<Self, ModelError> {
        require_model_type(path, &value, "roberta")?;
        let config = Self::from_value(path, value)?;
        if config.pad_token_id as usize + 2 > config.max_position_embeddings {
            return Err(ModelError::Config {
                path: path.to_path_buf(),
                message: format!(
                    "max_position_embeddings ({}) leaves no position after pad_token_id ({}); \
                     positions start at pad_token_id + 1",
                    config.max_position_embeddings, config.pad_token_id
                ),
            });
        }
        Ok(config)
    }

    /// Parses and checks the fields of a BERT-family `config.json` already read from `path`.
    pub(crate) fn from_value(path: &Path, value: serde_json::Value) -> Result<Self, ModelError> {
        let bad = |message: String| ModelError::Config {
            path: path.to_path_buf(),
            message,
        };
        let config: Self = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
        config.check(path)?;
        Ok(config)
    }

    /// Checks sizes, ids, heads, activation and labels before anything is allocated.
    pub(crate) fn check(&self, path: &Path) -> Result<(), ModelError> {
        let bad = |message: String| ModelError::Config {
            path: path.to_path_buf(),
            message,
        };
        check_sizes(
            path,
            &[
                ("vocab_size", self.vocab_size),
                ("hidden_size", self.hidden_size),
                ("num_hidden_layers", self.num_hidden_layers),
                ("num_attention_heads", self.num_attention_heads),
                ("intermediate_size", self.intermediate_size),
                ("max_position_embeddings", self.max_position_embeddings),
                ("type_vocab_size", self.type_vocab_size),
            ],
        )?;
        check_token_id(path, "pad_token_id", self.pad_token_id, self.vocab_size)?;
        if self.num_attention_heads == 0
            || !self.hidden_size.is_multiple_of(self.num_attention_heads)
        {
            return Err(bad(
                "hidden_size must be a multiple of num_attention_heads".into()
            ));
        }
        if self.hidden_act != "gelu" {
            return Err(bad(format!(
                "hidden_act `{}` is not supported (gelu)",
                self.hidden_act
            )));
        }
        self.labels().map_err(bad)?;
        Ok(())
    }

    /// Label names by class index (`LABEL_0`, `LABEL_1` when `id2label` is absent).
    pub fn labels(&self) -> Result<Vec<String>, String> {
        label_names(&self.id2label)
    }

    /// The `config.json` an export writes (transformers' keys).
    pub fn to_hf_json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            map.insert("model_type".into(), "roberta".into());
            map.insert(
                "architectures".into(),
                serde_json::json!(["RobertaForSequenceClassification"]),
            );
            let label2id: serde_json::Map<String, serde_json::Value> = self
                .id2label
                .iter()
                .filter_map(|(id, name)| Some((name.clone(), id.parse::<u64>().ok()?.into())))
                .collect();
            map.insert("label2id".into(), label2id.into());
            map.insert("bos_token_id".into(), 0.into());
            map.insert("eos_token_id".into(), 2.into());
            map.insert("hidden_dropout_prob".into(), 0.1.into());
            map.insert("attention_probs_dropout_prob".into(), 0.1.into());
            map.insert("initializer_range".into(), 0.02.into());
            map.insert("torch_dtype".into(), "float32".into());
        }
        value
    }

    /// Number of outputs: `id2label`'s size (1 for a scalar reward model), 2 when absent
    /// (transformers' default).
    pub fn num_labels(&self) -> usize {
        match self.id2label.len() {
            0 => 2,
            n => n,
        }
    }
}
