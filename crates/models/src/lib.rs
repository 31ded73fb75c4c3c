//! GPT-2 policy with a scalar value head and the RoBERTa reward classifier, as burn modules
//! that load Hugging Face checkpoints.
//!
//! - [`weights`]: a checkpoint's tensors by name (`model.safetensors` or `pytorch_model.bin`).
//! - [`hf_config`]: `config.json` reading and model-file resolution (directory or hub cache).
//! - [`gpt2`], [`policy`]: GPT-2 with its tied LM head, and TRL's value head on top.
//! - [`roberta`], [`classifier`], [`reward`]: the RoBERTa, BERT, DistilBERT and GPT-2 sequence
//!   classifiers (reward models) and text scoring.
//! - [`generate`]: batched KV-cached sampling / greedy decoding with per-token log-probs.
//! - [`fused`]: `gelu_new` and the log-softmax as one multi-threaded pass each way on burn-flex.
//! - [`precision`]: bf16 block weights for frozen models (reference, reward model).
//! - [`export`]: our checkpoints and the HF-layout export of a trained policy.
//!
//! **Architecture invariant:** `models` knows nothing about PPO and never chooses a backend;
//! every function takes the `burn::tensor::Device` it runs on.

pub mod attention;
pub mod classifier;
mod error;
pub mod export;
pub mod fused;
pub mod generate;
pub mod gpt2;
pub mod hf_config;
pub mod packing;
pub mod policy;
pub mod precision;
pub mod reward;
pub mod roberta;
pub mod sampling;
pub mod weights;

pub use classifier::{Architecture, SequenceClassifier};
pub use error::ModelError;
pub use generate::{Generation, GenerationConfig, generate};
pub use gpt2::{Gpt2, Gpt2Config, Gpt2Input, KvCache};
pub use hf_config::ModelFiles;
pub use policy::{Gpt2WithValueHead, PolicyOutput, ValueHead, ValueHeadInit, ValueHeadSource};
pub use reward::RewardModel;
pub use roberta::{RobertaConfig, RobertaForSequenceClassification};
pub use weights::WeightMap;
