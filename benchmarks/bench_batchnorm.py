#!/usr/bin/env python
"""Batch normalisation + ReLU, forward and backward: the fused Ops of
lasagne.ops.batchnorm against the composed graph BatchNormLayer built
before them (PyTensor's elementwise Ops and reductions), rounds alternated.

    python benchmarks/bench_batchnorm.py [--shape 128,16,32,32] [--mode MODE]
"""
import argparse
import time

from common import finish, set_threads

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--shape", default="128,16,32,32")
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--mode", default=None, help="PyTensor mode (default: Numba)")
parser.add_argument("--steps", type=int, default=20)
parser.add_argument("--rounds", type=int, default=5)
args = parser.parse_args()
set_threads(args.threads)

import numpy as np  # noqa: E402
import pytensor  # noqa: E402
import pytensor.tensor as pt  # noqa: E402

from lasagne.nonlinearities import rectify  # noqa: E402
from lasagne.ops.batchnorm import batch_norm_train  # noqa: E402

EPS = 1e-4


def composed(x, gamma, beta):
    """The graph BatchNormLayer built for per-channel statistics."""
    axes = (0,) + tuple(range(2, x.ndim))
    pattern = ["x", 0] + ["x"] * (x.ndim - 2)
    mean = x.mean(axes)
    inv_std = pt.reciprocal(pt.sqrt(x.var(axes) + EPS))
    y = ((x - mean.dimshuffle(pattern))
         * (gamma * inv_std).dimshuffle(pattern) + beta.dimshuffle(pattern))
    return pt.maximum(y, 0), mean, inv_std


def fused(x, gamma, beta):
    y, mean, inv_std = batch_norm_train(x, gamma, beta, EPS)
    return rectify(y), mean, inv_std


def build(fn, shape):
    x = pt.tensor("x", dtype="float32", shape=(None,) * len(shape))
    gy = x.type("gy")
    gamma, beta = pt.fvector("gamma"), pt.fvector("beta")
    y, mean, inv_std = fn(x, gamma, beta)
    grads = pytensor.grad(None, [x, gamma, beta], known_grads={y: gy})
    return pytensor.function([x, gy, gamma, beta],
                             [y, mean, inv_std, *grads], mode=args.mode)


def main():
    shape = tuple(int(s) for s in args.shape.split(","))
    rng = np.random.default_rng(0)
    values = [rng.normal(size=shape).astype("float32"),
              rng.normal(size=shape).astype("float32"),
              rng.uniform(0.5, 2, shape[1]).astype("float32"),
              rng.normal(size=shape[1]).astype("float32")]
    fns = {"composed": build(composed, shape), "fused": build(fused, shape)}
    results = {name: fn(*values) for name, fn in fns.items()}
    for a, b in zip(results["composed"], results["fused"]):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
    best = {name: np.inf for name in fns}
    for _ in range(args.rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(args.steps):
                result = fn(*values)
            finish(result)  # JAX computes in the background
            best[name] = min(best[name],
                             (time.perf_counter() - start) / args.steps)
    nodes = {name: len(fn.maker.fgraph.apply_nodes)
             for name, fn in fns.items()}
    print(f"batch norm + ReLU, forward and backward, shape {shape}, "
          f"float32, threads={args.threads}, mode={args.mode or 'NUMBA'}")
    for name in fns:
        print(f"  {name:9s} {best[name] * 1e3:8.2f} ms  ({nodes[name]} nodes)")
    print(f"  speed-up {best['composed'] / best['fused']:.2f}x")


if __name__ == "__main__":
    main()
