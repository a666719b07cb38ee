"""Cached graphs that link parallel kernels load safely in a new process.

The sequence below crashed (SIGSEGV) before the funcify functions started
Numba's threading layer: process 1 caches the conv kernel, process 2 links
that cached kernel into a new graph and caches the graph whole, and process
3 loads that graph, whose calls into the threading layer resolved to null.
"""
import os
import subprocess
import sys

import numpy as np

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
f = pytensor.function([x, w], out, mode="NUMBA")
xv = np.arange(2 * 3 * 6 * 6, dtype="float64").reshape(2, 3, 6, 6) / 100
wv = np.linspace(-1, 1, 4 * 3 * 3 * 3).reshape(4, 3, 3, 3)
print(repr(float(f(xv, wv).sum())))
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
    for variant in ["plain", "scaled", "scaled"]:
        run = subprocess.run([sys.executable, "-c", SCRIPT, variant],
                             env=env, capture_output=True, text=True)
        assert run.returncode == 0, (variant, run.returncode, run.stderr[-2000:])
        results.append(float(run.stdout.split()[-1]))
    np.testing.assert_allclose(results, [_expected(1), _expected(2),
                                         _expected(2)], rtol=1e-12)
