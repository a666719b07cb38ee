"""Tests of WeightNormLayer / weight_norm against numpy computations with
the reparametrized weights ``g * v / ||v||``."""
import numpy as np
import pytensor
import pytest
from scipy.signal import correlate

import lasagne.layers as L
from lasagne import init, nonlinearities
from tests.helpers import compile_fn

RNG = np.random.default_rng(0)


def test_dense_matches_reparametrized_weights():
    l_in = L.InputLayer((None, 5))
    dense = L.DenseLayer(l_in, 3, nonlinearity=nonlinearities.tanh, name="d")
    layer = L.weight_norm(dense, g=init.Uniform((0.5, 2.0)), b=init.Uniform(0.5))
    assert layer.name == "d_wn" and dense.b is None
    assert dense.nonlinearity is nonlinearities.identity
    assert layer.nonlinearity is nonlinearities.tanh
    x = RNG.normal(size=(4, 5))
    out = compile_fn([l_in.input_var], L.get_output(layer))(x)
    v, g, b = dense.W.get_value(), layer.g.get_value(), layer.b.get_value()
    w = g * v / np.sqrt((v ** 2).sum(axis=0))
    np.testing.assert_allclose(out, np.tanh(x @ w + b), rtol=1e-10)


def test_output_does_not_depend_on_the_length_of_W():
    l_in = L.InputLayer((None, 5))
    dense = L.DenseLayer(l_in, 3)
    layer = L.weight_norm(dense)
    f = compile_fn([l_in.input_var], L.get_output(layer))
    x = RNG.normal(size=(4, 5))
    before = f(x)
    dense.W.set_value(dense.W.get_value() * np.array([2.0, 0.1, 7.0]))
    np.testing.assert_allclose(f(x), before, rtol=1e-10)


def test_conv_matches_reparametrized_weights():
    l_in = L.InputLayer((None, 2, 6, 6))
    conv = L.Conv2DLayer(l_in, 3, 3, flip_filters=False, nonlinearity=None)
    layer = L.weight_norm(conv, g=init.Uniform((0.5, 2.0)), b=init.Uniform(0.5))
    x = RNG.normal(size=(2, 2, 6, 6))
    out = compile_fn([l_in.input_var], L.get_output(layer))(x)
    v, g, b = conv.W.get_value(), layer.g.get_value(), layer.b.get_value()
    w = v * (g / np.sqrt((v ** 2).sum(axis=(1, 2, 3))))[:, None, None, None]
    ref = np.array([[correlate(x[n], w[f], mode="valid")[0] for f in range(3)]
                    for n in range(2)]) + b[None, :, None, None]
    np.testing.assert_allclose(out, ref, rtol=1e-10)


def test_gradient_through_the_norm():
    # d/dW of the output is that of the reparametrized weight: verify_grad
    # w.r.t. W, g and b of the composed graph
    l_in = L.InputLayer((3, 4))
    dense = L.DenseLayer(l_in, 2)
    layer = L.weight_norm(dense, b=init.Uniform(0.5))
    x = RNG.normal(size=(3, 4))
    params = [dense.W, layer.g, layer.b]
    out = L.get_output(layer, x)

    def fn(W, g, b):
        return pytensor.graph.replace.graph_replace(
            out, {dense.W: W, layer.g: g, layer.b: b}, strict=False)

    pytensor.gradient.verify_grad(fn, [p.get_value() for p in params],
                                  rng=np.random.default_rng(0), mode="FAST_COMPILE",
                                  no_debug_ref=False)


def test_rejects_other_layers():
    with pytest.raises(TypeError, match="must be a DenseLayer, NINLayer or a convolution"):
        L.weight_norm(L.InputLayer((None, 3)))
    with pytest.raises(TypeError, match="WeightNormLayer wn : `incoming` must be"):
        L.WeightNormLayer(L.InputLayer((None, 3)), name="wn")
