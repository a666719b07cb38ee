"""Pooling forward + backward: lasagne.ops.pool (Numba) against PyTorch.

The shapes are those of the MNIST CNN example (two 2x2 max-pools on
32x24x24 and 32x8x8 maps, batch 500, float32). Ours and PyTorch's runs
alternate in one process; the best of the repeats is reported.

Usage::

    python benchmarks/bench_pool_ops.py [--repeats 20] [--threads 2]
        [--mode NUMBA] [--pool-mode max] [--cold]

``--cold`` salts the kernels' cache key so that Numba compiles them afresh
(the "first call" column then shows a cold compilation). The large
gradient (37 MB) makes glibc map fresh pages on every call; running with
``MALLOC_MMAP_THRESHOLD_=1073741824`` keeps them in the heap and shows the
kernels' own speed.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import pytensor  # noqa: E402
import pytensor.tensor as pt  # noqa: E402

from common import finish  # noqa: E402
from lasagne.ops.pool import pool  # noqa: E402

CASES = [((500, 32, 24, 24), (2, 2)), ((500, 32, 8, 8), (2, 2))]
TORCH_MODES = {"max": "max", "average_exc_pad": "avg"}


def ours(shape, ws, mode, backend):
    x = pt.tensor("x", dtype="float32", shape=(None,) + shape[1:])
    gz = pt.tensor("gz", dtype="float32", shape=(None,) * len(shape))
    y = pool(x, ws, mode=mode)
    [gx] = pytensor.gradient.pullback(y, [x], [gz])
    start = time.perf_counter()
    fn = pytensor.function([x, gz], [y, gx], mode=backend)
    return fn, time.perf_counter() - start


def torch_fn(ws, mode):
    import torch
    import torch.nn.functional as F

    def run(x, gz):
        x = torch.from_numpy(x).requires_grad_(True)
        if mode == "max":
            y = F.max_pool2d(x, ws)
        else:
            y = F.avg_pool2d(x, ws)
        y.backward(torch.from_numpy(gz))
        return y.detach().numpy(), x.grad.numpy()
    return run


def best_time(fn, args, repeats):
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        finish(fn(*args))  # JAX computes in the background
        best = min(best, time.perf_counter() - start)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--mode", default="NUMBA", help="PyTensor mode")
    parser.add_argument("--pool-mode", default="max",
                        choices=sorted(TORCH_MODES))
    parser.add_argument("--cold", action="store_true",
                        help="compile the Numba kernels afresh")
    args = parser.parse_args()
    if args.cold:
        from lasagne.ops import _pool_numba
        _pool_numba._KERNEL_VERSION = time.time_ns()
    import torch
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"pool mode {args.pool_mode!r}, PyTensor mode {args.mode}, torch "
          f"threads {args.threads}, best of {args.repeats} x {args.rounds}")
    for shape, ws in CASES:
        x = rng.standard_normal(shape).astype("float32")
        out_shape = shape[:2] + tuple(n // k for n, k in zip(shape[2:], ws))
        gz = rng.standard_normal(out_shape).astype("float32")
        fn, compile_s = ours(shape, ws, args.pool_mode, args.mode)
        start = time.perf_counter()
        mine = finish(fn(x, gz))
        first_call = time.perf_counter() - start
        ref = torch_fn(ws, args.pool_mode)
        theirs = ref(x, gz)
        for a, b in zip(mine, theirs):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
        t_ours, t_torch = np.inf, np.inf
        for _ in range(args.rounds):  # alternate to share the machine's noise
            t_ours = min(t_ours, best_time(fn, (x, gz), args.repeats))
            t_torch = min(t_torch, best_time(ref, (x, gz), args.repeats))
        n = shape[0]
        print(f"{shape} ws={ws}: ours {t_ours * 1e3:7.2f} ms "
              f"({n / t_ours:9.0f} samples/s), torch {t_torch * 1e3:7.2f} ms "
              f"({n / t_torch:9.0f} samples/s), torch/ours "
              f"{t_torch / t_ours:5.2f}x; compile {compile_s:.2f} s + first "
              f"call {first_call:.2f} s")


if __name__ == "__main__":
    main()
