"""The convolution Ops against an explicit-loop numpy reference, their
gradients (verify_grad, to second order), backend parity and shapes."""
import itertools

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.compile.mode import get_mode
from pytensor.gradient import verify_grad

from lasagne.ops.conv import (Conv, ConvGradFilters, ConvGradFiltersBias,
                              ConvGradInput, conv,
                              conv2d, conv2d_grad_wrt_inputs, conv3d,
                              conv_forward_numpy, conv_grad_filters,
                              conv_grad_filters_numpy, conv_grad_input_numpy,
                              conv_transpose, normalize_padding)
from tests.helpers import FAST, backend_params, run_on_backend


def reference_conv(x, w, stride, dilation, pad_before, pad_after, groups,
                   flip):
    """Direct definition: one output element at a time."""
    nd = x.ndim - 2
    x = np.pad(x, [(0, 0), (0, 0)] + list(zip(pad_before, pad_after)))
    if flip:
        w = w[(slice(None),) * 2 + (slice(None, None, -1),) * nd]
    ksp = w.shape[2:]
    out_sp = [(n - d * (k - 1) - 1) // s + 1 for n, k, s, d in
              zip(x.shape[2:], ksp, stride, dilation)]
    F, cg = w.shape[0], w.shape[1]
    fg = F // groups
    y = np.zeros((x.shape[0], F) + tuple(out_sp))
    for b, f in itertools.product(range(x.shape[0]), range(F)):
        g = f // fg
        for pos in itertools.product(*map(range, out_sp)):
            window = tuple(slice(p * s, p * s + d * (k - 1) + 1, d)
                           for p, s, d, k in zip(pos, stride, dilation, ksp))
            patch = x[(b, slice(g * cg, (g + 1) * cg)) + window]
            y[(b, f) + pos] = np.sum(patch * w[f])
    return y


# (nd, batch, channels, spatial, filters, kernel, stride, dilation, pad, groups)
CASES = [
    (1, 2, 3, (9,), 4, (3,), (1,), (1,), ((0,), (0,)), 1),
    (1, 2, 4, (11,), 6, (3,), (2,), (2,), ((1,), (2,)), 2),
    (2, 2, 3, (7, 6), 4, (3, 2), (1, 1), (1, 1), ((0, 0), (0, 0)), 1),
    (2, 1, 4, (8, 9), 4, (3, 3), (2, 3), (1, 2), ((1, 0), (2, 1)), 2),
    (2, 2, 2, (5, 5), 3, (2, 2), (2, 2), (1, 1), ((1, 1), (1, 1)), 1),
    (3, 1, 2, (5, 4, 6), 2, (2, 3, 2), (1, 2, 1), (2, 1, 1),
     ((1, 0, 1), (0, 1, 1)), 1),
    (3, 2, 2, (4, 4, 4), 4, (2, 2, 2), (2, 1, 2), (1, 1, 1),
     ((0, 0, 0), (1, 1, 1)), 2),
]
# A Mode object, not the string: verify_grad swaps the string
# "FAST_COMPILE" for FAST_RUN (Numba) when it evaluates the cost.
PY_MODE = get_mode(FAST)

CASE_IDS = [f"{c[0]}d-s{c[6]}-d{c[7]}-g{c[9]}" for c in CASES]


