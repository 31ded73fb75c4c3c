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
        let d = config.hidden_size;
        let eps = config.layer_norm_eps;
        let embedding = |w: &mut WeightMap, key: &str, n: usize| -> Result<Embedding, ModelError> {
            let mut e = EmbeddingConfig::new(1, 1).init(device);
            e.weight = w.param(key, [n, d], device)?;
            Ok(e)
        };
        let embeddings = Embeddings {
            word_embeddings: embedding(
                &mut w,
                "embeddings.word_embeddings.weight",
                config.vocab_size,
            )?,
            position_embeddings: embedding(
                &mut w,
                "embeddings.position_embeddings.weight",
                config.max_position_embeddings,
            )?,
            token_type_embeddings: embedding(
                &mut w,
                "embeddings.token_type_embeddings.weight",
                config.type_vocab_size,
            )?,
            layer_norm: load_layer_norm(&mut w, "embeddings.LayerNorm", d, eps, device)?,
        };
        let mut layer = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            let ff = config.intermediate_size;
            layer.push(EncoderLayer {
                attention: SelfAttention {
                    query: linear(&mut w, &format!("{p}.attention.self.query"), d, d, device)?,
                    key: linear(&mut w, &format!("{p}.attention.self.key"), d, d, device)?,
                    value: linear(&mut w, &format!("{p}.attention.self.value"), d, d, device)?,
                    output_dense: linear(
                        &mut w,
                        &format!("{p}.attention.output.dense"),
                        d,
                        d,
                        device,
                    )?,
                    output_norm: load_layer_norm(
                        &mut w,
                        &format!("{p}.attention.output.LayerNorm"),
                        d,
                        eps,
                        device,
                    )?,
                    n_head: config.num_attention_heads,
                },
                intermediate: linear(&mut w, &format!("{p}.intermediate.dense"), d, ff, device)?,
                output: linear(&mut w, &format!("{p}.output.dense"), ff, d, device)?,
                output_norm: load_layer_norm(
                    &mut w,
                    &format!("{p}.output.LayerNorm"),
                    d,
                    eps,
                    device,
                )?,
            });
        }
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
            roberta: Roberta {
                embeddings,
                layer,
                n_head: config.num_attention_heads,
            },
            classifier,
        })
    }
}

/// PyTorch `nn.Linear`: weight `[d_out, d_in]` (transposed here), bias `[d_out]`.
fn linear(
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
