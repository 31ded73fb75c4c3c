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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test: a panic is the failure report.

    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    use crate::scores::RunningMoments;

    /// Resume must be bit-exact, so every float of the state survives JSON unchanged.
    #[test]
    fn state_floats_survive_the_json_round_trip_bit_for_bit() {
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..20_000 {
            let moments = RunningMoments {
                mean: rng.random::<f64>() * 10.0 - 5.0,
                std: rng.random::<f64>().powi(3) * 3.0,
                var: rng.random::<f64>() / 7.0,
                count: rng.random::<f64>() * 1e6,
            };
            let json = serde_json::to_string(&moments).unwrap();
            let back: RunningMoments = serde_json::from_str(&json).unwrap();
            for (a, b) in [
                (moments.mean, back.mean),
                (moments.std, back.std),
                (moments.var, back.var),
                (moments.count, back.count),
            ] {
                assert_eq!(a.to_bits(), b.to_bits(), "{a:e} became {b:e} via {json}");
            }
        }
    }
}
