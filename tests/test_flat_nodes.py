"""Elementwise nodes of every rank compiled as one flat twin."""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from lasagne import linker
from lasagne._flat_nodes import elemwise_source, flat_source, flat_twin


def _forms(fn):
    return [linker.compiled_form(node) for node in fn.maker.fgraph.toposort()]


def _update(p, g, v):
    # a momentum step, one fused loop per parameter
    v_new = 0.9 * v - 0.1 * g
    return p + 0.9 * v_new - 0.1 * g, v_new


def test_updates_of_every_rank_share_one_compiled_function():
    tensors = [pt.tensor(dtype="float64", shape=(None,) * r, name=f"t{r}")
               for r in (1, 2, 4) for _ in range(3)]
    outs = []
    for r in range(3):
        outs += _update(*tensors[3 * r:3 * r + 3])
    fn = pytensor.function(tensors, outs, mode="NUMBA_NODE")
    twins = [form for form in _forms(fn) if form is not None]
    assert len(twins) == 3 and all(isinstance(form, tuple) for form in twins)
    assert len({linker.node_cache_key(twin) for twin, _ in twins}) == 1
    rng = np.random.default_rng(0)
    values = [rng.standard_normal((3, 4, 5, 2)[:r])
              for r in (1, 2, 4) for _ in range(3)]
    got = fn(*values)
    for r in range(3):
        p, g, v = values[3 * r:3 * r + 3]
        v_new = 0.9 * v - 0.1 * g
        np.testing.assert_allclose(got[2 * r], p + 0.9 * v_new - 0.1 * g,
                                   rtol=1e-14)
        np.testing.assert_allclose(got[2 * r + 1], v_new, rtol=1e-14)
        assert got[2 * r].shape == p.shape


def test_arrays_without_a_flat_view_are_copied_not_compiled_again():
    a = pt.matrix("a")
    b = pt.matrix("b")
    fn = pytensor.function([a, b], pt.exp(a) * b + 1, mode="NUMBA_NODE")
    [form] = [f for f in _forms(fn) if f is not None]
    assert isinstance(form, tuple)
    av = np.arange(12.0).reshape(3, 4) / 10
    bv = np.linspace(-1, 1, 12).reshape(4, 3).T  # not C-contiguous
    np.testing.assert_allclose(fn(av, np.ascontiguousarray(bv)),
                               np.exp(av) * bv + 1, rtol=1e-14)
    built = dict(linker.NODE_STATS)
    np.testing.assert_allclose(fn(av, bv), np.exp(av) * bv + 1, rtol=1e-14)
    assert linker.NODE_STATS == built


def test_scalars_broadcast_to_the_flat_loop():
    x = pt.tensor3("x")
    s = pt.dscalar("s")
    fn = pytensor.function([x, s], pt.tanh(x) * s - s, mode="NUMBA_NODE")
    assert any(isinstance(f, tuple) for f in _forms(fn))
    xv = np.linspace(-2, 2, 24).reshape(2, 3, 4)
    np.testing.assert_allclose(fn(xv, 3.0), np.tanh(xv) * 3 - 3, rtol=1e-14)
    assert fn(np.zeros((0, 3, 4)), 1.0).shape == (0, 3, 4)


@pytest.mark.parametrize("shape", [(2, 4), (3, 2)])
def test_shapes_that_differ_still_raise(shape):
    a = pt.matrix("a")
    b = pt.matrix("b")
    fn = pytensor.function([a, b], pt.exp(a) * b + 1, mode="NUMBA_NODE")
    with pytest.raises(ValueError):
        fn(np.ones((2, 3)), np.ones(shape))


def test_broadcasting_the_graph_allows_runs_the_node_as_written():
    # b has length 1 along axis 0 in its type: a broadcast at run time
    a = pt.matrix("a")
    b = pt.tensor(dtype="float64", shape=(1, None), name="b")
    fn = pytensor.function([a, b], pt.exp(a) * b + 1, mode="NUMBA_NODE")
    assert any(isinstance(f, tuple) for f in _forms(fn))
    av = np.linspace(0, 1, 6).reshape(2, 3)
    bv = np.array([[1.0, -2.0, 0.5]])
    np.testing.assert_allclose(fn(av, bv), np.exp(av) * bv + 1, rtol=1e-14)
    np.testing.assert_allclose(fn(av[:1], bv), np.exp(av[:1]) * bv + 1,
                               rtol=1e-14)


def test_in_place_updates_of_a_shared_matrix():
    w = pytensor.shared(np.arange(6.0).reshape(2, 3), name="w")
    g = pt.matrix("g")
    fn = pytensor.function([g], [], updates=[(w, w * 0.5 - 0.1 * g)],
                           mode="NUMBA_NODE")
    assert any(isinstance(f, tuple) for f in _forms(fn))
    for _ in range(2):
        fn(np.ones((2, 3)))
    want = (np.arange(6.0).reshape(2, 3) * 0.5 - 0.1) * 0.5 - 0.1
    np.testing.assert_allclose(w.get_value(), want, rtol=1e-14)


