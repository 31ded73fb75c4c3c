//! Trainer errors: each names what went wrong and what to do.

use std::path::{Path, PathBuf};

/// Why training could not go on.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Loading, generating with or scoring by a model failed.
    #[error(transparent)]
    Model(#[from] models::ModelError),
    /// Data or tokenizer problem.
    #[error(transparent)]
    Data(#[from] dataset::DatasetError),
    /// The configuration cannot work with these models or data.
    #[error("invalid training setup: {0}")]
    Config(String),
    /// A checkpoint could not be written or read.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// A file operation failed.
    #[error("cannot access `{}`: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Training diverged (non-finite loss or KL).
    #[error(
        "training diverged at step {step}: {what}; lower ppo.learning_rate or set ppo.max_grad_norm"
    )]
    Diverged {
        /// The step.
        step: usize,
        /// What was not finite.
        what: String,
    },
}

impl TrainError {
    /// An I/O error at `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        TrainError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
