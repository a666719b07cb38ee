"""Tests of lasagne.layers.pool against numpy references."""
import itertools

import numpy as np
import pytensor.tensor as pt
import pytest

from lasagne.layers import (
    FeaturePoolLayer, FeatureWTALayer, GlobalPoolLayer, InputLayer,
    MaxPool1DLayer, MaxPool2DLayer, MaxPool3DLayer, Pool1DLayer, Pool2DLayer,
    Pool3DLayer, SpatialPyramidPoolingLayer, Upscale1DLayer, Upscale2DLayer,
    Upscale3DLayer, get_output)
from lasagne.layers.pool import (pool_2d, pool_2d_nxn_regions, pool_3d,
                                 pool_output_length)
from tests.helpers import FAST, check_layer, compile_fn, random_array
from tests.ops.test_pool import ref_pool

POOL_LAYERS = {1: Pool1DLayer, 2: Pool2DLayer, 3: Pool3DLayer}
MAX_LAYERS = {1: MaxPool1DLayer, 2: MaxPool2DLayer, 3: MaxPool3DLayer}
SPATIAL = {1: (11,), 2: (7, 6), 3: (5, 4, 6)}


@pytest.mark.parametrize("length,size,stride,pad,ib,expected", [
    (10, 2, 2, 0, True, 5), (11, 2, 2, 0, True, 5), (11, 2, 2, 0, False, 6),
    (10, 3, 1, 1, True, 10), (7, 3, 2, 0, False, 3), (8, 3, 2, 0, False, 4),
    (2, 3, 1, 0, True, 0), (2, 3, 1, 0, False, 1), (9, 2, 3, 0, False, 3),
    (None, 2, 2, 0, True, None), (5, None, 2, 0, True, None),
])
def test_pool_output_length(length, size, stride, pad, ib, expected):
    assert pool_output_length(length, size, stride, pad, ib) == expected


def test_pool_output_length_rejects_pad_without_ignore_border():
    with pytest.raises(ValueError, match="ignore_border=True"):
        pool_output_length(10, 3, 1, 1, False)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("mode", ["max", "average_inc_pad",
                                  "average_exc_pad"])
@pytest.mark.parametrize("geometry", [
    dict(pool_size=2), dict(pool_size=3, stride=2, ignore_border=False),
    dict(pool_size=3, stride=1, pad=1), dict(pool_size=2, stride=3),
    dict(pool_size=3, stride=2, pad=2, ignore_border=True),
    dict(pool_size=4, ignore_border=False),
], ids=lambda g: "-".join(f"{k}{v}" for k, v in g.items()))
def test_pool_layers_against_reference(nd, mode, geometry):
    shape = (2, 3) + SPATIAL[nd]
    layer = POOL_LAYERS[nd](InputLayer((None, 3) + SPATIAL[nd]), mode=mode,
                            **geometry)
    x = random_array(shape, seed=nd)
    ws = (geometry["pool_size"],) * nd
    stride = (geometry.get("stride", geometry["pool_size"]),) * nd
    pad = (geometry.get("pad", 0),) * nd
    expected = ref_pool(x, ws, stride, pad,
                        geometry.get("ignore_border", True), mode)
    out = check_layer(layer, x, reference=expected)
    assert layer.output_shape == (None,) + out.shape[1:]


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_max_pool_layers_are_max_mode(nd):
    l_in = InputLayer((None, 2) + SPATIAL[nd])
    layer = MAX_LAYERS[nd](l_in, 2, stride=1, ignore_border=False)
    assert isinstance(layer, POOL_LAYERS[nd]) and layer.mode == "max"
    x = random_array((3, 2) + SPATIAL[nd], seed=4)
    check_layer(layer, x, reference=ref_pool(x, (2,) * nd, (1,) * nd,
                                             (0,) * nd, False, "max"))


def test_output_shape_unknown_spatial_size():
    layer = Pool2DLayer(InputLayer((None, 3, None, 9)), 2, ignore_border=False)
    assert layer.output_shape == (None, 3, None, 5)
    check_layer(layer, random_array((2, 3, 5, 9)))


