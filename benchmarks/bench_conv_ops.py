"""Convolution Ops against PyTorch (CPU): forward + backward, samples/s.

Cases (batch 500, float32): the two convolutions of Lasagne's MNIST CNN
(32 5x5 filters on 1x28x28, then 32 5x5 on 32x12x12) and a ResNet-style
3x3 64->64 convolution on 32x32 ("same" padding). For each case the input
and filter gradients of ``sum(conv(x, w) * gy)`` are computed with ours
(Numba mode by default) and with ``torch.nn.functional.conv2d`` + autograd
(``torch.set_num_threads(2)``), alternating, and the best of the repeats is
reported.

Usage::

    python benchmarks/bench_conv_ops.py [--repeats 5] [--mode NUMBA]
"""
import argparse
import time

import numpy as np
import pytensor
import pytensor.tensor as pt

from common import finish
from lasagne.ops.conv import conv

CASES = [
    # name, input (C, H, W), filters (F, C, kh, kw), padding, need_input_grad
    ("mnist conv1 1->32 5x5 28x28", (1, 28, 28), (32, 1, 5, 5), 0, False),
    ("mnist conv2 32->32 5x5 12x12", (32, 12, 12), (32, 32, 5, 5), 0, True),
    ("resnet 64->64 3x3 32x32", (64, 32, 32), (64, 64, 3, 3), 1, True),
]


def ours(batch, in_shape, w_shape, pad, input_grad, mode):
    x = pt.tensor4("x", dtype="float32")
    w = pt.tensor4("w", dtype="float32")
    gy = pt.tensor4("gy", dtype="float32")
    y = conv(x, w, padding=pad, filter_flip=False)
    wrt = [x, w] if input_grad else [w]
    grads = pytensor.grad((y * gy).sum(), wrt)
    start = time.perf_counter()
    fn = pytensor.function([x, w, gy], [y, *grads], mode=mode)
    rng = np.random.default_rng(0)
    xv = rng.standard_normal((batch,) + in_shape, dtype=np.float32)
    wv = rng.standard_normal(w_shape, dtype=np.float32)
    out_sp = tuple(n + 2 * pad - k + 1 for n, k in zip(in_shape[1:],
                                                       w_shape[2:]))
    gyv = rng.standard_normal((batch, w_shape[0]) + out_sp, dtype=np.float32)
    finish(fn(xv, wv, gyv))
    compile_s = time.perf_counter() - start
    return (lambda: fn(xv, wv, gyv)), compile_s


def torch_case(batch, in_shape, w_shape, pad, input_grad):
    import torch
    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((batch,) + in_shape,
                                             dtype=np.float32))
    x.requires_grad_(input_grad)
    w = torch.from_numpy(rng.standard_normal(w_shape, dtype=np.float32))
    w.requires_grad_(True)
    out_sp = tuple(n + 2 * pad - k + 1 for n, k in zip(in_shape[1:],
                                                       w_shape[2:]))
    gy = torch.from_numpy(rng.standard_normal((batch, w_shape[0]) + out_sp,
                                              dtype=np.float32))

    def step():
        x.grad = None
        w.grad = None
        y = torch.nn.functional.conv2d(x, w, padding=pad)
        y.backward(gy)
        return y

    step()
    return step


def best_time(fn, inner):
    start = time.perf_counter()
    for _ in range(inner):
        result = fn()
    finish(result)  # JAX computes in the background
    return (time.perf_counter() - start) / inner


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--inner", type=int, default=3)
    parser.add_argument("--mode", default="NUMBA")
    parser.add_argument("--no-torch", action="store_true")
    args = parser.parse_args()
    for name, in_shape, w_shape, pad, input_grad in CASES:
        ours_fn, compile_s = ours(args.batch, in_shape, w_shape, pad,
                                     input_grad, args.mode)
        theirs = None if args.no_torch else torch_case(
            args.batch, in_shape, w_shape, pad, input_grad)
        t_ours, t_torch = [], []
        for _ in range(args.repeats):
            t_ours.append(best_time(ours_fn, args.inner))
            if theirs is not None:
                t_torch.append(best_time(theirs, args.inner))
        ours_sps = args.batch / min(t_ours)
        line = (f"{name:32s} ours({args.mode}) {ours_sps:9.0f} samples/s "
                f"(compile+first call {compile_s:.1f} s)")
        if t_torch:
            torch_sps = args.batch / min(t_torch)
            line += (f" | torch {torch_sps:9.0f} samples/s | ratio "
                     f"ours/torch {ours_sps / torch_sps:.2f}")
        print(line, flush=True)


if __name__ == "__main__":
    main()
