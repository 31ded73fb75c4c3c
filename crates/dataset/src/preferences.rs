//! Human preferences from IMDB star ratings: each review's own 1–10 rating and the movie it is
//! about (`<split>-ratings.parquet`: `row`, `rating`, `movie`, row-aligned with
//! `<split>.parquet`), turned into (chosen, rejected) pairs of reviews. Two reviews of the same
//! movie with different ratings make a comparison; the higher-rated one is chosen.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use config::PairScope;
use polars::prelude::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::imdb::read_frame;
use crate::{DatasetError, Review};

/// One review's star rating and movie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rating {
    /// The reviewer's rating, 1–10.
    pub rating: u8,
    /// The movie's IMDB id (`tt…`).
    pub movie: String,
}

/// One comparison: indices into the reviews, the chosen one rated higher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pair {
    /// The higher-rated review.
    pub chosen: usize,
    /// The lower-rated review.
    pub rejected: usize,
    /// `rating(chosen) − rating(rejected)`, at least 1.
    pub gap: u8,
}

/// How pairs are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairOptions {
    /// Same-movie or cross-movie pairs.
    pub scope: PairScope,
    /// Smallest rating gap.
    pub min_gap: u8,
    /// At most this many pairs, a seeded sample; 0 = every same-movie pair, or one cross-movie
    /// pair per review.
    pub max_pairs: usize,
    /// Seed of the sample.
    pub seed: u64,
}

/// The ratings file that belongs to a reviews file: `train.parquet` → `train-ratings.parquet`.
pub fn ratings_path_for(reviews: &Path) -> PathBuf {
    let stem = reviews.file_stem().unwrap_or_default().to_string_lossy();
    reviews.with_file_name(format!("{stem}-ratings.parquet"))
}