@pytest.mark.backends
def test_pool_layer_backends_agree():
    layer = Pool2DLayer(InputLayer((None, 3, 9, 8)), (3, 2), stride=(2, 1),
                        pad=(1, 1), mode="average_inc_pad")
    x = random_array((2, 3, 9, 8))
    check_layer(layer, x, reference=ref_pool(
        x, (3, 2), (2, 1), (1, 1), True, "average_inc_pad"), backends=True)


@pytest.mark.parametrize("cls,args,match", [
    (Pool2DLayer, dict(pool_size=2, pad=2), r"Pool2DLayer 'p': `pad` must .*"
     r"smaller than `pool_size`.*pad=\(2, 2\)"),
    (Pool2DLayer, dict(pool_size=2, mode="avg"), r"Pool2DLayer 'p': `mode`.*"
     r"'avg'"),
    (MaxPool2DLayer, dict(pool_size=3, pad=1, ignore_border=False),
     r"MaxPool2DLayer 'p': `pad`=\(1, 1\) needs ignore_border=True"),
    (Pool2DLayer, dict(pool_size=0), r"Pool2DLayer 'p'.*positive.*"
     r"pool_size=\(0, 0\)"),
    (Pool1DLayer, dict(pool_size=2), r"Pool1DLayer 'p': Expected 3 input dimensions: expects a 3-d input"),
    (Upscale2DLayer, dict(scale_factor=0), r"Upscale2DLayer 'p'.*"
     r"`scale_factor`.*\(0, 0\)"),
    (Upscale2DLayer, dict(scale_factor=2, mode="bicubic"),
     r"Upscale2DLayer 'p'.*`mode` must be one of.*'bilinear'.*'bicubic'"),
    (FeaturePoolLayer, dict(pool_size=5), r"FeaturePoolLayer 'p'.*axis 1 "
     r"\(6\).*multiple of `pool_size` \(5\)"),
    (FeatureWTALayer, dict(pool_size=2, axis=4), r"FeatureWTALayer 'p'.*"
     r"`axis`.*4"),
    (SpatialPyramidPoolingLayer, dict(mode="sum"),
     r"SpatialPyramidPoolingLayer 'p'.*`mode`.*'sum'"),
    (SpatialPyramidPoolingLayer, dict(implementation="slow"),
     r"SpatialPyramidPoolingLayer 'p'.*'fast' or 'kaiming'.*'slow'"),
])
def test_constructor_errors_name_layer_argument_value(cls, args, match):
    with pytest.raises(ValueError, match=match):
        cls((None, 6, 8, 8), name="p", **args)


def test_pool_size_type_error_names_argument():
    with pytest.raises(TypeError, match=r"Pool2DLayer.*`pool_size`"):
        Pool2DLayer((None, 3, 8, 8), (2, 2, 2))


def test_spp_on_maps_of_unknown_size():
    # both implementations accept them, as in Lasagne ('fast' computes its
    # windows from the actual size)
    for implementation in ("fast", "kaiming"):
        layer = SpatialPyramidPoolingLayer((None, 3, None, None),
                                           implementation=implementation)
        assert layer.output_shape == (None, 3, 21)


def test_theano_pool_2d_and_3d_wrappers():
    x = pt.tensor4("x")
    xv = random_array((2, 3, 7, 5))
    new = pool_2d(x, ws=(2, 2), stride=(1, 2), pad=(1, 0),
                  ignore_border=True, mode="average_exc_pad")
    old = pool_2d(x, ds=(2, 2), st=(1, 2), padding=(1, 0),
                  ignore_border=True, mode="average_exc_pad")
    default = pool_2d(x, ws=(2, 2))  # Theano's default: ignore_border=False
    fn = compile_fn([x], [new, old, default])
    a, b, c = fn(xv)
    np.testing.assert_allclose(a, ref_pool(xv, (2, 2), (1, 2), (1, 0), True,
                                           "average_exc_pad"))
    np.testing.assert_allclose(b, a)
    np.testing.assert_allclose(c, ref_pool(xv, (2, 2), (2, 2), (0, 0), False,
                                           "max"))
    y = pt.tensor("y", shape=(None,) * 5)
    yv = random_array((1, 2, 3, 4, 5))
    out = compile_fn([y], pool_3d(y, ws=(2, 2, 2), ignore_border=True))(yv)
    np.testing.assert_allclose(out, ref_pool(yv, (2,) * 3, (2,) * 3,
                                             (0,) * 3, True, "max"))
    with pytest.raises(TypeError, match="both 'ds' and its new name 'ws'"):
        pool_2d(x, ws=2, ds=2)
    with pytest.raises(TypeError, match="unexpected argument 'size'"):
        pool_2d(x, size=2)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("mode", ["repeat", "dilate"])
