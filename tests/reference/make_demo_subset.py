"""The IMDB subset bundled for `cargo xtask demo`: seeded, label-balanced samples of the
stanfordnlp/imdb train and test splits, same schema (`text` string, `label` int64), zstd parquet.

Usage: python tests/reference/make_demo_subset.py --imdb DIR_WITH_train.parquet_AND_test.parquet
Writes tests/fixtures/imdb/demo/{train,test}.parquet, and tests/fixtures/imdb/empty.parquet (the
same schema, no rows) for the bad-input tests.
"""

import argparse
import os
import random

import pyarrow as pa
import pyarrow.parquet as pq


def sample(table, n, seed):
    rows = table.to_pylist()
    rng = random.Random(seed)
    picked = []
    for label in (0, 1):
        pool = [r for r in rows if r["label"] == label]
        picked += rng.sample(pool, n // 2)
    rng.shuffle(picked)
    return pa.table({"text": [r["text"] for r in picked], "label": pa.array([r["label"] for r in picked], pa.int64())})


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--imdb", required=True)
    parser.add_argument("--train", type=int, default=6000)
    parser.add_argument("--test", type=int, default=1000)
    args = parser.parse_args()
    out = os.path.join(root, "fixtures", "imdb", "demo")
    os.makedirs(out, exist_ok=True)
    for split, n, seed in (("train", args.train, 1), ("test", args.test, 2)):
        table = sample(pq.read_table(os.path.join(args.imdb, f"{split}.parquet")), n, seed)
        path = os.path.join(out, f"{split}.parquet")
        pq.write_table(table, path, compression="zstd", compression_level=19)
        print(f"{path}: {table.num_rows} rows, {os.path.getsize(path) / 1e6:.2f} MB")
    write_empty(os.path.join(root, "fixtures", "imdb", "empty.parquet"))


def write_empty(path):
    table = pa.table({"text": pa.array([], pa.string()), "label": pa.array([], pa.int64())})
    pq.write_table(table, path)
    print(f"{path}: 0 rows")


if __name__ == "__main__":
    main()