/// Reads the ratings of `reviews` from `path`, checking that every row lines up: same row
/// count, `row == index`, ratings 1–10 on the side of the review's label (1–5 negative, 6–10
/// positive).
pub fn read_ratings(path: &Path, reviews: &[Review]) -> Result<Vec<Rating>, DatasetError> {
    let frame = read_frame(path)?;
    let bad = |message: String| DatasetError::Ratings {
        path: path.to_path_buf(),
        message,
    };
    let column = |name: &str| {
        frame.column(name).map_err(|_| {
            bad(format!(
                "it has no column `{name}` (it has: {}); a ratings file has the columns row \
                 (int64), rating (int64) and movie (string), as ../shared/data/imdb/*-ratings.parquet",
                frame
                    .get_column_names()
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    };
    let (rows, ratings, movies) = (column("row")?, column("rating")?, column("movie")?);
    if !rows.dtype().is_integer() || !ratings.dtype().is_integer() {
        return Err(bad("columns `row` and `rating` must be integers".into()));
    }
    if movies.dtype() != &DataType::String {
        return Err(bad("column `movie` must be a string".into()));
    }
    if frame.height() != reviews.len() {
        return Err(bad(format!(
            "it has {} rows but the reviews have {}; use the ratings file of the same split \
             (reward_model.pairwise.ratings_path / test_ratings_path)",
            frame.height(),
            reviews.len()
        )));
    }
    let polars = |source| DatasetError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let rows = rows.cast(&DataType::Int64).map_err(polars)?;
    let ratings = ratings.cast(&DataType::Int64).map_err(polars)?;
    let (rows, ratings, movies) = (
        rows.i64().map_err(polars)?,
        ratings.i64().map_err(polars)?,
        movies.str().map_err(polars)?,
    );
    let mut out = Vec::with_capacity(reviews.len());
    for (i, ((row, rating), movie)) in rows
        .iter()
        .zip(ratings.iter())
        .zip(movies.iter())
        .enumerate()
    {
        let (Some(row), Some(rating), Some(movie)) = (row, rating, movie) else {
            return Err(bad(format!("row {i} has an empty value")));
        };
        if row != i as i64 {
            return Err(bad(format!(
                "line {i} describes review row {row}; the ratings must list the reviews in order"
            )));
        }
        if !(1..=10).contains(&rating) {
            return Err(bad(format!("row {i} has rating {rating}, outside 1-10")));
        }
        let label = reviews[i].label;
        if (label == 1) != (rating >= 6) {
            return Err(bad(format!(
                "row {i} has rating {rating} but its review is labelled {label}; the ratings do \
                 not line up with the reviews (another split, or another row order)"
            )));
        }
        out.push(Rating {
            rating: rating as u8,
            movie: movie.to_string(),
        });
    }
    Ok(out)
}

/// The comparisons among `ratings`, drawn as `options` says; an error when there is none.
pub fn preference_pairs(
    ratings: &[Rating],
    options: &PairOptions,
) -> Result<Vec<Pair>, DatasetError> {
    let pair = |a: usize, b: usize| {
        let (ra, rb) = (ratings[a].rating, ratings[b].rating);
        let (chosen, rejected) = if ra > rb { (a, b) } else { (b, a) };
        Pair {
            chosen,
            rejected,
            gap: ra.abs_diff(rb),
        }
    };
    let pairs = match options.scope {
        PairScope::SameMovie => {
            let mut by_movie: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
            for (i, r) in ratings.iter().enumerate() {
                by_movie.entry(&r.movie).or_default().push(i);
            }
            let mut all = Vec::new();
            for rows in by_movie.values() {
                for (k, &a) in rows.iter().enumerate() {
                    for &b in &rows[k + 1..] {
                        let p = pair(a, b);
                        if p.gap >= options.min_gap.max(1) {
                            all.push(p);
                        }
                    }
                }
            }
            if options.max_pairs > 0 && all.len() > options.max_pairs {
                let order = crate::permutation(all.len(), options.seed, 0);
                let mut keep: Vec<usize> = order[..options.max_pairs].to_vec();
                keep.sort_unstable();
                all = keep.into_iter().map(|i| all[i]).collect();
            }
            all
        }
        PairScope::CrossMovie => cross_movie(ratings, options, pair),
    };
    if pairs.is_empty() {
        return Err(DatasetError::Invalid(format!(
            "the {} reviews give no {} pair with a rating gap of at least {}; lower \
             reward_model.pairwise.min_gap, use more reviews, or set pairs = \"cross_movie\"",
            ratings.len(),
            match options.scope {
                PairScope::SameMovie => "same-movie",
                PairScope::CrossMovie => "cross-movie",
            },
            options.min_gap
        )));
    }
    Ok(pairs)
}

/// Random pairs of reviews of different movies (rejection sampling, seeded).
fn cross_movie(
    ratings: &[Rating],
    options: &PairOptions,
    pair: impl Fn(usize, usize) -> Pair,
) -> Vec<Pair> {
    let n = ratings.len();
    let want = if options.max_pairs > 0 {
        options.max_pairs
    } else {
        n
    };
    let mut rng = StdRng::seed_from_u64(options.seed);
    let mut out = Vec::with_capacity(want);
    let mut tries = 0usize;
    while out.len() < want && tries < want.saturating_mul(100) && n >= 2 {
        tries += 1;
        let (a, b) = (rng.random_range(0..n), rng.random_range(0..n));
        if ratings[a].movie == ratings[b].movie {
            continue;
        }
        let p = pair(a, b);
        if p.gap >= options.min_gap.max(1) {
            out.push(p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ratings(list: &[(u8, &str)]) -> Vec<Rating> {
        list.iter()
            .map(|&(rating, movie)| Rating {
                rating,
                movie: movie.into(),
            })
            .collect()
    }

    fn options(scope: PairScope, min_gap: u8, max_pairs: usize) -> PairOptions {
        PairOptions {
            scope,
            min_gap,
            max_pairs,
            seed: 7,
        }
    }

    #[test]
    fn same_movie_pairs_rank_by_rating_and_respect_the_gap() {
        let r = ratings(&[(10, "a"), (1, "b"), (7, "a"), (3, "a"), (9, "b"), (7, "a")]);
        let all = preference_pairs(&r, &options(PairScope::SameMovie, 1, 0)).unwrap();
        // movie a: rows 0 (10), 2 (7), 3 (3), 5 (7): 5 pairs with a gap (2 and 5 tie); b: 1.
        assert_eq!(all.len(), 6);
        for p in &all {
            assert_eq!(r[p.chosen].movie, r[p.rejected].movie);
            assert_eq!(p.gap, r[p.chosen].rating - r[p.rejected].rating);
            assert!(p.gap >= 1);
        }
        assert!(all.contains(&Pair {
            chosen: 4,
            rejected: 1,
            gap: 8
        }));
        let wide = preference_pairs(&r, &options(PairScope::SameMovie, 4, 0)).unwrap();
        assert_eq!(wide.len(), 4); // 10-3, 7-3, 7-3, 9-1
        let few = preference_pairs(&r, &options(PairScope::SameMovie, 1, 3)).unwrap();
        assert_eq!(few.len(), 3);
        assert!(few.iter().all(|p| all.contains(p)));
        assert_eq!(
            few,
            preference_pairs(&r, &options(PairScope::SameMovie, 1, 3)).unwrap()
        );
    }

    #[test]
    fn cross_movie_pairs_are_seeded_and_never_share_a_movie() {
        let r = ratings(&[(10, "a"), (1, "b"), (7, "c"), (3, "a"), (9, "b"), (2, "c")]);
        let o = options(PairScope::CrossMovie, 2, 50);
        let pairs = preference_pairs(&r, &o).unwrap();
        assert_eq!(pairs.len(), 50);
        assert_eq!(pairs, preference_pairs(&r, &o).unwrap());
        for p in &pairs {
            assert_ne!(r[p.chosen].movie, r[p.rejected].movie);
            assert!(p.gap >= 2 && r[p.chosen].rating > r[p.rejected].rating);
        }
    }

    #[test]
    fn no_pair_is_an_error_that_names_the_fix() {
        let r = ratings(&[(10, "a"), (1, "b")]);
        let err = preference_pairs(&r, &options(PairScope::SameMovie, 1, 0)).unwrap_err();
        assert!(err.to_string().contains("cross_movie"), "{err}");
    }

    #[test]
    fn the_ratings_file_sits_beside_the_reviews() {
        assert_eq!(
            ratings_path_for(Path::new("data/imdb/train.parquet")),
            Path::new("data/imdb/train-ratings.parquet")
        );
    }
}
