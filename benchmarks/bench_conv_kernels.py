"""Per-Op times of our Numba convolution kernels (diagnostic).

``bench_conv_ops.py`` compares whole forward + backward passes with
PyTorch; this script times each of the three kernels alone (forward,
input gradient, filter gradient), best of 5, so that a change to one kernel
can be measured on its own. Set ``NUMBA_NUM_THREADS`` to choose the
threads (e.g. 1 for per-core figures).

Cases: the MNIST CNN's two convolutions and every convolution shape of
ResNet-20 for CIFAR-10 (batch 128), 3x3 and the 1x1 projections.

With ``--torch`` it also times the same three computations in PyTorch
(``torch.nn.functional.conv2d`` and ``aten.convolution_backward`` with one
output each), in a process of its own with PyTorch's CPU guide's allocator
settings and the same number of threads. With ``--gemm`` it prints the
machine's float32 GEMM rate (numpy matmul) for reference.

With ``--mode MODE`` (e.g. ``--mode JAX``) it times the same three
computations as PyTensor functions of the convolution Op compiled in that
mode (a forward pass, and each gradient alone) instead of the kernels.

Usage::

    NUMBA_NUM_THREADS=1 python benchmarks/bench_conv_kernels.py \
        [--mode JAX] [--torch] [--gemm] [--only resnet]
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

from common import finish

# name, input (B, C, H, W), filters (F, C, kh, kw), stride, padding
CASES = [
    ("mnist conv1 1->32 5x5 28x28 b500", (500, 1, 28, 28), (32, 1, 5, 5),
     1, 0),
    ("mnist conv2 32->32 5x5 12x12 b500", (500, 32, 12, 12),
     (32, 32, 5, 5), 1, 0),
    ("resnet 3->16 3x3 32x32", (128, 3, 32, 32), (16, 3, 3, 3), 1, 1),
    ("resnet 16->16 3x3 32x32", (128, 16, 32, 32), (16, 16, 3, 3), 1, 1),
    ("resnet 16->32 3x3 s2 32x32", (128, 16, 32, 32), (32, 16, 3, 3), 2, 1),
    ("resnet 16->32 1x1 s2 32x32", (128, 16, 32, 32), (32, 16, 1, 1), 2, 0),
    ("resnet 32->32 3x3 16x16", (128, 32, 16, 16), (32, 32, 3, 3), 1, 1),
    ("resnet 32->64 3x3 s2 16x16", (128, 32, 16, 16), (64, 32, 3, 3), 2, 1),
    ("resnet 32->64 1x1 s2 16x16", (128, 32, 16, 16), (64, 32, 1, 1), 2, 0),
    ("resnet 64->64 3x3 8x8", (128, 64, 8, 8), (64, 64, 3, 3), 1, 1),
]

LABELS = ["fwd", "grad-in", "grad-w"]


def best_ms(fn, *args, repeats=5):
    finish(fn(*args))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        finish(fn(*args))  # JAX computes in the background
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def out_shape(x_shape, w_shape, s, p):
    return (x_shape[0], w_shape[0]) + tuple(
        (n + 2 * p - k) // s + 1 for n, k in zip(x_shape[2:], w_shape[2:]))


def gflop(x_shape, w_shape, s, p):
    y = out_shape(x_shape, w_shape, s, p)
    return 2 * np.prod(y) * w_shape[1] * w_shape[2] * w_shape[3] / 1e9


def kernel_times(x, w, s, p, repeats):
    """The three Numba kernels, called by symbol as the Ops' graphs do."""
    import numba
    from lasagne.ops import _conv_numba as kernels

    flip = np.bool_(False)
    one = (np.int64(1),) * 3
    groups = np.int64(1)

    @numba.njit
    def forward(x, w, stride, pad):
        return kernels._call_forward(x, w, stride, one, pad, pad, groups,
                                     flip)

    @numba.njit
    def grad_input(w, gy, shape, stride, pad):
        return kernels._call_grad_input(w, gy, shape, stride, one, pad,
                                        groups, flip)

    @numba.njit
    def grad_filters(x, gy, shape, stride, pad):
        return kernels._call_grad_filters(x, gy, shape, stride, one, pad,
                                          groups, flip, np.bool_(False))[0]

    x5, w5 = x[:, :, None], w[:, :, None]
    pad = (np.int64(0), np.int64(p), np.int64(p))
    stride = (np.int64(1), np.int64(s), np.int64(s))
    gy = np.ones_like(forward(x5, w5, stride, pad))
    in_shape = (np.int64(1),) + tuple(np.int64(n) for n in x.shape[2:])
    k_shape = (np.int64(1),) + tuple(np.int64(n) for n in w.shape[2:])
    return [best_ms(forward, x5, w5, stride, pad, repeats=repeats),
            best_ms(grad_input, w5, gy, in_shape, stride, pad,
                    repeats=repeats),
            best_ms(grad_filters, x5, gy, k_shape, stride, pad,
                    repeats=repeats)]


