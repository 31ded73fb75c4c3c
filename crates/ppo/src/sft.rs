//! Supervised fine-tuning (or pre-training) of the GPT-2 policy on review text: documents are
//! tokenized, joined with EOS and packed into fixed-length blocks; the loss is next-token
//! cross-entropy; AdamW with linear warm-up and decay; held-out perplexity after every epoch.

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use dataset::Tokenizer;
use models::gpt2::position_ids;
use models::weights::ids_tensor;
use models::{Gpt2Input, Gpt2WithValueHead};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::Serialize;

use crate::schedule::warmup_linear_decay;
use crate::trainer::TrainError;

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

/// Optimisation settings.
#[derive(Debug, Clone)]
pub struct SftSettings {
    /// Passes over the training blocks.
    pub epochs: usize,
    /// Blocks per step.
    pub batch_size: usize,
    /// Peak learning rate.
    pub learning_rate: f64,
    /// Warm-up fraction of all steps (then linear decay to 0).
    pub warmup_frac: f64,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// Shuffling seed.
    pub seed: u64,
}

/// One epoch's results.
#[derive(Debug, Clone, Serialize)]
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
    let logp = log_softmax(model.transformer.logits(hidden), 2);
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

/// Trains on `train` blocks (autodiff `device`), evaluating on `eval` after each epoch;
/// `on_epoch` receives an inference copy and the report (to save checkpoints).
pub fn train_lm(
    mut model: Gpt2WithValueHead,
    train: &[Vec<u32>],
    eval: &[Vec<u32>],
    settings: &SftSettings,
    device: &Device,
    mut progress: impl FnMut(usize, usize, f64),
    mut on_epoch: impl FnMut(&Gpt2WithValueHead, &SftReport) -> Result<(), TrainError>,
) -> Result<(Gpt2WithValueHead, Vec<SftReport>), TrainError> {
    if train.is_empty() || eval.is_empty() {
        return Err(TrainError::Config(
            "not enough text for one training and one evaluation block; use more reviews or a \
             smaller --block-size"
                .into(),
        ));
    }
    let mut optimizer = AdamWConfig::new()
        .with_epsilon(1e-8)
        .with_weight_decay(settings.weight_decay as f32)
        .init();
    let total = train.len().div_ceil(settings.batch_size.max(1)) * settings.epochs;
    let warmup = ((total as f64) * settings.warmup_frac).ceil().max(1.0);
    let mut rng = StdRng::seed_from_u64(settings.seed);
    let plain = device.clone().without_autodiff();
    let (mut step, mut reports) = (0usize, Vec::new());
    for epoch in 1..=settings.epochs {
        let mut order: Vec<usize> = (0..train.len()).collect();
        order.shuffle(&mut rng);
        let mut loss_sum = 0.0;
        for rows in order.chunks(settings.batch_size.max(1)) {
            let windows: Vec<&Vec<u32>> = rows.iter().map(|&i| &train[i]).collect();
            let loss = lm_loss(&model, &windows, device);
            let value = f64::from(loss.clone().detach().into_scalar::<f32>());
            if !value.is_finite() {
                return Err(TrainError::Diverged {
                    step,
                    what: format!("language-model loss = {value}"),
                });
            }
            loss_sum += value * rows.len() as f64;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            step += 1;
            let lr = warmup_linear_decay(settings.learning_rate, step, total, warmup);
            model = optimizer.step(lr, model, grads);
            progress(step, total, value);
        }
        let valid = model.valid();
        let loss = eval_loss(&valid, eval, settings.batch_size, &plain);
        let report = SftReport {
            epoch,
            train_loss: loss_sum / train.len() as f64,
            eval_loss: loss,
            eval_perplexity: loss.exp(),
        };
        on_epoch(&valid, &report)?;
        reports.push(report);
    }
    Ok((model, reports))
}
