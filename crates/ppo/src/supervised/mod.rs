//! The loop shared by the supervised trainers ([`sft`], [`classifier`], [`pairwise`]): a
//! seeded shuffle per epoch, AdamW with linear warm-up and decay, an evaluation after every
//! epoch, and resumable checkpoints.
//!
//! Output directory:
//! ```text
//! config.json, model.safetensors, …        the model after the newest finished epoch (HF layout)
//! metrics.jsonl                             one report per finished epoch
//! checkpoints/step-000120/model/            weights at that step (HF layout)
//! checkpoints/step-000120/optimizer.bpk     AdamW moments, keyed by stable parameter ids
//! checkpoints/step-000120/trainer_state.json  step, the open epoch's loss sum, reports, settings
//! latest                                    "checkpoints/step-000120"
//! ```
//! Only the newest checkpoint is kept. The shuffle of epoch `e` is a pure function of
//! `(seed, e)`, so a resumed run sees the same batches in the same order as an uninterrupted one.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Tensor};
use models::export::write_atomic;
use models::weights::with_stable_param_ids;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub mod classifier;
pub mod pairwise;
mod schedule;
pub mod sft;

pub use schedule::warmup_linear_decay;

use crate::TrainError;
use crate::checkpoint::{
    commit, ensure_fresh, latest, load_optimizer, read_state, save_optimizer, write_state,
};

/// What a supervised trainer needs from its task.
pub trait SupervisedTask {
    /// The trained module.
    type Model: Module;
    /// The evaluation after an epoch (one line of `metrics.jsonl`).
    type Report: Serialize + DeserializeOwned + Clone;
    /// Number of training examples.
    fn examples(&self) -> usize;
    /// Mean loss `[1]` over the training examples `rows` (autodiff `device`).
    fn loss(&self, model: &Self::Model, rows: &[usize], device: &Device) -> Tensor<1>;
    /// Evaluates the inference copy after 1-based `epoch` (plain `device`).
    fn evaluate(
        &self,
        model: &Self::Model,
        epoch: usize,
        train_loss: f64,
        device: &Device,
    ) -> Self::Report;
    /// Writes the model into `dir` (Hugging Face layout).
    fn save(&self, model: &Self::Model, dir: &Path) -> Result<(), TrainError>;
    /// Reads a model written by [`SupervisedTask::save`].
    fn load(&self, dir: &Path, device: &Device) -> Result<Self::Model, TrainError>;
}

/// Optimisation settings; a resumed run must use the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Passes over the training examples.
    pub epochs: usize,
    /// Examples per optimizer step.
    pub batch_size: usize,
    /// Peak learning rate.
    pub learning_rate: f64,
    /// Fraction of all steps spent warming up linearly from 0; then linear decay to 0.
    pub warmup_frac: f64,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// Shuffling seed.
    pub seed: u64,
}

impl Settings {
    /// The settings of a `training` table of the run configuration.
    pub fn from_config(training: &config::TrainingConfig, seed: u64) -> Self {
        Settings {
            epochs: training.epochs,
            batch_size: training.batch_size,
            learning_rate: training.learning_rate,
            warmup_frac: training.warmup_frac,
            weight_decay: training.weight_decay,
            seed,
        }
    }
}

/// Where the run lives and how often it is checkpointed.
#[derive(Debug, Clone)]
pub struct Checkpointing {
    /// The output directory.
    pub out: PathBuf,
    /// Steps between checkpoints besides the one at the end of every epoch (0 = none).
    pub save_every: usize,
    /// Continue from `out/latest` instead of starting.
    pub resume: bool,
}

impl Checkpointing {
    /// Output directory and checkpoint frequency of a `training` table; `resume` continues
    /// from its `latest` checkpoint.
    pub fn from_config(training: &config::TrainingConfig, resume: bool) -> Self {
        Checkpointing {
            out: training.output_dir.clone(),
            save_every: training.save_every,
            resume,
        }
    }
}

/// Progress reported to the caller.
#[derive(Debug)]
pub enum Event<'a, R> {
    /// Training continues from a checkpoint after `step` steps.
    Resumed {
        /// Steps already done.
        step: usize,
    },
    /// One optimizer step finished.
    Step {
        /// Steps done.
        step: usize,
        /// Steps in the whole run.
        total: usize,
        /// This step's loss.
        loss: f64,
    },
    /// An epoch finished and was evaluated; the model is saved in the output directory.
    Epoch(&'a R),
}

/// The checkpointed loop state.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LoopState<R> {
    step: usize,
    epoch_loss_sum: f64,
    examples: usize,
    settings: Settings,
    reports: Vec<R>,
}

