"""Tests of lasagne.ops.pool against a plain loop reference written here."""
import itertools

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from lasagne.ops.pool import MaxPoolGradGrad, Pool, PoolGrad, pool
from tests.helpers import FAST, assert_backends_agree, backend_params, compile_fn


def ref_length(n, k, s, p, ignore_border):
    if ignore_border:
        return max(0, (n + 2 * p - k) // s + 1)
    # Theano: as many windows as needed to reach the last input element.
    count = 1
    while count * s < n and (count - 1) * s + k < n:
        count += 1
    return count


def ref_pool(x, ws, stride, pad, ignore_border, mode):
    """Window by window, in plain Python."""
    nd = len(ws)
    lead, spatial = x.shape[:-nd], x.shape[-nd:]
    out_shape = tuple(ref_length(n, k, s, p, ignore_border)
                      for n, k, s, p in zip(spatial, ws, stride, pad))
    out = np.zeros(lead + out_shape)
    for o in itertools.product(*map(range, out_shape)):
        starts = [i * s - p for i, s, p in zip(o, stride, pad)]
        index = tuple(slice(max(a, 0), min(a + k, n))
                      for a, k, n in zip(starts, ws, spatial))
        window = x[(Ellipsis,) + index].reshape(lead + (-1,))
        if mode == "max":
            value = window.max(axis=-1)
        elif mode == "average_exc_pad":
            value = window.mean(axis=-1)
        else:
            size = np.prod([min(a + p + k, n + 2 * p) - (a + p)
                            for a, k, n, p in zip(starts, ws, spatial, pad)])
            value = window.sum(axis=-1) / size
        out[(Ellipsis,) + o] = value
    return out.astype(x.dtype)


# (input shape, ws, stride, pad, ignore_border)
GEOMETRIES = [
    ((2, 3, 9), (3,), (2,), (1,), True),
    ((2, 3, 10), (3,), (3,), (0,), False),
    ((5, 8), (4,), (1,), (0,), False),
    ((2, 3, 6, 7), (2, 2), (2, 2), (0, 0), True),
    ((2, 3, 7, 5), (2, 2), (2, 2), (0, 0), False),
    ((1, 2, 7, 6), (3, 2), (1, 2), (0, 0), False),
    ((2, 2, 7, 8), (3, 3), (2, 3), (1, 2), True),
    ((2, 2, 5, 6), (3, 3), (1, 1), (2, 1), True),
    ((2, 2, 3, 3), (4, 4), (1, 1), (0, 0), False),
    ((1, 2, 5, 6, 7), (2, 3, 2), (2, 2, 1), (1, 0, 1), True),
    ((1, 2, 5, 4, 5), (2, 2, 3), (3, 2, 2), (0, 0, 0), False),
    ((6, 5), (2, 2), (2, 2), (0, 0), False),
    ((2, 1, 2, 2, 5, 5), (2, 2), (1, 1), (1, 1), True),
    # windows tiling the input, with a remainder along every axis
    ((1, 2, 5, 4, 7), (2, 2, 3), (2, 2, 3), (0, 0, 0), True),
    ((2, 3, 9), (2,), (3,), (0,), True),
]
MODES = ["max", "average_inc_pad", "average_exc_pad"]


def _geometry_id(g):
    shape, ws, stride, pad, ib = g
    return f"{len(ws)}d-{shape}-ws{ws}-st{stride}-pad{pad}-ib{int(ib)}"


def _symbolic(shape, dtype="float64"):
    return pt.tensor("x", dtype=dtype, shape=(None,) * len(shape))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("geometry", GEOMETRIES, ids=_geometry_id)
def test_forward_matches_loop_reference(geometry, mode):
    shape, ws, stride, pad, ib = geometry
    x = np.random.default_rng(1).normal(size=shape)
    expected = ref_pool(x, ws, stride, pad, ib, mode)
    xs = _symbolic(shape)
    y = pool(xs, ws, stride, pad, ib, mode)
    got = compile_fn([xs], y)(x)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("geometry", [GEOMETRIES[i] for i in (0, 4, 7, 10)],
                         ids=_geometry_id)
def test_gradient_verify_grad(geometry, mode):
    shape, ws, stride, pad, ib = geometry
    x = np.random.default_rng(2).normal(size=shape)
    pytensor.gradient.verify_grad(
        lambda v: pool(v, ws, stride, pad, ib, mode), [x],
        rng=np.random.default_rng(0), mode=FAST, no_debug_ref=False)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("geometry", [GEOMETRIES[1], GEOMETRIES[6],
                                      GEOMETRIES[9]], ids=_geometry_id)
def test_second_derivative_verify_grad(geometry, mode):
    """The gradient Op is differentiable in both inputs."""
    shape, ws, stride, pad, ib = geometry
    rng = np.random.default_rng(3)
    x = rng.normal(size=shape)
    gz = rng.normal(size=ref_pool(x, ws, stride, pad, ib, mode).shape)
    op = PoolGrad(ws, stride, pad, ib, mode)
    if mode == "max":
        pytensor.gradient.verify_grad(op, [x, gz], rng=rng, mode=FAST,
                                      no_debug_ref=False)
    else:  # x only gives the shape: differentiate in gz
        pytensor.gradient.verify_grad(lambda g: op(pt.constant(x), g), [gz],
                                      rng=rng, mode=FAST, no_debug_ref=False)


def test_grad_of_grad_op_verify_grad():
    ws, stride, pad, ib = (3, 2), (2, 1), (1, 0), True
    rng = np.random.default_rng(4)
    x, g = rng.normal(size=(2, 2, 6, 5)), rng.normal(size=(2, 2, 6, 5))
    pytensor.gradient.verify_grad(MaxPoolGradGrad(ws, stride, pad, ib),
                                  [x, g], rng=rng, mode=FAST,
                                  no_debug_ref=False)


def test_hessian_vector_product_of_max_pool():
    """d/dx <grad(sum(pool(x) * w)), v> through PoolGrad's pullback: zero,
    and grad-of-grad w.r.t. w equals pool-gathered v."""
    x = pt.tensor4("x")
    w = pt.tensor4("w")
    v = pt.tensor4("v")
    y = pool(x, (2, 2))
    gx = pytensor.grad((y * w).sum(), x)
    gw = pytensor.grad((gx * v).sum(), w)
    rng = np.random.default_rng(5)
    xv, vv = rng.normal(size=(1, 2, 4, 4)), rng.normal(size=(1, 2, 4, 4))
    wv = rng.normal(size=(1, 2, 2, 2))
    got = compile_fn([x, w, v], gw)(xv, wv, vv)
    # v read at each window's maximum.
    expected = np.zeros((1, 2, 2, 2))
    for c, i, j in itertools.product(range(2), range(2), range(2)):
        win = xv[0, c, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
        a, b = np.unravel_index(np.argmax(win), win.shape)
        expected[0, c, i, j] = vv[0, c, 2 * i + a, 2 * j + b]
    np.testing.assert_allclose(got, expected)


PARITY = [
    (GEOMETRIES[0], "max"),
    (GEOMETRIES[1], "average_exc_pad"),
    (GEOMETRIES[3], "max"),
    (GEOMETRIES[5], "average_inc_pad"),
    (GEOMETRIES[6], "max"),
    (GEOMETRIES[6], "average_inc_pad"),
    (GEOMETRIES[7], "average_exc_pad"),
    (GEOMETRIES[9], "max"),
    (GEOMETRIES[10], "average_exc_pad"),
    (GEOMETRIES[13], "max"),
    (GEOMETRIES[13], "average_exc_pad"),
    (GEOMETRIES[14], "max"),
]


@pytest.mark.backends
@pytest.mark.parametrize("geometry,mode", PARITY,
                         ids=[f"{_geometry_id(g)}-{m}" for g, m in PARITY])
def test_backends_agree_forward_and_gradients(geometry, mode):
    shape, ws, stride, pad, ib = geometry
    rng = np.random.default_rng(6)
    x = rng.normal(size=shape)
    out = ref_pool(x, ws, stride, pad, ib, mode)
    gz = rng.normal(size=out.shape)
    xs, gs = _symbolic(shape), _symbolic(shape)
    gzs = _symbolic(out.shape)
    y = pool(xs, ws, stride, pad, ib, mode)
    [gx] = pytensor.gradient.pullback(y, [xs], [gzs])
    inputs, outputs, values = [xs, gzs], [y, gx], [x, gz]
    if mode == "max":
        inputs.append(gs)
        outputs.append(MaxPoolGradGrad(ws, stride, pad, ib)(xs, gs))
        values.append(rng.normal(size=shape))
    reference = compile_fn(inputs, outputs)(*values)
    np.testing.assert_allclose(reference[0], out, rtol=1e-12)
    assert_backends_agree(inputs, outputs, values,
                          reference=reference, rtol=1e-10, atol=1e-12)


@pytest.mark.backends
@pytest.mark.parametrize("backend", backend_params())
def test_max_ties_route_to_first_maximum(backend):
    """Equal values: the whole gradient goes to the first element of each
    window, in row-major order, on every backend."""
    # Known spatial sizes: PyTensor's JAX backend needs concrete shapes for
    # the ones(y.shape) that grad builds (the batch size may stay unknown).
    x = pt.tensor("x", dtype="float32", shape=(None, 1, 3, 4))
    y = pool(x, (2, 3), stride=(1, 2), pad=(1, 1))
    gx = pytensor.grad(y.sum(), x)
    fn = pytensor.function([x], [y, gx], mode={"numba": "NUMBA", "c": "CVM",
                                                "jax": "JAX"}[backend])
    xv = np.ones((1, 1, 3, 4), "float32")
    out, grad = fn(xv)
    np.testing.assert_array_equal(out, np.ones((1, 1, 4, 2)))
    # Windows start at rows -1, 0, 1, 2 and columns -1, 1: the first real
    # element of each is (max(r, 0), max(c, 0)).
    expected = np.zeros((3, 4), "float32")
    for r, c in itertools.product((-1, 0, 1, 2), (-1, 1)):
        expected[max(r, 0), max(c, 0)] += 1
    np.testing.assert_array_equal(grad[0, 0], expected)


@pytest.mark.backends
@pytest.mark.parametrize("backend", backend_params())
def test_symbolic_batch_size_and_float32(backend):
    x = pt.tensor("x", dtype="float32", shape=(None, 2, 5, 5))
    y = pool(x, (2, 2), mode="average_exc_pad", ignore_border=False)
    gx = pytensor.grad(y.sum(), x)
    fn = pytensor.function([x], [y, gx], mode={"numba": "NUMBA", "c": "CVM",
                                                "jax": "JAX"}[backend])
    for batch in (1, 4):
        xv = np.random.default_rng(batch).normal(
            size=(batch, 2, 5, 5)).astype("float32")
        out, grad = fn(xv)
        assert out.dtype == grad.dtype == np.float32
        np.testing.assert_allclose(
            out, ref_pool(xv, (2, 2), (2, 2), (0, 0), False,
                          "average_exc_pad"), rtol=1e-5, atol=1e-6)
        # every element belongs to exactly one window of 4, 2 or 1 elements
        counts = np.array([2, 2, 2, 2, 1])
        np.testing.assert_allclose(
            grad[0, 0], 1 / np.outer(counts, counts), rtol=1e-6)


def test_infer_shape_needs_no_pooling():
    x = pt.tensor("x", shape=(None, None, None, None, None))
    y = pool(x, (2, 3, 2), stride=(1, 2, 3), pad=(1, 1, 0))
    gx = PoolGrad((2, 3, 2), (1, 2, 3), (1, 1, 0))(x, y)
    fn = pytensor.function([x], [y.shape, gx.shape], mode="FAST_RUN")
    ops = {type(node.op) for node in fn.maker.fgraph.apply_nodes}
    assert not ops & {Pool, PoolGrad}
    xv = np.zeros((2, 3, 5, 7, 8))
    ys, gs = fn(xv)
    assert tuple(ys) == ref_pool(xv, (2, 3, 2), (1, 2, 3), (1, 1, 0), True,
                                 "max").shape
    assert tuple(gs) == xv.shape


def test_static_shape_propagates():
    x = pt.tensor("x", shape=(None, 3, 7, 8))
    assert pool(x, (2, 3), ignore_border=False).type.shape == (None, 3, 4, 3)
    assert pool(x, (2, 3), pad=(1, 1)).type.shape == (None, 3, 4, 3)
    assert pool(x, 3, stride=2).type.shape == (None, 3, 7, 3)


def test_integer_max_pool():
    x = np.arange(12, dtype="int32").reshape(1, 3, 4)
    out = pool(x, (2, 2), pad=(1, 1)).eval(mode=FAST)
    np.testing.assert_array_equal(out, ref_pool(x, (2, 2), (2, 2), (1, 1),
                                                True, "max"))


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(ws=(2, 2), mode="mean"), ValueError, "mode.*'mean'"),
    (dict(ws=(2, 2), pad=(2, 0)), ValueError, "pad.*smaller than the window"),
    (dict(ws=(2, 2), pad=1, ignore_border=False), ValueError,
     "requires ignore_border=True"),
    (dict(ws=(2, 0)), ValueError, "positive"),
    (dict(ws=(2, 2), stride=(1, 1, 1)), ValueError, "stride.*2 ints"),
    (dict(ws="ab"), ValueError, "ws"),
    (dict(ws=()), ValueError, "empty"),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        pool(pt.tensor4(), **kwargs)


def test_bad_inputs():
    with pytest.raises(ValueError, match="at least 3 dimensions"):
        pool(pt.matrix(), (2, 2, 2))
    with pytest.raises(TypeError, match="float input"):
        pool(pt.tensor4(dtype="int32"), (2, 2), mode="average_inc_pad")


def test_numba_kernels_take_strided_inputs_without_fallback(monkeypatch):
    """A transposed (non-contiguous) input and a float32 output gradient
    for a float64 input, compiled with no warning (no object-mode
    fallback). Each node goes through its Numba dispatch on its own (the
    node linker with nothing run from Python): the same code PyTensor's
    whole-graph ``mode="NUMBA"`` links, which takes a minute to compile
    the graph here."""
    import warnings

    from lasagne import linker
    monkeypatch.setattr(linker, "PYTHON_NODES", False)
    x = pt.tensor4("x")
    gz = pt.tensor4("gz", dtype="float32")
    xt = x.dimshuffle(0, 1, 3, 2)
    y = pool(xt, (3, 2), stride=(2, 1), pad=(1, 0))
    outputs = [y, PoolGrad((3, 2), (2, 1), (1, 0))(xt, gz),
               MaxPoolGradGrad((3, 2), (2, 1), (1, 0))(xt, xt)]
    rng = np.random.default_rng(7)
    xv = rng.normal(size=(2, 3, 5, 6))
    gzv = rng.normal(size=(2, 3, 3, 4)).astype("float32")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fn = pytensor.function([x, gz], outputs, mode="NUMBA_NODE")
        pools = [n for n in fn.maker.fgraph.toposort()
                 if isinstance(n.op, (Pool, PoolGrad, MaxPoolGradGrad))]
        assert len(pools) == 3
        assert all(linker.compiled_form(n) is n for n in pools)
        got = fn(xv, gzv)
    expected = compile_fn([x, gz], outputs)(xv, gzv)
    assert got[1].dtype == np.float32
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-6)
    np.testing.assert_allclose(
        got[0], ref_pool(xv.transpose(0, 1, 3, 2), (3, 2), (2, 1), (1, 0),
                         True, "max"))


