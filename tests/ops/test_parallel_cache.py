"""Cached graphs that call parallel kernels load safely in a new process.

The sequence below crashed (SIGSEGV) before the funcify functions started
Numba's threading layer: process 1 caches the conv kernel, process 2 links
that cached kernel into a new graph and caches the graph whole, and process
3 loads that graph, whose calls into the threading layer resolved to null.

The kernels are now called by symbol (:mod:`lasagne.ops._exported`), and a
graph loaded from the cache aborts the process ("Symbol not found") unless
its funcify registered every symbol it calls: the gradient variant checks
that for all three entry points.
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

x = pt.tensor4("x", dtype="float64")
w = pt.tensor4("w", dtype="float64")
y = conv(x, w, padding=1)
out = y if sys.argv[1] == "plain" else 2 * y
if sys.argv[1] == "grads":
    out = [out.sum(), *pytensor.grad((out ** 2).sum(), [x, w])]
f = pytensor.function([x, w], out, mode=sys.argv[2])
xv = np.arange(2 * 3 * 6 * 6, dtype="float64").reshape(2, 3, 6, 6) / 100
wv = np.linspace(-1, 1, 4 * 3 * 3 * 3).reshape(4, 3, 3, 3)
results = f(xv, wv)
if sys.argv[1] == "grads":
    # Weighted sums, so that a misplaced gradient element shows.
    results = [results[0]] + [(r * np.cos(np.arange(r.size)).reshape(r.shape)
                               ).sum() for r in results[1:]]
else:
    results = [results]
print(" ".join(repr(float(np.sum(r))) for r in results))
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
    results = []
    for variant in ["plain", "scaled", "scaled", "grads", "grads"]:
        results.append(_run(variant, "NUMBA", env))
    np.testing.assert_allclose(results[:3], [[_expected(1)], [_expected(2)],
                                             [_expected(2)]], rtol=1e-12)
    # The gradients against the Ops' numpy implementations.
    reference = _run("grads", "FAST_COMPILE", env)
    assert reference[0] == pytest.approx(_expected(2), rel=1e-12)
    np.testing.assert_allclose(results[3], reference, rtol=1e-10)
    np.testing.assert_allclose(results[4], reference, rtol=1e-10)


def _run(variant, mode, env):
    run = subprocess.run([sys.executable, "-c", SCRIPT, variant, mode],
                         env=env, capture_output=True, text=True)
    assert run.returncode == 0, (variant, run.returncode, run.stderr[-2000:])
    return [float(v) for v in run.stdout.split()]


RECURRENT_SCRIPT = """
import sys
import numpy as np
import pytensor
import pytensor.tensor as pt
from lasagne.ops.recurrent import RecurrenceForward

x = pt.tensor3("x")
w = pt.matrix("w")
c0, h0 = pt.matrix("c0"), pt.matrix("h0")
lstm = RecurrenceForward("lstm", ["sigmoid", "sigmoid", "tanh", "sigmoid",
                                  "tanh"])
hid, cell, _ = lstm(x, w, c0, h0)
cost = (hid * np.cos(np.arange(3 * 2 * 4)).reshape(3, 2, 4)).sum()
f = pytensor.function([x, w, c0, h0],
                      [cost, *pytensor.grad(cost, [x, w, c0, h0])],
                      mode=sys.argv[1])
rng = np.random.default_rng(0)
values = [rng.normal(size=s) for s in [(3, 2, 16), (4, 16), (2, 4), (2, 4)]]
print(" ".join(repr(float(np.sum(r * np.cos(np.arange(np.size(r))).reshape(
    np.shape(r))))) for r in f(*values)))
"""


def test_cached_recurrence_graph_loads_in_a_new_process(tmp_path):
    """The recurrence kernels are called by symbol too: a graph loaded
    from PyTensor's cache in a new process finds them."""
    env = dict(os.environ,
               PYTENSOR_FLAGS=f"base_compiledir={tmp_path / 'compiledir'}")
    results = []
    for mode in ["NUMBA", "NUMBA", "FAST_COMPILE"]:
        run = subprocess.run([sys.executable, "-c", RECURRENT_SCRIPT, mode],
                             env=env, capture_output=True, text=True)
        assert run.returncode == 0, (mode, run.returncode, run.stderr[-2000:])
        results.append([float(v) for v in run.stdout.split()])
    assert len(results[2]) == 5
    np.testing.assert_allclose(results[0], results[2], rtol=1e-10)
    np.testing.assert_allclose(results[1], results[2], rtol=1e-10)
