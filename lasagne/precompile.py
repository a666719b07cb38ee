"""Compile the library's kernels ahead of time.

The convolution, pooling, recurrence, attention and batch-normalisation
kernels, and the matrix products and random draws the node linker runs,
are compiled once per machine and dtype into Numba's cache, beside the
package (or in Numba's user-wide cache where the package is read-only). Without this
step the first network that needs one pays for it in its first call, tens
of seconds on a small machine. Run it after installing, as a C extension
is compiled at install::

    python -m lasagne.precompile                  # float32 and float64
    python -m lasagne.precompile --dtypes float32

Each dtype compiles in a process of its own, side by side. The kernels are
exercised through the layers users build (a convolution with batch norm
and pooling, LSTM, GRU and plain recurrent layers, multi-head attention,
forward and backward), so exactly
what a network runs is compiled. Running it again loads everything from the
cache in a few seconds.
"""
import argparse
import os
import subprocess
import sys
import time

__all__ = ["precompile"]

DTYPES = ("float32", "float64")


def _exercise(dtype):
    """Compile and run every kernel once for `dtype`, in this process."""
    import numpy as np
    import pytensor
    import pytensor.tensor as pt

    from lasagne import layers
    from lasagne.layers import get_all_params, get_output

    with pytensor.config.change_flags(floatX=dtype):
        rng = np.random.default_rng(0)
        x = pt.tensor4("x", dtype=dtype)
        net = layers.InputLayer((None, 2, 6, 6), input_var=x)
        net = layers.batch_norm(layers.Conv2DLayer(net, 3, 3, pad=1))
        net = layers.Pool2DLayer(layers.MaxPool2DLayer(net, 2), 2,
                                 mode="average_inc_pad", stride=1)
        seq = pt.tensor3("seq", dtype=dtype)
        rec = layers.InputLayer((None, 3, 2), input_var=seq)
        recurrent = [layers.LSTMLayer(rec, 4), layers.GRULayer(rec, 4),
                     layers.RecurrentLayer(rec, 4),
                     layers.MultiHeadAttentionLayer(rec, 2, causal=True)]
        outs = [get_output(net, deterministic=False)] + [
            get_output(r) for r in recurrent]
        cost = sum(o.sum() for o in outs)
        params = get_all_params([net] + recurrent, trainable=True)
        inference = get_output(net, deterministic=True).sum()
        # the inputs' gradients too: a convolution's is a kernel of its own
        fn = pytensor.function([x, seq], [cost, inference, *pytensor.grad(
            cost, [x, seq, *params])], mode="FAST_COMPILE")
        fn(rng.standard_normal((2, 2, 6, 6)).astype(dtype),
           rng.standard_normal((2, 3, 2)).astype(dtype))
    from lasagne._python_nodes import warm_draws, warm_products
    warm_products(dtype)
    warm_draws(dtype)


def precompile(dtypes=DTYPES, jobs=None, verbose=True):
    """Compile the kernels for each of `dtypes`, `jobs` processes at a
    time (default: one per dtype, at most the number of cores)."""
    unknown = sorted(set(dtypes) - set(DTYPES))
    if unknown:
        raise ValueError(f"precompile: dtypes {unknown} have no kernels; "
                         f"choose from {list(DTYPES)}")
    jobs = jobs or min(len(dtypes), os.cpu_count() or 1)
    start = time.perf_counter()
    pending = list(dtypes)
    running = []
    while pending or running:
        while pending and len(running) < jobs:
            dtype = pending.pop(0)
            running.append((dtype, subprocess.Popen(
                [sys.executable, "-m", "lasagne.precompile", "--child",
                 dtype])))
        dtype, proc = running.pop(0)
        if proc.wait():
            raise RuntimeError(f"precompile: compiling the {dtype} kernels "
                               f"failed (exit status {proc.returncode})")
        if verbose:
            print(f"lasagne kernels for {dtype} ready "
                  f"({time.perf_counter() - start:.1f} s)", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m lasagne.precompile",
        description=__doc__.splitlines()[0])
    parser.add_argument("--dtypes", default=",".join(DTYPES),
                        help="comma-separated (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="processes at a time (default: one per dtype)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _exercise(args.child)
        return
    precompile([d for d in args.dtypes.split(",") if d], args.jobs)


if __name__ == "__main__":
    main()
