"""torch's f32 GEMM rate on this machine, the ceiling `cargo xtask bench` sets beside ours.

Prints one JSON object: {"impl": "torch", "n", "threads", "gflops"} for [n, n] x [n, n] f32
products (median of 5 after a warm-up), on the CPU with torch's default thread count.
Usage: python tests/reference/bench_gemm.py [--n 2048]
"""

import argparse
import json
import statistics
import time

import torch


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2048)
    args = parser.parse_args()
    torch.manual_seed(0)
    a, b = torch.rand(args.n, args.n), torch.rand(args.n, args.n)
    times = []
    for i in range(6):
        start = time.perf_counter()
        torch.mm(a, b)
        if i > 0:
            times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    print(json.dumps({"kind": "gemm", "impl": "torch", "n": args.n, "threads": torch.get_num_threads(),
                      "gflops": 2 * args.n ** 3 / seconds / 1e9}))


if __name__ == "__main__":
    main()
