//! Star ratings beside the reviews (tests/fixtures/imdb/prefs, drawn by whole movies from
//! ../shared/data/imdb by tests/reference/make_preference_subset.py), and what a bad or
//! misaligned ratings file gives.

use std::path::{Path, PathBuf};

use config::PairScope;
use dataset::{PairOptions, preference_pairs, ratings_path_for, read_ratings, read_reviews};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/imdb")
        .join(name)
}

#[test]
fn bundled_preferences_give_same_movie_pairs() {
    let path = fixture("prefs/train.parquet");
    let reviews = read_reviews(&path, "text", "label").unwrap();
    let ratings = read_ratings(&ratings_path_for(&path), &reviews).unwrap();
    assert_eq!(ratings.len(), reviews.len());
    let options = PairOptions {
        scope: PairScope::SameMovie,
        min_gap: 1,
        max_pairs: 0,
        seed: 0,
    };
    let pairs = preference_pairs(&ratings, &options).unwrap();
    // make_preference_subset.py printed 42,989 same-movie pairs, 16,746 with a gap >= 3.
    assert_eq!(pairs.len(), 42_989);
    assert_eq!(pairs.iter().filter(|p| p.gap >= 3).count(), 16_746);
}

#[test]
fn misaligned_ratings_are_refused_with_the_reason() {
    let train = read_reviews(&fixture("prefs/train.parquet"), "text", "label").unwrap();
    let test = read_reviews(&fixture("prefs/test.parquet"), "text", "label").unwrap();
    // Another split's ratings: the row counts differ.
    let err = read_ratings(&fixture("prefs/test-ratings.parquet"), &train).unwrap_err();
    assert!(
        err.to_string().contains("rows but the reviews have"),
        "{err}"
    );
    // Same count, wrong order: labels and ratings disagree somewhere.
    let mut shuffled = test.clone();
    shuffled.reverse();
    let err = read_ratings(&fixture("prefs/test-ratings.parquet"), &shuffled).unwrap_err();
    assert!(err.to_string().contains("do not line up"), "{err}");
    // A reviews file is not a ratings file.
    let err = read_ratings(&fixture("prefs/test.parquet"), &test).unwrap_err();
    assert!(err.to_string().contains("no column `row`"), "{err}");
    // A missing file names itself.
    let err = read_ratings(&fixture("prefs/nope-ratings.parquet"), &test).unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
}
