"""Runs one PyTorch workload of :mod:`torch_models` in its own process.

    python torch_worker.py THREADS BUILDER '{"batch": 128}'

Reads a number of steps per line on stdin, runs them, and answers the
seconds they took on stdout; ``common.TorchProcess`` drives it.
"""
import json
import sys
import time

import torch

import torch_models


def main():
    threads, builder, options = sys.argv[1:4]
    torch.set_num_threads(int(threads))
    step = getattr(torch_models, builder)(**json.loads(options))
    step()  # warm up
    print("ready", flush=True)
    for line in sys.stdin:
        n_steps = int(line)
        start = time.perf_counter()
        for _ in range(n_steps):
            step()
        print(time.perf_counter() - start, flush=True)


if __name__ == "__main__":
    main()
