//! What a PPO checkpoint stores besides the generic layout of [`crate::checkpoint`]:
//!
//! ```text
//! checkpoints/step-000010/policy/{config.json, model.safetensors, tokenizer.json}  (HF + v_head)
//! checkpoints/step-000010/optimizer.bpk       Adam moments (burnpack), keyed by stable param ids
//! checkpoints/step-000010/trainer_state.json  step, KL controller, score moments, data position
//! ```

use std::path::{Path, PathBuf};

use burn::optim::ModuleOptimizer;
use dataset::LoaderState;
use models::export::{ValueHeadWeights, save_policy};
use models::{Gpt2Config, Gpt2WithValueHead};
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::checkpoint::{commit, save_optimizer, write_state};
use crate::kl::KlController;
use crate::scores::RunningMoments;

/// The trainer's small state (besides weights and optimizer moments).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    /// PPO steps completed.
    pub step: usize,
    /// KL coefficient controller.
    pub kl: KlController,
    /// Running score moments (score scaling).
    pub moments: RunningMoments,
    /// Prompt loader position.
    pub loader: LoaderState,
    /// The run's seed (a resumed run must use the same).
    pub seed: u64,
}

/// Writes checkpoint `state.step` into `run_dir` and points `latest` at it.
pub(super) fn save(
    run_dir: &Path,
    policy: &Gpt2WithValueHead,
    gpt2: &Gpt2Config,
    optimizer: &ModuleOptimizer,
    state: &TrainerState,
    tokenizer_files: &[PathBuf],
) -> Result<PathBuf, TrainError> {
    commit(run_dir, state.step, |tmp| {
        let dir = tmp.join("policy");
        save_policy(policy, gpt2, &dir, ValueHeadWeights::Keep, tokenizer_files)?;
        save_optimizer(optimizer, tmp)?;
        write_state(tmp, state)
    })
}
