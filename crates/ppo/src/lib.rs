//! PPO for language models with TRL 0.11.4's classic `PPOTrainer` semantics.
//!
//! This crate is a placeholder in the layered workspace: the trainer arrives with issue #4.
//! **Architecture invariant:** the PPO math functions never create a device, read a file or
//! read a config struct; the trainer is the same code for every backend.
