"""torch's f32 GEMM rate on this machine, the ceiling `cargo xtask bench` sets beside ours.

Prints one JSON object: {"impl": "torch", "n", "threads", "gflops"} for [n, n] x [n, n] f32
products (median of 5 after a warm-up), on the CPU with torch's default thread count. With
--shapes FILE (tests/reference/gemm_shapes.json), also one {"kind": "gemm_shape", ...} object per
listed product, its operands laid out as `rlhf bench --gemm-shapes` lays them out.
Usage: python tests/reference/bench_gemm.py [--n 2048] [--shapes FILE]
"""

import argparse
import json
import statistics
import time

import torch


def median_seconds(a, b):
    times = []
    for i in range(6):
        start = time.perf_counter()
        torch.mm(a, b)
        if i > 0:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def operand(rows, cols, transposed):
    """A [rows, cols] matrix, read through a transposed view of a stored [cols, rows] one when
    `transposed`."""
    return torch.rand(cols, rows).t() if transposed else torch.rand(rows, cols)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2048)
    parser.add_argument("--shapes", help="a gemm_shapes.json list to time as well")
    args = parser.parse_args()
    torch.manual_seed(0)
    seconds = median_seconds(torch.rand(args.n, args.n), torch.rand(args.n, args.n))
    print(json.dumps({"kind": "gemm", "impl": "torch", "n": args.n, "threads": torch.get_num_threads(),
                      "gflops": 2 * args.n ** 3 / seconds / 1e9}))
    if args.shapes:
        with open(args.shapes) as f:
            shapes = json.load(f)["shapes"]
        for s in shapes:
            m, k, n, op = s["m"], s["k"], s["n"], s.get("op", "nn")
            seconds = median_seconds(operand(m, k, op[0] == "t"), operand(k, n, op[1] == "t"))
            print(json.dumps({"kind": "gemm_shape", "impl": "torch", "name": s["name"], "m": m, "k": k,
                              "n": n, "op": op, "gflops": 2 * m * k * n / seconds / 1e9}))


if __name__ == "__main__":
    main()
