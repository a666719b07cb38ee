"""Per-Op times of our Numba convolution kernels (diagnostic).

``bench_conv_ops.py`` compares whole forward + backward passes with
PyTorch; this script times each of the three kernels alone (forward,
input gradient, filter gradient), best of 5, so that a change to one kernel
can be measured on its own. Set ``NUMBA_NUM_THREADS`` to choose the
threads (e.g. 1 for per-core figures).

With ``--mode MODE`` (e.g. ``--mode JAX``) it times the same three
computations as PyTensor functions of the convolution Op compiled in that
mode (a forward pass, and each gradient alone) instead of the kernels.

Usage::

    NUMBA_NUM_THREADS=1 python benchmarks/bench_conv_kernels.py [--mode JAX]
"""
import argparse
import time

import numba
import numpy as np

from common import finish
from lasagne.ops import _conv_numba as kernels

FLIP = np.bool_(False)
ONE = (np.int64(1),) * 3

# name, input (B, C, 1, H, W), filters (F, C, 1, kh, kw), padding
CASES = [
    ("mnist conv1 1->32 5x5 28x28, batch 500", (500, 1, 1, 28, 28),
     (32, 1, 1, 5, 5), 0),
    ("mnist conv2 32->32 5x5 12x12, batch 500", (500, 32, 1, 12, 12),
     (32, 32, 1, 5, 5), 0),
    ("resnet 16->16 3x3 32x32, batch 128", (128, 16, 1, 32, 32),
     (16, 16, 1, 3, 3), 1),
    ("resnet 64->64 3x3 32x32, batch 64", (64, 64, 1, 32, 32),
     (64, 64, 1, 3, 3), 1),
]


GROUPS = np.int64(1)


# The kernels are compiled without Python wrappers; these jitted
# functions call them by symbol, as the Ops' compiled graphs do.
@numba.njit
def forward(x, w, pad):
    return kernels._call_forward(x, w, ONE, ONE, pad, pad, GROUPS, FLIP)


@numba.njit
def grad_input(w, gy, shape, pad):
    return kernels._call_grad_input(w, gy, shape, ONE, ONE, pad, GROUPS,
                                    FLIP)


@numba.njit
def grad_filters(x, gy, shape, pad):
    return kernels._call_grad_filters(x, gy, shape, ONE, ONE, pad, GROUPS,
                                      FLIP, np.bool_(False))[0]


def best_ms(fn, *args, repeats=5):
    finish(fn(*args))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        finish(fn(*args))  # JAX computes in the background
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def op_times(mode, x, w, p, repeats):
    """Forward, input-gradient and filter-gradient times of the conv Op
    compiled by PyTensor in `mode` (2-d: the kernels' unit depth dropped)."""
    import pytensor
    import pytensor.tensor as pt
    from lasagne.ops.conv import conv

    x, w = x[:, :, 0], w[:, :, 0]
    xv, wv = pt.tensor4("x"), pt.tensor4("w")
    y = conv(xv, wv, padding=p)
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", default=None,
                        help="time the Op compiled in this PyTensor mode "
                             "(e.g. JAX) instead of the Numba kernels")
    parser.add_argument("--batch", type=int, default=None,
                        help="batch size of every case (smoke runs)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    numba.get_num_threads()  # start the threading layer (see ops/_parallel)
    rng = np.random.default_rng(0)
    print(f"{args.mode or 'Numba kernels'}  threads={numba.get_num_threads()}"
          f"  float32  ms (GFLOP/s)")
    for name, x_shape, w_shape, p in CASES:
        if args.batch:
            x_shape = (args.batch,) + x_shape[1:]
        x = rng.standard_normal(x_shape, dtype=np.float32)
        w = rng.standard_normal(w_shape, dtype=np.float32)
        pad = (np.int64(0), np.int64(p), np.int64(p))
        gy = np.ones_like(forward(x, w, pad))
        gflop = 2 * gy.size * w_shape[1] * w_shape[3] * w_shape[4] / 1e9
        in_shape = (np.int64(1), np.int64(x_shape[3]), np.int64(x_shape[4]))
        k_shape = (np.int64(1), np.int64(w_shape[3]), np.int64(w_shape[4]))
        if args.mode:
            times = op_times(args.mode, x, w, p, args.repeats)
        else:
            times = [best_ms(forward, x, w, pad, repeats=args.repeats),
                     best_ms(grad_input, w, gy, in_shape, pad,
                             repeats=args.repeats),
                     best_ms(grad_filters, x, gy, k_shape, pad,
                             repeats=args.repeats)]
        cells = "  ".join(f"{label} {t:6.1f} ({gflop / t * 1e3:4.0f})"
                          for label, t in zip(["fwd", "grad-in", "grad-w"],
                                              times))
        print(f"{name:42s} {cells}", flush=True)


if __name__ == "__main__":
    main()
