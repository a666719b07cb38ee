"""JAX loads at first use: ``import lasagne`` does not import it (about two
seconds in every process), and our Ops' JAX lowerings are registered
before a graph is converted (:mod:`lasagne.ops._jax`)."""
import os
import subprocess
import sys

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from tests.helpers import HAS_JAX

pytestmark = pytest.mark.skipif(not HAS_JAX, reason="jax is not installed")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A fresh process: nothing has imported JAX before lasagne.
SCRIPT = """
import sys
import numpy as np, pytensor, pytensor.tensor as pt
import lasagne
from lasagne import layers as L

print("jax" in sys.modules, "pytensor.link.jax.dispatch" in sys.modules)
x = pt.tensor4("x", dtype="float64")
rng = np.random.default_rng(0)
w = rng.normal(size=(3, 2, 3, 3))
layer = L.Conv2DLayer(L.InputLayer((None, 2, 5, 5), x), 3, 3, pad=1, W=w,
                      b=np.array([0.1, -0.2, 0.3]), nonlinearity=None)
out = L.get_output(layer)
cost = (out ** 2).sum()
outputs = [out, *pytensor.grad(cost, [x, layer.W])]   # Conv, its gradients
xv = rng.normal(size=(2, 2, 5, 5))
with pytensor.config.change_flags(floatX="float32"):  # as the examples do
    got = pytensor.function([x], outputs, mode="JAX")(xv)
import jax
from lasagne.ops import _jax
# Every lowering loaded; JAX's 64-bit types on, as the floatX of
# `import lasagne` says (float64), whatever floatX was at the first use.
print(all(name in sys.modules for name in _jax.LOWERINGS),
      jax.config.jax_enable_x64)
for value in got:
    print(" ".join(repr(float(v)) for v in np.ravel(value)))
"""


def _convolve_and_gradients(x, w, b):
    """A 'same' 2-d convolution (flipped filters) and the gradients of the
    sum of its squares with respect to `x` and `w`, written out."""
    xp = np.pad(x, [(0, 0), (0, 0), (1, 1), (1, 1)])
    wf = w[:, :, ::-1, ::-1]
    out = np.zeros((x.shape[0], w.shape[0]) + x.shape[2:])
    windows = [(i, j) for i in range(x.shape[2]) for j in range(x.shape[3])]
    for i, j in windows:
        patch = xp[:, :, i:i + 3, j:j + 3]
        out[:, :, i, j] = np.einsum("nchw,ochw->no", patch, wf)
    out += b[None, :, None, None]
    g = 2 * out
    gxp, gwf = np.zeros_like(xp), np.zeros_like(wf)
    for i, j in windows:
        gxp[:, :, i:i + 3, j:j + 3] += np.einsum("no,ochw->nchw",
                                                 g[:, :, i, j], wf)
        gwf += np.einsum("no,nchw->ochw", g[:, :, i, j],
                         xp[:, :, i:i + 3, j:j + 3])
    return out, gxp[:, :, 1:-1, 1:-1], gwf[:, :, ::-1, ::-1]


def test_import_leaves_jax_out_until_a_graph_is_converted():
    flags = os.environ.get("PYTENSOR_FLAGS", "")
    env = dict(os.environ, PYTENSOR_FLAGS=f"{flags},floatX=float64")
    run = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    lines = run.stdout.strip().splitlines()
    assert lines[:1] == ["False False"], run.stderr[-3000:]  # no JAX yet
    assert run.returncode == 0, run.stderr[-3000:]
    assert lines[1] == "True True"
    out, gx, gw = (np.array([float(v) for v in line.split()])
                   for line in lines[2:5])
    rng = np.random.default_rng(0)
    wv = rng.normal(size=(3, 2, 3, 3))
    xv = rng.normal(size=(2, 2, 5, 5))
    bv = np.array([0.1, -0.2, 0.3])
    for got, want in zip((out, gx, gw), _convolve_and_gradients(xv, wv, bv)):
        np.testing.assert_allclose(got, want.ravel(), rtol=1e-10, atol=1e-12)


def test_pytensors_own_jax_linker_loads_the_lowerings_first(monkeypatch):
    """``pytensor.compile.mode.JAX`` (PyTensor's linker, not ours) calls
    :func:`lasagne.ops._jax.load` before it converts a graph."""
    from pytensor.compile.mode import JAX

    from lasagne.ops import _jax
    calls = []
    monkeypatch.setattr(_jax, "load", lambda: calls.append("load"))
    x = pt.vector("x")
    f = pytensor.function([x], 2 * x, mode=JAX)
    assert calls == ["load"]
    np.testing.assert_allclose(f(np.arange(3.0)), [0.0, 2.0, 4.0])


def test_install_loads_at_once_if_jax_dispatch_is_imported(monkeypatch):
    import pytensor.link.jax.dispatch  # noqa: F401  (as a user might)
    from pytensor.link.jax.linker import JAXLinker

    from lasagne.ops import _jax
    calls = []
    monkeypatch.setattr(_jax, "load", lambda: calls.append("load"))
    _jax.install()   # a second time: the linker is not wrapped twice
    assert calls == ["load"]
    wrapped = JAXLinker.fgraph_convert.__wrapped__
    assert not getattr(wrapped, "loads_lasagne_lowerings", False)
