//! Supervised fine-tuning (or pre-training) of the GPT-2 policy on review text: documents are
//! tokenized, joined with EOS and packed into fixed-length blocks; the loss is next-token
//! cross-entropy; the loop, optimizer and checkpoints are [`super`]'s; held-out
//! perplexity after every epoch.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Int, Tensor, TensorData};
use dataset::{HubOptions, Tokenizer};
use models::export::{ValueHeadWeights, save_policy};
use models::gpt2::position_ids;
use models::weights::ids_tensor;
use models::{Gpt2Config, Gpt2Input, Gpt2WithValueHead, ModelFiles, ValueHeadInit};
use serde::{Deserialize, Serialize};

use super::SupervisedTask;
use crate::TrainError;

/// Tokenizes `texts`, appends `eos` to each and cuts the stream into `block + 1`-token windows
/// (inputs and shifted targets). The tail shorter than a window is dropped.
pub fn pack(
    tokenizer: &Tokenizer,
    texts: &[&str],
    eos: u32,
    block: usize,
) -> Result<Vec<Vec<u32>>, TrainError> {
    let mut stream = Vec::new();
    for ids in tokenizer.encode_batch(texts, false)? {
        stream.extend(ids);
        stream.push(eos);
    }
    Ok(stream
        .chunks_exact(block + 1)
        .map(<[u32]>::to_vec)
        .collect())
}

/// One epoch's results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SftReport {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss (nats per token).
    pub train_loss: f64,
    /// Held-out loss.
    pub eval_loss: f64,
    /// `exp(eval_loss)`.
    pub eval_perplexity: f64,
}

impl std::fmt::Display for SftReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "epoch {}: train loss {:.4}, held-out loss {:.4}, perplexity {:.1}",
            self.epoch, self.train_loss, self.eval_loss, self.eval_perplexity
        )
    }
}

/// Causal-LM training on packed blocks, for [`super::train`].
#[derive(Debug)]
pub struct SftTask<'a> {
    /// Training windows of `block + 1` tokens.
    pub train: &'a [Vec<u32>],
    /// Held-out windows.
    pub eval: &'a [Vec<u32>],
    /// Windows per evaluation forward.
    pub eval_batch: usize,
    /// The model's architecture (for saving).
    pub config: &'a Gpt2Config,
    /// Tokenizer files copied next to every saved model.
    pub tokenizer_files: &'a [PathBuf],
}

impl SupervisedTask for SftTask<'_> {
    type Model = Gpt2WithValueHead;
    type Report = SftReport;

    fn examples(&self) -> usize {
        self.train.len()
    }

    fn loss(&self, model: &Gpt2WithValueHead, rows: &[usize], device: &Device) -> Tensor<1> {
        let windows: Vec<&Vec<u32>> = rows.iter().map(|&i| &self.train[i]).collect();
        lm_loss(model, &windows, device)
    }

    fn evaluate(
        &self,
        model: &Gpt2WithValueHead,
        epoch: usize,
        train_loss: f64,
        device: &Device,
    ) -> SftReport {
        let loss = eval_loss(model, self.eval, self.eval_batch, device);
        SftReport {
            epoch,
            train_loss,
            eval_loss: loss,
            eval_perplexity: loss.exp(),
        }
    }

    fn save(&self, model: &Gpt2WithValueHead, dir: &Path) -> Result<(), TrainError> {
        Ok(save_policy(
            model,
            self.config,
            dir,
            ValueHeadWeights::Drop,
            self.tokenizer_files,
        )?)
    }

    fn load(&self, dir: &Path, device: &Device) -> Result<Gpt2WithValueHead, TrainError> {
        let files = ModelFiles::resolve(&dir.to_string_lossy(), "main", &HubOptions::from_env())?;
        Ok(Gpt2WithValueHead::load(&files, ValueHeadInit::Zero, device)?.0)
    }
}

/// Mean next-token NLL of a batch of `block + 1`-token windows.
fn lm_loss(model: &Gpt2WithValueHead, windows: &[&Vec<u32>], device: &Device) -> Tensor<1> {
    let b = windows.len();
    let t = windows[0].len() - 1;
    let inputs: Vec<u32> = windows
        .iter()
        .flat_map(|w| w[..t].iter().copied())
        .collect();
    let targets: Vec<i32> = windows
        .iter()
        .flat_map(|w| w[1..].iter().map(|&x| x as i32))
        .collect();
    let ones = vec![1u32; b * t];
    let hidden = model.transformer.forward(
        Gpt2Input {
            input_ids: ids_tensor(&inputs, b, t, device),
            position_ids: position_ids(&ones, b, t, &vec![0; b], device),
            attention_mask: None,
        },
        None,
    );
    let logp = models::fused::log_softmax(model.transformer.logits(hidden));
    let targets: Tensor<3, Int> = Tensor::from_data(TensorData::new(targets, [b, t, 1]), device);
    logp.gather(2, targets).mean().neg()
}

/// Held-out loss (nats per token) on any device.
pub fn eval_loss(
    model: &Gpt2WithValueHead,
    blocks: &[Vec<u32>],
    batch_size: usize,
    device: &Device,
) -> f64 {
    let mut total = 0.0;
    for chunk in blocks.chunks(batch_size.max(1)) {
        let refs: Vec<&Vec<u32>> = chunk.iter().collect();
        total += f64::from(lm_loss(model, &refs, device).into_scalar::<f32>()) * chunk.len() as f64;
    }
    total / blocks.len().max(1) as f64
}
