//! What `rlhf sft` and `rlhf train-reward` share: the configuration with their flags applied,
//! the devices, reading the review splits, the resolved `config.toml` in the output directory, and the
//! resumable loop behind a progress bar.

use anyhow::Context;
use burn::tensor::Device;
use config::{Config, TrainingConfig};
use dataset::Review;
use ppo::supervised::{self, Checkpointing, Settings, SupervisedTask};

use super::load::read_splits;
use crate::args::ConfigArgs;
use crate::{device, progress};

/// A supervised run, ready for its task.
pub struct Setup {
    /// The resolved configuration (flags applied).
    pub config: Config,
    /// The plain device (evaluation).
    pub plain: Device,
    /// Its autodiff twin (training).
    pub autodiff: Device,
    /// The loop settings, data subset and output (`sft.training`, `reward_model.training`).
    pub training: TrainingConfig,
    /// Continue the run in the output directory (`--resume`).
    pub resume: bool,
}

impl Setup {
    /// Loads the configuration with `overrides` last and selects the device; `section` picks
    /// the `training` table.
    pub fn load(
        layers: &ConfigArgs,
        overrides: Vec<String>,
        resume: bool,
        section: fn(&Config) -> &TrainingConfig,
    ) -> anyhow::Result<Self> {
        let config = layers.load(overrides)?;
        let plain = device::select(config.device)?;
        let autodiff = plain.clone().autodiff();
        let training = section(&config).clone();
        Ok(Setup {
            config,
            plain,
            autodiff,
            training,
            resume,
        })
    }

    /// The training and held-out reviews (`data.path` / the training table's `test_path`,
    /// subset as it says).
    pub fn splits(&self) -> anyhow::Result<(Vec<Review>, Vec<Review>)> {
        read_splits(&self.config, &self.training)
    }

    /// Trains `model` on `task`: a fresh start refuses an output directory that holds a run and
    /// saves `config.toml` there; `--resume` continues it. Prints every epoch's report and the
    /// saved model; returns the reports of all finished epochs.
    pub fn train<T: SupervisedTask>(
        &self,
        task: &T,
        model: T::Model,
    ) -> anyhow::Result<Vec<T::Report>>
    where
        T::Report: std::fmt::Display,
    {
        let (training, resume) = (&self.training, self.resume);
        let out = &training.output_dir;
        let _lock = super::lock(out)?;
        if !resume {
            ppo::checkpoint::ensure_fresh(out)?;
            self.config
                .write_resolved(out)
                .with_context(|| format!("cannot prepare `{}`", out.display()))?;
        }
        let steps = task.examples().div_ceil(training.batch_size.max(1)) * training.epochs;
        let bar = progress::bar(steps, "training");
        let (_, reports) = supervised::train(
            task,
            model,
            &Settings::from_config(training, self.config.seed),
            &Checkpointing::from_config(training, resume),
            &self.autodiff,
            progress::supervised_observer(&bar, out, T::Report::to_string),
        )?;
        bar.finish_and_clear();
        if let Some(last) = reports.last() {
            println!("saved {} ({last})", out.display());
        }
        Ok(reports)
    }
}
