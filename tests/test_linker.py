"""The per-node Numba linker: nodes shared across graphs and processes are
not compiled again, and its numbers are those of PyTensor's Numba mode."""
import os
import subprocess
import sys

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import lasagne
from lasagne import linker
from pytensor.graph.basic import Apply
from lasagne.layers import (Conv2DLayer, DenseLayer, DropoutLayer,
                            InputLayer, LSTMLayer, MaxPool2DLayer, batch_norm,
                            get_all_params, get_output)
from lasagne.nonlinearities import softmax


def _compiled(fn):
    """The nodes the linker compiles for `fn` (flat twins where it
    compiles those; the other nodes run in Python)."""
    forms = [linker.compiled_form(node) for node in fn.maker.fgraph.toposort()]
    return [form if isinstance(form, Apply) else form[0]
            for form in forms if form is not None]


def _keys(fn):
    return {linker.node_cache_key(node) for node in _compiled(fn)}


def test_second_graph_reuses_the_nodes_of_the_first(monkeypatch):
    # an empty in-process memo: earlier tests may have built these nodes
    monkeypatch.setattr(linker, "_MEMO", {})
    x = pt.matrix("x")
    w = pt.matrix("w")
    hidden = pt.exp(pt.dot(x, w)) * 2 + 1
    first = pytensor.function([x, w], hidden.sum(axis=1),
                              mode="NUMBA_NODE")
    before = dict(linker.NODE_STATS)
    # The same product and fused exponential, other operations after them.
    second = pytensor.function([x, w], pt.sqrt(hidden.max(axis=1)) * 3 - 1,
                               mode="NUMBA_NODE")
    nodes = _compiled(second)
    new = _keys(second) - _keys(first)
    assert None not in new and 0 < len(new) < len(nodes)
    assert linker.NODE_STATS["built"] - before["built"] == len(new)
    assert (linker.NODE_STATS["reused"] - before["reused"]
            == len(nodes) - len(new))
    xv = np.linspace(-1, 1, 6).reshape(2, 3)
    wv = np.linspace(0, 1, 12).reshape(3, 4)
    hidden = np.exp(xv @ wv) * 2 + 1
    np.testing.assert_allclose(first(xv, wv), hidden.sum(1))
    np.testing.assert_allclose(second(xv, wv),
                               np.sqrt(hidden.max(1)) * 3 - 1)


def _cnn(x_var):
    net = InputLayer((None, 1, 10, 10), input_var=x_var)
    net = MaxPool2DLayer(Conv2DLayer(net, 4, 3), 2)
    net = DenseLayer(DropoutLayer(net, 0.5), 8)
    return DenseLayer(net, 3, nonlinearity=softmax), (5, 1, 10, 10)


def _batch_norm_mlp(x_var):
    net = InputLayer((None, 1, 10, 10), input_var=x_var)
    net = batch_norm(DenseLayer(net, 16))
    return DenseLayer(net, 3, nonlinearity=softmax), (5, 1, 10, 10)


def _lstm(x_var):
    net = InputLayer((None, 4, 6), input_var=x_var)
    net = LSTMLayer(net, 5, only_return_final=True)
    return DenseLayer(net, 3, nonlinearity=softmax), (2, 4, 6)


def _train_twice(build, mode, ndim):
    """Loss of two steps and the parameters after them."""
    lasagne.random.set_rng(np.random.RandomState(1))
    x_var = pt.tensor(dtype="float64", shape=(None,) * ndim, name="x")
    y_var = pt.ivector("y")
    net, shape = build(x_var)
    loss = lasagne.objectives.categorical_crossentropy(
        get_output(net), y_var).mean()
    params = get_all_params(net, trainable=True)
    fn = pytensor.function([x_var, y_var], loss, mode=mode,
                           updates=lasagne.updates.adam(loss, params))
    rng = np.random.default_rng(2)
    X = rng.standard_normal(shape)
    Y = rng.integers(0, 3, shape[0]).astype("int32")
    losses = [float(fn(X, Y)) for _ in range(2)]
    return losses, [p.get_value() for p in params]


