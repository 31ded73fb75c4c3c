//! `BertForSequenceClassification` and `DistilBertForSequenceClassification`: the RoBERTa
//! encoder modules with BERT positions (`0..t`) and each family's head on the `[CLS]` state.

use std::path::Path;

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::activation::{relu, tanh};
use burn::tensor::{Device, Int, Tensor};

use crate::ModelError;
use crate::roberta::{EncoderKeys, Roberta, RobertaConfig, first_token, linear, load_encoder};
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
    let padded = super::RightPadded::new(rows, pad);
    (
        ids_tensor(&padded.ids, padded.b, padded.t, device),
        padded.positions(device),
        ids_tensor(&padded.mask, padded.b, padded.t, device),
    )
}

/// Class logits `[b, num_labels]`: `classifier(activation(pre(encoder(...)[:, 0])))`.
fn head_forward(
    encoder: &Roberta,
    pre: &Linear,
    activation: fn(Tensor<2>) -> Tensor<2>,
    classifier: &Linear,
    (input_ids, position_ids, attention_mask): (Tensor<2, Int>, Tensor<2, Int>, Tensor<2, Int>),
) -> Tensor<2> {
    let hidden = encoder.forward(input_ids, position_ids, attention_mask);
    classifier.forward(activation(pre.forward(first_token(hidden))))
}

/// The encoder under `prefix` (keys named as `keys` says), the `[d, d]` layer `pre` and the
/// `classifier`, read from a weight file; fails on leftovers.
fn load_parts(
    config: &RobertaConfig,
    path: &Path,
    (prefix, keys, pre): (&str, &EncoderKeys, &str),
    device: &Device,
) -> Result<(Roberta, Linear, Linear), ModelError> {
    let mut w = WeightMap::read(path)?;
    w.strip_prefix(prefix);
    let encoder = load_encoder(&mut w, config, keys, device)?;
    let d = config.hidden_size;
    let pre = linear(&mut w, pre, d, d, device)?;
    let classifier = linear(&mut w, "classifier", d, config.num_labels(), device)?;
    w.finish(&IGNORED_BERT_KEYS)?;
    Ok((encoder, pre, classifier))
}

impl BertForSequenceClassification {
    /// Class logits `[b, num_labels]` for ids, positions and mask, each `[b, t]`.
    pub fn forward(
        &self,
        input_ids: Tensor<2, Int>,
        position_ids: Tensor<2, Int>,
        attention_mask: Tensor<2, Int>,
    ) -> Tensor<2> {
        let inputs = (input_ids, position_ids, attention_mask);
        head_forward(&self.bert, &self.pooler, tanh, &self.classifier, inputs)
    }

    /// Loads `bert.*`, `classifier.*` from a weight file.
    pub fn load_weights(
        config: &RobertaConfig,
        path: &Path,
        device: &Device,
    ) -> Result<Self, ModelError> {
        let names = ("bert.", &EncoderKeys::BERT, "pooler.dense");
        let (bert, pooler, classifier) = load_parts(config, path, names, device)?;
        Ok(Self {
            bert,
            pooler,
            classifier,
        })
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
        let inputs = (input_ids, position_ids, attention_mask);
        head_forward(
            &self.distilbert,
            &self.pre_classifier,
            relu,
            &self.classifier,
            inputs,
        )
    }

    /// Loads `distilbert.*`, `pre_classifier.*`, `classifier.*` from a weight file.
    pub fn load_weights(
        config: &RobertaConfig,
        path: &Path,
        device: &Device,
    ) -> Result<Self, ModelError> {
        let names = ("distilbert.", &EncoderKeys::DISTILBERT, "pre_classifier");
        let (distilbert, pre_classifier, classifier) = load_parts(config, path, names, device)?;
        Ok(Self {
            distilbert,
            pre_classifier,
            classifier,
        })
    }
}
