//! Training a reward model on comparisons (TRL's `RewardTrainer`, InstructGPT's reward model):
//! a RoBERTa with one output, r(text), fitted so that r(chosen) > r(rejected) by the
//! Bradley–Terry loss −log σ(r_chosen − r_rejected − margin), plus TRL's optional
//! `center_rewards_coefficient` × mean((r_chosen + r_rejected)²). After every epoch: held-out
//! loss and pairwise accuracy, overall and by rating gap.

use std::path::Path;

use burn::tensor::activation::log_sigmoid;
use burn::tensor::{Device, Tensor, TensorData};
use dataset::Pair;
use models::RobertaForSequenceClassification;
use models::roberta::RobertaBatch;
use serde::{Deserialize, Serialize};

use super::SupervisedTask;
use super::classifier::ClassifierOutput;
use crate::TrainError;

/// Tokenized reviews and the comparisons among them.
#[derive(Debug, Clone, Default)]
pub struct EncodedPairs {
    /// Token ids per review (`<s>` … `</s>`, cut to the model's length).
    pub ids: Vec<Vec<u32>>,
    /// Comparisons, indexing `ids`.
    pub pairs: Vec<Pair>,
}

/// The loss options (`[reward_model.pairwise]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairwiseLoss {
    /// Margin per star of rating gap.
    pub margin: f64,
    /// TRL's `center_rewards_coefficient` (0 = off).
    pub center_rewards_coefficient: f64,
}

/// Pairwise accuracy on the pairs of one rating gap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GapAccuracy {
    /// Rating difference.
    pub gap: u8,
    /// Held-out pairs with that gap.
    pub pairs: usize,
    /// Share where r(chosen) > r(rejected).
    pub accuracy: f64,
}

/// One epoch's results (one line of `metrics.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairwiseReport {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Mean held-out loss.
    pub test_loss: f64,
    /// Share of held-out pairs ranked right (ties count as wrong).
    pub test_accuracy: f64,
    /// The same on pairs with a rating gap of 1 or 2.
    pub accuracy_gap_1_2: f64,
    /// The same on pairs with a gap of 3 or more.
    pub accuracy_gap_3_plus: f64,
    /// By gap, for every gap present.
    pub by_gap: Vec<GapAccuracy>,
    /// Mean reward over the held-out reviews.
    pub reward_mean: f64,
    /// Its standard deviation.
    pub reward_std: f64,
}

impl std::fmt::Display for PairwiseReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "epoch {}: train loss {:.4}, test loss {:.4}, pairwise accuracy {:.1} % (gap 1-2: \
             {:.1} %, gap >= 3: {:.1} %), reward {:.2} ± {:.2}",
            self.epoch,
            self.train_loss,
            self.test_loss,
            self.test_accuracy * 100.0,
            self.accuracy_gap_1_2 * 100.0,
            self.accuracy_gap_3_plus * 100.0,
            self.reward_mean,
            self.reward_std
        )
    }
}

/// Rewards `[rows.len()]` of the reviews `rows` (the model's single output).
fn rewards(
    model: &RobertaForSequenceClassification,
    ids: &[Vec<u32>],
    rows: &[usize],
    pad: u32,
    device: &Device,
) -> Tensor<1> {
    let texts: Vec<&[u32]> = rows.iter().map(|&i| ids[i].as_slice()).collect();
    let logits = model.classify(RobertaBatch::right_padded(&texts, pad, device));
    let [b, _] = logits.dims();
    logits.slice([0..b, 0..1]).reshape([b])
}

/// Bradley–Terry loss `[1]` from the chosen and rejected rewards `[b]` and the margins `[b]`.
pub fn pairwise_loss(
    chosen: Tensor<1>,
    rejected: Tensor<1>,
    margins: Tensor<1>,
    center_rewards_coefficient: f64,
) -> Tensor<1> {
    let loss = log_sigmoid(chosen.clone() - rejected.clone() - margins)
        .mean()
        .neg();
    if center_rewards_coefficient > 0.0 {
        let sum = chosen + rejected;
        loss + (sum.clone() * sum).mean() * center_rewards_coefficient
    } else {
        loss
    }
}

