//! PPO for language models with TRL 0.11.4's classic `PPOTrainer` semantics.
//!
//! The math is free functions on `[batch, response_len]` tensors, each checked against TRL's
//! own numbers (`tests/reference/ppo_trl011.py`):
//! - [`masked`]: masked mean / variance / whitening;
//! - [`kl`]: per-token KL penalty (`kl`, `abs`, `mse`, `full`) and the fixed/adaptive controller;
//! - [`advantages`]: per-token rewards (score added at the last response token) and GAE;
//! - [`loss`]: clipped policy loss, clipped value loss, and the minibatch statistics;
//! - [`scores`]: running score scaling / normalisation / clipping.
//!
//! **Architecture invariant:** these functions never create a device, read a file or read a
//! config struct; the trainer wires them to models and configuration.

pub mod advantages;
pub mod eval;
pub mod host_adam;
pub mod kl;
pub mod loss;
pub mod masked;
pub mod reward_training;
pub mod schedule;
pub mod scores;
pub mod sft;
pub mod supervised;
pub mod tf_adam;
pub mod toy;
pub mod trainer;

pub use advantages::{Advantages, Rewards, compute_advantages, compute_rewards, last_indices};
pub use kl::{KlController, kl_full, kl_penalty};
pub use loss::{LossConfig, LossInput, LossStats, ppo_loss};
pub use masked::{masked_mean, masked_var, masked_whiten};
pub use scores::RunningMoments;
pub use trainer::{TrainError, Trainer, TrainerParts};