def test_full_inputs_may_have_dimensions_of_length_one():
    # a filter bank over one input channel: shape (None, 1, None, None)
    # (its gradient's type may not know the length of 1)
    w = pt.tensor(dtype="float64", shape=(None, 1, None, None), name="w")
    g = pt.tensor(dtype="float64", shape=(None,) * 4, name="g")
    fn = pytensor.function([w, g], _update(w, g, g * 2), mode="NUMBA_NODE")
    forms = [f for f in _forms(fn) if f is not None]
    assert forms and all(isinstance(f, tuple) for f in forms)
    wv = np.linspace(-1, 1, 18).reshape(2, 1, 3, 3)
    gv = np.cos(wv)
    v_new = 0.9 * 2 * gv - 0.1 * gv
    got = fn(wv, gv)
    np.testing.assert_allclose(got[0], wv + 0.9 * v_new - 0.1 * gv,
                               rtol=1e-14)
    np.testing.assert_allclose(got[1], v_new, rtol=1e-14)
    assert got[0].shape == (2, 1, 3, 3)


@pytest.mark.parametrize("build", [
    lambda a, v: pt.tanh(a + v.dimshuffle("x", 0)),  # a bias: as written
    lambda a, v: pt.exp(a.sum()),  # rank 0
])
def test_nodes_without_a_twin(build):
    a = pt.matrix("a")
    v = pt.vector("v")
    out = build(a, v)
    fn = pytensor.function([a, v], out, mode="NUMBA_NODE",
                           on_unused_input="ignore")
    assert all(flat_twin(node) is None
               for node in fn.maker.fgraph.toposort())


def _flat_nodes_of(fn):
    return [(node, form) for node in fn.maker.fgraph.toposort()
            for form in [linker.compiled_form(node)] if isinstance(form, tuple)]


def _rich(a, b, s):
    return (pt.switch(a > 0, pt.exp(-a) * b, pt.log1p(pt.abs(b)))
            + pt.sigmoid(a) * s - pt.clip(b, -0.5, 0.5) / (pt.sqrt(pt.abs(a)) + 1)
            + pt.maximum(a, b) + pt.cast(a > b, a.dtype) - 1 / (b * b + 1))


