"""Tests of the spatial transformer layers against numpy references."""
import itertools

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from lasagne.layers import (ConcatLayer, InputLayer, TPSTransformerLayer,
                            TransformerLayer, get_output)
from lasagne import init
from lasagne.layers import DenseLayer, special
from tests.helpers import (FAST, HAS_JAX, assert_backends_agree, check_layer,
                           compile_fn, floatX, random_array)


def pixel(i, n, border):
    if border == "nearest":
        return min(max(i, 0), n - 1)
    if border == "wrap":
        return i % n
    if n == 1:
        return 0
    while not 0 <= i <= n - 1:  # reflect about the border pixels
        i = -i if i < 0 else 2 * (n - 1) - i
    return i


def ref_sample(image, xs, ys, border):
    """Bilinear reading of `image` (channels, rows, cols) at normalised
    coordinates, pixel by pixel."""
    rows, cols = image.shape[1:]
    out = np.zeros((image.shape[0], len(xs)))
    for k, (x, y) in enumerate(zip(xs, ys)):
        px, py = (x + 1) / 2 * (cols - 1), (y + 1) / 2 * (rows - 1)
        x0, y0 = int(np.floor(px)), int(np.floor(py))
        for dx, dy in itertools.product((0, 1), (0, 1)):
            w = (1 - abs(px - x0 - dx)) * (1 - abs(py - y0 - dy))
            out[:, k] += w * image[:, pixel(y0 + dy, rows, border),
                                   pixel(x0 + dx, cols, border)]
    return out


def out_grid(rows, cols):
    ys, xs = np.meshgrid(np.linspace(-1, 1, rows), np.linspace(-1, 1, cols),
                         indexing="ij")
    return xs.ravel(), ys.ravel()


def ref_affine(x, theta, factor, border):
    b, c, h, w = x.shape
    f = factor if isinstance(factor, tuple) else (factor, factor)
    rows, cols = int(h // f[0]), int(w // f[1])
    gx, gy = out_grid(rows, cols)
    out = np.zeros((b, c, rows * cols))
    for i in range(b):
        t = theta[i].reshape(2, 3)
        sx = t[0, 0] * gx + t[0, 1] * gy + t[0, 2]
        sy = t[1, 0] * gx + t[1, 1] * gy + t[1, 2]
        out[i] = ref_sample(x[i], sx, sy, border)
    return out.reshape(b, c, rows, cols)


def affine_layer(shape, border="nearest", factor=1, known=True):
    l_in = InputLayer(shape if known else shape[:2] + (None, None))
    l_loc = InputLayer((shape[0], 6))
    return l_in, l_loc, TransformerLayer(l_in, l_loc, factor, border)


THETA = np.array([[1, 0, 0, 0, 1, 0],
                  [0.8, -0.5, 0.3, 0.6, 0.9, -0.45],
                  [1.7, 0.2, -0.6, -0.3, 1.4, 0.8]])


def test_special_reexports_transformers():
    assert special.TransformerLayer is TransformerLayer
    assert {"TransformerLayer", "TPSTransformerLayer"} <= set(special.__all__)


@pytest.mark.parametrize("border", ["nearest", "mirror", "wrap"])
@pytest.mark.parametrize("factor", [1, 2, (1.5, 1)])
def test_affine_against_reference(border, factor):
    l_in, l_loc, layer = affine_layer((None, 2, 7, 6), border, factor)
    x = random_array((3, 2, 7, 6))
    theta = floatX(THETA)
    expected = ref_affine(x, theta, factor, border)
    out = check_layer(layer, {l_in: x, l_loc: theta}, reference=expected)
    assert out.shape == layer.get_output_shape_for([x.shape, theta.shape])


def test_identity_transform_returns_input():
    l_in, l_loc, layer = affine_layer((None, 3, 5, 8))
    x = random_array((2, 3, 5, 8))
    theta = floatX(np.tile([1, 0, 0, 0, 1, 0], (2, 1)))
    check_layer(layer, {l_in: x, l_loc: theta}, reference=x)


def test_unknown_map_size_gives_same_numbers():
    x = random_array((3, 2, 7, 6))
    theta = floatX(THETA)
    results = []
    for known in (True, False):
        l_in, l_loc, layer = affine_layer((None, 2, 7, 6), "mirror", 2, known)
        results.append(check_layer(layer, {l_in: x, l_loc: theta}))
    assert results[0].shape == (3, 2, 3, 3)
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)


