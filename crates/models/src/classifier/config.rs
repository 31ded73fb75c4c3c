//! Which sequence classifier a `config.json` describes, and the hyper-parameters of each
//! family in the one shape the loaders use.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::ModelError;
use crate::gpt2::Gpt2Config;
use crate::hf_config::{check_token_id, require_model_type};
use crate::roberta::RobertaConfig;

/// The reward-model architectures `reward.model` accepts, chosen by `config.json`'s `model_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// `RobertaForSequenceClassification` (`siebert/sentiment-roberta-large-english`).
    Roberta,
    /// `BertForSequenceClassification`: the pooler (dense + tanh) on `[CLS]`, then `classifier`.
    Bert,
    /// `DistilBertForSequenceClassification` (`lvwerra/distilbert-imdb`): `pre_classifier` +
    /// ReLU on `[CLS]`, then `classifier`.
    DistilBert,
    /// `GPT2ForSequenceClassification`: `score` at the last non-pad token.
    Gpt2,
}

impl Architecture {
    /// transformers' class name.
    pub fn hf_name(self) -> &'static str {
        match self {
            Architecture::Roberta => "RobertaForSequenceClassification",
            Architecture::Bert => "BertForSequenceClassification",
            Architecture::DistilBert => "DistilBertForSequenceClassification",
            Architecture::Gpt2 => "GPT2ForSequenceClassification",
        }
    }

    /// Reads the family from `model_type`, and refuses a checkpoint whose `architectures` names a
    /// head other than sequence classification (a GPT-2 language model, a masked LM, ...).
    pub fn detect(path: &Path, value: &serde_json::Value) -> Result<Self, ModelError> {
        let model_type = value.get("model_type").and_then(|v| v.as_str());
        let architecture = match model_type {
            Some("roberta") => Architecture::Roberta,
            Some("bert") => Architecture::Bert,
            Some("distilbert") => Architecture::DistilBert,
            Some("gpt2") => Architecture::Gpt2,
            _ => {
                return require_model_type(path, value, super::MODEL_TYPES).map(|()| Self::Roberta);
            }
        };
        let declared = value
            .get("architectures")
            .and_then(|a| a.get(0))
            .and_then(|a| a.as_str());
        match declared {
            Some(name) if !name.ends_with("ForSequenceClassification") => {
                Err(ModelError::NotAClassifier {
                    path: path.to_path_buf(),
                    architecture: name.to_string(),
                })
            }
            _ => Ok(architecture),
        }
    }
}

/// `BertConfig`: the RoBERTa fields under the same names, with BERT's defaults where a key is
/// absent (LayerNorm eps 1e-12, pad id 0, two token types).
pub(crate) fn bert_config(
    path: &Path,
    mut value: serde_json::Value,
) -> Result<RobertaConfig, ModelError> {
    if let Some(map) = value.as_object_mut() {
        for (key, default) in [
            ("layer_norm_eps", serde_json::json!(1e-12)),
            ("pad_token_id", serde_json::json!(0)),
            ("type_vocab_size", serde_json::json!(2)),
        ] {
            map.entry(key).or_insert(default);
        }
    }
    RobertaConfig::from_value(path, value)
}

/// The fields of transformers' `DistilBertConfig` the encoder uses.
#[derive(Debug, Deserialize)]
struct DistilBertConfig {
    vocab_size: usize,
    dim: usize,
    n_layers: usize,
    n_heads: usize,
    hidden_dim: usize,
    max_position_embeddings: usize,
    #[serde(default = "gelu")]
    activation: String,
    #[serde(default)]
    pad_token_id: u32,
    #[serde(default)]
    id2label: BTreeMap<String, String>,
}

fn gelu() -> String {
    "gelu".into()
}

/// `DistilBertConfig` in the encoder's shape: `dim` → hidden size, `hidden_dim` → feed-forward
/// size, LayerNorm eps 1e-12 (fixed in transformers), no token types (`type_vocab_size` 1,
/// unused).
pub(crate) fn distilbert_config(
    path: &Path,
    value: serde_json::Value,
) -> Result<RobertaConfig, ModelError> {
    let c: DistilBertConfig = serde_json::from_value(value).map_err(|e| ModelError::Config {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let config = RobertaConfig {
        vocab_size: c.vocab_size,
        hidden_size: c.dim,
        num_hidden_layers: c.n_layers,
        num_attention_heads: c.n_heads,
        intermediate_size: c.hidden_dim,
        hidden_act: c.activation,
        max_position_embeddings: c.max_position_embeddings,
        type_vocab_size: 1,
        layer_norm_eps: 1e-12,
        pad_token_id: c.pad_token_id,
        id2label: c.id2label,
    };
    config.check(path)?;
    Ok(config)
}

/// `GPT2Config` of a `GPT2ForSequenceClassification`: the backbone, the pad id that marks each
/// row's end, and the labels.
#[derive(Debug, Clone)]
pub struct Gpt2ClassifierConfig {
    /// The GPT-2 backbone.
    pub gpt2: Gpt2Config,
    /// `pad_token_id`; without one, transformers scores only batches of one text (we score
    /// each row at its own last token, which is the same).
    pub pad_token_id: Option<u32>,
    /// Class index → label name.
    pub id2label: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct Gpt2Head {
    #[serde(default)]
    pad_token_id: Option<u32>,
    #[serde(default)]
    id2label: BTreeMap<String, String>,
}

impl Gpt2ClassifierConfig {
    /// Reads `path` (already parsed as `value`).
    pub(crate) fn from_value(path: &Path, value: serde_json::Value) -> Result<Self, ModelError> {
        let gpt2 = Gpt2Config::from_value(path, value.clone())?;
        let head: Gpt2Head = serde_json::from_value(value).map_err(|e| ModelError::Config {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        if let Some(pad) = head.pad_token_id {
            check_token_id(path, "pad_token_id", pad, gpt2.vocab_size)?;
        }
        Ok(Self {
            gpt2,
            pad_token_id: head.pad_token_id,
            id2label: head.id2label,
        })
    }
}
