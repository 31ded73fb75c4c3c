"""The IMDB preference subset bundled for pairwise reward models (`cargo xtask demo --reward
pairwise`, the preference tests): whole movies, drawn at random (seeded) from the
stanfordnlp/imdb train and test splits with the reviewers' star ratings, so that every
same-movie comparison of a drawn movie survives (a review-by-review sample keeps few).

Usage: python tests/reference/make_preference_subset.py --imdb ../shared/data/imdb
Writes tests/fixtures/imdb/prefs/{train,test}.parquet (`text` string, `label` int64, the
stanfordnlp/imdb schema) and {train,test}-ratings.parquet (`row` int64, `rating` int64,
`movie` string: the schema of ../shared/data/imdb/*-ratings.parquet, row-aligned), zstd.
"""

import argparse
import os
import random
from collections import defaultdict

import pyarrow as pa
import pyarrow.parquet as pq


def draw(reviews, ratings, target, seed):
    """Whole movies in a seeded random order until at least `target` reviews."""
    by_movie = defaultdict(list)
    for i, movie in enumerate(ratings.column("movie").to_pylist()):
        by_movie[movie].append(i)
    movies = sorted(by_movie)
    random.Random(seed).shuffle(movies)
    rows = []
    for movie in movies:
        if len(rows) >= target:
            break
        rows += by_movie[movie]
    random.Random(seed + 1).shuffle(rows)
    text = reviews.column("text").to_pylist()
    label = reviews.column("label").to_pylist()
    rating = ratings.column("rating").to_pylist()
    movie = ratings.column("movie").to_pylist()
    data = pa.table({"text": [text[i] for i in rows], "label": pa.array([label[i] for i in rows], pa.int64())})
    meta = pa.table({
        "row": pa.array(range(len(rows)), pa.int64()),
        "rating": pa.array([rating[i] for i in rows], pa.int64()),
        "movie": pa.array([movie[i] for i in rows], pa.string()),
    })
    return data, meta


def pairs(meta, min_gap):
    by_movie = defaultdict(list)
    for r, m in zip(meta.column("rating").to_pylist(), meta.column("movie").to_pylist()):
        by_movie[m].append(r)
    n = 0
    for rs in by_movie.values():
        n += sum(1 for i in range(len(rs)) for j in range(i + 1, len(rs)) if abs(rs[i] - rs[j]) >= min_gap)
    return n


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--imdb", required=True)
    parser.add_argument("--train", type=int, default=4000)
    parser.add_argument("--test", type=int, default=1000)
    args = parser.parse_args()
    out = os.path.join(root, "fixtures", "imdb", "prefs")
    os.makedirs(out, exist_ok=True)
    for split, n, seed in (("train", args.train, 3), ("test", args.test, 4)):
        reviews = pq.read_table(os.path.join(args.imdb, f"{split}.parquet"))
        ratings = pq.read_table(os.path.join(args.imdb, f"{split}-ratings.parquet"))
        assert ratings.column("row").to_pylist() == list(range(reviews.num_rows))
        data, meta = draw(reviews, ratings, n, seed)
        for name, table in ((f"{split}.parquet", data), (f"{split}-ratings.parquet", meta)):
            path = os.path.join(out, name)
            pq.write_table(table, path, compression="zstd", compression_level=19)
            print(f"{path}: {table.num_rows} rows, {os.path.getsize(path) / 1e6:.2f} MB")
        print(f"  same-movie pairs: {pairs(meta, 1)} (gap >= 3: {pairs(meta, 3)})")


if __name__ == "__main__":
    main()
