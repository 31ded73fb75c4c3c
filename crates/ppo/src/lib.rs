//! PPO for language models with TRL 0.11.4's classic `PPOTrainer` semantics, and the supervised
//! trainers around it (SFT of the policy, reward-model training).
//!
//! The math is free functions on `[batch, response_len]` tensors, each checked against TRL's
//! own numbers (`tests/reference/ppo_trl011.py`):
//! - [`masked`]: masked mean / variance / whitening;
//! - [`kl`]: per-token KL penalty (`kl`, `abs`, `mse`, `full`) and the fixed/adaptive controller;
//! - [`advantages`]: per-token rewards (score added at the last response token) and GAE;
//! - [`loss`]: clipped policy loss, clipped value loss, and the minibatch statistics;
//! - [`scores`]: running score scaling / normalisation / clipping;
//! - [`host_adam`], [`tf_adam`]: the Adam variants the trainer can use.
//!
//! Shared by PPO, evaluation and the supervised loops:
//! - [`rollout`]: sampling and decoding responses; [`scorer`]: rewards of decoded texts;
//! - [`forward`]: `[query ‖ response]` batches and the forward over the response window;
//! - [`checkpoint`]: atomic checkpoint directories and `latest`; [`error`]: [`TrainError`];
//! - [`plot`]: training curves and reward histograms (SVG);
//! - [`collective`]: data parallelism over several processes (ranks).
//!
//! Built on them: [`trainer`] (the PPO [`Trainer`]), [`eval`] (held-out evaluation) and
//! [`supervised`] (the resumable loop with [`supervised::sft`] and [`supervised::classifier`]).
//!
//! **Architecture invariant:** the math functions never create a device, read a file or read a
//! config struct; the trainer wires them to models and configuration.

pub mod advantages;
pub mod checkpoint;
pub mod collective;
pub mod error;
pub mod eval;
pub mod forward;
pub mod host_adam;
pub mod kl;
pub mod loss;
pub mod masked;
pub mod packed_window;
pub mod plot;
pub mod reward_norm;
pub mod rollout;
pub mod scorer;
pub mod scores;
pub mod supervised;
pub mod tf_adam;
pub mod toy;
pub mod trainer;

pub use advantages::{Advantages, Rewards, compute_advantages, compute_rewards, last_indices};
pub use collective::{Collective, SingleProcess};
pub use error::TrainError;
pub use kl::{KlController, kl_full, kl_penalty};
pub use loss::{LossConfig, LossInput, LossStats, ppo_loss};
pub use masked::{masked_mean, masked_var, masked_whiten};
pub use scorer::{ClassifierScorer, Scorer};
pub use scores::RunningMoments;
pub use trainer::{Trainer, TrainerParts};
