//! `BertForSequenceClassification` and `DistilBertForSequenceClassification`: the RoBERTa
//! encoder modules with BERT positions (`0..t`) and each family's head on the `[CLS]` state.

use std::path::Path;

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::activation::{relu, tanh};
use burn::tensor::{Device, Int, Tensor, TensorData, s};

use crate::ModelError;
use crate::roberta::{EncoderKeys, Roberta, RobertaConfig, linear, load_encoder};
use crate::weights::{WeightMap, ids_tensor};

/// Buffers transformers keeps in some BERT checkpoints (not parameters).
const IGNORED_BERT_KEYS: [&str; 1] = ["embeddings.position_ids"];

/// BERT encoder, pooler and classifier.
#[derive(Module, Debug)]
pub struct BertForSequenceClassification {
    /// `bert.embeddings` and `bert.encoder`.
    pub bert: Roberta,
    /// `bert.pooler.dense` `[hidden, hidden]`, followed by tanh.
    pub pooler: Linear,
    /// `classifier` `[hidden, num_labels]`.
    pub classifier: Linear,
}

/// DistilBERT encoder and its two-layer head.
#[derive(Module, Debug)]
pub struct DistilBertForSequenceClassification {
    /// `distilbert.embeddings` and `distilbert.transformer` (no token types).
    pub distilbert: Roberta,
    /// `pre_classifier` `[dim, dim]`, followed by ReLU.
    pub pre_classifier: Linear,
    /// `classifier` `[dim, num_labels]`.
    pub classifier: Linear,
}

/// A right-padded BERT batch on `device`: ids `[b, t]` (padded with `pad`), positions `0..t`
/// per row and the `[b, t]` attention mask. `t` is the longest row (at least 1).
pub(crate) fn bert_batch(
    rows: &[Vec<u32>],
    pad: u32,
    device: &Device,
) -> (Tensor<2, Int>, Tensor<2, Int>, Tensor<2, Int>) {
    let b = rows.len();
    let t = rows.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let mut ids = Vec::with_capacity(b * t);
    let mut mask = Vec::with_capacity(b * t);
    for row in rows {
        ids.extend(
            row.iter()
                .copied()
                .chain(std::iter::repeat_n(pad, t - row.len())),
        );
        mask.extend((0..t).map(|i| u32::from(i < row.len())));
    }
    let positions: Vec<i32> = (0..b).flat_map(|_| 0..t as i32).collect();
    (
        ids_tensor(&ids, b, t, device),
        Tensor::from_data(TensorData::new(positions, [b, t]), device),
        ids_tensor(&mask, b, t, device),
    )
}

/// The `[CLS]` (first) state `[b, d]` of hidden states `[b, t, d]`.
fn first_token(hidden: Tensor<3>) -> Tensor<2> {
    let [b, _, d] = hidden.dims();
    hidden.slice(s![.., 0..1, ..]).reshape([b, d])
}

impl BertForSequenceClassification {
    /// Class logits `[b, num_labels]` for ids, positions and mask, each `[b, t]`.
    pub fn forward(
        &self,
        input_ids: Tensor<2, Int>,
        position_ids: Tensor<2, Int>,
        attention_mask: Tensor<2, Int>,
    ) -> Tensor<2> {
        let hidden = self.bert.forward(input_ids, position_ids, attention_mask);
        let pooled = tanh(self.pooler.forward(first_token(hidden)));
        self.classifier.forward(pooled)
    }

    /// Loads `bert.*`, `classifier.*` from a weight file.
    pub fn load_weights(
        config: &RobertaConfig,
        path: &Path,
        device: &Device,
    ) -> Result<Self, ModelError> {
        let mut w = WeightMap::read(path)?;
        w.strip_prefix("bert.");
        let bert = load_encoder(&mut w, config, &EncoderKeys::BERT, device)?;
        let d = config.hidden_size;
        let model = Self {
            bert,
            pooler: linear(&mut w, "pooler.dense", d, d, device)?,
            classifier: linear(&mut w, "classifier", d, config.num_labels(), device)?,
        };
        w.finish(&IGNORED_BERT_KEYS)?;
        Ok(model)
    }
}

impl DistilBertForSequenceClassification {
    /// Class logits `[b, num_labels]` for ids, positions and mask, each `[b, t]`.
    pub fn forward(
        &self,
        input_ids: Tensor<2, Int>,
        position_ids: Tensor<2, Int>,
        attention_mask: Tensor<2, Int>,
    ) -> Tensor<2> {
        let hidden = self
            .distilbert
            .forward(input_ids, position_ids, attention_mask);
        let h = relu(self.pre_classifier.forward(first_token(hidden)));
        self.classifier.forward(h)
    }

    /// Loads `distilbert.*`, `pre_classifier.*`, `classifier.*` from a weight file.
    pub fn load_weights(
        config: &RobertaConfig,
        path: &Path,
        device: &Device,
    ) -> Result<Self, ModelError> {
        let mut w = WeightMap::read(path)?;
        w.strip_prefix("distilbert.");
        let distilbert = load_encoder(&mut w, config, &EncoderKeys::DISTILBERT, device)?;
        let d = config.hidden_size;
        let model = Self {
            distilbert,
            pre_classifier: linear(&mut w, "pre_classifier", d, d, device)?,
            classifier: linear(&mut w, "classifier", d, config.num_labels(), device)?,
        };
        w.finish(&IGNORED_BERT_KEYS)?;
        Ok(model)
    }
}
