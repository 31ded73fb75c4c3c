//! Training the reward model: a RoBERTa sequence classifier on labelled reviews (cross-entropy,
//! with [`super`]'s loop and checkpoints), with test loss and accuracy after every epoch.

use std::path::{Path, PathBuf};

use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use dataset::{HubOptions, Review, Tokenizer};
use models::roberta::RobertaBatch;
use models::{ModelFiles, RobertaConfig, RobertaForSequenceClassification};
use serde::{Deserialize, Serialize};

use super::SupervisedTask;
use crate::TrainError;

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

/// One epoch's results.
#[derive(Debug, Clone, Serialize, Deserialize)]
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

impl std::fmt::Display for EpochReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "epoch {}: train loss {:.4}, test loss {:.4}, accuracy {:.1} %",
            self.epoch,
            self.train_loss,
            self.test_loss,
            self.test_accuracy * 100.0
        )
    }
}

/// The padded batch of the texts `rows`.
fn batch(data: &Encoded, rows: &[usize], pad: u32, device: &Device) -> RobertaBatch {
    let ids: Vec<&[u32]> = rows.iter().map(|&i| data.ids[i].as_slice()).collect();
    RobertaBatch::right_padded(&ids, pad, device)
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
        let labels: Vec<usize> = rows.iter().map(|&i| data.labels[i]).collect();
        let logits = model.classify(batch(data, rows, pad, device));
        let (l, c) = loss_and_correct(logits, &labels, device);
        loss += f64::from(l.into_scalar::<f32>()) * rows.len() as f64;
        correct += c;
    }
    let n = data.ids.len().max(1) as f64;
    (loss / n, correct as f64 / n)
}

/// Sequence classification with cross-entropy, for [`super::train`].
#[derive(Debug)]
pub struct ClassifierTask<'a> {
    /// Training texts.
    pub train: &'a Encoded,
    /// Held-out texts.
    pub test: &'a Encoded,
    /// Texts per evaluation forward.
    pub eval_batch: usize,
    /// How the model is saved and reloaded.
    pub output: ClassifierOutput<'a>,
}

/// How a supervised task saves its RoBERTa model (HF layout) and reloads it on resume; shared
/// by [`ClassifierTask`] and [`super::pairwise::PairwiseTask`].
#[derive(Debug, Clone, Copy)]
pub struct ClassifierOutput<'a> {
    /// The model's architecture; its `pad_token_id` pads batches.
    pub config: &'a RobertaConfig,
    /// Tokenizer files copied next to every saved model.
    pub tokenizer_files: &'a [PathBuf],
}

impl ClassifierOutput<'_> {
    /// The id batches are padded with.
    pub fn pad(&self) -> u32 {
        self.config.pad_token_id
    }

    /// Writes `model` to `dir` with its config and tokenizer.
    pub(super) fn save(
        &self,
        model: &RobertaForSequenceClassification,
        dir: &Path,
    ) -> Result<(), TrainError> {
        Ok(model.save(self.config, dir, self.tokenizer_files)?)
    }

    /// Reads a model [`ClassifierOutput::save`] wrote.
    pub(super) fn load(
        &self,
        dir: &Path,
        device: &Device,
    ) -> Result<RobertaForSequenceClassification, TrainError> {
        let files = ModelFiles::resolve(&dir.to_string_lossy(), "main", &HubOptions::from_env())?;
        Ok(RobertaForSequenceClassification::load(&files, device)?.0)
    }
}

impl SupervisedTask for ClassifierTask<'_> {
    type Model = RobertaForSequenceClassification;
    type Report = EpochReport;

    fn examples(&self) -> usize {
        self.train.ids.len()
    }

    fn loss(&self, model: &Self::Model, rows: &[usize], device: &Device) -> Tensor<1> {
        let labels: Vec<usize> = rows.iter().map(|&i| self.train.labels[i]).collect();
        let logits = model.classify(batch(self.train, rows, self.output.pad(), device));
        loss_and_correct(logits, &labels, device).0
    }

    fn evaluate(
        &self,
        model: &Self::Model,
        epoch: usize,
        train_loss: f64,
        device: &Device,
    ) -> EpochReport {
        let (test_loss, test_accuracy) =
            evaluate_classifier(model, self.test, self.eval_batch, self.output.pad(), device);
        EpochReport {
            epoch,
            train_loss,
            test_loss,
            test_accuracy,
        }
    }

    fn save(&self, model: &Self::Model, dir: &Path) -> Result<(), TrainError> {
        self.output.save(model, dir)
    }

    fn load(&self, dir: &Path, device: &Device) -> Result<Self::Model, TrainError> {
        self.output.load(dir, device)
    }
}
