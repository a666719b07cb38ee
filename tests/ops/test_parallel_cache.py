"""Cached graphs that call parallel kernels load safely in a new process.

The sequence below crashed (SIGSEGV) before the funcify functions started
Numba's threading layer: process 1 caches the conv kernel, process 2 links
that cached kernel into a new graph and caches the graph whole, and process
3 loads that graph, whose calls into the threading layer resolved to null.

The kernels are now called by symbol (:mod:`lasagne.ops._exported`), and a
graph loaded from the cache aborts the process ("Symbol not found") unless
its funcify registered every symbol it calls: the gradient variant checks
that for all three entry points.

Each process costs seconds of imports, so the variants that need no new
process share one (the graphs a process compiles come one after another),
and the references (the Ops' Python implementations) are computed here.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

SCRIPT = """
import sys
import numpy as np
import pytensor
import pytensor.tensor as pt
from lasagne.ops.conv import conv


def run(variant, mode):
    x = pt.tensor4("x", dtype="float64")
    w = pt.tensor4("w", dtype="float64")
    y = conv(x, w, padding=1)
    out = y if variant == "plain" else 2 * y
    if variant == "grads":
        out = [out.sum(), *pytensor.grad((out ** 2).sum(), [x, w])]
    f = pytensor.function([x, w], out, mode=mode)
    xv = np.arange(2 * 3 * 6 * 6, dtype="float64").reshape(2, 3, 6, 6) / 100
    wv = np.linspace(-1, 1, 4 * 3 * 3 * 3).reshape(4, 3, 3, 3)
    results = f(xv, wv)
    if variant != "grads":
        return [float(np.sum(results))]
    # Weighted sums, so that a misplaced gradient element shows.
    return [float(results[0])] + [
        float((r * np.cos(np.arange(r.size)).reshape(r.shape)).sum())
        for r in results[1:]]


if __name__ == "__main__":
    # argv: the mode, then the variants, compiled in this order.
    for variant in sys.argv[2:]:
        print(" ".join(repr(v) for v in run(variant, sys.argv[1])))
"""


def _expected(scale):
    xv = np.arange(2 * 3 * 6 * 6, dtype="float64").reshape(2, 3, 6, 6) / 100
    wv = np.linspace(-1, 1, 4 * 3 * 3 * 3).reshape(4, 3, 3, 3)
    xp = np.pad(xv, ((0, 0), (0, 0), (1, 1), (1, 1)))
    total = 0.0
    for i in range(6):
        for j in range(6):
            patch = xp[:, :, i:i + 3, j:j + 3]
            # filter_flip=True (the default): a true convolution.
            total += np.einsum("ncij,kcij->", patch, wv[:, :, ::-1, ::-1])
    return scale * total


def test_graph_cached_around_a_cached_parallel_kernel(tmp_path):
    env = dict(os.environ,
               PYTENSOR_FLAGS=f"base_compiledir={tmp_path / 'compiledir'}")
    # Process 1 caches the kernel; process 2 links it into two new graphs
    # and caches them; process 3 loads both, the gradients first, so that
    # nothing loaded before them has registered a symbol they call.
    (plain,) = _run(SCRIPT, env, "NUMBA", "plain")
    scaled, grads = _run(SCRIPT, env, "NUMBA", "scaled", "grads")
    grads_loaded, scaled_loaded = _run(SCRIPT, env, "NUMBA", "grads",
                                       "scaled")
    np.testing.assert_allclose([plain, scaled, scaled_loaded],
                               [[_expected(1)], [_expected(2)],
                                [_expected(2)]], rtol=1e-12)
    # The gradients against the Ops' numpy implementations.
    reference = _in_this_process(SCRIPT)("grads", "FAST_COMPILE")
    assert reference[0] == pytest.approx(_expected(2), rel=1e-12)
    np.testing.assert_allclose(grads, reference, rtol=1e-10)
    np.testing.assert_allclose(grads_loaded, reference, rtol=1e-10)


def _run(script, env, *args):
    """One line of numbers per variant, from a new process."""
    run = subprocess.run([sys.executable, "-c", script, *args],
                         env=env, capture_output=True, text=True)
    assert run.returncode == 0, (args, run.returncode, run.stderr[-2000:])
    lines = run.stdout.splitlines()
    assert len(lines) == max(len(args) - 1, 1), run.stdout
    return [[float(v) for v in line.split()] for line in lines]


def _in_this_process(script):
    """The script's ``run``, for the references."""
    namespace = {"__name__": "reference"}
    exec(script, namespace)
    return namespace["run"]


RECURRENT_SCRIPT = """
import sys
import numpy as np
import pytensor
import pytensor.tensor as pt
from lasagne.ops.attention import Attention
from lasagne.ops.batchnorm import BatchNormInference, BatchNormTrain
from lasagne.ops.recurrent import RecurrenceForward


def run(mode):
    x = pt.tensor3("x")
    w = pt.matrix("w")
    c0, h0 = pt.matrix("c0"), pt.matrix("h0")
    lstm = RecurrenceForward("lstm", ["sigmoid", "sigmoid", "tanh",
                                      "sigmoid", "tanh"])
    hid, cell, _ = lstm(x, w, c0, h0)
    cost = (hid * np.cos(np.arange(3 * 2 * 4)).reshape(3, 2, 4)).sum()
    # batch norm (with its fused ReLU) of a dense layer's output, and its
    # inference form: their kernels are called by symbol too
    d = pt.matrix("d")
    g, b = pt.vector("g"), pt.vector("b")
    y, mean, inv_std = BatchNormTrain(1e-4, rectify=True)(d, g, b)
    cost = cost + (y * np.sin(np.arange(5 * 4)).reshape(5, 4)).sum()
    cost = cost + BatchNormInference()(d, g, b, mean, inv_std).sum()
    # masked causal attention (forward and gradient)
    q, m = pt.tensor4("q"), pt.matrix("m")
    att, _ = Attention(0.5, causal=True, masked=True)(q, q, q, m)
    cost = cost + (att * np.sin(np.arange(2 * 3 * 2)).reshape(
        (1, 2, 3, 2))).sum()
    inputs = [x, w, c0, h0, d, g, b, q, m]
    f = pytensor.function(inputs, [cost, *pytensor.grad(cost, inputs[:-1])],
                          mode=mode)
    rng = np.random.default_rng(0)
    values = [rng.normal(size=s) for s in
              [(3, 2, 16), (4, 16), (2, 4), (2, 4), (5, 4), (4,), (4,),
               (1, 2, 3, 2)]] + [np.array([[1.0, 1.0, 0.0]])]
    return [float(np.sum(r * np.cos(np.arange(np.size(r))).reshape(
        np.shape(r)))) for r in f(*values)]


if __name__ == "__main__":
    print(" ".join(repr(v) for v in run(sys.argv[1])))
"""


def test_cached_recurrence_graph_loads_in_a_new_process(tmp_path):
    """The recurrence kernels (and the LSTM's lanes), the batch-norm and
    the attention kernels are called by symbol too: a graph loaded from
    PyTensor's cache in a new process finds them."""
    env = dict(os.environ,
               PYTENSOR_FLAGS=f"base_compiledir={tmp_path / 'compiledir'}")
    (compiled,) = _run(RECURRENT_SCRIPT, env, "NUMBA")
    (loaded,) = _run(RECURRENT_SCRIPT, env, "NUMBA")
    reference = _in_this_process(RECURRENT_SCRIPT)("FAST_COMPILE")
    assert len(reference) == 9
    np.testing.assert_allclose(compiled, reference, rtol=1e-10)
    np.testing.assert_allclose(loaded, reference, rtol=1e-10)