def op_times(mode, x, w, s, p, repeats):
    """Forward, input-gradient and filter-gradient times of the conv Op
    compiled by PyTensor in `mode`."""
    import pytensor
    import pytensor.tensor as pt
    from lasagne.ops.conv import conv

    xv, wv = pt.tensor4("x"), pt.tensor4("w")
    y = conv(xv, wv, stride=s, padding=p)
    gy = pt.tensor4("gy")
    cost = (y * gy).sum()
    fns = [pytensor.function([xv, wv], y, mode=mode),
           pytensor.function([xv, wv, gy], pytensor.grad(cost, xv), mode=mode),
           pytensor.function([xv, wv, gy], pytensor.grad(cost, wv), mode=mode)]
    gy_value = np.ones_like(np.asarray(fns[0](x, w)))
    args = [(x, w), (x, w, gy_value), (x, w, gy_value)]
    for fn, a in zip(fns, args):
        fn(*a)  # compile (JAX compiles at the first call)
    return [best_ms(fn, *a, repeats=repeats) for fn, a in zip(fns, args)]


def torch_times(cases, threads, repeats):
    """Run :func:`_torch_worker` in a process of its own, with PyTorch's
    CPU guide's allocator settings; returns one list of times per case."""
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="1073741824",
               MALLOC_TRIM_THRESHOLD_="2147483648")
    request = json.dumps({"cases": cases, "threads": threads,
                          "repeats": repeats})
    out = subprocess.run([sys.executable, __file__, "--torch-worker",
                          request], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _torch_worker(request):
    import torch

    request = json.loads(request)
    torch.set_num_threads(request["threads"])
    conv_bw = torch.ops.aten.convolution_backward
    rng = np.random.default_rng(0)
    results = []
    for _, x_shape, w_shape, s, p in request["cases"]:
        x = torch.from_numpy(rng.standard_normal(x_shape, dtype=np.float32))
        w = torch.from_numpy(rng.standard_normal(w_shape, dtype=np.float32))
        gy = torch.ones(out_shape(x_shape, w_shape, s, p))
        common = ([s, s], [p, p], [1, 1], False, [0, 0], 1)
        with torch.no_grad():
            results.append([
                best_ms(lambda: torch.nn.functional.conv2d(
                    x, w, stride=s, padding=p), repeats=request["repeats"]),
                best_ms(lambda: conv_bw(gy, x, w, None, *common,
                                        [True, False, False]),
                        repeats=request["repeats"]),
                best_ms(lambda: conv_bw(gy, x, w, None, *common,
                                        [False, True, False]),
                        repeats=request["repeats"])])
    print(json.dumps(results))


def gemm_rate(threads):
    """numpy float32 matmul GFLOP/s at a few conv-like sizes."""
    rng = np.random.default_rng(0)
    rates = []
    for m, k, n in [(16384, 144, 16), (4096, 288, 32), (1024, 576, 64),
                    (1024, 1024, 1024)]:
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        t = best_ms(np.dot, a, b, repeats=10)
        rates.append(f"{m}x{k}x{n} {2 * m * k * n / t / 1e6:5.0f}")
    print(f"numpy GEMM float32 threads={threads} GFLOP/s: " + ", ".join(rates))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", default=None,
                        help="time the Op compiled in this PyTensor mode "
                             "(e.g. JAX) instead of the Numba kernels")
    parser.add_argument("--batch", type=int, default=None,
                        help="batch size of every case (smoke runs)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", default="",
                        help="keep the cases whose name contains this")
    parser.add_argument("--torch", action="store_true",
                        help="also time PyTorch (own process)")
    parser.add_argument("--gemm", action="store_true",
                        help="print numpy's float32 GEMM rate")
    parser.add_argument("--torch-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.torch_worker:
        return _torch_worker(args.torch_worker)
    import numba
    threads = numba.get_num_threads()  # starts the threading layer
    if args.gemm:
        gemm_rate(threads)
    cases = [(name, (args.batch or x[0],) + x[1:], w, s, p)
             for name, x, w, s, p in CASES if args.only in name]
    theirs = (torch_times(cases, threads, args.repeats) if args.torch
              else [None] * len(cases))
    rng = np.random.default_rng(0)
    print(f"{args.mode or 'Numba kernels'}  threads={threads}"
          "  float32  ms (GFLOP/s)" + ("  [PyTorch ms (GFLOP/s)]"
                                       if args.torch else ""))
    for (name, x_shape, w_shape, s, p), ref in zip(cases, theirs):
        x = rng.standard_normal(x_shape, dtype=np.float32)
        w = rng.standard_normal(w_shape, dtype=np.float32)
        work = gflop(x_shape, w_shape, s, p)
        if args.mode:
            times = op_times(args.mode, x, w, s, p, args.repeats)
        else:
            times = kernel_times(x, w, s, p, args.repeats)
        cells = []
        for i, label in enumerate(LABELS):
            cell = f"{label} {times[i]:6.2f} ({work / times[i] * 1e3:4.0f})"
            if ref is not None:
                cell += f" [{ref[i]:6.2f} ({work / ref[i] * 1e3:4.0f})]"
            cells.append(cell)
        print(f"{name:34s} " + "  ".join(cells), flush=True)


if __name__ == "__main__":
    main()
