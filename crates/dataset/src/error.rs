//! Errors for bad data files and tokenizers; each names the file and the fix.

use std::path::PathBuf;

use crate::HubError;

/// Why data could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// The data file does not exist.
    #[error(
        "data file `{}` does not exist; pass an existing parquet file (--path or data.path)",
        path.display()
    )]
    FileNotFound {
        /// The missing path.
        path: PathBuf,
    },
    /// A directory was given where a data file is expected.
    #[error(
        "`{}` is a directory; pass the parquet file inside it (e.g. `{}/train.parquet`)",
        path.display(), path.display()
    )]
    IsDirectory {
        /// The directory.
        path: PathBuf,
    },
    /// The file is not readable as parquet (corrupt, truncated, or another format).
    #[error("`{}` is not a readable parquet file: {source}", path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// polars' error.
        source: polars::prelude::PolarsError,
    },
    /// A required column is missing.
    #[error(
        "`{}` has no column `{column}` (it has: {found}); set {key} to the right column",
        path.display()
    )]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column looked for.
        column: String,
        /// The columns the file has, comma separated.
        found: String,
        /// The config key that names this column.
        key: &'static str,
    },
    /// A column has the wrong type.
    #[error("column `{column}` of `{}` has type {found}, expected {expected}", path.display())]
    WrongType {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
        /// Its type.
        found: String,
        /// The type needed.
        expected: &'static str,
    },
    /// A row lacks a value.
    #[error("row {row} of `{}` has no value in column `{column}`", path.display())]
    NullValue {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
        /// Zero-based row index.
        row: usize,
    },
    /// A star-ratings file is malformed or does not line up with its reviews.
    #[error("ratings file `{}`: {message}", path.display())]
    Ratings {
        /// The ratings file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The file has no rows.
    #[error("`{}` has no rows; point data.path (or --data / --test-data) at a split with reviews", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// Every review was filtered out.
    #[error(
        "none of the {rows} reviews is longer than {min_chars} characters; lower data.min_text_chars"
    )]
    NothingLeft {
        /// Rows before filtering.
        rows: usize,
        /// The filter threshold.
        min_chars: usize,
    },
    /// A `tokenizer.json` could not be read or parsed.
    #[error("cannot load tokenizer `{}`: {message}", path.display())]
    Tokenizer {
        /// The file.
        path: PathBuf,
        /// The tokenizers crate's message.
        message: String,
    },
    /// Encoding or decoding failed.
    #[error("tokenizer failed: {0}")]
    Encode(String),
    /// Invalid arguments (e.g. an empty length range).
    #[error("{0}")]
    Invalid(String),
    /// A file could not be found locally or on the hub.
    #[error(transparent)]
    Hub(#[from] HubError),
}