def make_case(case, dtype="float64", seed=0):
    nd, b, c, sp, f, k, s, d, (pb, pa), g = case
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (b, c) + sp).astype(dtype)
    w = rng.uniform(-1, 1, (f, c // g) + k).astype(dtype)
    params = dict(stride=s, dilation=d, pad_before=pb, pad_after=pa,
                  groups=g)
    return x, w, params


def tensor(nd, name, dtype="float64"):
    return pt.tensor(name=name, dtype=dtype, shape=(None,) * (nd + 2))


@pytest.mark.parametrize("flip", [True, False], ids=["conv", "xcorr"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_forward_matches_reference(case, flip):
    x, w, p = make_case(case)
    xs, ws = tensor(case[0], "x"), tensor(case[0], "w")
    y = Conv(filter_flip=flip, **p)(xs, ws)
    got = pytensor.function([xs, ws], y, mode=FAST)(x, w)
    expected = reference_conv(x, w, p["stride"], p["dilation"],
                              p["pad_before"], p["pad_after"], p["groups"],
                              flip)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("flip", [True, False], ids=["conv", "xcorr"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_gradients_verify_grad(case, flip):
    x, w, p = make_case(case)
    op = Conv(filter_flip=flip, **p)
    verify_grad(lambda a, b: op(a, b), [x, w],
                rng=np.random.default_rng(0), mode=PY_MODE)


@pytest.mark.parametrize("case", [CASES[1], CASES[3], CASES[5]],
                         ids=[CASE_IDS[1], CASE_IDS[3], CASE_IDS[5]])
def test_gradient_ops_are_differentiable(case):
    """Second order: the gradient Ops' own pullbacks are correct."""
    x, w, p = make_case(case)
    y = reference_conv(x, w, p["stride"], p["dilation"], p["pad_before"],
                       p["pad_after"], p["groups"], True)
    gy = np.random.default_rng(1).uniform(-1, 1, y.shape)
    in_sp = np.asarray(x.shape[2:], dtype="int64")
    k_sp = np.asarray(w.shape[2:], dtype="int64")
    grad_in, grad_w = ConvGradInput(**p), ConvGradFilters(**p)
    verify_grad(lambda a, b: grad_in(a, b, in_sp), [w, gy],
                rng=np.random.default_rng(0), mode=PY_MODE)
    verify_grad(lambda a, b: grad_w(a, b, k_sp), [x, gy],
                rng=np.random.default_rng(0), mode=PY_MODE)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_gradient_ops_are_adjoints(case):
    """<conv(x, w), gy> = <x, grad_input(w, gy)> = <w, grad_filters(x, gy)>."""
    x, w, p = make_case(case)
    y = reference_conv(x, w, p["stride"], p["dilation"], p["pad_before"],
                       p["pad_after"], p["groups"], True)
    gy = np.random.default_rng(2).uniform(-1, 1, y.shape)
    ws, gys, xs = tensor(case[0], "w"), tensor(case[0], "gy"), tensor(
        case[0], "x")
    dx = ConvGradInput(**p)(ws, gys, x.shape[2:])
    dw = ConvGradFilters(**p)(xs, gys, w.shape[2:])
    dx_v, dw_v = pytensor.function([xs, ws, gys], [dx, dw], mode=FAST)(
        x, w, gy)
    assert dx_v.shape == x.shape and dw_v.shape == w.shape
    np.testing.assert_allclose(np.sum(x * dx_v), np.sum(y * gy), rtol=1e-10)
    np.testing.assert_allclose(np.sum(w * dw_v), np.sum(y * gy), rtol=1e-10)


@pytest.mark.parametrize("backend", backend_params())
@pytest.mark.parametrize("case", [CASES[1], CASES[3], CASES[6]],
                         ids=[CASE_IDS[1], CASE_IDS[3], CASE_IDS[6]])
def test_backends_agree(case, backend):
    """Forward, both gradients and a second-order term on each backend."""
    x, w, p = make_case(case, dtype="float32")
    xs = tensor(case[0], "x", "float32")
    ws = tensor(case[0], "w", "float32")
    y = Conv(filter_flip=True, **p)(xs, ws)
    cost = (y ** 2).sum()
    gx, gw = pytensor.grad(cost, [xs, ws])
    second = pytensor.grad((gx ** 2).sum(), ws)
    outputs = [y, gx, gw, second]
    expected = pytensor.function([xs, ws], outputs, mode=FAST)(x, w)
    got = run_on_backend(backend, [xs, ws], outputs, [x, w])
    for name, g, e in zip(["y", "gx", "gw", "second"], got, expected):
        np.testing.assert_allclose(g, e, rtol=2e-4, atol=2e-4,
                                   err_msg=f"{backend}: {name}")


# Wider problems for the Numba kernels' register tiles: column blocks of
# 1, 2 and 4 SIMD vectors (F per group of 16..80 in float32, 40 in float64),
# several row tiles (P > 24), padding wider than the kernel, 1x1 kernels,
# strided 3-d, and the width-vectorised forward pass (few taps, stride 1).
# (nd, batch, channels, spatial, filters, kernel, stride, dilation, pad,
#  groups, dtype)
KERNEL_CASES = [
    (2, 3, 5, (12, 12), 32, (5, 5), (1, 1), (1, 1), ((0, 0), (0, 0)), 1,
     "float32"),
    (2, 2, 4, (9, 10), 48, (3, 3), (2, 1), (1, 1), ((3, 1), (4, 0)), 1,
     "float32"),
    (2, 2, 6, (7, 7), 160, (3, 2), (1, 2), (2, 1), ((1, 2), (0, 1)), 2,
     "float32"),
    (2, 2, 8, (6, 6), 40, (1, 1), (1, 1), (1, 1), ((0, 0), (0, 0)), 1,
     "float64"),
    (1, 17, 3, (40,), 20, (7,), (3,), (1,), ((2,), (5,)), 1, "float64"),
    (3, 2, 4, (5, 6, 5), 18, (3, 2, 3), (2, 1, 1), (1, 2, 1),
     ((1, 0, 1), (1, 1, 0)), 2, "float32"),
    # Few taps, stride 1: the width-vectorised forward pass.
    (2, 3, 1, (14, 13), 20, (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1)), 1,
     "float32"),
    (1, 5, 4, (30,), 24, (5,), (1,), (1,), ((1,), (1,)), 2, "float64"),
]
KERNEL_IDS = [f"{c[0]}d-F{c[4]}-s{c[6]}-g{c[9]}-{c[10]}"
              for c in KERNEL_CASES]


@pytest.mark.parametrize("case", KERNEL_CASES, ids=KERNEL_IDS)
def test_numba_kernels_match_reference(case):
    """The Numba kernels of all three Ops, against the explicit-loop
    reference (forward) and the numpy references (both gradients, which
    :func:`test_numpy_references_match_perform` ties to the Ops that the
    tests above check against verify_grad and the adjoint identity)."""
    nd, dtype = case[0], case[10]
    x, w, p = make_case(case[:10], dtype=dtype, seed=4)
    flip = case[2] % 2 == 0
    y_ref = reference_conv(x, w, p["stride"], p["dilation"], p["pad_before"],
                           p["pad_after"], p["groups"], flip)
    gy = np.random.default_rng(5).uniform(-1, 1, y_ref.shape).astype(dtype)
    xs, ws, gys = (tensor(nd, n, dtype) for n in ("x", "w", "gy"))
    outputs = [Conv(filter_flip=flip, **p)(xs, ws),
               ConvGradInput(filter_flip=flip, **p)(ws, gys, x.shape[2:]),
               ConvGradFilters(filter_flip=flip, **p)(xs, gys, w.shape[2:])]
    got = pytensor.function([xs, ws, gys], outputs, mode="NUMBA")(x, w, gy)
    op = Conv(filter_flip=flip, **p)
    expected = [conv_forward_numpy(x, w, op),
                conv_grad_input_numpy(w, gy, x.shape[2:], op),
                conv_grad_filters_numpy(x, gy, w.shape[2:], op)]
    tol = dict(rtol=2e-5, atol=2e-5) if dtype == "float32" else dict(
        rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(got[0], y_ref, **tol)
    for name, g, e in zip(["y", "dx", "dw"], got, expected):
        assert g.dtype == dtype and g.shape == e.shape, name
        np.testing.assert_allclose(g, e, err_msg=name, **tol)


@pytest.mark.parametrize("flip", [True, False], ids=["conv", "xcorr"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_numpy_references_match_perform(case, flip):
    """The Ops' ``perform`` (the Python and C VMs' path, which runs the
    Numba kernels for float32 and float64) and the numpy references."""
    x, w, p = make_case(case)
    op = Conv(filter_flip=flip, **p)
    y = conv_forward_numpy(x, w, op)
    gy = np.random.default_rng(2).uniform(-1, 1, y.shape)
    xs, ws, gys = (tensor(case[0], n) for n in ("x", "w", "gy"))
    outputs = [op(xs, ws),
               ConvGradInput(filter_flip=flip, **p)(ws, gys, x.shape[2:]),
               ConvGradFilters(filter_flip=flip, **p)(xs, gys, w.shape[2:])]
    got = pytensor.function([xs, ws, gys], outputs, mode=FAST)(x, w, gy)
    expected = [y, conv_grad_input_numpy(w, gy, x.shape[2:], op),
                conv_grad_filters_numpy(x, gy, w.shape[2:], op)]
    for name, g, e in zip(["y", "dx", "dw"], got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12,
                                   err_msg=name)


def test_perform_runs_the_kernels(monkeypatch):
    """float32/float64 ``perform`` calls the compiled kernels, not numpy
    (the C VM's speed); other dtypes (float16) still get numpy."""
    from lasagne.ops import conv as conv_module
    calls = []

    def spy(x, w, p):
        calls.append(x.dtype)
        return conv_forward_numpy(x, w, p)

    monkeypatch.setattr(conv_module, "conv_forward_numpy", spy)
    x, w, p = make_case(CASES[2])
    for dtype in ("float64", "float32", "float16"):
        xs, ws = tensor(2, "x", dtype), tensor(2, "w", dtype)
        fn = pytensor.function([xs, ws], Conv(**p)(xs, ws), mode=FAST)
        got = fn(x.astype(dtype), w.astype(dtype))
        assert got.dtype == dtype
        np.testing.assert_allclose(got, conv_forward_numpy(x, w, Conv(**p)),
                                   rtol=2e-3, atol=2e-3)
    assert calls == [np.dtype("float16")]


@pytest.mark.parametrize("backend", backend_params())
def test_backends_large_batch_and_static_shapes(backend):
    """Batches spanning several lanes/chunks; static shapes for JAX."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((37, 3, 10, 10)).astype("float32")
    w = rng.standard_normal((5, 3, 3, 3)).astype("float32")
    xs = pt.tensor4("x", dtype="float32", shape=(None, 3, 10, 10))
    ws = pt.tensor4("w", dtype="float32", shape=(5, 3, 3, 3))
    y = conv(xs, ws, stride=2, padding="same", filter_flip=False)
    gx, gw = pytensor.grad((y * y).sum(), [xs, ws])
    expected = pytensor.function([xs, ws], [y, gx, gw], mode=FAST)(x, w)
    got = run_on_backend(backend, [xs, ws], [y, gx, gw], [x, w])
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=2e-4, atol=5e-4)


def test_static_output_shape_and_infer_shape():
    xs = pt.tensor4("x", shape=(None, 3, 28, 28))
    ws = pt.tensor4("w", shape=(8, 3, 5, 5))
    y = conv(xs, ws, stride=2, padding=1)
    assert y.type.shape == (None, 8, 13, 13)
    x4, w4 = pt.tensor4("x"), pt.tensor4("w")
    y4 = conv(x4, w4, stride=(2, 1), padding=((1, 0), (2, 3)), dilation=2)
    f = pytensor.function([x4, w4], y4.shape, mode="FAST_RUN")
    assert not any(isinstance(n.op, Conv) for n in f.maker.fgraph.toposort())
    x = np.zeros((2, 3, 9, 7))
    w = np.zeros((4, 3, 3, 2))
    np.testing.assert_array_equal(
        f(x, w), pytensor.function([x4, w4], y4, mode=FAST)(x, w).shape)
    gx = ConvGradInput(stride=(2, 2), dilation=(1, 1), pad_before=(0, 0),
                       pad_after=(0, 0))(w4, y4, (10, 8))
    assert gx.type.shape[2:] == (10, 8)
    fx = pytensor.function([x4, w4], gx.shape, mode="FAST_RUN")
    assert not any(isinstance(n.op, ConvGradInput)
                   for n in fx.maker.fgraph.toposort())


@pytest.mark.parametrize("static_kernel", [True, False])
def test_infer_shape_formula_against_reference(static_kernel):
    """The compact ``infer_shape`` formula equals the reference output size
    for every input length, stride, dilation and padding tried, with the
    kernel size known statically (the terms that vanish are left out) or
    not; a stride-1 'same' convolution gives the input's length variable
    itself."""
    n, k = pt.lscalar("n"), pt.lscalar("k")
    cases = list(itertools.product((1, 3, 4), (1, 2, 3), (1, 2),
                                   ((0, 0), (1, 1), (2, 1), (0, 3))))
    for ksize, stride, dilation, (before, after) in cases:
        op = Conv(stride=(stride,), dilation=(dilation,), pad_before=(before,),
                  pad_after=(after,))
        x = pt.tensor3("x")
        w = pt.tensor3("w", shape=(2, 1, ksize) if static_kernel
                       else (None, None, None))
        node = op(x, w).owner
        [(_, _, length)] = op.infer_shape(None, node, [
            (pt.lscalar(), pt.lscalar(), n), (pt.lscalar(), pt.lscalar(), k)])
        fn = pytensor.function([n, k], length, mode=FAST,
                               on_unused_input="ignore")
        for size in range(dilation * (ksize - 1) + 1 - before - after, 12):
            padded = size + before + after
            expected = (padded - dilation * (ksize - 1) - 1) // stride + 1
            if expected < 1:
                continue
            assert fn(size, ksize) == expected, (ksize, stride, dilation,
                                                 before, after, size)
    same = Conv(stride=(1, 1), dilation=(1, 1), pad_before=(1, 1),
                pad_after=(1, 1))
    x, w = pt.tensor4("x"), pt.tensor4("w", shape=(4, 3, 3, 3))
    rows, cols = pt.lscalar("rows"), pt.lscalar("cols")
    [shape] = same.infer_shape(None, same(x, w).owner, [
        (pt.lscalar(), pt.lscalar(), rows, cols), (4, 3, 3, 3)])
    assert shape[2] is rows and shape[3] is cols


def test_filter_shape_hint_gives_static_shapes():
    """Theano's ``filter_shape`` hint of ``conv2d`` becomes the filters'
    static shape: the output's channels are known without reading the
    filters at run time, and filters of another shape are refused when
    the function runs."""
    xs, ws = pt.tensor4("x"), pt.tensor4("w")
    out = conv2d(xs, ws, border_mode="half", filter_shape=(3, 2, 3, 3))
    assert out.type.shape[1] == 3
    fn = pytensor.function([xs, ws], out, mode=FAST)
    x = np.ones((1, 2, 5, 5), xs.dtype)
    assert fn(x, np.ones((3, 2, 3, 3), ws.dtype)).shape == (1, 3, 5, 5)
    with pytest.raises(AssertionError, match="(?i)shape"):
        fn(x, np.ones((4, 2, 3, 3), ws.dtype))
    # partial hints (None) and hints the filters' type already knows add
    # nothing
    assert conv2d(xs, ws, filter_shape=(None,) * 4).owner.inputs[1] is ws
    w_static = pt.tensor4("w", shape=(3, 2, 3, 3))
    assert conv2d(xs, w_static, filter_shape=(3, 2, 3, 3)
                  ).owner.inputs[1] is w_static
    with pytest.raises(ValueError, match="filter_shape"):
        conv2d(xs, ws, filter_shape=(3, 2, 3))
    with pytest.raises(ValueError, match="contradicts"):
        conv2d(xs, w_static, filter_shape=(4, 2, 3, 3))


def test_padding_conveniences():
    assert normalize_padding("valid", (3, 3)) == ((0, 0), (0, 0))
    assert normalize_padding("full", (3, 2), dilation=2) == ((4, 2), (4, 2))
    assert normalize_padding("same", (3, 4)) == ((1, 1), (1, 2))
    assert normalize_padding("half", (4,)) == ((2,), (2,))
    assert normalize_padding(2, (3,)) == ((2,), (2,))
    xs = pt.tensor4("x")
    ws = pt.tensor4("w", shape=(2, 1, 3, 4))
    x = np.random.default_rng(0).uniform(size=(1, 1, 6, 7))
    w = np.random.default_rng(1).uniform(size=(2, 1, 3, 4))
    y = pytensor.function([xs, ws], conv(xs, ws, padding="same"),
                          mode=FAST)(x, w)
    assert y.shape == (1, 2, 6, 7)
    np.testing.assert_allclose(
        y, reference_conv(x, w, (1, 1), (1, 1), (1, 1), (1, 2), 1, True))


@pytest.mark.parametrize("kwargs, match", [
    (dict(padding="wide"), "padding.*'wide'"),
    (dict(stride=0), "stride.*>= 1"),
    (dict(stride=(1, 2, 3)), "stride.*2 ints"),
    (dict(dilation=-1), "dilation"),
    (dict(groups=0), "groups.*positive"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        conv(pt.tensor4("x"), pt.tensor4("w", shape=(1, 1, 3, 3)), **kwargs)


def test_bad_input_rank_and_channels():
    with pytest.raises(ValueError, match="must have 4 dimensions"):
        Conv(stride=(1, 1), dilation=(1, 1), pad_before=(0, 0),
             pad_after=(0, 0))(pt.tensor3("x"), pt.tensor4("w"))
    xs, ws = pt.tensor4("x"), pt.tensor4("w")
    f = pytensor.function([xs, ws], conv(xs, ws), mode=FAST)
    with pytest.raises(ValueError, match="channels"):
        f(np.zeros((1, 3, 5, 5)), np.zeros((2, 2, 3, 3)))
    with pytest.raises(ValueError, match="padding.*kernel size"):
        conv(xs, ws, padding="same")


def test_conv_transpose_shapes_and_values():
    """The transposed convolution is the input gradient of conv."""
    rng = np.random.default_rng(4)
    y = rng.standard_normal((2, 4, 3, 3))
    w = rng.standard_normal((4, 2, 3, 3))
    ys, ws = pt.tensor4("y"), pt.tensor4("w")
    smallest = conv_transpose(ys, ws, stride=2, padding=1)
    given = conv_transpose(ys, ws, output_shape=(6, 6), stride=2, padding=1)
    f = pytensor.function([ys, ws], [smallest, given], mode=FAST)
    a, b = f(y, w)
    assert a.shape == (2, 2, 5, 5) and b.shape == (2, 2, 6, 6)
    xs = pt.tensor4("x")
    grad = pytensor.grad((conv(xs, ws, stride=2, padding=1) * ys).sum(), xs)
    expected = pytensor.function([xs, ws, ys], grad, mode=FAST)(
        np.zeros((2, 2, 6, 6)), w, y)
    np.testing.assert_allclose(b, expected)
    c = pytensor.function([ys, ws], conv2d_grad_wrt_inputs(
        ys, ws, (2, 2, 6, 6), subsample=(2, 2), border_mode=(1, 1)),
        mode=FAST)(y, w)
    np.testing.assert_allclose(c, expected)


def test_conv_grad_filters_function():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 7))
    gy = rng.standard_normal((2, 4, 3))
    xs, gys, ws = pt.tensor3("x"), pt.tensor3("gy"), pt.tensor3("w")
    dw = conv_grad_filters(xs, gys, (3,), stride=2, filter_flip=False)
    got = pytensor.function([xs, gys], dw, mode=FAST)(x, gy)
    grad = pytensor.grad((conv(xs, ws, stride=2, filter_flip=False)
                          * gys).sum(), ws)
    expected = pytensor.function([xs, ws, gys], grad, mode=FAST)(
        x, np.zeros((4, 3, 3)), gy)
    np.testing.assert_allclose(got, expected)


def test_theano_style_functions():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((1, 2, 6, 6))
    w = rng.standard_normal((3, 2, 3, 3))
    xs, ws = pt.tensor4("x"), pt.tensor4("w")
    out = conv2d(xs, ws, border_mode="half", subsample=(2, 2),
                 filter_flip=False, filter_shape=(3, 2, 3, 3))
    got = pytensor.function([xs, ws], out, mode=FAST)(x, w)
    np.testing.assert_allclose(got, reference_conv(
        x, w, (2, 2), (1, 1), (1, 1), (1, 1), 1, False))
    x5, w5 = pt.tensor5("x"), pt.tensor5("w")
    v = rng.standard_normal((1, 1, 4, 4, 4))
    k = rng.standard_normal((1, 1, 2, 2, 2))
    got = pytensor.function([x5, w5], conv3d(x5, w5), mode=FAST)(v, k)
    np.testing.assert_allclose(got, reference_conv(
        v, k, (1,) * 3, (1,) * 3, (0,) * 3, (0,) * 3, 1, True))
    with pytest.raises(NotImplementedError, match="unshared"):
        conv2d(xs, ws, unshared=True)


BIAS_CASES = [KERNEL_CASES[i] for i in (0, 2, 4, 5)]


@pytest.mark.parametrize("case", BIAS_CASES,
                         ids=[KERNEL_IDS[i] for i in (0, 2, 4, 5)])
def test_bias_gradient_fused_into_filter_gradient(case):
    """Under Numba, a convolution layer's bias gradient (the output
    gradient summed over batch and space) comes from the filter-gradient
    kernel; both gradients equal the numpy references."""
    nd, dtype = case[0], case[10]
    x, w, p = make_case(case[:10], dtype=dtype, seed=6)
    rng = np.random.default_rng(7)
    b = rng.uniform(-1, 1, w.shape[0]).astype(dtype)
    y_ref = reference_conv(x, w, p["stride"], p["dilation"], p["pad_before"],
                           p["pad_after"], p["groups"], True)
    r = rng.uniform(-1, 1, y_ref.shape).astype(dtype)
    xs, ws, rs = (tensor(nd, n, dtype) for n in ("x", "w", "r"))
    bs = pt.vector("b", dtype=dtype)
    y = Conv(**p)(xs, ws) + bs.dimshuffle(("x", 0) + ("x",) * nd)
    grads = pytensor.grad((pt.tanh(y) * rs).sum(), [ws, bs])
    f = pytensor.function([xs, ws, bs, rs], grads, mode="NUMBA")
    ops = {type(n.op) for n in f.maker.fgraph.apply_nodes}
    assert ConvGradFiltersBias in ops and ConvGradFilters not in ops
    dw, db = f(x, w, b, r)
    gy = (1 - np.tanh(y_ref + b.reshape((-1,) + (1,) * nd)) ** 2) * r
    np.testing.assert_allclose(
        db, gy.sum(axis=(0,) + tuple(range(2, nd + 2))), rtol=1e-5,
        atol=1e-5)
    dw_ref = pytensor.function([xs, ws, bs, rs], grads[0], mode=FAST)(
        x, w, b, r)
    tol = 2e-5 if dtype == "float32" else 1e-11
    np.testing.assert_allclose(dw, dw_ref, rtol=tol, atol=tol)
    assert dw.dtype == dtype and db.dtype == dtype


def test_bias_gradient_not_fused_for_other_sums():
    """A sum over other axes, or into another dtype, is left alone."""
    xs, gys = tensor(2, "x", "float32"), tensor(2, "gy", "float32")
    dw = ConvGradFilters(stride=(1, 1), dilation=(1, 1), pad_before=(0, 0),
                         pad_after=(0, 0))(xs, gys, (3, 3))
    for other in [gys.sum(axis=(0, 2)), gys.sum(axis=(0, 2, 3),
                                                dtype="float64")]:
        f = pytensor.function([xs, gys], [dw, other], mode="NUMBA")
        ops = {type(n.op) for n in f.maker.fgraph.apply_nodes}
        assert ConvGradFilters in ops and ConvGradFiltersBias not in ops


def test_conv_grad_filters_bias_verify_grad():
    """The fused Op's pullback, through both outputs."""
    x, w, p = make_case(CASES[3])
    y = reference_conv(x, w, p["stride"], p["dilation"], p["pad_before"],
                       p["pad_after"], p["groups"], True)
    gy = np.random.default_rng(8).uniform(-1, 1, y.shape)
    k_sp = np.asarray(w.shape[2:], dtype="int64")
    op = ConvGradFiltersBias(**p)

    def both(a, b):
        dw, db = op(a, b, k_sp)
        return pt.concatenate([dw.ravel(), 3 * db])

    verify_grad(both, [x, gy], rng=np.random.default_rng(0), mode=PY_MODE)
    verify_grad(lambda a, b: op(a, b, k_sp)[1], [x, gy],
                rng=np.random.default_rng(1), mode=PY_MODE)


@pytest.mark.parametrize("backend", backend_params())
def test_conv_grad_filters_bias_backends_agree(backend):
    x, w, p = make_case(CASES[6], dtype="float32")
    y = reference_conv(x, w, p["stride"], p["dilation"], p["pad_before"],
                       p["pad_after"], p["groups"], True)
    gy = np.random.default_rng(9).uniform(-1, 1, y.shape).astype("float32")
    xs, gys = tensor(3, "x", "float32"), tensor(3, "gy", "float32")
    outputs = ConvGradFiltersBias(**p)(xs, gys, w.shape[2:])
    expected = pytensor.function([xs, gys], outputs, mode=FAST)(x, gy)
    np.testing.assert_allclose(expected[1], gy.sum(axis=(0, 2, 3, 4)),
                               rtol=1e-5)
    got = run_on_backend(backend, [xs, gys], outputs, [x, gy])
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=2e-4, atol=2e-4)