def _python_run_numba_rewrites():
    """The graph NUMBA_NODE runs (the rewrites of PyTensor's Numba mode),
    each node run by its Op's Python implementation. PyTensor's whole-graph
    Numba compile costs about a minute even for a small network (47 s for
    the batch-norm perceptron below, 58 s for a softmax regression with its
    gradient), and the node linker's compiled nodes are PyTensor's own
    Numba implementations: what differs from mode="NUMBA" is how they are
    linked, and the nodes run from Python, which test_python_nodes checks
    against numpy. The random draws keep their plain Op: the wrapper the
    Numba rewrites put around them has no Python implementation (its inner
    graph is in place)."""
    from pytensor.compile.mode import Mode, get_mode
    from pytensor.link.vm import VMLinker
    rewrites = get_mode("NUMBA").excluding(
        "introduce_explicit_core_shape_rv").optimizer
    return Mode(VMLinker(use_cloop=False, c_thunks=False), rewrites)


@pytest.mark.backends
@pytest.mark.parametrize("build,ndim", [(_batch_norm_mlp, 4), (_cnn, 4),
                                        (_lstm, 3)])
def test_numbers_equal_numba_mode(build, ndim):
    expected = _train_twice(build, _python_run_numba_rewrites(), ndim)
    losses, params = _train_twice(build, "NUMBA_NODE", ndim)
    np.testing.assert_allclose(losses, expected[0], rtol=1e-12)
    for got, want in zip(params, expected[1]):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


SCRIPT = """
import numpy as np
import pytensor
import pytensor.tensor as pt
from lasagne import linker
from lasagne.ops.conv import conv
from lasagne.ops.pool import pool

x = pt.tensor4("x", dtype="float64")
w = pt.tensor4("w", dtype="float64")
y = pool(conv(x, w, padding=1), (2, 2))
cost = (pt.tanh(y) ** 2).sum()
f = pytensor.function([x, w], [cost, *pytensor.grad(cost, [x, w])],
                      mode="NUMBA_NODE")
xv = np.arange(2 * 3 * 6 * 6, dtype="float64").reshape(2, 3, 6, 6) / 100
wv = np.linspace(-1, 1, 4 * 3 * 3 * 3).reshape(4, 3, 3, 3)
out = f(xv, wv)
hits, misses = linker.cache_counts()
print(linker.NODE_STATS["built"], hits, misses,
      *[repr(float((np.cos(np.arange(np.size(r))) * np.ravel(r)).sum()))
        for r in out])
"""


