//! Building [`Gpt2`] from checkpoint tensors (HF key names) and a fresh random init.

use burn::module::Param;
use burn::nn::{
    Embedding, EmbeddingConfig, Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig,
};
use burn::tensor::Device;

use super::block::{Attention, Block, Mlp};
use super::{Gpt2, Gpt2Config};
use crate::ModelError;
use crate::weights::WeightMap;

/// Buffers in GPT-2 checkpoints that are not parameters (causal masks, the tied head).
pub const IGNORED_GPT2_KEYS: [&str; 3] = [".attn.bias", ".attn.masked_bias", "lm_head.weight"];

impl Gpt2 {
    /// Takes GPT-2's tensors out of `weights` (keys without the `transformer.` prefix).
    pub fn from_weights(
        config: &Gpt2Config,
        weights: &mut WeightMap,
        device: &Device,
    ) -> Result<Self, ModelError> {
        let d = config.n_embd;
        let embedding = |w: &mut WeightMap, key: &str, n: usize| -> Result<Embedding, ModelError> {
            let mut e = EmbeddingConfig::new(1, 1).init(device);
            e.weight = w.param(key, [n, d], device)?;
            Ok(e)
        };
        let wte = embedding(weights, "wte.weight", config.vocab_size)?;
        let wpe = embedding(weights, "wpe.weight", config.n_positions)?;
        let mut h = Vec::with_capacity(config.n_layer);
        for i in 0..config.n_layer {
            h.push(block(config, weights, &format!("h.{i}"), device)?);
        }
        let ln_f = layer_norm(config, weights, "ln_f", device)?;
        Ok(Self {
            wte,
            wpe,
            h,
            ln_f,
            n_head: config.n_head,
        })
    }

    /// A randomly initialised GPT-2 as transformers initialises it (normal(0, 0.02) weights,
    /// zero biases, unit norms); residual projections scaled by `1/sqrt(2 * n_layer)`.
    pub fn init(config: &Gpt2Config, device: &Device) -> Self {
        let d = config.n_embd;
        let normal = |std: f64| Initializer::Normal { mean: 0.0, std };
        let embedding = |n| {
            EmbeddingConfig::new(n, d)
                .with_initializer(normal(0.02))
                .init(device)
        };
        let linear = |d_in, d_out, std| {
            LinearConfig::new(d_in, d_out)
                .with_initializer(normal(std))
                .init(device)
                .with_zero_bias()
        };
        let proj_std = 0.02 / (2.0 * config.n_layer as f64).sqrt();
        let ln = || {
            LayerNormConfig::new(d)
                .with_epsilon(config.layer_norm_epsilon)
                .init(device)
        };
        let h = (0..config.n_layer)
            .map(|_| Block {
                ln_1: ln(),
                attn: Attention {
                    c_attn: linear(d, 3 * d, 0.02),
                    c_proj: linear(d, d, proj_std),
                    n_head: config.n_head,
                },
                ln_2: ln(),
                mlp: Mlp {
                    c_fc: linear(d, config.inner_dim(), 0.02),
                    c_proj: linear(config.inner_dim(), d, proj_std),
                    approximate_gelu: config.activation_function == "gelu_new",
                },
            })
            .collect();
        Self {
            wte: embedding(config.vocab_size),
            wpe: embedding(config.n_positions),
            h,
            ln_f: ln(),
            n_head: config.n_head,
        }
    }
}

trait ZeroBias {
    fn with_zero_bias(self) -> Self;
}

impl ZeroBias for Linear {
    fn with_zero_bias(mut self) -> Self {
        self.bias = self.bias.map(|b| Param::from_tensor(b.val().zeros_like()));
        self
    }
}

fn block(
    config: &Gpt2Config,
    w: &mut WeightMap,
    prefix: &str,
    device: &Device,
) -> Result<Block, ModelError> {
    let d = config.n_embd;
    let inner = config.inner_dim();
    Ok(Block {
        ln_1: layer_norm(config, w, &format!("{prefix}.ln_1"), device)?,
        attn: Attention {
            c_attn: conv1d(w, &format!("{prefix}.attn.c_attn"), d, 3 * d, device)?,
            c_proj: conv1d(w, &format!("{prefix}.attn.c_proj"), d, d, device)?,
            n_head: config.n_head,
        },
        ln_2: layer_norm(config, w, &format!("{prefix}.ln_2"), device)?,
        mlp: Mlp {
            c_fc: conv1d(w, &format!("{prefix}.mlp.c_fc"), d, inner, device)?,
            c_proj: conv1d(w, &format!("{prefix}.mlp.c_proj"), inner, d, device)?,
            approximate_gelu: config.activation_function == "gelu_new",
        },
    })
}

/// HF `Conv1D`: weight `[d_in, d_out]` (burn's layout), bias `[d_out]`.
fn conv1d(
    w: &mut WeightMap,
    prefix: &str,
    d_in: usize,
    d_out: usize,
    device: &Device,
) -> Result<Linear, ModelError> {
    Ok(Linear {
        weight: w.param(&format!("{prefix}.weight"), [d_in, d_out], device)?,
        bias: Some(w.param(&format!("{prefix}.bias"), [d_out], device)?),
    })
}

fn layer_norm(
    config: &Gpt2Config,
    w: &mut WeightMap,
    prefix: &str,
    device: &Device,
) -> Result<LayerNorm, ModelError> {
    load_layer_norm(w, prefix, config.n_embd, config.layer_norm_epsilon, device)
}

/// LayerNorm from `{prefix}.weight` / `{prefix}.bias` (HF names; burn calls them gamma/beta).
pub(crate) fn load_layer_norm(
    w: &mut WeightMap,
    prefix: &str,
    d: usize,
    epsilon: f64,
    device: &Device,
) -> Result<LayerNorm, ModelError> {
    let mut ln = LayerNormConfig::new(d).with_epsilon(epsilon).init(device);
    ln.gamma = w.param(&format!("{prefix}.weight"), [d], device)?;
    ln.beta = Some(w.param(&format!("{prefix}.bias"), [d], device)?);
    Ok(ln)
}
