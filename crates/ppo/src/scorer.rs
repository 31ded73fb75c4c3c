//! Scoring decoded `query + response` texts: the [`Scorer`] trait the PPO trainer calls, and
//! [`ClassifierScorer`], the reward classifier that training and evaluation share (so both cut
//! texts at `reward.max_length` and batch them by `reward.batch_size`).

use config::{RewardConfig, RewardMode};
use models::RewardModel;
use models::sampling::softmax;

use crate::TrainError;

/// Turns decoded `query + response` texts (and the response ids) into one score per sample.
pub trait Scorer {
    /// Scores, one per text.
    fn score(&mut self, texts: &[String], responses: &[Vec<u32>]) -> Result<Vec<f64>, TrainError>;
}

/// The reward classifier: one label's logit, probability or logit margin, the label chosen by
/// name (TRL's gpt2-sentiment uses the raw POSITIVE logit).
#[derive(Debug)]
pub struct ClassifierScorer {
    model: RewardModel,
    label: usize,
    mode: RewardMode,
    batch_size: usize,
    max_length: usize,
}

impl ClassifierScorer {
    /// Wraps a loaded classifier with the run's `reward` settings; `reward.label` must be one of
    /// the classifier's `id2label` names, except for `reward.mode = "scalar"`, which needs a
    /// model with one output.
    pub fn new(model: RewardModel, reward: &RewardConfig) -> Result<Self, TrainError> {
        let scalar_model = model.labels().len() == 1;
        let label = match (reward.mode, scalar_model) {
            (RewardMode::Scalar, true) => 0,
            (RewardMode::Scalar, false) => {
                return Err(TrainError::Setup(format!(
                    "reward.mode = \"scalar\" needs a reward model with one output, but this one \
                     has {} labels ({}); set reward.mode to logit, prob or logit_margin",
                    model.labels().len(),
                    model.labels().join(", ")
                )));
            }
            (_, true) => {
                return Err(TrainError::Setup(
                    "the reward model has a single output (a scalar reward model, num_labels = \
                     1, e.g. trained on comparisons); set reward.mode = \"scalar\""
                        .into(),
                ));
            }
            (_, false) => model.label_index(&reward.label).ok_or_else(|| {
                TrainError::Setup(format!(
                    "reward.label `{}` is not a label of the reward model (its labels: {}); set \
                     reward.label to one of them",
                    reward.label,
                    model.labels().join(", ")
                ))
            })?,
        };
        Ok(Self {
            model,
            label,
            mode: reward.mode,
            batch_size: reward.batch_size.max(1),
            max_length: reward.max_length,
        })
    }

    /// Index of the rewarded label.
    pub fn label(&self) -> usize {
        self.label
    }

    /// True for a scalar reward model (`reward.mode = "scalar"`): the score is its one output.
    pub fn is_scalar(&self) -> bool {
        self.mode == RewardMode::Scalar
    }

    /// Texts per classifier forward (`reward.batch_size`).
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Per-label logits `[texts.len()][num_labels]`, texts cut at `reward.max_length` tokens.
    pub fn logits(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, TrainError> {
        Ok(self.model.score(texts, self.batch_size, self.max_length)?)
    }

    /// The score of one row of logits (`reward.mode` of `reward.label`).
    pub fn reduce(&self, row: &[f32]) -> f64 {
        reduce(row, self.label, self.mode)
    }
}

impl Scorer for ClassifierScorer {
    fn score(&mut self, texts: &[String], _responses: &[Vec<u32>]) -> Result<Vec<f64>, TrainError> {
        Ok(self
            .logits(texts)?
            .iter()
            .map(|row| self.reduce(row))
            .collect())
    }
}

/// One label's number from a row of logits.
pub fn reduce(row: &[f32], label: usize, mode: RewardMode) -> f64 {
    let logit = f64::from(row[label]);
    match mode {
        RewardMode::Logit | RewardMode::Scalar => logit,
        RewardMode::Prob => softmax(row)[label],
        RewardMode::LogitMargin => {
            let other = row
                .iter()
                .enumerate()
                .filter(|&(i, _)| i != label)
                .map(|(_, &l)| f64::from(l))
                .fold(f64::NEG_INFINITY, f64::max);
            logit - other
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduce_reads_logit_probability_and_margin() {
        let row = [1.0f32, 3.0, 2.0];
        assert_eq!(reduce(&row, 1, RewardMode::Logit), 3.0);
        assert_eq!(reduce(&row, 1, RewardMode::LogitMargin), 1.0);
        let z = 1f64.exp() + 3f64.exp() + 2f64.exp();
        assert!((reduce(&row, 1, RewardMode::Prob) - 3f64.exp() / z).abs() < 1e-12);
    }
}
