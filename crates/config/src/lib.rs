//! Run configuration for the RLHF toolkit.
//!
//! One [`Config`] describes a whole run: seed, device, policy and reward models, data, generation,
//! PPO hyper-parameters and output, and the supervised trainers around PPO (`sft`,
//! `reward_model`). Names and defaults follow TRL 0.11.4's `PPOConfig` and its
//! `gpt2-sentiment` example (`trl/trainer/ppo_config.py`, `examples/notebooks/gpt2-sentiment.ipynb`).
//!
//! Layers, lowest to highest precedence (see [`ConfigSources`]):
//! built-in defaults < `config/default.toml` < `--config FILE` < env `RLHF_*` (nested with `__`)
//! < `--set key.path=value`.
//!
//! **Architecture invariant:** this crate has no burn dependency; it only describes runs.

mod device;
mod error;
mod frozen;
mod load;
mod persist;
mod ppo;
mod schema;
mod suggest;
mod supervised;
mod validate;

pub use device::{DEVICE_SYNTAX, DeviceSpec};
pub use error::{ConfigError, Problem};
pub use frozen::{FrozenConfig, FrozenDtype};
pub use load::{ConfigSources, ENV_PREFIX, NON_CONFIG_ENV_VARS};
pub use persist::{KeyChange, RESOLVED_CONFIG_FILE, RESUME_MAY_CHANGE};
pub use schema::{
    Config, DataConfig, GenerationConfig, KlPenalty, OutputConfig, PolicyConfig, PpoConfig,
    RewardConfig, RewardMode, ValueHeadInit,
};
pub use supervised::{
    PairScope, PairwiseConfig, RewardModelConfig, RewardObjective, SftConfig, TrainingConfig,
};
