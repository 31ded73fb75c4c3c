//! Building the RoBERTa classifier from checkpoint tensors (HF key names, `nn.Linear` layout).

use std::path::Path;

use burn::nn::{Embedding, EmbeddingConfig, Linear};
use burn::tensor::Device;

use super::model::{ClassificationHead, Embeddings, EncoderLayer, Roberta, SelfAttention};
use super::{RobertaConfig, RobertaForSequenceClassification};
use crate::ModelError;
use crate::gpt2::load_layer_norm;
use crate::hf_config::ModelFiles;
use crate::weights::WeightMap;

/// Buffers and unused heads found in RoBERTa checkpoints (transformers ignores them too).
pub const IGNORED_ROBERTA_KEYS: [&str; 3] = [
    "embeddings.position_ids",
    "pooler.dense.weight",
    "pooler.dense.bias",
];

impl RobertaForSequenceClassification {
    /// Loads the classifier from a model directory or cached hub id.
    pub fn load(files: &ModelFiles, device: &Device) -> Result<(Self, RobertaConfig), ModelError> {
        let config = RobertaConfig::from_file(&files.config)?;
        let model = Self::load_weights(&config, &files.weights, device)?;
        Ok((model, config))
    }

    /// Loads from a weight file and a parsed config.
    pub fn load_weights(
        config: &RobertaConfig,
        path: &Path,
        device: &Device,
    ) -> Result<Self, ModelError> {
        let mut w = WeightMap::read(path)?;
        w.strip_prefix("roberta.");
        let roberta = load_encoder(&mut w, config, &EncoderKeys::BERT, device)?;
        let d = config.hidden_size;
        let classifier = ClassificationHead {
            dense: linear(&mut w, "classifier.dense", d, d, device)?,
            out_proj: linear(
                &mut w,
                "classifier.out_proj",
                d,
                config.num_labels(),
                device,
            )?,
        };
        w.finish(&IGNORED_ROBERTA_KEYS)?;
        Ok(Self {
            roberta,
            classifier,
        })
    }
}

/// Checkpoint key names of one encoder family (relative to its model prefix).
#[derive(Debug, Clone, Copy)]
pub(crate) struct EncoderKeys {
    /// Prefix of layer `i`'s keys, before `.{i}`.
    pub layers: &'static str,
    /// `[query, key, value, attention output, attention norm, ff in, ff out, output norm]`.
    pub layer: [&'static str; 8],
    /// Whether the embeddings have a token-type table.
    pub token_types: bool,
}

impl EncoderKeys {
    /// BERT and RoBERTa (`encoder.layer.{i}.attention.self.query`, ...).
    pub const BERT: Self = Self {
        layers: "encoder.layer",
        layer: [
            "attention.self.query",
            "attention.self.key",
            "attention.self.value",
            "attention.output.dense",
            "attention.output.LayerNorm",
            "intermediate.dense",
            "output.dense",
            "output.LayerNorm",
        ],
        token_types: true,
    };
    /// DistilBERT (`transformer.layer.{i}.attention.q_lin`, ...; no token types).
    pub const DISTILBERT: Self = Self {
        layers: "transformer.layer",
        layer: [
            "attention.q_lin",
            "attention.k_lin",
            "attention.v_lin",
            "attention.out_lin",
            "sa_layer_norm",
            "ffn.lin1",
            "ffn.lin2",
            "output_layer_norm",
        ],
        token_types: false,
    };
}

/// Takes a post-norm encoder's embeddings and layers out of `w` (keys without the model
/// prefix), named as `keys` says.
pub(crate) fn load_encoder(
    w: &mut WeightMap,
    config: &RobertaConfig,
    keys: &EncoderKeys,
    device: &Device,
) -> Result<Roberta, ModelError> {
    let d = config.hidden_size;
    let eps = config.layer_norm_eps;
    let embedding = |w: &mut WeightMap, key: &str, n: usize| -> Result<Embedding, ModelError> {
        let mut e = EmbeddingConfig::new(1, 1).init(device);
        e.weight = w.param(key, [n, d], device)?;
        Ok(e)
    };
    let token_type_embeddings = match keys.token_types {
        true => Some(embedding(
            w,
            "embeddings.token_type_embeddings.weight",
            config.type_vocab_size,
        )?),
        false => None,
    };
    let embeddings = Embeddings {
        word_embeddings: embedding(w, "embeddings.word_embeddings.weight", config.vocab_size)?,
        position_embeddings: embedding(
            w,
            "embeddings.position_embeddings.weight",
            config.max_position_embeddings,
        )?,
        token_type_embeddings,
        layer_norm: load_layer_norm(w, "embeddings.LayerNorm", d, eps, device)?,
    };
    let ff = config.intermediate_size;
    let mut layer = Vec::with_capacity(config.num_hidden_layers);
    for i in 0..config.num_hidden_layers {
        let key = |j: usize| format!("{}.{i}.{}", keys.layers, keys.layer[j]);
        layer.push(EncoderLayer {
            attention: SelfAttention {
                query: linear(w, &key(0), d, d, device)?,
                key: linear(w, &key(1), d, d, device)?,
                value: linear(w, &key(2), d, d, device)?,
                output_dense: linear(w, &key(3), d, d, device)?,
                output_norm: load_layer_norm(w, &key(4), d, eps, device)?,
                n_head: config.num_attention_heads,
            },
            intermediate: linear(w, &key(5), d, ff, device)?,
            output: linear(w, &key(6), ff, d, device)?,
            output_norm: load_layer_norm(w, &key(7), d, eps, device)?,
        });
    }
    Ok(Roberta {
        embeddings,
        layer,
        n_head: config.num_attention_heads,
    })
}

/// PyTorch `nn.Linear`: weight `[d_out, d_in]` (transposed here), bias `[d_out]`.
pub(crate) fn linear(
    w: &mut WeightMap,
    prefix: &str,
    d_in: usize,
    d_out: usize,
    device: &Device,
) -> Result<Linear, ModelError> {
    Ok(Linear {
        weight: w.linear_weight(&format!("{prefix}.weight"), d_in, d_out, device)?,
        bias: Some(w.param(&format!("{prefix}.bias"), [d_out], device)?),
    })
}