/// Trains `model` (autodiff `device`) on `task`; returns the trained model and the reports of
/// every epoch (those of a resumed run included). `observe` sees every event; returning
/// `ControlFlow::Break` after a step stops the run there (after that step's checkpoint, if any).
pub fn train<T: SupervisedTask>(
    task: &T,
    model: T::Model,
    settings: &Settings,
    checkpointing: &Checkpointing,
    device: &Device,
    mut observe: impl FnMut(Event<'_, T::Report>) -> ControlFlow<()>,
) -> Result<(T::Model, Vec<T::Report>), TrainError> {
    let n = task.examples();
    if n == 0 {
        return Err(TrainError::Setup(
            "no training examples; use more reviews or a smaller block size".into(),
        ));
    }
    let batch = settings.batch_size.max(1);
    let per_epoch = n.div_ceil(batch);
    let total = per_epoch * settings.epochs;
    let warmup = ((total as f64) * settings.warmup_frac).ceil().max(1.0);
    let out = &checkpointing.out;
    let optimizer = AdamWConfig::new()
        .with_epsilon(1e-8)
        .with_weight_decay(settings.weight_decay as f32)
        .init();
    let (mut model, mut optimizer, mut state) = if checkpointing.resume {
        let dir = latest(out)?;
        let state: LoopState<T::Report> = read_state(&dir)?;
        check_compatible(&state, settings, n)?;
        let model = with_stable_param_ids(task.load(&dir.join("model"), device)?);
        let optimizer = load_optimizer(&dir, optimizer)?;
        if observe(Event::Resumed { step: state.step }).is_break() {
            return Ok((model, state.reports));
        }
        (model, optimizer, state)
    } else {
        ensure_fresh(out)?;
        let state = LoopState {
            step: 0,
            epoch_loss_sum: 0.0,
            examples: n,
            settings: settings.clone(),
            reports: Vec::new(),
        };
        (with_stable_param_ids(model), optimizer, state)
    };
    let plain = device.clone().without_autodiff();
    while state.step < total {
        let epoch = state.step / per_epoch;
        let order = dataset::permutation(n, settings.seed, epoch as u64);
        let batches: Vec<&[usize]> = order.chunks(batch).collect();
        for rows in &batches[state.step % per_epoch..] {
            let loss = task.loss(&model, rows, device);
            let value = f64::from(loss.clone().detach().into_scalar::<f32>());
            if !value.is_finite() {
                return Err(TrainError::Diverged {
                    step: state.step,
                    what: format!("training loss = {value}"),
                });
            }
            state.epoch_loss_sum += value * rows.len() as f64;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            state.step += 1;
            let lr = warmup_linear_decay(settings.learning_rate, state.step, total, warmup);
            model = optimizer.step(lr, model, grads);
            let flow = observe(Event::Step {
                step: state.step,
                total,
                loss: value,
            });
            let epoch_done = state.step.is_multiple_of(per_epoch);
            let every = checkpointing.save_every;
            if !epoch_done && (every == 0 || !state.step.is_multiple_of(every)) {
                if flow.is_break() {
                    return Ok((model, state.reports));
                }
                continue;
            }
            let valid = model.valid();
            if epoch_done {
                let train_loss = state.epoch_loss_sum / n as f64;
                let report = task.evaluate(&valid, epoch + 1, train_loss, &plain);
                state.epoch_loss_sum = 0.0;
                task.save(&valid, out)?;
                state.reports.push(report);
                write_metrics(out, &state.reports)?;
                // Already stopping or not, the epoch's checkpoint is written below.
                let _ = observe(Event::Epoch(&state.reports[state.reports.len() - 1]));
            }
            let previous = latest(out).ok();
            let dir = commit(out, state.step, |tmp| {
                task.save(&valid, &tmp.join("model"))?;
                save_optimizer(&optimizer, tmp)?;
                write_state(tmp, &state)
            })?;
            if let Some(old) = previous.filter(|old| *old != dir) {
                std::fs::remove_dir_all(&old).map_err(|e| TrainError::io(&old, e))?;
            }
            if flow.is_break() {
                return Ok((model, state.reports));
            }
        }
    }
    Ok((model, state.reports))
}

fn check_compatible<R>(
    state: &LoopState<R>,
    settings: &Settings,
    examples: usize,
) -> Result<(), TrainError> {
    if state.settings != *settings || state.examples != examples {
        return Err(TrainError::ResumeMismatch {
            what: format!(
                "the checkpoint was trained with {:?} on {} examples, this run asks for {:?} on {}",
                state.settings, state.examples, settings, examples
            ),
        });
    }
    Ok(())
}

/// Rewrites `metrics.jsonl` with one line per finished epoch.
fn write_metrics<R: Serialize>(out: &Path, reports: &[R]) -> Result<(), TrainError> {
    let path = out.join("metrics.jsonl");
    let mut text = String::new();
    for report in reports {
        let line = serde_json::to_string(report).map_err(|source| TrainError::Json {
            path: path.clone(),
            source,
        })?;
        text.push_str(&line);
        text.push('\n');
    }
    Ok(write_atomic(&path, text.as_bytes())?)
}