def test_upscale_layers(nd, mode):
    cls = {1: Upscale1DLayer, 2: Upscale2DLayer, 3: Upscale3DLayer}[nd]
    factors = (2, 3, 1)[:nd]
    spatial = (3, 2, 4)[:nd]
    layer = cls(InputLayer((None, 2) + spatial), factors, mode=mode)
    x = random_array((2, 2) + spatial)
    expected = x
    if mode == "repeat":
        for axis, f in enumerate(factors, start=2):
            expected = np.repeat(expected, f, axis=axis)
    else:
        expected = np.zeros((2, 2) + tuple(n * f for n, f in
                                           zip(spatial, factors)), x.dtype)
        expected[(Ellipsis,) + tuple(slice(None, None, f)
                                     for f in factors)] = x
    check_layer(layer, x, reference=expected)


@pytest.mark.backends
def test_upscale_dilate_backends_agree():
    layer = Upscale2DLayer(InputLayer((None, 2, 3, 4)), (2, 3), mode="dilate")
    check_layer(layer, random_array((2, 2, 3, 4)), backends=True)


@pytest.mark.parametrize("axis,function,reducer", [
    (1, pt.max, np.max), (2, pt.mean, np.mean), (-1, pt.max, np.max)])
def test_feature_pool_layer(axis, function, reducer):
    layer = FeaturePoolLayer(InputLayer((None, 6, 6, 6)), 3, axis=axis,
                             pool_function=function)
    x = random_array((2, 6, 6, 6))
    ax = axis % 4
    shape = x.shape[:ax] + (2, 3) + x.shape[ax + 1:]
    expected = reducer(x.reshape(shape), axis=ax + 1)
    check_layer(layer, x, reference=expected)


def test_feature_wta_layer():
    layer = FeatureWTALayer(InputLayer((None, 6, 2)), 3)
    x = random_array((4, 6, 2))
    x[0, 0:3, 0] = [1.0, 1.0, 0.5]  # a tie: the first one wins
    expected = np.zeros_like(x)
    for b, g, w in itertools.product(range(4), range(2), range(2)):
        group = x[b, 3 * g:3 * g + 3, w]
        k = 3 * g + int(np.argmax(group))
        expected[b, k, w] = x[b, k, w]
    out = check_layer(layer, x, reference=expected)
    assert out[0, 0, 0] == 1.0 and out[0, 1, 0] == 0.0


@pytest.mark.parametrize("function,reducer", [(pt.mean, np.mean),
                                              (pt.max, np.max)])
def test_global_pool_layer(function, reducer):
    layer = GlobalPoolLayer(InputLayer((None, 3, 4, 5, 2)),
                            pool_function=function)
    x = random_array((2, 3, 4, 5, 2))
    check_layer(layer, x, reference=reducer(x.reshape(2, 3, -1), axis=2))


def ref_nxn_regions(x, n, reducer):
    h, w = x.shape[2:]
    out = []
    for r, c in itertools.product(range(n), range(n)):
        rows = slice(int(np.floor(r * h / n)), int(np.ceil((r + 1) * h / n)))
        cols = slice(int(np.floor(c * w / n)), int(np.ceil((c + 1) * w / n)))
        out.append(reducer(x[:, :, rows, cols], axis=(2, 3)))
    return np.stack(out, axis=2)


@pytest.mark.parametrize("mode,reducer", [("max", np.max),
                                          ("average_exc_pad", np.mean)])