def _rich_numpy(a, b, s):
    return (np.where(a > 0, np.exp(-a) * b, np.log1p(np.abs(b)))
            + s / (1 + np.exp(-a)) - np.clip(b, -0.5, 0.5) / (np.sqrt(np.abs(a)) + 1)
            + np.maximum(a, b) + (a > b) - 1 / (b * b + 1))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_written_loop_equals_pytensors_compilation(dtype):
    """The loop :func:`flat_source` writes computes the numbers PyTensor's
    own compilation of the same twin does (to rounding: fastmath lets LLVM
    reassociate either), without calling a separately compiled scalar
    function."""
    a, b = pt.vector("a", dtype=dtype), pt.vector("b", dtype=dtype)
    s = pt.tensor(dtype=dtype, shape=(1,), name="s")
    fn = pytensor.function([a, b, s], _rich(a, b, s), mode="NUMBA_NODE")
    [(node, (twin, full))] = _flat_nodes_of(fn)
    assert [v.name for v in node.inputs] == ["a", "b", "s"]
    assert full == (True, True, False)
    source, _, _ = flat_source(twin, full)
    assert "scalar_fn" not in source and "for j in range(n)" in source
    rng = np.random.default_rng(0)
    av, bv = rng.standard_normal((2, 1001)).astype(dtype)
    sv = np.array([0.7], dtype)
    written = linker.flat_function(twin, full)(av, bv, sv)
    pytensors = linker.node_function(twin)(av, bv, sv)
    assert written.dtype == dtype
    tight = dict(rtol=1e-6, atol=1e-6) if dtype == "float32" else \
        dict(rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(written, pytensors, **tight)
    np.testing.assert_allclose(fn(av, bv, sv), _rich_numpy(av, bv, sv),
                               rtol=1e-5 if dtype == "float32" else 1e-13)


def test_scalar_ops_without_a_template_call_pytensors_function():
    x = pt.vector("x")
    fn = pytensor.function([x], pt.softplus(x) * 2 + x, mode="NUMBA_NODE")
    [(_, (twin, full))] = _flat_nodes_of(fn)
    assert "scalar_fn" in flat_source(twin, full)[0]
    xv = np.linspace(-50, 50, 101)
    np.testing.assert_allclose(fn(xv), np.logaddexp(0, xv) * 2 + xv,
                               rtol=1e-13)


def test_fused_loop_with_two_outputs():
    a, b = pt.matrix("a"), pt.matrix("b")
    e = pt.exp(a) * b
    fn = pytensor.function([a, b], [e + 1, e * 2], mode="NUMBA_NODE")
    twins = [twin for _, (twin, _) in _flat_nodes_of(fn)]
    assert any(len(twin.outputs) == 2 for twin in twins)
    av, bv = np.linspace(-1, 1, 12).reshape(2, 2, 3)
    got = fn(av, bv)
    np.testing.assert_allclose(got[0], np.exp(av) * bv + 1, rtol=1e-14)
    np.testing.assert_allclose(got[1], np.exp(av) * bv * 2, rtol=1e-14)


def _written_nodes(fn):
    """The elementwise nodes compiled as written (not as flat twins)."""
    from pytensor.tensor.elemwise import Elemwise
    return [node for node in fn.maker.fgraph.toposort()
            if isinstance(node.op, Elemwise) and linker.compiled_form(node) is node]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_broadcasting_loops_written_out(dtype):
    """A bias and a scale broadcast over a 4-d batch: the loops written by
    :func:`elemwise_source` read the bias once per channel and give
    PyTensor's numbers."""
    x = pt.tensor4("x", dtype=dtype)
    b, s = pt.vector("b", dtype=dtype), pt.vector("s", dtype=dtype)
    out = pt.maximum(x * s.dimshuffle("x", 0, "x", "x")
                     + b.dimshuffle("x", 0, "x", "x"), 0) - 0.5
    fn = pytensor.function([x, b, s], out, mode="NUMBA_NODE")
    [node] = _written_nodes(fn)
    source, _, _ = elemwise_source(node)
    lines = [line.strip() for line in source.splitlines()]
    assert "scalar_fn" not in source
    # each channel's bias is read between the channel's loop and the next
    reads = [i for i, line in enumerate(lines) if "[0, d1, 0, 0]" in line]
    assert len(reads) == 2
    assert all(lines.index("for d1 in range(s1):") < i
               < lines.index("for d2 in range(s2):") for i in reads)
    rng = np.random.default_rng(1)
    xv = rng.standard_normal((3, 4, 5, 6)).astype(dtype)
    bv, sv = rng.standard_normal((2, 4)).astype(dtype)
    want = np.maximum(xv * sv[:, None, None] + bv[:, None, None], 0) - 0.5
    # rounding: LLVM may contract the product and sum into one FMA
    tight = dict(rtol=1e-6, atol=1e-7) if dtype == "float32" else \
        dict(rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(fn(xv, bv, sv), want, **tight)
    # a batch that is a transposed view (no flat layout), and an empty one
    xt = np.ascontiguousarray(xv.transpose(3, 1, 2, 0)).transpose(3, 1, 2, 0)
    np.testing.assert_allclose(fn(xt, bv, sv), want, **tight)
    assert fn(xv[:0], bv, sv).shape == (0, 4, 5, 6)
    # the node's own inputs, through both compilations
    values = pytensor.function(fn.maker.fgraph.inputs, node.inputs,
                               mode="FAST_COMPILE")(xv, bv, sv)
    np.testing.assert_allclose(linker.elemwise_function(node)(*values),
                               linker.node_function(node)(*values),
                               **tight)


def test_written_loops_check_lengths():
    a, c = pt.matrix("a"), pt.matrix("c")
    v = pt.vector("v")
    fn = pytensor.function([a, c, v], a * c + v.dimshuffle("x", 0),
                           mode="NUMBA_NODE")
    assert _written_nodes(fn)
    np.testing.assert_allclose(
        fn(np.ones((2, 3)), np.full((2, 3), 2.0), np.arange(3.0)),
        np.full((2, 3), 2.0) + np.arange(3.0))
    for shapes in [((2, 3), (2, 4), (3,)), ((2, 3), (2, 3), (4,)),
                   ((2, 3), (1, 3), (3,))]:
        with pytest.raises(ValueError, match="different lengths"):
            fn(*[np.ones(shape) for shape in shapes])


def test_written_loops_update_in_place():
    w = pytensor.shared(np.arange(6.0).reshape(2, 3), name="w")
    g = pt.matrix("g")
    b = pt.vector("b")
    fn = pytensor.function([g, b], [], updates=[
        (w, w - 0.1 * (g + b.dimshuffle("x", 0)))], mode="NUMBA_NODE")
    [node] = _written_nodes(fn)
    assert node.op.inplace_pattern
    for _ in range(2):
        fn(np.ones((2, 3)), np.array([1.0, 2.0, 3.0]))
    want = np.arange(6.0).reshape(2, 3) - 0.2 * (1 + np.array([1.0, 2, 3]))
    np.testing.assert_allclose(w.get_value(), want, rtol=1e-14)


def test_loops_differing_only_in_an_inner_cast_are_distinct():
    """Two fused loops whose sources differ only in the dtype an inner cast
    names (a global of the source) get different cache keys, and each
    computes its own numbers."""
    x = pt.vector("x")
    keys, results = [], []
    xv = np.array([0.1, 1 / 3, 2.75])
    for dtype in ("float32", "int32"):
        fn = pytensor.function(
            [x], pt.cast(pt.cast(x * 10, dtype), "float64") * x + 1,
            mode="NUMBA_NODE")
        [(_, (twin, full))] = _flat_nodes_of(fn)
        keys.append(flat_source(twin, full)[2])
        results.append(fn(xv))
        np.testing.assert_allclose(
            results[-1], (xv * 10).astype(dtype).astype("float64") * xv + 1,
            rtol=1e-15)
    assert keys[0] != keys[1]
    assert not np.array_equal(results[0], results[1])