def test_affine_gradients():
    x = np.random.default_rng(0).normal(size=(2, 2, 5, 4))
    theta = THETA[1:] + 0.01

    def fn(image, t):
        l_in, l_loc, layer = affine_layer((2, 2, 5, 4), "wrap")
        return get_output(layer, {l_in: image, l_loc: t})

    with pytensor.config.change_flags(floatX="float64"):
        pytensor.gradient.verify_grad(fn, [x, theta],
                                      rng=np.random.default_rng(1), mode=FAST,
                                      no_debug_ref=False)


@pytest.mark.backends
def test_affine_backends_agree():
    # One graph holds the three border modes: one compilation per backend.
    # The batch size is unknown: JAX must cope with it.
    l_in, l_loc = InputLayer((None, 2, 6, 5)), InputLayer((None, 6))
    layer = ConcatLayer([TransformerLayer(l_in, l_loc, border_mode=border)
                         for border in ("nearest", "mirror", "wrap")])
    x = random_array((3, 2, 6, 5))
    expected = np.concatenate([ref_affine(x, THETA, 1, border) for border in
                               ("nearest", "mirror", "wrap")], axis=1)
    check_layer(layer, {l_in: x, l_loc: floatX(THETA)}, reference=expected,
                backends=True, rtol=1e-5, atol=1e-6)


def ref_tps_map(offsets, side, gx, gy):
    """Thin plate spline through the control points (standard K/P system)."""
    lin = np.linspace(-1, 1, side)
    cx, cy = (a.ravel() for a in np.meshgrid(lin, lin))
    n = side * side

    def u(dx, dy):
        r2 = dx ** 2 + dy ** 2
        return np.where(r2 == 0, 0, r2 * np.log(np.maximum(r2, 1e-300)))

    K = u(cx[:, None] - cx[None], cy[:, None] - cy[None])
    P = np.stack([np.ones(n), cx, cy], axis=1)
    A = np.block([[K, P], [P.T, np.zeros((3, 3))]])
    mapped = []
    for dest in (cx + offsets[:n], cy + offsets[n:]):
        sol = np.linalg.solve(A, np.concatenate([dest, np.zeros(3)]))
        w, a = sol[:n], sol[n:]
        mapped.append(a[0] + a[1] * gx + a[2] * gy
                      + u(gx[:, None] - cx[None], gy[:, None] - cy[None]) @ w)
    return mapped


def tps_layer(shape, control_points=9, precompute="auto", border="nearest",
              factor=1):
    l_in = InputLayer(shape)
    l_loc = InputLayer((shape[0], 2 * control_points))
    return l_in, l_loc, TPSTransformerLayer(
        l_in, l_loc, factor, control_points, precompute, border)


@pytest.mark.parametrize("precompute", [True, False])
@pytest.mark.parametrize("border,factor", [("nearest", 1), ("mirror", 2),
                                           ("wrap", 1)])
def test_tps_against_reference(precompute, border, factor):
    l_in, l_loc, layer = tps_layer((None, 2, 8, 7), 9, precompute, border,
                                   factor)
    x = random_array((2, 2, 8, 7))
    offsets = random_array((2, 18), seed=3, low=-0.4, high=0.4)
    rows, cols = 8 // factor, 7 // factor
    gx, gy = out_grid(rows, cols)
    expected = np.stack([
        ref_sample(x[i], *ref_tps_map(offsets[i].astype(float), 3, gx, gy),
                   border) for i in range(2)]).reshape(2, 2, rows, cols)
    check_layer(layer, {l_in: x, l_loc: offsets}, reference=expected,
                rtol=1e-4, atol=1e-5)


def test_tps_zero_offsets_are_identity_and_unknown_size_works():
    l_in = InputLayer((None, 3, None, None))
    l_loc = InputLayer((None, 32))
    layer = TPSTransformerLayer(l_in, l_loc, control_points=16)
    assert layer.precompute_grid is False
    assert layer.output_shape == (None, 3, None, None)
    x = random_array((2, 3, 6, 9))
    check_layer(layer, {l_in: x, l_loc: floatX(np.zeros((2, 32)))},
                reference=x, atol=1e-5)


