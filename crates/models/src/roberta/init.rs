//! A randomly initialised RoBERTa classifier (transformers' init) and its HF-layout export.

use std::path::{Path, PathBuf};

use burn::module::Param;
use burn::nn::{Embedding, EmbeddingConfig, Initializer, LayerNorm, LayerNormConfig, LinearConfig};
use burn::tensor::{Device, TensorData};

use super::model::{ClassificationHead, Embeddings, EncoderLayer, Roberta, SelfAttention};
use super::{RobertaConfig, RobertaForSequenceClassification};
use crate::ModelError;
use crate::export::{NamedTensors, copy_files, torch_linear, write_atomic, write_safetensors};
use crate::weights::host_f32;

impl RobertaForSequenceClassification {
    /// Normal(0, 0.02) weights, zero biases, unit norms, zero padding rows (transformers' init).
    pub fn init(config: &RobertaConfig, device: &Device) -> Self {
        let d = config.hidden_size;
        let normal = Initializer::Normal {
            mean: 0.0,
            std: 0.02,
        };
        let linear = |d_in, d_out| {
            let mut l = LinearConfig::new(d_in, d_out)
                .with_initializer(normal.clone())
                .init(device);
            l.bias = l.bias.map(|b| Param::from_tensor(b.val().zeros_like()));
            l
        };
        let ln = || {
            LayerNormConfig::new(d)
                .with_epsilon(config.layer_norm_eps)
                .init(device)
        };
        let pad = config.pad_token_id as usize;
        let embedding = |n: usize, zero_pad: bool| -> Embedding {
            let mut e = EmbeddingConfig::new(n, d)
                .with_initializer(normal.clone())
                .init(device);
            if zero_pad && pad < n {
                let mut data: Vec<f32> = e.weight.val().into_data().iter::<f32>().collect();
                data[pad * d..(pad + 1) * d]
                    .iter_mut()
                    .for_each(|x| *x = 0.0);
                e.weight = Param::from_data(TensorData::new(data, [n, d]), device);
            }
            e
        };
        let layer = (0..config.num_hidden_layers)
            .map(|_| EncoderLayer {
                attention: SelfAttention {
                    query: linear(d, d),
                    key: linear(d, d),
                    value: linear(d, d),
                    output_dense: linear(d, d),
                    output_norm: ln(),
                    n_head: config.num_attention_heads,
                },
                intermediate: linear(d, config.intermediate_size),
                output: linear(config.intermediate_size, d),
                output_norm: ln(),
            })
            .collect();
        Self {
            roberta: Roberta {
                embeddings: Embeddings {
                    word_embeddings: embedding(config.vocab_size, true),
                    position_embeddings: embedding(config.max_position_embeddings, true),
                    token_type_embeddings: Some(embedding(config.type_vocab_size, false)),
                    layer_norm: ln(),
                },
                layer,
                n_head: config.num_attention_heads,
            },
            classifier: ClassificationHead {
                dense: linear(d, d),
                out_proj: linear(d, config.num_labels()),
            },
        }
    }

    /// The tensors under `RobertaForSequenceClassification` names (`nn.Linear` layout).
    pub fn hf_tensors(&self) -> NamedTensors {
        let mut out = NamedTensors::new();
        let mut push = |name: String, data: TensorData| out.push((name, data));
        let e = &self.roberta.embeddings;
        let p = "roberta.embeddings";
        push(
            format!("{p}.word_embeddings.weight"),
            host_f32(&e.word_embeddings.weight.val()),
        );
        push(
            format!("{p}.position_embeddings.weight"),
            host_f32(&e.position_embeddings.weight.val()),
        );
        if let Some(types) = &e.token_type_embeddings {
            push(
                format!("{p}.token_type_embeddings.weight"),
                host_f32(&types.weight.val()),
            );
        }
        norm(&mut push, &format!("{p}.LayerNorm"), &e.layer_norm);
        for (i, l) in self.roberta.layer.iter().enumerate() {
            let p = format!("roberta.encoder.layer.{i}");
            let a = &l.attention;
            torch_linear(&mut push, &format!("{p}.attention.self.query"), &a.query);
            torch_linear(&mut push, &format!("{p}.attention.self.key"), &a.key);
            torch_linear(&mut push, &format!("{p}.attention.self.value"), &a.value);
            torch_linear(
                &mut push,
                &format!("{p}.attention.output.dense"),
                &a.output_dense,
            );
            norm(
                &mut push,
                &format!("{p}.attention.output.LayerNorm"),
                &a.output_norm,
            );
            torch_linear(
                &mut push,
                &format!("{p}.intermediate.dense"),
                &l.intermediate,
            );
            torch_linear(&mut push, &format!("{p}.output.dense"), &l.output);
            norm(&mut push, &format!("{p}.output.LayerNorm"), &l.output_norm);
        }
        torch_linear(&mut push, "classifier.dense", &self.classifier.dense);
        torch_linear(&mut push, "classifier.out_proj", &self.classifier.out_proj);
        out
    }

    /// The same encoder with a fresh one-output `out_proj` (Normal(0, 0.02), zero bias) and the
    /// config of a scalar reward model (`LABEL_0`): what transformers builds when a classifier
    /// is loaded with `num_labels = 1`, the start of pairwise training from a classifier.
    pub fn with_scalar_head(mut self, config: &RobertaConfig) -> (Self, RobertaConfig) {
        let device = self.classifier.dense.weight.device();
        let mut out_proj = LinearConfig::new(config.hidden_size, 1)
            .with_initializer(Initializer::Normal {
                mean: 0.0,
                std: 0.02,
            })
            .init(&device);
        out_proj.bias = out_proj
            .bias
            .map(|b| Param::from_tensor(b.val().zeros_like()));
        self.classifier.out_proj = out_proj;
        (self, config.clone().with_scalar_output())
    }

    /// Saves `config.json` + `model.safetensors` (+ tokenizer files) into `dir`, loadable by
    /// `transformers.RobertaForSequenceClassification.from_pretrained` and by
    /// [`RobertaForSequenceClassification::load`].
    pub fn save(
        &self,
        config: &RobertaConfig,
        dir: &Path,
        tokenizer_files: &[PathBuf],
    ) -> Result<(), ModelError> {
        write_safetensors(&dir.join("model.safetensors"), &self.hf_tensors())?;
        let json =
            serde_json::to_vec_pretty(&config.to_hf_json()).map_err(|e| ModelError::Write {
                path: dir.join("config.json"),
                message: e.to_string(),
            })?;
        write_atomic(&dir.join("config.json"), &json)?;
        copy_files(dir, tokenizer_files)
    }
}

fn norm(push: &mut impl FnMut(String, TensorData), prefix: &str, ln: &LayerNorm) {
    push(format!("{prefix}.weight"), host_f32(&ln.gamma.val()));
    if let Some(beta) = &ln.beta {
        push(format!("{prefix}.bias"), host_f32(&beta.val()));
    }
}
