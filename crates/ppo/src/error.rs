//! Errors of training, evaluation and checkpoints: each names what went wrong and what to do.

use std::path::{Path, PathBuf};

/// Why training (PPO or supervised), evaluation or a checkpoint operation could not go on.
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
    Setup(String),
    /// A sampled response has no tokens, so it has no last token to put the score on.
    #[error(
        "response {row} of the batch has no tokens; set generation.output_min_length to at least 1"
    )]
    EmptyResponse {
        /// Row of the batch.
        row: usize,
    },
    /// The scorer returned another number of scores than it was given texts.
    #[error(
        "the scorer returned {scores} scores for {texts} texts; a scorer must score every text"
    )]
    ScoreCount {
        /// Scores returned.
        scores: usize,
        /// Texts given.
        texts: usize,
    },
    /// `--resume` on a directory without a checkpoint.
    #[error(
        "`{}` has no checkpoint to resume (no `latest` file); start the run without --resume, \
         or check the output directory",
        run_dir.display()
    )]
    NoCheckpoint {
        /// The run directory.
        run_dir: PathBuf,
    },
    /// `latest` names a directory that is not a complete checkpoint.
    #[error(
        "`{}` names `{}`, which is not a complete checkpoint; point it at an older \
         checkpoints/step-N directory",
        pointer.display(), dir.display()
    )]
    IncompleteCheckpoint {
        /// The `latest` file.
        pointer: PathBuf,
        /// The directory it names.
        dir: PathBuf,
    },
    /// A fresh run was asked for where a run already has checkpoints.
    #[error(
        "`{}` already holds a run; pass --resume to continue it, or choose another output \
         directory",
        dir.display()
    )]
    RunExists {
        /// The run directory.
        dir: PathBuf,
    },
    /// Another process writes into the same run or output directory.
    #[error(
        "`{}` is in use by {}; wait for that run to finish, or choose another output directory",
        dir.display(), if holder.is_empty() { "another process" } else { holder.as_str() }
    )]
    RunLocked {
        /// The directory.
        dir: PathBuf,
        /// Who holds the lock, as its lock file says (`process PID (command)`).
        holder: String,
    },
    /// A resume whose settings differ from those the checkpoint was written with.
    #[error("cannot resume: {what}; resume with the same flags and settings, or start a new run")]
    ResumeMismatch {
        /// What differs.
        what: String,
    },
    /// A checkpoint's JSON state file is unreadable.
    #[error(
        "`{}` is corrupt; resume from an older checkpoint by editing `latest`",
        path.display()
    )]
    CorruptState {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A value could not be written as JSON.
    #[error("cannot write `{}` as JSON", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The serializer's error.
        #[source]
        source: serde_json::Error,
    },
    /// Optimizer moments could not be saved or loaded.
    #[error("optimizer state `{}`", path.display())]
    Optimizer {
        /// The burnpack file.
        path: PathBuf,
        /// burn's error.
        #[source]
        source: burn::store::RecordError,
    },
    /// A plot could not be drawn.
    #[error("cannot draw the plot `{}`", path.display())]
    Plot {
        /// The SVG file.
        path: PathBuf,
        /// plotters' error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A file operation failed.
    #[error("cannot access `{}`", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Training diverged (non-finite loss or KL).
    #[error(
        "training diverged at step {step}: {what}; lower the learning rate or set ppo.max_grad_norm"
    )]
    Diverged {
        /// The step.
        step: usize,
        /// What was not finite.
        what: String,
    },
    /// The ranks of a data-parallel run disagree (a batch that does not split evenly, or
    /// weights that drifted apart).
    #[error("data-parallel training over {ranks} ranks: {what}")]
    Ranks {
        /// The number of ranks.
        ranks: usize,
        /// What is wrong, and the fix.
        what: String,
    },
    /// A rank's rollout could not be exchanged.
    #[error("cannot exchange rollouts between ranks: {0}")]
    Exchange(#[source] serde_json::Error),
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
