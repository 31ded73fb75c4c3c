//! IMDB reviews to PPO prompts.
//!
//! - [`hub`]: resolve a file from a local directory or the Hugging Face hub cache
//!   (huggingface_hub's layout), downloading only when the `hub` feature is on and the
//!   machine is online.
//! - [`tokenizer`]: `tokenizer.json` loading (GPT-2 and RoBERTa BPE).
//! - [`imdb`]: the `stanfordnlp/imdb` parquet schema (`text`, `label`) read with polars.
//! - [`prompts`]: TRL's gpt2-sentiment prompts: keep reviews longer than 200 characters, cut
//!   the GPT-2 tokenization to a length drawn from `[min, max)`, seeded.
//! - [`batch`]: left padding and a shuffling, resumable prompt loader.
//! - [`preferences`]: the reviewers' star ratings and movies beside the reviews, turned into
//!   (chosen, rejected) comparisons for pairwise reward models.
//! - [`stats`]: the statistics `rlhf data` prints.

pub mod batch;
mod error;
pub mod hub;
pub mod imdb;
pub mod preferences;
pub mod prompts;
pub mod stats;
pub mod tokenizer;

pub use batch::{LeftPadded, LoaderState, PromptLoader, left_pad, permutation};
pub use error::DatasetError;
pub use hub::{HubError, HubOptions, RepoKind};
pub use imdb::{Review, read_reviews, resolve_data_file};
pub use preferences::{
    Pair, PairOptions, Rating, preference_pairs, ratings_path_for, read_ratings,
};
pub use prompts::{LengthSampler, Prompt, build_prompts};
pub use stats::DataStats;
pub use tokenizer::Tokenizer;