def test_node_functions_load_from_the_cache_in_a_new_process(tmp_path):
    """A second process compiles nothing: every node function loads from
    Numba's cache (the elementwise nodes; the convolution and pooling run
    from Python, on the kernels compiled once per machine)."""
    env = dict(os.environ,
               PYTENSOR_FLAGS=f"base_compiledir={tmp_path / 'compiledir'}")
    runs = []
    for _ in range(2):
        run = subprocess.run([sys.executable, "-c", SCRIPT], env=env,
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stderr[-2000:]
        runs.append(run.stdout.split())
    built, hits, misses = (int(v) for v in runs[0][:3])
    assert built >= 1 and hits == 0 and misses == built
    built2, hits, misses = (int(v) for v in runs[1][:3])
    assert built2 == built and hits == built and misses == 0
    assert runs[0][3:] == runs[1][3:]
    # Against the Ops' own implementations.
    x = pt.tensor4("x", dtype="float64")
    w = pt.tensor4("w", dtype="float64")
    from lasagne.ops.conv import conv
    from lasagne.ops.pool import pool
    cost = (pt.tanh(pool(conv(x, w, padding=1), (2, 2))) ** 2).sum()
    f = pytensor.function([x, w], [cost, *pytensor.grad(cost, [x, w])],
                          mode="FAST_COMPILE")
    xv = np.arange(2 * 3 * 6 * 6, dtype="float64").reshape(2, 3, 6, 6) / 100
    wv = np.linspace(-1, 1, 4 * 3 * 3 * 3).reshape(4, 3, 3, 3)
    expected = [float((np.cos(np.arange(np.size(r))) * np.ravel(r)).sum())
                for r in f(xv, wv)]
    np.testing.assert_allclose([float(v) for v in runs[1][3:]], expected,
                               rtol=1e-10)


DEFAULT_SCRIPT = """
import pytensor
import lasagne
from pytensor.compile.mode import get_default_mode
print(type(get_default_mode().linker).__name__)
"""


@pytest.mark.parametrize("flags,env,expected", [
    ("", {}, "NumbaNodeLinker"),
    ("mode=NUMBA", {}, "NumbaLinker"),
    ("linker=cvm", {}, "VMLinker"),
    ("", {"LASAGNE_NODE_LINKER": "0"}, "NumbaLinker"),
])
def test_importing_lasagne_selects_the_node_linker_unless_chosen(
        tmp_path, flags, env, expected):
    pytensor_flags = f"base_compiledir={tmp_path}" + (
        "," + flags if flags else "")
    run = subprocess.run(
        [sys.executable, "-c", DEFAULT_SCRIPT], capture_output=True,
        text=True, env=dict(os.environ, PYTENSOR_FLAGS=pytensor_flags, **env))
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split()[-1] == expected


def _cumulative(seq, h0, w):
    """A Scan with a gradient: h_t = tanh(x_t * w + h_{t-1})."""
    hs = pytensor.scan(lambda x_t, h, w: pt.tanh(x_t * w + h),
                       sequences=[seq], outputs_info=[h0],
                       non_sequences=[w], return_updates=False)
    cost = (hs ** 2).sum()
    return [hs] + pytensor.grad(cost, [seq, h0, w])


def _numpy_cumulative(x, h0, w):
    hs, h = [], h0
    for x_t in x:
        h = np.tanh(x_t * w + h)
        hs.append(h)
    hs = np.array(hs)
    # backward pass by hand
    g_h = np.zeros_like(h0)
    g_x, g_w = np.zeros_like(x), np.zeros_like(w)
    for t in reversed(range(len(x))):
        g = (2 * hs[t] + g_h) * (1 - hs[t] ** 2)
        g_x[t] = g * w
        g_w += g * x[t]
        g_h = g
    return [hs, g_x, g_h, g_w]


def test_scan_runs_as_a_python_loop_over_cached_nodes(monkeypatch):
    """A Scan node runs PyTensor's Python loop over an inner function
    linked by the node linker (each inner node compiled once per machine,
    reused by the next graph) instead of one Numba function compiled
    afresh for the whole loop; forward and gradient scans (whose gradient
    buffers the inner function fills as updates) against numpy."""
    seq, h0, w = pt.matrix("seq"), pt.vector("h0"), pt.vector("w")
    outputs = _cumulative(seq, h0, w)
    built = []
    inner_linker = linker.NumbaNodeVMLinker
    monkeypatch.setattr(linker, "NumbaNodeVMLinker", type(
        "Recording", (inner_linker,), {
            "make_all": lambda self, *a, **k: built.append(self) or
            inner_linker.make_all(self, *a, **k)}))
    fn = pytensor.function([seq, h0, w], outputs, mode="NUMBA_NODE")
    rng = np.random.default_rng(0)
    x, h, v = (rng.standard_normal((6, 3)), rng.standard_normal(3),
               rng.standard_normal(3))
    for _ in range(2):  # outputs of the first call are not overwritten
        got = fn(x, h, v)
        for a, b in zip(got, _numpy_cumulative(x, h, v), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert len(built) == 2  # the forward and the gradient scan


def test_scan_compiled_by_numba_when_asked(monkeypatch):
    """``LASAGNE_SCAN_LOOP=0``: PyTensor's Numba Scan, same numbers."""
    monkeypatch.setattr(linker, "SCAN_LOOP", False)
    seq, h0, w = pt.matrix("seq"), pt.vector("h0"), pt.vector("w")
    hs = _cumulative(seq, h0, w)[0]
    fn = pytensor.function([seq, h0, w], hs, mode="NUMBA_NODE")
    x, h, v = np.ones((4, 2)), np.zeros(2), np.full(2, 0.5)
    np.testing.assert_allclose(fn(x, h, v), _numpy_cumulative(x, h, v)[0],
                               rtol=1e-12)
