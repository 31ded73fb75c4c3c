//! Sequence classifiers used as reward models, of every architecture `reward.model` accepts:
//! RoBERTa, BERT, DistilBERT and GPT-2. `config.json`'s `model_type` chooses the architecture.

mod bert;
mod config;
mod gpt2;

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};

pub use bert::{BertForSequenceClassification, DistilBertForSequenceClassification};
pub use config::{Architecture, Gpt2ClassifierConfig};
pub use gpt2::Gpt2ForSequenceClassification;

use crate::ModelError;
use crate::hf_config::{ModelFiles, label_names, read_config_json};
use crate::roberta::{RobertaConfig, RobertaForSequenceClassification};

/// The `model_type`s accepted, for error messages.
pub(crate) const MODEL_TYPES: &str = "roberta, bert, distilbert or gpt2";

/// The classes accepted, for error messages.
pub const SUPPORTED: &str = "RobertaForSequenceClassification, BertForSequenceClassification, \
     DistilBertForSequenceClassification or GPT2ForSequenceClassification";

/// A loaded classifier of any supported architecture.
#[derive(Module, Debug)]
pub enum SequenceClassifier {
    /// RoBERTa (`<s>` state, dense + tanh + out_proj).
    Roberta(RobertaForSequenceClassification),
    /// BERT (pooler on `[CLS]`).
    Bert(BertForSequenceClassification),
    /// DistilBERT (`pre_classifier` + ReLU on `[CLS]`).
    DistilBert(DistilBertForSequenceClassification),
    /// GPT-2 (`score` at the last non-pad token).
    Gpt2(Gpt2ForSequenceClassification),
}

/// What scoring needs to know about a loaded classifier besides its weights.
#[derive(Debug, Clone)]
pub struct ClassifierInfo {
    /// The architecture.
    pub architecture: Architecture,
    /// Label names by output index (one `LABEL_0` for a scalar reward model).
    pub labels: Vec<String>,
    /// Pad id (`None` for a GPT-2 without one).
    pub pad_token_id: Option<u32>,
    /// Most tokens one text may have (the position table).
    pub max_tokens: usize,
    /// Whether the tokenizer ends each text with a special token (`</s>`, `[SEP]`) that
    /// truncation must keep.
    pub keeps_final_token: bool,
    /// Embedding rows.
    pub vocab_size: usize,
}

impl SequenceClassifier {
    /// Loads whichever architecture `files.config` describes.
    pub fn load(files: &ModelFiles, device: &Device) -> Result<(Self, ClassifierInfo), ModelError> {
        let path = &files.config;
        let value = read_config_json(path)?;
        let architecture = Architecture::detect(path, &value)?;
        let (model, config) = match architecture {
            Architecture::Roberta => {
                let config = RobertaConfig::from_roberta_value(path, value)?;
                let model = RobertaForSequenceClassification::load_weights(
                    &config,
                    &files.weights,
                    device,
                )?;
                (Self::Roberta(model), config)
            }
            Architecture::Bert => {
                let config = config::bert_config(path, value)?;
                let model =
                    BertForSequenceClassification::load_weights(&config, &files.weights, device)?;
                (Self::Bert(model), config)
            }
            Architecture::DistilBert => {
                let config = config::distilbert_config(path, value)?;
                let model = DistilBertForSequenceClassification::load_weights(
                    &config,
                    &files.weights,
                    device,
                )?;
                (Self::DistilBert(model), config)
            }
            Architecture::Gpt2 => return Self::load_gpt2(files, value, device),
        };
        let labels = config.labels().map_err(|message| ModelError::Config {
            path: path.clone(),
            message,
        })?;
        let max_tokens = match architecture {
            // RoBERTa's positions start after the pad id.
            Architecture::Roberta => {
                config.max_position_embeddings - config.pad_token_id as usize - 1
            }
            _ => config.max_position_embeddings,
        };
        let info = ClassifierInfo {
            architecture,
            labels,
            pad_token_id: Some(config.pad_token_id),
            max_tokens,
            keeps_final_token: true,
            vocab_size: config.vocab_size,
        };
        Ok((model, info))
    }

    fn load_gpt2(
        files: &ModelFiles,
        value: serde_json::Value,
        device: &Device,
    ) -> Result<(Self, ClassifierInfo), ModelError> {
        let config = Gpt2ClassifierConfig::from_value(&files.config, value)?;
        let labels = label_names(&config.id2label).map_err(|message| ModelError::Config {
            path: files.config.clone(),
            message,
        })?;
        let model = Gpt2ForSequenceClassification::load_weights(
            &config,
            labels.len(),
            &files.weights,
            device,
        )?;
        let info = ClassifierInfo {
            architecture: Architecture::Gpt2,
            labels,
            pad_token_id: config.pad_token_id,
            max_tokens: config.gpt2.n_positions,
            keeps_final_token: false,
            vocab_size: config.gpt2.vocab_size,
        };
        Ok((Self::Gpt2(model), info))
    }

    /// Class logits `[rows.len(), num_labels]` for tokenized rows (special tokens included),
    /// right-padded here with `info.pad_token_id`.
    pub fn logits(
        &self,
        rows: &[Vec<u32>],
        info: &ClassifierInfo,
        device: &Device,
    ) -> Result<Tensor<2>, ModelError> {
        let pad = info.pad_token_id.unwrap_or(0);
        Ok(match self {
            Self::Roberta(model) => model.classify_rows(rows, pad, device),
            Self::Bert(model) => {
                let (ids, positions, mask) = bert::bert_batch(rows, pad, device);
                model.forward(ids, positions, mask)
            }
            Self::DistilBert(model) => {
                let (ids, positions, mask) = bert::bert_batch(rows, pad, device);
                model.forward(ids, positions, mask)
            }
            Self::Gpt2(model) => model.classify(rows, info.pad_token_id, device)?,
        })
    }
}

/// Token rows padded on the right with `fill` to the longest row (at least 1 wide), row-major.
pub(crate) struct RightPadded {
    /// `[b * t]` ids.
    pub ids: Vec<u32>,
    /// `[b * t]`, 1 on tokens, 0 on padding.
    pub mask: Vec<u32>,
    /// Rows.
    pub b: usize,
    /// Columns.
    pub t: usize,
}

impl RightPadded {
    /// Pads `rows` with `fill`.
    pub fn new(rows: &[Vec<u32>], fill: u32) -> Self {
        let b = rows.len();
        let t = rows.iter().map(Vec::len).max().unwrap_or(0).max(1);
        let mut ids = Vec::with_capacity(b * t);
        let mut mask = Vec::with_capacity(b * t);
        for row in rows {
            ids.extend(
                row.iter()
                    .copied()
                    .chain(std::iter::repeat_n(fill, t - row.len())),
            );
            mask.extend((0..t).map(|i| u32::from(i < row.len())));
        }
        Self { ids, mask, b, t }
    }

    /// Positions `0..t` on every row, `[b, t]` (BERT's and GPT-2's default position ids).
    pub fn positions(&self, device: &Device) -> Tensor<2, Int> {
        let positions: Vec<i32> = (0..self.b).flat_map(|_| 0..self.t as i32).collect();
        Tensor::from_data(TensorData::new(positions, [self.b, self.t]), device)
    }
}