/// Rewards of every review in `data` (any device; no gradients), `batch` at a time.
pub fn score_all(
    model: &RobertaForSequenceClassification,
    data: &EncodedPairs,
    batch: usize,
    pad: u32,
    device: &Device,
) -> Vec<f64> {
    let all: Vec<usize> = (0..data.ids.len()).collect();
    all.chunks(batch.max(1))
        .flat_map(|rows| {
            rewards(model, &data.ids, rows, pad, device)
                .into_data()
                .iter::<f32>()
                .map(f64::from)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Held-out loss and accuracies from per-review rewards.
pub fn pairwise_report(
    epoch: usize,
    train_loss: f64,
    rewards: &[f64],
    pairs: &[Pair],
    loss: PairwiseLoss,
) -> PairwiseReport {
    let mut by_gap = [(0usize, 0usize); 10];
    let mut test_loss = 0.0;
    for p in pairs {
        let d = rewards[p.chosen] - rewards[p.rejected];
        let z = d - loss.margin * f64::from(p.gap);
        // −log σ(z), stable for both signs.
        test_loss += (-z).max(0.0) + (-z.abs()).exp().ln_1p();
        let slot = &mut by_gap[usize::from(p.gap.min(9))];
        slot.0 += 1;
        slot.1 += usize::from(d > 0.0);
    }
    let share = |(n, right): (usize, usize)| if n == 0 { 0.0 } else { right as f64 / n as f64 };
    let sum = |gaps: std::ops::RangeInclusive<usize>| {
        gaps.map(|g| by_gap[g])
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    };
    let n = rewards.len().max(1) as f64;
    let mean = rewards.iter().sum::<f64>() / n;
    let var = rewards.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n;
    PairwiseReport {
        epoch,
        train_loss,
        test_loss: test_loss / pairs.len().max(1) as f64,
        test_accuracy: share(sum(1..=9)),
        accuracy_gap_1_2: share(sum(1..=2)),
        accuracy_gap_3_plus: share(sum(3..=9)),
        by_gap: (1..=9)
            .filter(|&g| by_gap[g].0 > 0)
            .map(|g| GapAccuracy {
                gap: g as u8,
                pairs: by_gap[g].0,
                accuracy: share(by_gap[g]),
            })
            .collect(),
        reward_mean: mean,
        reward_std: var.sqrt(),
    }
}

/// Pairwise reward-model training, for [`super::train`]; one example is one comparison.
#[derive(Debug)]
pub struct PairwiseTask<'a> {
    /// Training reviews and pairs.
    pub train: &'a EncodedPairs,
    /// Held-out reviews and pairs.
    pub test: &'a EncodedPairs,
    /// Reviews per evaluation forward.
    pub eval_batch: usize,
    /// Loss options.
    pub loss: PairwiseLoss,
    /// How the model is saved and reloaded.
    pub output: ClassifierOutput<'a>,
}

impl SupervisedTask for PairwiseTask<'_> {
    type Model = RobertaForSequenceClassification;
    type Report = PairwiseReport;

    fn examples(&self) -> usize {
        self.train.pairs.len()
    }

    fn loss(&self, model: &Self::Model, rows: &[usize], device: &Device) -> Tensor<1> {
        let pairs: Vec<Pair> = rows.iter().map(|&i| self.train.pairs[i]).collect();
        let b = pairs.len();
        // One forward over [chosen… ‖ rejected…].
        let texts: Vec<usize> = pairs
            .iter()
            .map(|p| p.chosen)
            .chain(pairs.iter().map(|p| p.rejected))
            .collect();
        let r = rewards(model, &self.train.ids, &texts, self.output.pad(), device);
        let margins: Vec<f32> = pairs
            .iter()
            .map(|p| (self.loss.margin * f64::from(p.gap)) as f32)
            .collect();
        let margins = Tensor::from_data(TensorData::new(margins, [b]), device);
        pairwise_loss(
            r.clone().narrow(0, 0, b),
            r.narrow(0, b, b),
            margins,
            self.loss.center_rewards_coefficient,
        )
    }

    fn evaluate(
        &self,
        model: &Self::Model,
        epoch: usize,
        train_loss: f64,
        device: &Device,
    ) -> PairwiseReport {
        let rewards = score_all(model, self.test, self.eval_batch, self.output.pad(), device);
        pairwise_report(epoch, train_loss, &rewards, &self.test.pairs, self.loss)
    }

    fn save(&self, model: &Self::Model, dir: &Path) -> Result<(), TrainError> {
        self.output.save(model, dir)
    }

    fn load(&self, dir: &Path, device: &Device) -> Result<Self::Model, TrainError> {
        self.output.load(dir, device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(chosen: usize, rejected: usize, gap: u8) -> Pair {
        Pair {
            chosen,
            rejected,
            gap,
        }
    }

    #[test]
    fn loss_is_trl_reward_trainer_formula() {
        // TRL 0.11.4 RewardTrainer.compute_loss: -logsigmoid(r_c - r_r - margin).mean()
        // + coefficient * mean((r_c + r_r)^2).
        let device = Device::flex();
        let t = |v: &[f32]| Tensor::<1>::from_data(TensorData::new(v.to_vec(), [v.len()]), &device);
        let (c, r, m) = (
            [1.5f32, -0.5, 0.25],
            [0.5f32, 1.0, 0.25],
            [0.0f32, 0.5, 1.0],
        );
        let got = pairwise_loss(t(&c), t(&r), t(&m), 0.01).into_scalar::<f32>();
        let mut want = 0.0f64;
        let mut center = 0.0f64;
        for i in 0..3 {
            let z = f64::from(c[i] - r[i] - m[i]);
            want -= (1.0 / (1.0 + (-z).exp())).ln() / 3.0;
            center += f64::from(c[i] + r[i]).powi(2) / 3.0;
        }
        want += 0.01 * center;
        assert!((f64::from(got) - want).abs() < 1e-6, "{got} vs {want}");
    }

    #[test]
    fn report_counts_accuracy_by_gap_and_the_loss_matches_the_formula() {
        let rewards = [2.0, 0.0, 1.0, 3.0];
        let pairs = [pair(0, 1, 1), pair(2, 3, 2), pair(3, 1, 5), pair(1, 0, 4)];
        let loss = PairwiseLoss {
            margin: 0.5,
            center_rewards_coefficient: 0.0,
        };
        let r = pairwise_report(1, 0.7, &rewards, &pairs, loss);
        assert_eq!(
            (r.accuracy_gap_1_2, r.accuracy_gap_3_plus, r.test_accuracy),
            (0.5, 0.5, 0.5)
        );
        assert_eq!(r.by_gap.len(), 4);
        let nll = |z: f64| -(1.0 / (1.0 + (-z).exp())).ln();
        let want = (nll(2.0 - 0.5) + nll(-2.0 - 1.0) + nll(3.0 - 2.5) + nll(-2.0 - 2.0)) / 4.0;
        assert!(
            (r.test_loss - want).abs() < 1e-12,
            "{} vs {want}",
            r.test_loss
        );
        assert!((r.reward_mean - 1.5).abs() < 1e-12);
    }
}