def test_tps_gradients():
    x = np.random.default_rng(0).normal(size=(1, 1, 5, 4))
    offsets = np.random.default_rng(1).uniform(-0.3, 0.3, size=(1, 8))

    def fn(image, off):
        l_in = InputLayer((1, 1, 5, 4))
        l_loc = InputLayer((1, 8))
        layer = TPSTransformerLayer(l_in, l_loc, control_points=4,
                                    border_mode="mirror")
        return get_output(layer, {l_in: image, l_loc: off})

    with pytensor.config.change_flags(floatX="float64"):
        pytensor.gradient.verify_grad(fn, [x, offsets],
                                      rng=np.random.default_rng(2), mode=FAST,
                                      no_debug_ref=False)


@pytest.mark.backends
def test_tps_backends_agree():
    l_in, l_loc, layer = tps_layer((None, 2, 6, 5), 4, True, "wrap")
    x = random_array((2, 2, 6, 5))
    offsets = random_array((2, 8), seed=5, low=-0.3, high=0.3)
    check_layer(layer, {l_in: x, l_loc: offsets}, backends=True,
                rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("make,match", [
    (lambda: TransformerLayer((None, 3, 8, 8), (None, 5), name="st"),
     r"TransformerLayer 'st'.*\(batch, 6\).*\(None, 5\)"),
    (lambda: TransformerLayer((None, 8, 8), (None, 6), name="st"),
     r"TransformerLayer 'st'.*4-d input"),
    (lambda: TransformerLayer((None, 3, 8, 8), (None, 6), border_mode="zero",
                              name="st"),
     r"TransformerLayer 'st'.*`border_mode`.*'zero'"),
    (lambda: TransformerLayer((None, 3, 8, 8), (None, 6),
                              downsample_factor=0, name="st"),
     r"TransformerLayer 'st'.*`downsample_factor`.*\(0, 0\)"),
    (lambda: TPSTransformerLayer((None, 3, 8, 8), (None, 20),
                                 control_points=10, name="tps"),
     r"TPSTransformerLayer 'tps'.*perfect square.*10"),
    (lambda: TPSTransformerLayer((None, 3, 8, 8), (None, 20), name="tps"),
     r"TPSTransformerLayer 'tps'.*\(batch, 32\).*\(None, 20\)"),
    (lambda: TPSTransformerLayer((None, 3, None, 8), (None, 32),
                                 precompute_grid=True, name="tps"),
     r"TPSTransformerLayer 'tps'.*precompute_grid=True.*map size"),
    (lambda: TPSTransformerLayer((None, 3, 8, 8), (None, 32),
                                 precompute_grid="yes", name="tps"),
     r"TPSTransformerLayer 'tps'.*`precompute_grid`.*'yes'"),
])
def test_constructor_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_output_is_float32_with_float32_input():
    l_in, l_loc, layer = affine_layer((None, 1, 4, 4))
    x = pt.tensor4("x", dtype="float32")
    t = pt.matrix("t", dtype="float32")
    out = get_output(layer, {l_in: x, l_loc: t})
    assert out.dtype == "float32"
    got = compile_fn([x, t], out)(np.ones((1, 1, 4, 4), "float32"),
                                  np.array([[1, 0, 0, 0, 1, 0]], "float32"))
    np.testing.assert_allclose(got, 1, rtol=1e-6)


@pytest.mark.backends
@pytest.mark.skipif(not HAS_JAX, reason="jax is not installed")
def test_dense_localization_network_on_jax():
    # Regression: with a DenseLayer as localization network, the transform
    # parameters were reshaped to (batch, 2, k) with a size computed from
    # the Dense weights' shape, which JAX cannot compile.
    l_in = InputLayer((2, 2, 5, 6))
    loc_affine = DenseLayer(l_in, 6, W=init.Normal(0.01), nonlinearity=None,
                            b=np.array([1.0, 0.1, 0.0, -0.1, 0.9, 0.0]))
    loc_tps = DenseLayer(l_in, 8, W=init.Normal(0.01), nonlinearity=None)
    layer = ConcatLayer([TransformerLayer(l_in, loc_affine),
                         TPSTransformerLayer(l_in, loc_tps, control_points=4)])
    x = random_array((2, 2, 5, 6))
    expected = compile_fn([l_in.input_var], get_output(layer))(x)
    check_layer(layer, x, reference=expected)
    assert_backends_agree([l_in.input_var], get_output(layer), [x],
                          reference=expected, backends=["jax"])
