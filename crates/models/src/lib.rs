//! GPT-2 policy with a scalar value head and the RoBERTa reward classifier, as burn modules
//! that load Hugging Face checkpoints.
//!
//! This crate is a placeholder in the layered workspace: the models arrive with issue #3.
//! **Architecture invariant:** `models` knows nothing about PPO and never chooses a backend;
//! every function takes the `burn::tensor::Device` it runs on.
