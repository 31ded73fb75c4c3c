//! The PPO trainer: TRL 0.11.4's classic `PPOTrainer.step` with the rollout in front. The same
//! code runs on every backend: the caller passes the autodiff device the policy trains on.
//!
//! - [`step`](Trainer::step) (`step.rs`): one PPO step, one method per phase;
//! - `epochs.rs`: the minibatch epochs (loss, accumulation, clipping, optimizer step);
//! - `rollout_forward.rs`: the no-grad forward of policy and reference; `timings.rs`: phase times;
//! - `optimizer.rs`: Adam by device kind; `state.rs`: what a checkpoint stores;
//! - `stats.rs` / `metrics.rs`: TRL's statistics, `metrics.jsonl` and sample tables.

mod epochs;
mod metrics;
mod optimizer;
mod rollout_forward;
mod state;
mod stats;
mod step;
mod timings;

use std::path::{Path, PathBuf};
use std::rc::Rc;

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::tensor::Device;
use config::Config;
use dataset::{Prompt, PromptLoader, Tokenizer};
use models::export::ValueHeadWeights;
use models::{Gpt2Config, Gpt2WithValueHead};

pub use epochs::{
    EpochSettings, EpochsOutput, StepData, global_grad_norm, run_epochs, scale_grads,
};
pub use metrics::{Metrics, MetricsLog, cut_after_step, read_lines, sample_table};
pub use optimizer::{OptimizerKind, build_optimizer};
pub use state::TrainerState;
pub use stats::{StepRecord, step_metrics};
pub use step::StepOutput;
pub use timings::Timings;

use crate::TrainError;
use crate::checkpoint;
use crate::collective::Collective;
use crate::kl::KlController;
use crate::scorer::Scorer;
use crate::scores::RunningMoments;

/// Everything a trainer is built from.
pub struct TrainerParts {
    /// The resolved run configuration.
    pub config: Config,
    /// The autodiff device the policy trains on (e.g. `Device::flex().autodiff()`).
    pub device: Device,
    /// The policy, on `device`, with stable parameter ids.
    pub policy: Gpt2WithValueHead,
    /// The frozen reference model (the initial policy), on a plain device.
    pub reference: Gpt2WithValueHead,
    /// The policy's architecture.
    pub gpt2: Gpt2Config,
    /// Policy tokenizer (decodes responses for the scorer).
    pub tokenizer: Tokenizer,
    /// Tokenizer files copied into checkpoints.
    pub tokenizer_files: Vec<PathBuf>,
    /// The reward function.
    pub scorer: Box<dyn Scorer>,
    /// The prompt pool.
    pub prompts: Vec<Prompt>,
    /// `<output.dir>/<exp_name>`.
    pub run_dir: PathBuf,
    /// The ranks this run spans ([`SingleProcess`](crate::SingleProcess) for one process).
    pub collective: Rc<dyn Collective>,
}

/// The PPO trainer.
pub struct Trainer {
    parts: TrainerParts,
    plain: Device,
    optimizer: ModuleOptimizer,
    kl: KlController,
    moments: RunningMoments,
    loader: PromptLoader,
    step: usize,
}

impl Trainer {
    /// A trainer at step 0.
    pub fn new(parts: TrainerParts) -> Result<Self, TrainError> {
        let ppo = &parts.config.ppo;
        let kl = KlController::new(ppo.adap_kl_ctrl, ppo.init_kl_coef, ppo.target, ppo.horizon);
        let loader = PromptLoader::new(parts.prompts.len(), ppo.batch_size, parts.config.seed)?;
        let state = TrainerState {
            step: 0,
            kl,
            moments: RunningMoments::default(),
            loader: loader.state(),
            seed: parts.config.seed,
        };
        Self::assemble(parts, state, loader, None)
    }

    /// A trainer continuing from checkpoint directory `dir` (its policy must already be in
    /// `parts.policy`, loaded from `dir/policy`).
    pub fn resume(parts: TrainerParts, dir: &Path) -> Result<Self, TrainError> {
        let state: TrainerState = checkpoint::read_state(dir)?;
        if state.seed != parts.config.seed {
            return Err(TrainError::ResumeMismatch {
                what: format!(
                    "the checkpoint was written with seed {} but the configuration says {}",
                    state.seed, parts.config.seed
                ),
            });
        }
        let loader = PromptLoader::resume(
            parts.prompts.len(),
            parts.config.ppo.batch_size,
            parts.config.seed,
            state.loader,
        )?;
        Self::assemble(parts, state, loader, Some(dir))
    }

    fn assemble(
        parts: TrainerParts,
        state: TrainerState,
        loader: PromptLoader,
        checkpoint_dir: Option<&Path>,
    ) -> Result<Self, TrainError> {
        if !parts.device.is_autodiff() {
            return Err(TrainError::Setup(
                "the policy device must be an autodiff device".into(),
            ));
        }
        let ppo = &parts.config.ppo;
        check_ranks(parts.collective.size(), ppo.batch_size, ppo.mini_batch_size)?;
        let kind = OptimizerKind::for_device(parts.config.device.is_cpu(), ppo.tf_style_adam);
        let optimizer = build_optimizer(kind, ppo.adam_epsilon);
        let optimizer = match checkpoint_dir {
            Some(dir) => checkpoint::load_optimizer(dir, optimizer)?,
            None => optimizer,
        };
        let plain = parts.device.clone().without_autodiff();
        Ok(Self {
            parts,
            plain,
            optimizer,
            kl: state.kl,
            moments: state.moments,
            loader,
            step: state.step,
        })
    }

    /// PPO steps completed.
    pub fn step_index(&self) -> usize {
        self.step
    }

    /// The state a checkpoint stores.
    pub fn state(&self) -> TrainerState {
        TrainerState {
            step: self.step,
            kl: self.kl.clone(),
            moments: self.moments.clone(),
            loader: self.loader.state(),
            seed: self.parts.config.seed,
        }
    }

    /// Writes a checkpoint of the current step; returns its directory.
    pub fn save_checkpoint(&self) -> Result<PathBuf, TrainError> {
        state::save(
            &self.parts.run_dir,
            &self.parts.policy,
            &self.parts.gpt2,
            &self.optimizer,
            &self.state(),
            &self.parts.tokenizer_files,
        )
    }

    /// Writes the policy in HF layout without the value head into `dir` (the final export),
    /// atomically: a temporary directory renamed into place.
    pub fn export(&self, dir: &Path) -> Result<(), TrainError> {
        let policy = self.parts.policy.valid();
        checkpoint::publish_dir(dir, |tmp| {
            models::export::save_policy(
                &policy,
                &self.parts.gpt2,
                tmp,
                ValueHeadWeights::Drop,
                &self.parts.tokenizer_files,
            )?;
            Ok(())
        })
    }
}

/// Refuses a rank count that does not split the batch and the minibatch evenly (before any
/// work starts; every rank reaches the same verdict).
pub fn check_ranks(
    ranks: usize,
    batch_size: usize,
    mini_batch_size: usize,
) -> Result<(), TrainError> {
    for (key, value) in [
        ("ppo.batch_size", batch_size),
        ("ppo.mini_batch_size", mini_batch_size),
    ] {
        if !value.is_multiple_of(ranks.max(1)) {
            return Err(TrainError::Ranks {
                ranks,
                what: format!(
                    "{key} = {value} does not split into {ranks} equal shares; make it a \
                     multiple of {ranks} or run another number of ranks (mpirun -np)"
                ),
            });
        }
    }
    Ok(())
}