def test_parallel_numba_kernels(monkeypatch):
    """The optional prange kernels compute the same numbers."""
    from lasagne.ops import _pool_numba
    monkeypatch.setattr(_pool_numba, "PARALLEL", True)
    x = pt.tensor3("x")
    y = pool(x, (3,), stride=(2,), pad=(1,), mode="average_inc_pad")
    gx = pytensor.grad((y ** 2).sum(), x)
    xv = np.random.default_rng(8).normal(size=(4, 3, 9))
    got = pytensor.function([x], [y, gx], mode="NUMBA")(xv)
    expected = compile_fn([x], [y, gx])(xv)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("mode", MODES)
def test_machine_kernels_match_the_loop_reference(mode, dtype):
    """``perform`` on the kernels compiled once per machine (one to three
    pooled axes, the window at run time): every geometry, with ties (the
    gradient goes to each window's first maximum), strided inputs and an
    empty batch, against the loop reference and the numpy gradient."""
    from lasagne.ops import _pool_machine
    from lasagne.ops.pool import pool_forward_numpy, pool_grad_numpy
    rng = np.random.default_rng(9)
    rtol = 1e-12 if dtype == "float64" else 1e-5
    checked = 0
    for shape, ws, stride, pad, ib in GEOMETRIES + [
            ((3, 2, 9, 7), (2, 2), (2, 2), (0, 0), True),    # unrolled 2x2
            ((2, 3, 5, 7), (1, 2, 2), (1, 2, 2), (0, 0, 0), True),
            ((2, 4, 5, 7), (1, 2, 2), (2, 2, 2), (0, 0, 0), True),
            ((0, 2, 6, 6), (2, 2), (2, 2), (0, 0), True)]:
        # one decimal: many ties within each window
        x = np.round(rng.normal(size=shape), 1).astype(dtype)
        x = np.swapaxes(np.swapaxes(x, 0, -1).copy(), 0, -1)  # strided
        op = Pool(ws, stride, pad, ib, mode)
        node = op.make_node(_symbolic(shape, dtype))
        assert _pool_machine.supports(op, node)
        out = [None]
        op.perform(node, [x], [out])
        expected = (ref_pool(x, ws, stride, pad, ib, mode) if x.size
                    else pool_forward_numpy(x, ws, stride, pad, ib, mode))
        assert out[0].dtype == dtype and out[0].shape == expected.shape
        np.testing.assert_allclose(out[0], expected, rtol=rtol, atol=rtol)
        gz = rng.normal(size=out[0].shape).astype(dtype)
        gop = PoolGrad(ws, stride, pad, ib, mode)
        gnode = gop.make_node(_symbolic(shape, dtype),
                              _symbolic(out[0].shape, dtype))
        grad = [None]
        gop.perform(gnode, [x, gz], [grad])
        assert grad[0].dtype == dtype and grad[0].shape == x.shape
        np.testing.assert_allclose(
            grad[0], pool_grad_numpy(x, gz, ws, stride, pad, ib, mode),
            rtol=rtol, atol=rtol)
        checked += 1
    assert checked == 19


