//! Every bad data file or tokenizer gives its own error, naming the problem.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};

use dataset::{DatasetError, Tokenizer, read_reviews};
use polars::prelude::*;

fn write_parquet(dir: &Path, name: &str, mut frame: DataFrame) -> PathBuf {
    let path = dir.join(name);
    ParquetWriter::new(File::create(&path).expect("create"))
        .finish(&mut frame)
        .expect("write");
    path
}

#[test]
fn a_missing_file_is_file_not_found() {
    let err = read_reviews(Path::new("no/such/file.parquet"), "text", "label").unwrap_err();
    assert!(matches!(err, DatasetError::FileNotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("no/such/file.parquet"), "{err}");
}

#[test]
fn a_corrupt_file_is_a_parquet_error() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.parquet");
    std::fs::write(&garbage, b"this is not parquet at all").unwrap();
    let err = read_reviews(&garbage, "text", "label").unwrap_err();
    assert!(matches!(err, DatasetError::Parquet { .. }), "{err:?}");

    let bytes = std::fs::read(common::sample_parquet()).unwrap();
    let truncated = dir.path().join("truncated.parquet");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = read_reviews(&truncated, "text", "label").unwrap_err();
    assert!(matches!(err, DatasetError::Parquet { .. }), "{err:?}");
}

#[test]
fn a_wrong_schema_names_the_missing_column_and_the_ones_present() {
    let dir = tempfile::tempdir().unwrap();
    let frame = df!("review" => ["good"], "sentiment" => [1i64]).unwrap();
    let path = write_parquet(dir.path(), "renamed.parquet", frame);
    let err = read_reviews(&path, "text", "label").unwrap_err();
    let DatasetError::MissingColumn {
        column, found, key, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(
        (column.as_str(), found.as_str(), *key),
        ("text", "review, sentiment", "data.text_column")
    );
    // The right column names make the same file load.
    assert_eq!(read_reviews(&path, "review", "sentiment").unwrap().len(), 1);
}

#[test]
fn wrong_column_types_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let frame = df!("text" => ["good"], "label" => ["pos"]).unwrap();
    let path = write_parquet(dir.path(), "string_label.parquet", frame);
    let err = read_reviews(&path, "text", "label").unwrap_err();
    assert!(
        matches!(&err, DatasetError::WrongType { column, expected: "integer", .. } if column == "label"),
        "{err:?}"
    );

    let frame = df!("text" => [1i64], "label" => [1i32]).unwrap();
    let path = write_parquet(dir.path(), "int_text.parquet", frame);
    let err = read_reviews(&path, "text", "label").unwrap_err();
    assert!(
        matches!(&err, DatasetError::WrongType { column, expected: "string", .. } if column == "text"),
        "{err:?}"
    );

    // Narrower integer labels (int32, as some exports use) are fine.
    let frame = df!("text" => ["good"], "label" => [1i32]).unwrap();
    let path = write_parquet(dir.path(), "int32_label.parquet", frame);
    assert_eq!(read_reviews(&path, "text", "label").unwrap()[0].label, 1);
}

#[test]
fn empty_files_and_missing_values_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let frame = df!("text" => Vec::<String>::new(), "label" => Vec::<i64>::new()).unwrap();
    let path = write_parquet(dir.path(), "empty.parquet", frame);
    let err = read_reviews(&path, "text", "label").unwrap_err();
    assert!(matches!(err, DatasetError::Empty { .. }), "{err:?}");

    let frame = df!("text" => [Some("a"), None], "label" => [Some(0i64), Some(1)]).unwrap();
    let path = write_parquet(dir.path(), "null.parquet", frame);
    let err = read_reviews(&path, "text", "label").unwrap_err();
    assert!(
        matches!(err, DatasetError::NullValue { row: 1, .. }),
        "{err:?}"
    );
}

#[test]
fn bad_tokenizer_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let err = Tokenizer::from_file(&dir.path().join("tokenizer.json")).unwrap_err();
    assert!(matches!(err, DatasetError::Tokenizer { .. }), "{err:?}");
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\"version\": ").unwrap();
    let err = Tokenizer::from_file(&broken).unwrap_err();
    assert!(matches!(err, DatasetError::Tokenizer { .. }), "{err:?}");
}
