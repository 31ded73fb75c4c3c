//! Checkpoints: everything needed to continue a run exactly, written atomically.
//!
//! Layout under the run directory:
//! ```text
//! checkpoints/step-000010/policy/{config.json, model.safetensors, tokenizer.json}  (HF + v_head)
//! checkpoints/step-000010/optimizer.bpk       Adam moments (burnpack), keyed by stable param ids
//! checkpoints/step-000010/trainer_state.json  step, KL controller, score moments, data position
//! latest                                      "checkpoints/step-000010"
//! ```
//! A checkpoint is written under a temporary name and renamed when complete; `latest` is
//! replaced last, so a crash at any point leaves the previous checkpoint usable.

use std::path::{Path, PathBuf};

use burn::optim::ModuleOptimizer;
use dataset::LoaderState;
use models::export::{save_policy, write_atomic};
use models::{Gpt2Config, Gpt2WithValueHead};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::TrainError;
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

/// Name of the file in the run directory that points at the newest checkpoint.
pub const LATEST: &str = "latest";

/// The small state file of every checkpoint.
pub const STATE_FILE: &str = "trainer_state.json";

/// Writes checkpoint `state.step` into `run_dir` and points `latest` at it.
pub fn save(
    run_dir: &Path,
    policy: &Gpt2WithValueHead,
    gpt2: &Gpt2Config,
    optimizer: &ModuleOptimizer,
    state: &TrainerState,
    tokenizer_files: &[PathBuf],
) -> Result<PathBuf, TrainError> {
    commit(run_dir, state.step, |tmp| {
        save_policy(policy, gpt2, &tmp.join("policy"), true, tokenizer_files)?;
        save_optimizer(optimizer, tmp)?;
        write_state(tmp, state)
    })
}

/// Writes the checkpoint of `step` under `run_dir/checkpoints/`: `fill` writes its files into a
/// temporary directory, which is renamed when complete; `latest` is replaced last.
pub fn commit(
    run_dir: &Path,
    step: usize,
    fill: impl FnOnce(&Path) -> Result<(), TrainError>,
) -> Result<PathBuf, TrainError> {
    let name = format!("checkpoints/step-{step:06}");
    let final_dir = run_dir.join(&name);
    let tmp = run_dir.join(format!("checkpoints/.step-{step:06}.tmp"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    fill(&tmp)?;
    if final_dir.exists() {
        std::fs::remove_dir_all(&final_dir).map_err(|e| TrainError::io(&final_dir, e))?;
    }
    std::fs::rename(&tmp, &final_dir).map_err(|e| TrainError::io(&final_dir, e))?;
    write_atomic(&run_dir.join(LATEST), name.as_bytes())?;
    Ok(final_dir)
}

/// Writes `optimizer.bpk` (the optimizer moments, burnpack) into a checkpoint directory.
pub fn save_optimizer(optimizer: &ModuleOptimizer, dir: &Path) -> Result<(), TrainError> {
    let path = dir.join("optimizer.bpk");
    optimizer
        .save(&path)
        .map_err(|e| TrainError::Checkpoint(format!("cannot save `{}`: {e}", path.display())))
}

/// Writes `trainer_state.json` into a checkpoint directory.
pub fn write_state(dir: &Path, state: &impl Serialize) -> Result<(), TrainError> {
    let json =
        serde_json::to_vec_pretty(state).map_err(|e| TrainError::Checkpoint(e.to_string()))?;
    Ok(write_atomic(&dir.join(STATE_FILE), &json)?)
}

/// The newest checkpoint directory of a run, from its `latest` file.
pub fn latest(run_dir: &Path) -> Result<PathBuf, TrainError> {
    let pointer = run_dir.join(LATEST);
    let name = std::fs::read_to_string(&pointer).map_err(|_| {
        TrainError::Checkpoint(format!(
            "`{}` has no checkpoint to resume (no `{LATEST}` file); start the run without \
             --resume, or check output.dir and exp_name",
            run_dir.display()
        ))
    })?;
    let dir = run_dir.join(name.trim());
    if !dir.join(STATE_FILE).is_file() {
        return Err(TrainError::Checkpoint(format!(
            "`{}` names `{}`, which is not a complete checkpoint",
            pointer.display(),
            dir.display()
        )));
    }
    Ok(dir)
}

/// Reads `trainer_state.json` of a checkpoint directory.
pub fn read_state<S: DeserializeOwned>(dir: &Path) -> Result<S, TrainError> {
    let path = dir.join(STATE_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))?;
    serde_json::from_str(&text).map_err(|e| {
        TrainError::Checkpoint(format!(
            "`{}` is corrupt ({e}); resume from an older checkpoint by editing `{LATEST}`",
            path.display()
        ))
    })
}

/// Loads the optimizer moments of a checkpoint into `optimizer`.
pub fn load_optimizer(
    dir: &Path,
    optimizer: ModuleOptimizer,
) -> Result<ModuleOptimizer, TrainError> {
    let path = dir.join("optimizer.bpk");
    optimizer
        .load(&path)
        .map_err(|e| TrainError::Checkpoint(format!("cannot load `{}`: {e}", path.display())))
}
