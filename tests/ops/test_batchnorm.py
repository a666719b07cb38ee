"""The fused batch-normalisation Ops against a numpy reference written
here, their gradients (verify_grad, first and second order), backend
parity, and BatchNormLayer's use of them."""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.graph.traversal import ancestors

from lasagne import init
from lasagne.layers import BatchNormLayer, InputLayer, get_output
from lasagne.ops.batchnorm import (BatchNormInference, BatchNormTrain,
                                   BatchNormTrainGrad, batch_norm_inference,
                                   batch_norm_train)
from tests.helpers import (FAST, assert_backends_agree, backend_params,
                           run_on_backend)

EPS = 1e-3


def reference_train(x, gamma, beta, epsilon):
    """Batch statistics per axis-1 index, by the textbook formulas."""
    moved = np.moveaxis(x, 1, 0).reshape(x.shape[1], -1)
    mean = moved.mean(axis=1)
    var = ((moved - mean[:, None]) ** 2).mean(axis=1)
    inv_std = 1 / np.sqrt(var + epsilon)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    y = ((x - mean.reshape(shape)) * inv_std.reshape(shape)
         * gamma.reshape(shape) + beta.reshape(shape))
    return y, mean, inv_std


def values(shape, seed=0):
    rng = np.random.default_rng(seed)
    channels = shape[1]
    return (rng.normal(1.5, 2.0, shape), rng.uniform(0.5, 2, channels),
            rng.normal(size=channels))


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 6), (3, 2, 4, 5)])
def test_train_matches_numpy(shape):
    x_val, g_val, b_val = values(shape)
    x = pt.tensor("x", shape=(None,) * len(shape))
    outs = batch_norm_train(x, pt.vector("g"), pt.vector("b"), EPS)
    f = pytensor.function([x, *outs[0].owner.inputs[1:]], outs, mode=FAST)
    for got, want in zip(f(x_val, g_val, b_val),
                         reference_train(x_val, g_val, b_val, EPS)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_inference_matches_numpy():
    x_val, g_val, b_val = values((4, 3, 2, 2))
    mean, inv_std = np.array([0.5, -1, 2]), np.array([2.0, 0.5, 1.0])
    got = batch_norm_inference(x_val, g_val, b_val, mean, inv_std).eval(
        mode=FAST)
    want = ((x_val - mean[:, None, None]) * (g_val * inv_std)[:, None, None]
            + b_val[:, None, None])
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_train_grad_verify_grad():
    x_val, g_val, b_val = values((3, 2, 2, 3))
    rng = np.random.default_rng(1)
    # weights make the cost depend on the statistics too
    w_y, w_mean, w_inv = (rng.normal(size=x_val.shape), rng.normal(size=2),
                          rng.normal(size=2))

    def cost(x, g, b):
        y, mean, inv_std = BatchNormTrain(EPS)(x, g, b)
        return (y * w_y).sum() + (mean * w_mean).sum() + (inv_std * w_inv).sum()

    pytensor.gradient.verify_grad(lambda x, g, b: cost(x, g, b),
                                  [x_val, g_val, b_val], rng=rng, mode=FAST,
                                  no_debug_ref=False)


def test_train_grad_op_second_order():
    x_val, g_val, _ = values((4, 2, 3))
    rng = np.random.default_rng(2)
    gy_val = rng.normal(size=x_val.shape)
    mean = x_val.mean(axis=(0, 2))
    inv_std = 1 / np.sqrt(x_val.var(axis=(0, 2)) + EPS)

    def grads(x, gy, g):
        gx, gg, gb = BatchNormTrainGrad(EPS)(x, gy, g, pt.constant(mean),
                                             pt.constant(inv_std))
        return gx.sum() * 0.5 + (gx ** 2).sum() + (gg * gb).sum()

    pytensor.gradient.verify_grad(grads, [x_val, gy_val, g_val], rng=rng,
                                  mode=FAST, no_debug_ref=False)


def test_inference_verify_grad():
    x_val, g_val, b_val = values((3, 2, 2))
    rng = np.random.default_rng(3)
    pytensor.gradient.verify_grad(
        BatchNormInference(), [x_val, g_val, b_val, rng.normal(size=2),
                               rng.uniform(0.5, 2, 2)], rng=rng, mode=FAST,
                               no_debug_ref=False)


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        batch_norm_train(pt.vector(), pt.vector(), pt.vector(), EPS)
    with pytest.raises(TypeError, match="vectors of x's dtype float64"):
        batch_norm_train(pt.dmatrix(), pt.fvector(), pt.dvector(), EPS)


@pytest.mark.parametrize("backend", backend_params())
def test_backends_agree(backend):
    x_val, g_val, b_val = values((6, 3, 4, 5))
    x_val = x_val.astype("float32")
    g_val, b_val = g_val.astype("float32"), b_val.astype("float32")
    gy_val = np.random.default_rng(4).normal(size=x_val.shape).astype(
        "float32")
    x, gy = pt.ftensor4("x"), pt.ftensor4("gy")
    g, b = pt.fvector("g"), pt.fvector("b")
    y, mean, inv_std = batch_norm_train(x, g, b, EPS)
    grads = pytensor.grad((y * gy).sum(), [x, g, b])
    inference = batch_norm_inference(x, g, b, mean + 1, inv_std * 2)
    outputs = [y, mean, inv_std, *grads, inference]
    got = run_on_backend(backend, [x, g, b, gy], outputs,
                         [x_val, g_val, b_val, gy_val])
    # the statistics and output against the float64 numpy reference
    ref_y, ref_mean, ref_inv = reference_train(
        x_val.astype("float64"), g_val.astype("float64"),
        b_val.astype("float64"), EPS)
    np.testing.assert_allclose(got[0], ref_y, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got[1], ref_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[2], ref_inv, rtol=1e-5)
    assert_backends_agree([x, g, b, gy], outputs,
                          [x_val, g_val, b_val, gy_val], rtol=1e-4,
                          atol=1e-4, backends=[backend])


def _op_types(variable):
    return {type(v.owner.op) for v in ancestors([variable]) if v.owner}


@pytest.mark.parametrize("deterministic", [False, True])
def test_layer_uses_the_fused_ops(deterministic):
    layer = BatchNormLayer(InputLayer((None, 3, 4, 4)))
    ops = _op_types(get_output(layer, deterministic=deterministic))
    assert (BatchNormInference if deterministic else BatchNormTrain) in ops
    # statistics over other axes keep the composed graph
    other = BatchNormLayer(InputLayer((None, 3, 4, 4)), axes=(0, 1))
    assert not {BatchNormTrain, BatchNormInference} & _op_types(
        get_output(other))


def test_layer_training_matches_composed_graph_and_updates_averages():
    """The fused layer gives the numbers of the composed graph's formulas
    and updates the running averages with the batch statistics."""
    x_val = values((6, 3, 4, 5))[0]
    layer = BatchNormLayer(InputLayer((None, 3, 4, 5)), epsilon=EPS,
                           alpha=0.25, gamma=init.Uniform((0.5, 2)),
                           beta=init.Uniform(), mean=init.Uniform(),
                           inv_std=init.Uniform((0.5, 2)))
    gamma, beta = layer.gamma.get_value(), layer.beta.get_value()
    mean0, inv0 = layer.mean.get_value(), layer.inv_std.get_value()
    x = layer.input_layer.input_var
    f = pytensor.function([x], get_output(layer), mode=FAST)
    out = f(x_val)
    y, bmean, binv = reference_train(x_val, gamma, beta, EPS)
    np.testing.assert_allclose(out, y, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.mean.get_value(),
                               0.75 * mean0 + 0.25 * bmean, rtol=1e-12)
    np.testing.assert_allclose(layer.inv_std.get_value(),
                               0.75 * inv0 + 0.25 * binv, rtol=1e-12)
    # inference reads the updated averages and leaves them
    g = pytensor.function([x], get_output(layer, deterministic=True),
                          mode=FAST)
    mean1, inv1 = layer.mean.get_value(), layer.inv_std.get_value()
    shape = (1, -1, 1, 1)
    np.testing.assert_allclose(
        g(x_val), (x_val - mean1.reshape(shape)) * (gamma * inv1).reshape(
            shape) + beta.reshape(shape), rtol=1e-12)
    np.testing.assert_allclose(layer.mean.get_value(), mean1)


def test_layer_graph_computes_the_statistics_once():
    layer = BatchNormLayer(InputLayer((None, 3, 4, 4)))
    x = layer.input_layer.input_var
    f = pytensor.function([x], get_output(layer), mode="NUMBA")
    nodes = [n for n in f.maker.fgraph.apply_nodes
             if isinstance(n.op, BatchNormTrain)]
    assert len(nodes) == 1
    # the update of the running averages reads that node's statistics
    assert len(f.maker.fgraph.outputs) == 3


def test_rectify_variant_verify_grad_and_values():
    x_val, g_val, b_val = values((4, 2, 3))
    y, mean, inv_std = BatchNormTrain(EPS, rectify=True)(x_val, g_val, b_val)
    want = reference_train(x_val, g_val, b_val, EPS)
    np.testing.assert_allclose(y.eval(mode=FAST), np.maximum(want[0], 0),
                               rtol=1e-12)
    rng = np.random.default_rng(5)
    w = rng.normal(size=x_val.shape)
    pytensor.gradient.verify_grad(
        lambda x, g, b: (BatchNormTrain(EPS, True)(x, g, b)[0] * w).sum(),
        [x_val, g_val, b_val], rng=rng, mode=FAST, no_debug_ref=False)


@pytest.mark.parametrize("mode", ["FAST_COMPILE", "NUMBA"])
def test_batch_norm_macro_relu_is_one_node(mode):
    """batch_norm's ReLU on top fuses into the normalisation; the running
    averages still update, with statistics computed once."""
    from lasagne.layers import Conv2DLayer, batch_norm
    from lasagne.layers import get_all_params
    l_in = InputLayer((None, 2, 5, 5))
    top = batch_norm(Conv2DLayer(l_in, 3, 3, pad=1), epsilon=EPS, alpha=0.5)
    bn = top.input_layer
    out = get_output(top)
    loss = (out ** 2).sum()
    params = get_all_params(top, trainable=True)
    f = pytensor.function([l_in.input_var], [out] + pytensor.grad(
        loss, params), mode=mode)
    ops = [n.op for n in f.maker.fgraph.apply_nodes]
    assert [op.rectify for op in ops if isinstance(op, BatchNormTrain)] \
        == [True]
    x_val = values((4, 2, 5, 5))[0]
    mean0 = bn.mean.get_value()
    outs = f(x_val)
    conv = get_output(bn.input_layer).eval({l_in.input_var: x_val},
                                           mode=FAST)
    y, bmean, _ = reference_train(conv, bn.gamma.get_value(),
                                  bn.beta.get_value(), EPS)
    np.testing.assert_allclose(outs[0], np.maximum(y, 0), rtol=1e-8,
                               atol=1e-10)
    np.testing.assert_allclose(bn.mean.get_value(), 0.5 * mean0 + 0.5 * bmean,
                               rtol=1e-10)
    # the gradients equal the composed graph's (ReLU and batch norm apart)
    bn_y = BatchNormTrain(EPS)(get_output(bn.input_layer), bn.gamma,
                               bn.beta)[0]
    composed = pytensor.grad((pt.maximum(bn_y, 0) ** 2).sum(), params)
    want = pytensor.function([l_in.input_var], composed, mode=FAST)(x_val)
    for got, ref in zip(outs[1:], want):
        np.testing.assert_allclose(got, ref, rtol=1e-8, atol=1e-10)
