"""Tests of lasagne.regularization: penalties on plain shared variables,
then the layer helpers on small DenseLayer networks."""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import lasagne.regularization as lr
from lasagne.layers import (DenseLayer, ElemwiseSumLayer, InputLayer,
                            get_all_params, get_output)
from lasagne.objectives import aggregate, squared_error
from lasagne.updates import sgd
from tests.helpers import assert_backends_agree, backend_params, compile_fn

A = np.array([[1.0, -2.0], [0.5, 3.0]])
B = np.array([-1.5, 0.25, 4.0])


def value(expression):
    return compile_fn([], expression)()


def test_l1_l2_on_shared_variables():
    a = pytensor.shared(A)
    assert value(lr.l1(a)) == pytest.approx(np.abs(A).sum())
    assert value(lr.l2(a)) == pytest.approx((A ** 2).sum())


def test_l1_l2_on_expressions():
    x = pt.vector("x")
    f = compile_fn([x], [lr.l1(2 * x), lr.l2(x - 1)])
    l1_value, l2_value = f(B)
    assert l1_value == pytest.approx(np.abs(2 * B).sum())
    assert l2_value == pytest.approx(((B - 1) ** 2).sum())


def test_penalty_gradients():
    # d l2 / dx = 2x ; d l1 / dx = sign(x)
    a = pytensor.shared(A)
    g1, g2 = pytensor.grad(lr.l1(a), a), pytensor.grad(lr.l2(a), a)
    np.testing.assert_allclose(value(g1), np.sign(A))
    np.testing.assert_allclose(value(g2), 2 * A)


def test_apply_penalty_list_and_single():
    a, b = pytensor.shared(A), pytensor.shared(B)
    assert value(lr.apply_penalty([a, b], lr.l2)) == pytest.approx(
        (A ** 2).sum() + (B ** 2).sum())
    assert value(lr.apply_penalty((a, b), lr.l1)) == pytest.approx(
        np.abs(A).sum() + np.abs(B).sum())
    assert value(lr.apply_penalty(b, lr.l1)) == pytest.approx(np.abs(B).sum())
    assert value(lr.apply_penalty(iter([a]), lr.l2)) == pytest.approx((A ** 2).sum())


def test_apply_penalty_passes_kwargs():
    def lp(x, p):
        return pt.sum(pt.abs(x) ** p)

    a, b = pytensor.shared(A), pytensor.shared(B)
    assert value(lr.apply_penalty([a, b], lp, p=3)) == pytest.approx(
        (np.abs(A) ** 3).sum() + (np.abs(B) ** 3).sum())


def test_apply_penalty_empty_list_is_zero():
    # as in Lasagne: Python's 0, which adds to any loss expression
    penalty = lr.apply_penalty([], lr.l2)
    assert penalty == 0 and isinstance(penalty, int)
    loss = pt.scalar("loss", dtype=pytensor.config.floatX)
    assert (loss + penalty).dtype == pytensor.config.floatX


def test_weight_decay_step_on_plain_shared_variables():
    # loss + lambda * l2: one sgd step shrinks weights by 2 * lr * lambda
    w = pytensor.shared(A.copy())
    loss = 1e-2 * lr.apply_penalty([w], lr.l2)
    compile_fn([], loss, updates=sgd(loss, [w], 0.5))()
    np.testing.assert_allclose(w.get_value(), A * (1 - 2 * 0.5 * 1e-2))


def net(seed=0):
    """input(3) -> dense(4) -> dense(2), known weights and non-zero biases."""
    rng = np.random.default_rng(seed)
    l_in = InputLayer((None, 3))
    l_hid = DenseLayer(l_in, 4, W=rng.normal(size=(3, 4)), b=rng.normal(size=4),
                       name="hid")
    l_out = DenseLayer(l_hid, 2, W=rng.normal(size=(4, 2)), b=rng.normal(size=2),
                       nonlinearity=None, name="out")
    return l_in, l_hid, l_out


def weights(layer):
    return layer.W.get_value(), layer.b.get_value()


def test_regularize_layer_params_one_layer():
    _, l_hid, l_out = net()
    W, b = weights(l_hid)
    assert value(lr.regularize_layer_params(l_hid, lr.l2)) == pytest.approx((W ** 2).sum())
    # biases are not regularizable: only with other tags
    assert value(lr.regularize_layer_params(l_hid, lr.l1, tags={})) == pytest.approx(
        np.abs(W).sum() + np.abs(b).sum())
    assert value(lr.regularize_layer_params(
        l_hid, lr.l1, tags={"regularizable": False})) == pytest.approx(np.abs(b).sum())


