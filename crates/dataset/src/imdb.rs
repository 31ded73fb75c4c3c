//! IMDB reviews in the `stanfordnlp/imdb` parquet schema: `text` (string) and `label`
//! (integer, 0 = negative, 1 = positive), read with polars.

use std::fs::File;
use std::path::{Path, PathBuf};

use config::DataConfig;
use polars::prelude::*;

use crate::DatasetError;
use crate::hub::{HubOptions, RepoKind, resolve_file};

/// One review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// Raw review text (HTML `<br />` tags kept, as on the hub).
    pub text: String,
    /// 0 = negative, 1 = positive.
    pub label: i64,
}

/// The parquet file a data config points to: `data.path` if set, else `data.data_files` of the
/// hub dataset `data.dataset` (cache first, see [`crate::hub`]).
pub fn resolve_data_file(data: &DataConfig, hub: &HubOptions) -> Result<PathBuf, DatasetError> {
    if let Some(path) = &data.path {
        return Ok(path.clone());
    }
    let file = data.data_files.replace("{split}", &data.split);
    Ok(resolve_file(
        &data.dataset,
        RepoKind::Dataset,
        &data.revision,
        &file,
        hub,
    )?)
}

/// A whole parquet file as a frame; a missing file, a directory or another format is an error
/// naming the fix.
pub(crate) fn read_frame(path: &Path) -> Result<DataFrame, DatasetError> {
    if path.is_dir() {
        return Err(DatasetError::IsDirectory {
            path: path.to_path_buf(),
        });
    }
    if !path.is_file() {
        return Err(DatasetError::FileNotFound {
            path: path.to_path_buf(),
        });
    }
    let parquet_error = |source| DatasetError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(|e| parquet_error(e.into()))?;
    ParquetReader::new(file).finish().map_err(parquet_error)
}

/// Reads every review of a parquet file, checking the schema.
pub fn read_reviews(
    path: &Path,
    text_column: &str,
    label_column: &str,
) -> Result<Vec<Review>, DatasetError> {
    let frame = read_frame(path)?;
    let parquet_error = |source| DatasetError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let column = |name: &str, key: &'static str| {
        frame.column(name).map_err(|_| DatasetError::MissingColumn {
            path: path.to_path_buf(),
            column: name.to_string(),
            found: frame
                .get_column_names()
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            key,
        })
    };
    let texts = column(text_column, "data.text_column")?;
    let labels = column(label_column, "data.label_column")?;
    let wrong_type = |name: &str, found: &DataType, expected| DatasetError::WrongType {
        path: path.to_path_buf(),
        column: name.to_string(),
        found: found.to_string(),
        expected,
    };
    if texts.dtype() != &DataType::String {
        return Err(wrong_type(text_column, texts.dtype(), "string"));
    }
    if !labels.dtype().is_integer() {
        return Err(wrong_type(label_column, labels.dtype(), "integer"));
    }
    if frame.height() == 0 {
        return Err(DatasetError::Empty {
            path: path.to_path_buf(),
        });
    }
    let labels = labels.cast(&DataType::Int64).map_err(parquet_error)?;
    let texts = texts.str().map_err(parquet_error)?;
    let labels = labels.i64().map_err(parquet_error)?;
    let null = |column: &str, row| DatasetError::NullValue {
        path: path.to_path_buf(),
        column: column.to_string(),
        row,
    };
    texts
        .iter()
        .zip(labels.iter())
        .enumerate()
        .map(|(row, (text, label))| {
            Ok(Review {
                text: text.ok_or_else(|| null(text_column, row))?.to_string(),
                label: label.ok_or_else(|| null(label_column, row))?,
            })
        })
        .collect()
}
