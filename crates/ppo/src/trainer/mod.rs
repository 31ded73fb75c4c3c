//! `PpoTrainer`: rollout → no-grad forward of policy and reference → rewards → GAE → PPO epochs
//! → KL controller update, with TRL 0.11.4's classic semantics. The same code runs on every
//! backend: the caller passes the autodiff device the policy trains on.

mod checkpoint;
mod error;
mod metrics;
mod optimize;
mod rollout;
mod state;
mod stats;
mod window;

pub use checkpoint::{
    LATEST, TrainerState, commit, latest, load_optimizer, read_state, save_optimizer, write_state,
};
pub use error::TrainError;
pub use metrics::{Metrics, MetricsLog, plot_svg, read_lines, sample_table};
pub use optimize::{
    EpochSettings, EpochsOutput, StepData, global_grad_norm, run_epochs, scale_grads,
};
pub use rollout::{ClassifierScorer, Rollout, Scorer, decoding, reduce, rollout};
pub use state::{StepOutput, Trainer, TrainerParts};
pub use stats::{StepRecord, step_metrics};
pub use window::{SequenceBatch, WindowOutput, forward_window};