def test_regularize_layer_params_list_of_layers():
    _, l_hid, l_out = net()
    expected = (l_hid.W.get_value() ** 2).sum() + (l_out.W.get_value() ** 2).sum()
    assert value(lr.regularize_layer_params([l_hid, l_out], lr.l2)) == pytest.approx(expected)
    # only the given layers, not those below
    assert value(lr.regularize_layer_params(l_out, lr.l2)) == pytest.approx(
        (l_out.W.get_value() ** 2).sum())


def test_regularize_layer_params_weighted():
    _, l_hid, l_out = net()
    penalty = lr.regularize_layer_params_weighted({l_hid: 0.1, l_out: 2.0}, lr.l2)
    expected = 0.1 * (l_hid.W.get_value() ** 2).sum() + 2.0 * (l_out.W.get_value() ** 2).sum()
    assert value(penalty) == pytest.approx(expected)
    coefficient = pytensor.shared(0.5)  # symbolic coefficients work too
    penalty = lr.regularize_layer_params_weighted({l_out: coefficient}, lr.l1, tags={})
    assert value(penalty) == pytest.approx(
        0.5 * (np.abs(l_out.W.get_value()).sum() + np.abs(l_out.b.get_value()).sum()))


def test_regularize_layer_params_weighted_needs_a_dict():
    _, l_hid, l_out = net()
    with pytest.raises(TypeError, match="dict mapping layers to coefficients"):
        lr.regularize_layer_params_weighted([l_hid, l_out], lr.l2)


def test_regularize_network_params():
    _, l_hid, l_out = net()
    expected = np.abs(l_hid.W.get_value()).sum() + np.abs(l_out.W.get_value()).sum()
    assert value(lr.regularize_network_params(l_out, lr.l1)) == pytest.approx(expected)
    everything = sum(np.abs(v).sum() for layer in (l_hid, l_out) for v in weights(layer))
    assert value(lr.regularize_network_params(l_out, lr.l1, tags={})) == pytest.approx(everything)
    assert value(lr.regularize_network_params(l_hid, lr.l1)) == pytest.approx(
        np.abs(l_hid.W.get_value()).sum())


def test_shared_layer_counted_once():
    # a layer reached by two paths contributes its weights once
    l_in, l_hid, _ = net()
    l_a = DenseLayer(l_hid, 2, W=np.ones((4, 2)), name="a")
    l_b = DenseLayer(l_hid, 2, W=np.ones((4, 2)), name="b")
    top = ElemwiseSumLayer([l_a, l_b])
    expected = (l_hid.W.get_value() ** 2).sum() + 16.0
    assert value(lr.regularize_network_params(top, lr.l2)) == pytest.approx(expected)


def test_training_with_weight_decay_on_a_network():
    """The penalty enters the gradient: one sgd step on data loss + decay
    equals the numpy computation of the same step."""
    l_in, l_hid, l_out = net()
    x, t = pt.matrix("x"), pt.matrix("t")
    decay = 1e-3
    params = get_all_params(l_out, trainable=True)
    assert params == [l_hid.W, l_hid.b, l_out.W, l_out.b]
    loss = (aggregate(squared_error(get_output(l_out, x), t))
            + decay * lr.regularize_network_params(l_out, lr.l2))
    grads = pytensor.grad(loss, params)
    W_hid = l_hid.W.get_value()
    data_only = pytensor.grad(aggregate(squared_error(get_output(l_out, x), t)), params)
    xs = np.random.default_rng(1).normal(size=(5, 3))
    ts = np.random.default_rng(2).normal(size=(5, 2))
    outputs = compile_fn([x, t], grads + data_only)(xs, ts)
    g, g_data = outputs[:4], outputs[4:]
    # weights get 2 * decay * W more, biases nothing more
    np.testing.assert_allclose(g[0] - g_data[0], 2 * decay * W_hid, rtol=1e-9)
    np.testing.assert_allclose(g[1], g_data[1], rtol=1e-12)
    np.testing.assert_allclose(g[2] - g_data[2], 2 * decay * l_out.W.get_value(), rtol=1e-9)
    np.testing.assert_allclose(g[3], g_data[3], rtol=1e-12)


@pytest.mark.parametrize("backend", backend_params())
def test_backend_parity(backend):
    _, l_hid, l_out = net()
    x = pt.matrix("x")
    penalty = (lr.regularize_network_params(l_out, lr.l2)
               + lr.regularize_layer_params_weighted({l_hid: 0.3}, lr.l1, tags={}))
    penalty = penalty * pt.sum(x)  # an input, so the graph is compiled
    xs = np.ones((1, 1))
    expected = ((l_hid.W.get_value() ** 2).sum() + (l_out.W.get_value() ** 2).sum()
                + 0.3 * (np.abs(l_hid.W.get_value()).sum() + np.abs(l_hid.b.get_value()).sum()))
    assert_backends_agree([x], penalty, [xs], reference=np.array(expected),
                          backends=[backend])
