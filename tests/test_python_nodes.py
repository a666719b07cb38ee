"""The nodes the node linker runs from Python: which ones, and their
numbers against numpy references written here."""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.tensor.special import log_softmax, softmax

from lasagne import linker
from lasagne._python_nodes import python_perform

NODE_STATS_ZERO = {True: None, False: None}


def _node_linker_function(inputs, outputs, **kwargs):
    return pytensor.function(inputs, outputs, mode="NUMBA_NODE", **kwargs)


def _in_python(fn):
    return {type(node.op).__name__ for node in fn.maker.fgraph.toposort()
            if python_perform(node) is not None}


def _compiled(fn):
    return [node for node in fn.maker.fgraph.toposort()
            if python_perform(node) is None]


def _softmax_ref(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("axis", [None, 1, (0, 2), -1])
def test_softmax_and_log_softmax_match_numpy(axis):
    x = pt.tensor3("x", dtype="float32")
    fn = _node_linker_function([x], [softmax(x, axis=axis),
                                     log_softmax(x, axis=axis)])
    assert _compiled(fn) == []
    xv = (np.random.default_rng(0).standard_normal((3, 4, 5)) * 30
          ).astype("float32")
    sm, lsm = fn(xv)
    want = _softmax_ref(xv.astype("float64"), axis)
    assert sm.dtype == lsm.dtype == np.float32
    np.testing.assert_allclose(sm, want, rtol=2e-6, atol=1e-30)
    np.testing.assert_allclose(lsm, np.log(want), rtol=2e-6, atol=2e-6)


def test_integer_softmax_gives_floats():
    x = pt.ivector("x")
    fn = _node_linker_function([x], softmax(x))
    got = fn(np.array([1, 2, 3], dtype="int32"))
    assert got.dtype == np.dtype(fn.maker.fgraph.outputs[0].dtype)
    np.testing.assert_allclose(got, _softmax_ref(np.arange(1.0, 4.0), None),
                               rtol=1e-6)


def test_reductions_accumulate_in_their_accumulator_dtype():
    x = pt.matrix("x", dtype="float32")
    fn = _node_linker_function([x], [x.sum(axis=0), x.sum(), x.max(axis=1),
                                     x.min(axis=0), (x[:, :6] / 1e4).prod(axis=1)])
    assert {"Sum", "Max", "Min", "Prod"} <= _in_python(fn)
    # float32 sums of these lose digits; float64 accumulation does not
    xv = np.full((4, 100001), 0.1, dtype="float32")
    xv[:, ::3] = 1e4
    xv[1, 5] = -7
    got = fn(xv)
    x64 = xv.astype("float64")
    np.testing.assert_allclose(got[0], x64.sum(axis=0), rtol=1e-7)
    np.testing.assert_allclose(got[1], x64.sum(), rtol=1e-7)
    np.testing.assert_array_equal(got[2], xv.max(axis=1))
    np.testing.assert_array_equal(got[3], xv.min(axis=0))
    np.testing.assert_allclose(got[4], (x64[:, :6] / 1e4).prod(axis=1),
                               rtol=1e-6)
    assert all(g.dtype == np.float32 for g in got)


def test_maximum_of_an_empty_axis_is_minus_infinity():
    x = pt.matrix("x")
    fn = _node_linker_function([x], x.max(axis=1))
    np.testing.assert_array_equal(fn(np.zeros((2, 0))), [-np.inf, -np.inf])


def test_returned_arrays_are_not_overwritten_by_the_next_call():
    # Alloc's perform writes into the array it finds in its output cell,
    # which the function keeps between calls without garbage collection.
    n = pt.iscalar("n")
    v = pt.dscalar("v")
    mode = pytensor.compile.get_mode("NUMBA_NODE").clone(
        link_kwargs={"allow_gc": False})
    fn = pytensor.function([v, n], pt.alloc(v, n, 3), mode=mode)
    assert "Alloc" in _in_python(fn)
    first = fn(1.5, 2)
    second = fn(2.5, 2)
    np.testing.assert_array_equal(first, np.full((2, 3), 1.5))
    np.testing.assert_array_equal(second, np.full((2, 3), 2.5))


def test_scalar_bookkeeping_runs_in_python():
    # An optimizer's step count and learning rate are 0-d; loops on arrays,
    # a lone ufunc or a fused one, stay compiled.
    t = pt.dscalar("t")
    a = pt.matrix("a")
    b = pt.vector("b")
    rate = 0.01 * pt.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
    fn = _node_linker_function([t, a, b], [rate, pt.maximum(a, b),
                                           pt.tanh(a) * b + 1])
    compiled = _compiled(fn)
    # the two loops on arrays fuse into one compiled node
    assert [node.outputs[0].type.ndim for node in compiled] == [2]
    av = np.linspace(-2, 2, 6).reshape(2, 3)
    bv = np.array([0.5, -1.0, 0.0])
    got = fn(3.0, av, bv)
    np.testing.assert_allclose(got[0], 0.01 * np.sqrt(1 - 0.999 ** 3)
                               / (1 - 0.9 ** 3), rtol=1e-15)
    np.testing.assert_array_equal(got[1], np.maximum(av, bv))
    np.testing.assert_allclose(got[2], np.tanh(av) * bv + 1, rtol=1e-15)


def test_inplace_updates_through_python_nodes():
    w = pytensor.shared(np.arange(6.0).reshape(2, 3), name="w")
    g = pt.matrix("g")
    fn = _node_linker_function([g], [], updates=[(w, w - g)])
    fn(np.ones((2, 3)))
    fn(np.ones((2, 3)))
    np.testing.assert_array_equal(w.get_value(),
                                  np.arange(6.0).reshape(2, 3) - 2)


def test_errors_name_the_python_node():
    x = pt.vector("x")
    fn = _node_linker_function([x], pt.specify_shape(x, (3,)) * 2)
    with pytest.raises(AssertionError, match="SpecifyShape"):
        fn(np.zeros(4))


def test_the_switch_compiles_every_node(monkeypatch):
    x = pt.vector("x")
    total = dict(NODE_STATS_ZERO)
    for python_nodes in (True, False):
        monkeypatch.setattr(linker, "PYTHON_NODES", python_nodes)
        before = sum(linker.NODE_STATS.values())
        fn = _node_linker_function([x], x.sum() * 2)
        total[python_nodes] = sum(linker.NODE_STATS.values()) - before
        assert float(fn(np.arange(4.0))) == 12.0
    # Sum and the scalar multiplication run in Python unless switched off
    assert total == {True: 0, False: 2}


def test_kernel_nodes_take_read_only_and_strided_arrays():
    # JAX hands back read-only arrays; the kernels are compiled for
    # writable C-contiguous ones.
    import lasagne
    from lasagne.layers import (Conv2DLayer, InputLayer, LSTMLayer,
                                batch_norm, get_output)
    x = pt.tensor4("x")
    s = pt.tensor3("s")
    conv = batch_norm(Conv2DLayer(InputLayer((None, 2, 5, 5), x), 3, 3))
    lstm = LSTMLayer(InputLayer((None, 4, 3), s), 5)
    outs = [get_output(conv), get_output(lstm)]
    params = lasagne.layers.get_all_params([conv, lstm], trainable=True)
    cost = sum(o.sum() for o in outs)
    fn = _node_linker_function([x, s], outs + pytensor.grad(cost, params))
    assert {"Conv", "BatchNormTrain", "RecurrenceForward"} <= _in_python(fn)
    rng = np.random.default_rng(3)
    strided = rng.standard_normal((2, 5, 5, 2)).transpose(0, 3, 1, 2)
    xv = np.ascontiguousarray(strided)
    sv = rng.standard_normal((2, 4, 3))
    want = fn(xv, sv)
    for arrays in ((xv.copy(), sv.copy()), (strided, sv.copy())):
        for a in arrays:
            a.setflags(write=False)
        for got, expected in zip(fn(*arrays), want):
            np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("inplace", [True, False])
def test_uniform_and_normal_draws_match_numpy(dtype, inplace):
    """Uniform and normal draws run from Python on kernels compiled once
    per machine, and draw exactly the numbers numpy's generator gives
    (float64 draws, then the cast), advancing the shared generator as
    numpy does (in place, or a copy where the node does not destroy it)."""
    seed = 123
    rng = pytensor.shared(np.random.default_rng(seed))
    n = pt.lscalar("n")
    low = pt.scalar("low", dtype=dtype)
    next_rng, u = pt.random.uniform(low, 2.5, size=(n, 3), rng=rng,
                                    dtype=dtype, return_next_rng=True)
    last_rng, z = pt.random.normal(0.5, 3.0, size=(2, n), rng=next_rng,
                                   dtype=dtype, return_next_rng=True)
    updates = {rng: last_rng} if inplace else {}
    fn = _node_linker_function([n, low], [u, z], updates=updates)
    draws = [node for node in fn.maker.fgraph.toposort()
             if "rv" in str(node.op)]
    assert len(draws) == 2
    assert all(python_perform(node) is not None for node in draws)
    reference = np.random.default_rng(seed)
    for size in (4, 1, 0):
        got_u, got_z = fn(size, np.asarray(-1.25, dtype))
        want_u = reference.uniform(np.float64(-1.25), 2.5,
                                   (size, 3)).astype(dtype)
        want_z = reference.normal(0.5, 3.0, (2, size)).astype(dtype)
        assert got_u.dtype == got_z.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(got_u, want_u)
        np.testing.assert_array_equal(got_z, want_z)
        if not inplace:  # the shared generator never moves
            reference = np.random.default_rng(seed)
    assert (rng.get_value(borrow=True).bit_generator.state
            == (reference.bit_generator.state if inplace
                else np.random.default_rng(seed).bit_generator.state))


def test_draws_with_array_parameters_compile():
    """Per-element parameters are left to the compiled draw."""
    rng = pytensor.shared(np.random.default_rng(0))
    low = pt.vector("low")
    _, u = pt.random.uniform(low, 1.0, rng=rng, return_next_rng=True)
    fn = _node_linker_function([low], u)
    [draw] = [node for node in fn.maker.fgraph.toposort()
              if "rv" in str(node.op)]
    assert python_perform(draw) is None
    got = fn(np.array([0.0, 0.5]))
    assert got.shape == (2,) and np.all((got >= [0, 0.5]) & (got < 1))
