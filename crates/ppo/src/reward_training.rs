//! Training the reward model: a RoBERTa sequence classifier on labelled reviews (cross-entropy,
//! AdamW with linear warm-up and decay), with test loss and accuracy after every epoch.

use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use dataset::{Review, Tokenizer};
use models::RobertaForSequenceClassification;
use models::roberta::roberta_position_ids;
use models::weights::ids_tensor;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::Serialize;

use crate::schedule::warmup_linear_decay;
use crate::trainer::TrainError;

/// Tokenized, labelled texts.
#[derive(Debug, Clone, Default)]
pub struct Encoded {
    /// Token ids with `<s>` … `</s>`, at most `max_length` long.
    pub ids: Vec<Vec<u32>>,
    /// Class index per text.
    pub labels: Vec<usize>,
}

/// Tokenizes reviews, truncating to `max_length` tokens while keeping the final `</s>`.
pub fn encode(
    tokenizer: &Tokenizer,
    reviews: &[Review],
    max_length: usize,
) -> Result<Encoded, TrainError> {
    let texts: Vec<&str> = reviews.iter().map(|r| r.text.as_str()).collect();
    let mut ids = tokenizer.encode_batch(&texts, true)?;
    for row in &mut ids {
        if row.len() > max_length {
            let last = row[row.len() - 1];
            row.truncate(max_length.max(2) - 1);
            row.push(last);
        }
    }
    let labels = reviews
        .iter()
        .map(|r| r.label.clamp(0, 1) as usize)
        .collect();
    Ok(Encoded { ids, labels })
}

/// Optimisation settings.
#[derive(Debug, Clone)]
pub struct ClassifierSettings {
    /// Passes over the training texts.
    pub epochs: usize,
    /// Texts per optimizer step.
    pub batch_size: usize,
    /// Peak learning rate.
    pub learning_rate: f64,
    /// Fraction of all steps spent warming up linearly from 0; then linear decay to 0.
    pub warmup_frac: f64,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// Shuffling seed.
    pub seed: u64,
    /// RoBERTa pad id.
    pub pad_id: u32,
}

/// One epoch's results.
#[derive(Debug, Clone, Serialize)]
pub struct EpochReport {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Mean test loss.
    pub test_loss: f64,
    /// Test accuracy.
    pub test_accuracy: f64,
}

fn batch_tensors(
    data: &Encoded,
    rows: &[usize],
    pad: u32,
    device: &Device,
) -> (Tensor<2, Int>, Tensor<2, Int>, Tensor<2, Int>) {
    let t = rows.iter().map(|&i| data.ids[i].len()).max().unwrap_or(1);
    let b = rows.len();
    let mut ids = Vec::with_capacity(b * t);
    let mut mask = Vec::with_capacity(b * t);
    for &i in rows {
        let row = &data.ids[i];
        ids.extend(
            row.iter()
                .copied()
                .chain(std::iter::repeat_n(pad, t - row.len())),
        );
        mask.extend(
            std::iter::repeat_n(1u32, row.len()).chain(std::iter::repeat_n(0, t - row.len())),
        );
    }
    let positions = roberta_position_ids(&ids, b, t, pad, device);
    (
        ids_tensor(&ids, b, t, device),
        positions,
        ids_tensor(&mask, b, t, device),
    )
}

/// Mean cross-entropy `[b]` logits vs labels, and the number of correct argmaxes.
fn loss_and_correct(logits: Tensor<2>, labels: &[usize], device: &Device) -> (Tensor<1>, usize) {
    let b = labels.len();
    let target: Tensor<2, Int> = Tensor::from_data(
        TensorData::new(labels.iter().map(|&l| l as i32).collect::<Vec<_>>(), [b, 1]),
        device,
    );
    let logp = log_softmax(logits, 1);
    let host: Vec<f32> = logp.clone().detach().into_data().iter::<f32>().collect();
    let k = host.len() / b.max(1);
    let correct = (0..b)
        .filter(|&i| models::sampling::argmax(&host[i * k..(i + 1) * k]) == labels[i])
        .count();
    (logp.gather(1, target).mean().neg(), correct)
}

/// Test loss and accuracy of `model` (any device; no gradients needed).
pub fn evaluate_classifier(
    model: &RobertaForSequenceClassification,
    data: &Encoded,
    batch_size: usize,
    pad: u32,
    device: &Device,
) -> (f64, f64) {
    let (mut loss, mut correct) = (0.0, 0usize);
    let all: Vec<usize> = (0..data.ids.len()).collect();
    for rows in all.chunks(batch_size.max(1)) {
        let (ids, pos, mask) = batch_tensors(data, rows, pad, device);
        let labels: Vec<usize> = rows.iter().map(|&i| data.labels[i]).collect();
        let (l, c) = loss_and_correct(model.forward(ids, pos, mask), &labels, device);
        loss += f64::from(l.into_scalar::<f32>()) * rows.len() as f64;
        correct += c;
    }
    let n = data.ids.len().max(1) as f64;
    (loss / n, correct as f64 / n)
}

/// Trains `model` (on the autodiff `device`); `progress(done, total)` is called per step and
/// `on_epoch` after each epoch with the model and its report (to save checkpoints).
pub fn train_classifier(
    mut model: RobertaForSequenceClassification,
    train: &Encoded,
    test: &Encoded,
    settings: &ClassifierSettings,
    device: &Device,
    mut progress: impl FnMut(usize, usize),
    mut on_epoch: impl FnMut(&RobertaForSequenceClassification, &EpochReport) -> Result<(), TrainError>,
) -> Result<(RobertaForSequenceClassification, Vec<EpochReport>), TrainError> {
    if train.ids.is_empty() || test.ids.is_empty() {
        return Err(TrainError::Config(
            "the training and test sets must not be empty".into(),
        ));
    }
    let mut optimizer = AdamWConfig::new()
        .with_epsilon(1e-8)
        .with_weight_decay(settings.weight_decay as f32)
        .init();
    let steps_per_epoch = train.ids.len().div_ceil(settings.batch_size.max(1));
    let total = steps_per_epoch * settings.epochs;
    let warmup = ((total as f64) * settings.warmup_frac).ceil().max(1.0);
    let mut step = 0usize;
    let mut reports = Vec::new();
    let mut rng = StdRng::seed_from_u64(settings.seed);
    let plain = device.clone().without_autodiff();
    for epoch in 1..=settings.epochs {
        let mut order: Vec<usize> = (0..train.ids.len()).collect();
        order.shuffle(&mut rng);
        let mut loss_sum = 0.0;
        for rows in order.chunks(settings.batch_size.max(1)) {
            let (ids, pos, mask) = batch_tensors(train, rows, settings.pad_id, device);
            let labels: Vec<usize> = rows.iter().map(|&i| train.labels[i]).collect();
            let (loss, _) = loss_and_correct(model.forward(ids, pos, mask), &labels, device);
            loss_sum += f64::from(loss.clone().detach().into_scalar::<f32>()) * rows.len() as f64;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            step += 1;
            let lr = warmup_linear_decay(settings.learning_rate, step, total, warmup);
            model = optimizer.step(lr, model, grads);
            progress(step, total);
        }
        let valid = burn::module::Module::valid(&model);
        let (test_loss, test_accuracy) =
            evaluate_classifier(&valid, test, settings.batch_size, settings.pad_id, &plain);
        let report = EpochReport {
            epoch,
            train_loss: loss_sum / train.ids.len() as f64,
            test_loss,
            test_accuracy,
        };
        on_epoch(&valid, &report)?;
        reports.push(report);
    }
    Ok((model, reports))
}