def test_pool_2d_nxn_regions(mode, reducer):
    x = pt.tensor4("x")
    xv = random_array((2, 3, 7, 5))
    for n in (1, 2, 3, 4):
        got = compile_fn([x], pool_2d_nxn_regions(x, n, mode))(xv)
        np.testing.assert_allclose(got, ref_nxn_regions(xv, n, reducer),
                                   rtol=1e-12)


@pytest.mark.parametrize("size", [(8, 8), (7, 9)])
@pytest.mark.parametrize("implementation", ["fast", "kaiming"])
def test_spatial_pyramid_pooling(size, implementation):
    layer = SpatialPyramidPoolingLayer(InputLayer((None, 3) + size),
                                       pool_dims=[4, 2, 1],
                                       implementation=implementation)
    x = random_array((2, 3) + size)
    if implementation == "kaiming" or size == (7, 9):
        expected = np.concatenate([ref_nxn_regions(x, n, np.max)
                                   for n in (4, 2, 1)], axis=2)
        if implementation == "fast":
            # 7 rows: windows of 2 every row would give 6 outputs, so the
            # 4-level uses the regions; levels 2 and 1 fit exactly
            # (windows 4, stride 3; 7 all), as do all columns levels.
            level2 = ref_pool(x, (4, 5), (3, 4), (0, 0), True, "max")
            expected[:, :, 16:20] = level2.reshape(2, 3, 4)
    else:
        expected = np.concatenate([
            ref_pool(x, (8 // n,) * 2, (8 // n,) * 2, (0, 0), True,
                     "max").reshape(2, 3, -1) for n in (4, 2, 1)], axis=2)
    out = check_layer(layer, x, reference=expected)
    assert out.shape == (2, 3, 21)


@pytest.mark.backends
def test_spatial_pyramid_pooling_backends_agree():
    layer = SpatialPyramidPoolingLayer(InputLayer((None, 2, 6, 6)),
                                       pool_dims=[3, 1],
                                       mode="average_exc_pad")
    check_layer(layer, random_array((2, 2, 6, 6)), backends=True)


def test_gradient_flows_through_max_pool_layer():
    l_in = InputLayer((None, 1, 4, 4))
    layer = MaxPool2DLayer(l_in, 2)
    out = get_output(layer)
    grad = pt.grad(out.sum(), l_in.input_var)
    xv = np.arange(16.0).reshape(1, 1, 4, 4).astype(out.dtype)
    got = compile_fn([l_in.input_var], grad, mode=FAST)(xv)
    expected = np.zeros((4, 4))
    expected[1::2, 1::2] = 1
    np.testing.assert_array_equal(got[0, 0], expected)


@pytest.mark.backends
def test_flattening_layers_agree_with_unknown_batch():
    """The layers that flatten the maps ask only for known sizes, so JAX
    compiles them with an unknown batch size (it needs concrete reshape
    sizes)."""
    l_in = InputLayer((None, 4, 6, 6))
    x = random_array((3, 4, 6, 6))
    check_layer(GlobalPoolLayer(l_in, pt.max), x,
                reference=x.reshape(3, 4, 36).max(axis=2), backends=True)
    expected = np.concatenate([ref_nxn_regions(x, 3, np.max),
                               x.reshape(3, 4, 36).max(axis=2)[:, :, None]],
                              axis=2)
    check_layer(SpatialPyramidPoolingLayer(l_in, [3, 1]), x,
                reference=expected, backends=True)


def test_layers_and_graphs_pickle():
    import pickle
    l_in = InputLayer((None, 3, 8, 8))
    layers = [MaxPool2DLayer(l_in, 2, name="pool"),
              FeaturePoolLayer(l_in, 3), GlobalPoolLayer(l_in),
              SpatialPyramidPoolingLayer(l_in)]
    for layer in layers:
        clone = pickle.loads(pickle.dumps(layer))
        assert clone.output_shape == layer.output_shape
    out = get_output(layers[0])
    x = random_array((2, 3, 8, 8))
    fn = compile_fn([l_in.input_var], pt.grad(out.sum(), l_in.input_var))
    again = pickle.loads(pickle.dumps(fn))
    np.testing.assert_array_equal(again(x), fn(x))
