//! Scoring texts with a sequence classifier of any supported architecture: tokenize, truncate,
//! right-pad, forward, per-label logits.

use burn::tensor::{Device, FloatDType};
use dataset::{HubOptions, Tokenizer};

use crate::ModelError;
use crate::classifier::{Architecture, ClassifierInfo, SequenceClassifier};
use crate::hf_config::ModelFiles;

/// A loaded sequence classifier with its tokenizer and label names.
#[derive(Debug)]
pub struct RewardModel {
    /// The classifier (on a non-autodiff device: it never trains during PPO).
    pub model: SequenceClassifier,
    /// Architecture, labels, pad id, position limit.
    pub info: ClassifierInfo,
    /// The classifier's tokenizer.
    pub tokenizer: Tokenizer,
    device: Device,
}

impl RewardModel {
    /// Loads model, config and tokenizer from a directory or cached hub id.
    pub fn load(
        spec: &str,
        revision: &str,
        hub: &HubOptions,
        device: &Device,
    ) -> Result<Self, ModelError> {
        let files = ModelFiles::resolve(spec, revision, hub)?;
        let (model, info) = SequenceClassifier::load(&files, device)?;
        let tokenizer =
            Tokenizer::from_spec(spec, revision, hub).map_err(|e| ModelError::Config {
                path: files.config.with_file_name("tokenizer.json"),
                message: e.to_string(),
            })?;
        crate::hf_config::check_tokenizer(&tokenizer, info.vocab_size, &files.config)?;
        Ok(Self {
            model,
            info,
            tokenizer,
            device: device.clone(),
        })
    }

    /// This reward model with the linear layers of its blocks in `dtype` (see
    /// [`crate::precision`]); scores stay f32.
    pub fn with_block_dtype(self, dtype: FloatDType) -> Self {
        let (model, _) = crate::precision::cast_block_linears(self.model, dtype);
        Self { model, ..self }
    }

    /// Index of the label called `name` (e.g. `POSITIVE`), case-insensitive.
    pub fn label_index(&self, name: &str) -> Option<usize> {
        self.info
            .labels
            .iter()
            .position(|l| l.eq_ignore_ascii_case(name))
    }

    /// Label names by class index (from `id2label`).
    pub fn labels(&self) -> &[String] {
        &self.info.labels
    }

    /// The architecture `config.json` chose.
    pub fn architecture(&self) -> Architecture {
        self.info.architecture
    }

    /// Logits `[texts.len()][num_labels]`, scored `batch_size` texts at a time. Texts longer
    /// than `max_length` tokens (special tokens included) or than the position table are
    /// truncated at the end, keeping a final special token (`</s>`, `[SEP]`).
    pub fn score(
        &self,
        texts: &[String],
        batch_size: usize,
        max_length: usize,
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        let max_len = max_length.clamp(2, self.info.max_tokens.max(2));
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(batch_size.max(1)) {
            let mut rows = Vec::with_capacity(chunk.len());
            for text in chunk {
                let mut ids = self
                    .tokenizer
                    .encode(text, true)
                    .map_err(|source| ModelError::Tokenize { source })?;
                if ids.len() > max_len {
                    let last = ids[ids.len() - 1];
                    if self.info.keeps_final_token {
                        ids.truncate(max_len - 1);
                        ids.push(last);
                    } else {
                        ids.truncate(max_len);
                    }
                }
                rows.push(ids);
            }
            out.extend(self.logits(&rows)?);
        }
        Ok(out)
    }

    /// Logits for already tokenized rows (special tokens included), right-padded here.
    pub fn logits(&self, rows: &[Vec<u32>]) -> Result<Vec<Vec<f32>>, ModelError> {
        let values: Vec<f32> = self
            .model
            .logits(rows, &self.info, &self.device)?
            .try_into_data()
            .map_err(ModelError::device("scoring"))?
            .iter::<f32>()
            .collect();
        let n = values.len() / rows.len().max(1);
        Ok(values.chunks(n.max(1)).map(<[f32]>::to_vec).collect())
    }
}