def test_machine_kernels_leave_four_axes_and_integers_to_the_others():
    from lasagne.ops import _pool_machine
    four = Pool((2, 2, 2, 2))
    assert not _pool_machine.supports(
        four, four.make_node(pt.tensor(shape=(None,) * 5)))
    two = Pool((2, 2))
    assert not _pool_machine.supports(
        two, two.make_node(pt.tensor4(dtype="int32")))
    xv = np.arange(2 * 4 * 4, dtype="int32").reshape(2, 1, 4, 4)
    np.testing.assert_array_equal(
        pool(xv, (2, 2)).eval(), ref_pool(xv, (2, 2), (2, 2), (0, 0), True,
                                          "max"))


def test_zero_length_pooled_axis_with_padding_reads_nothing_outside():
    """Windows that lie in the padding alone (a pooled axis of length 0):
    perform gives the numpy reference's shape and values, no read past
    the input."""
    from lasagne.ops.pool import pool_forward_numpy, pool_grad_numpy
    x = np.zeros((2, 3, 0, 4))
    op = Pool((3, 3), pad=(2, 1))
    node = op.make_node(_symbolic(x.shape))
    out = [None]
    op.perform(node, [x], [out])
    expected = pool_forward_numpy(x, *op._params())
    assert out[0].shape == expected.shape == (2, 3, 1, 2)
    np.testing.assert_array_equal(out[0], expected)
    gz = np.ones(expected.shape)
    gop = PoolGrad(*op._params())
    grad = [None]
    gop.perform(gop.make_node(_symbolic(x.shape), _symbolic(gz.shape)),
                [x, gz], [grad])
    assert grad[0].shape == x.shape
    np.testing.assert_array_equal(
        grad[0], pool_grad_numpy(x, gz, *op._params()))
