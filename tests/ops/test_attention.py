"""The fused attention Ops against a step-by-step numpy computation
written here, their gradients (verify_grad, first and second order),
backend parity (the Numba kernel included), and MultiHeadAttentionLayer's
use of them."""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.graph.traversal import ancestors

import lasagne.random
from lasagne.layers import (AttentionWeightsLayer, InputLayer,
                            MultiHeadAttentionLayer, get_all_params,
                            get_output)
from lasagne.ops.attention import Attention, AttentionGrad, fused_attention
from tests.helpers import (FAST, assert_backends_agree, backend_params,
                           run_on_backend)

CASES = [pytest.param(False, False, id="plain"),
         pytest.param(True, False, id="padding"),
         pytest.param(False, True, id="causal"),
         pytest.param(True, True, id="both")]


def reference(q, k, v, mask, causal, scale):
    """Attention one query row at a time, with explicit loops."""
    n, heads, t_q, _ = q.shape
    t_k = k.shape[2]
    out = np.zeros(q.shape[:3] + v.shape[3:])
    weights = np.zeros((n, heads, t_q, t_k))
    for b in range(n):
        for h in range(heads):
            for i in range(t_q):
                scores = []
                for j in range(t_k):
                    keep = (mask is None or mask[b, j] != 0) and (
                        not causal or j <= i + t_k - t_q)
                    scores.append(np.dot(q[b, h, i], k[b, h, j]) * scale
                                  if keep else -1e30)
                e = np.exp(np.array(scores) - max(scores))
                weights[b, h, i] = e / e.sum()
                out[b, h, i] = weights[b, h, i] @ v[b, h]
    return out, weights


def values(n=2, heads=3, t_q=4, t_k=5, d=3, d_v=2, seed=0, dtype="float64"):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(n, heads, t_q, d)).astype(dtype)
    k = rng.normal(size=(n, heads, t_k, d)).astype(dtype)
    v = rng.normal(size=(n, heads, t_k, d_v)).astype(dtype)
    mask = np.ones((n, t_k), dtype)
    mask[0, 1] = mask[0, -1] = 0
    mask[-1, :] = 0          # a sequence with every key masked
    return q, k, v, mask


def _call(q, k, v, mask, causal, scale=0.7, keep=None):
    return fused_attention(q, k, v, mask, causal=causal, scale=scale,
                           keep=keep)


def keep_values(shape, p=0.4, seed=9, dtype="float64"):
    rng = np.random.default_rng(seed)
    return ((rng.random(shape) >= p) / (1 - p)).astype(dtype)


def test_dropout_multiplies_the_weights_of_the_output_only():
    q, k, v, mask = values()
    keep = keep_values((2, 3, 4, 5))
    out, weights = (x.eval(mode=FAST)
                    for x in _call(q, k, v, mask, True, keep=keep))
    want_out, want_weights = reference(q, k, v, mask, True, 0.7)
    np.testing.assert_allclose(weights, want_weights, rtol=1e-10)
    np.testing.assert_allclose(out, np.matmul(want_weights * keep, v),
                               rtol=1e-10, atol=1e-12)
    assert not np.allclose(out, want_out)


@pytest.mark.parametrize("masked, causal", CASES)
def test_matches_numpy(masked, causal):
    q, k, v, mask = values()
    mask = mask if masked else None
    out, weights = _call(q, k, v, mask, causal)
    f = pytensor.function([], [out, weights], mode=FAST)
    got = f()
    want = reference(q, k, v, mask, causal, 0.7)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-10, atol=1e-12)
    if masked:  # the fully masked sequence attends uniformly, not nan
        rows = got[1][-1] if not causal else got[1][-1, :, -1]
        np.testing.assert_allclose(rows, 1 / 5)


@pytest.mark.parametrize("masked, causal, dropout", [
    pytest.param(True, False, False, id="padding"),
    pytest.param(False, True, True, id="causal-dropout"),
    pytest.param(True, True, True, id="both-dropout")])
def test_verify_grad(masked, causal, dropout):
    q, k, v, mask = values(n=2, heads=2, t_q=3, t_k=4, d=2, d_v=2)
    mask = mask if masked else None
    keep = keep_values((2, 2, 3, 4)) if dropout else None
    rng = np.random.default_rng(1)
    w_out = rng.normal(size=(2, 2, 3, 2))
    w_weights = rng.normal(size=(2, 2, 3, 4))

    def cost(q, k, v):
        out, weights = _call(q, k, v, mask, causal, keep=keep)
        return (out * w_out).sum() + (weights * w_weights).sum()

    pytensor.gradient.verify_grad(cost, [q, k, v], rng=rng, mode=FAST,
                                  no_debug_ref=False)


def test_output_only_gradient_skips_the_weights_cotangent():
    q, k, v, _ = values()
    x = pt.tensor4("q")
    out, _ = _call(x, k, v, None, False)
    grad = pytensor.grad(out.sum(), x)
    grad_ops = [n.op for n in pytensor.graph.traversal.applys_between(
        [x], [grad]) if isinstance(n.op, AttentionGrad)]
    assert [op.with_weights_grad for op in grad_ops] == [False]
    pytensor.gradient.verify_grad(
        lambda x: _call(x, k, v, None, False)[0].sum(), [q],
        rng=np.random.default_rng(2), mode=FAST, no_debug_ref=False)


@pytest.mark.parametrize("masked, causal", [CASES[0], CASES[3]])
def test_grad_op_second_order(masked, causal):
    q, k, v, mask = values(n=2, heads=1, t_q=3, t_k=3, d=2, d_v=2)
    rng = np.random.default_rng(3)
    g_out = rng.normal(size=(2, 1, 3, 2))
    g_w = rng.normal(size=(2, 1, 3, 3))
    w_k = rng.normal(size=(2, 1, 3, 2))
    weights = _call(q, k, v, mask if masked else None, causal)[1].eval(
        mode=FAST)
    op = AttentionGrad(0.7, causal, masked, with_weights_grad=True,
                       dropout=masked)
    keep = keep_values((2, 1, 3, 3))

    def cost(q, k, v, g_out, g_w):
        extra = [mask, keep] if masked else []
        g_q, g_k, g_v = op(q, k, v, pt.constant(weights), g_out, *extra, g_w)
        return (g_q ** 2).sum() + (g_k * w_k).sum() + (g_v * g_v * w_k).sum()

    pytensor.gradient.verify_grad(cost, [q, k, v, g_out, g_w], rng=rng,
                                  mode=FAST, no_debug_ref=False)


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="`k` must be .batch, heads"):
        fused_attention(pt.tensor4(), pt.tensor3(), pt.tensor4(), scale=1.0)
    with pytest.raises(TypeError, match="share a float dtype"):
        fused_attention(pt.ftensor4(), pt.dtensor4(), pt.dtensor4(),
                        scale=1.0)
    with pytest.raises(ValueError, match="`key_mask` must be .batch, T_k"):
        fused_attention(pt.tensor4(), pt.tensor4(), pt.tensor4(),
                        key_mask=pt.tensor3(), scale=1.0)
    with pytest.raises(ValueError, match="pass scale="):
        fused_attention(pt.tensor4(), pt.tensor4(), pt.tensor4())
    with pytest.raises(TypeError, match="key_mask input if and only if"):
        Attention(1.0, masked=True)(pt.tensor4(), pt.tensor4(), pt.tensor4())


@pytest.mark.parametrize("backend", backend_params())
@pytest.mark.parametrize("causal", [False, True], ids=["padding", "both"])
def test_backends_agree(backend, causal):
    """With dropout in the causal case (padding alone without)."""
    q_val, k_val, v_val, mask_val = values(n=3, heads=2, t_q=6, t_k=7, d=4,
                                           d_v=5, dtype="float32")
    # q arrives as a transposed view, as the layer makes it
    q_val = np.ascontiguousarray(q_val.transpose(0, 2, 1, 3))
    q_in, k, v = pt.ftensor4("q"), pt.ftensor4("k"), pt.ftensor4("v")
    mask, keep = pt.fmatrix("mask"), pt.ftensor4("keep")
    keep_val = keep_values((3, 2, 6, 7), dtype="float32")
    q = q_in.dimshuffle(0, 2, 1, 3)
    out, weights = fused_attention(q, k, v, mask, causal=causal, scale=0.5,
                                   keep=keep if causal else None)
    rng = np.random.default_rng(5)
    w_out = rng.normal(size=out.type.shape[:0] + (3, 2, 6, 5)).astype("f4")
    w_weights = rng.normal(size=(3, 2, 6, 7)).astype("f4")
    cost = (out * w_out).sum() + (weights * w_weights).sum()
    outputs = [out, weights, *pytensor.grad(cost, [q_in, k, v]),
               *pytensor.grad((out * w_out).sum(), [q_in, k, v])]
    inputs = [q_in, k, v, mask, keep]
    vals = [q_val, k_val, v_val, mask_val, keep_val]
    got = run_on_backend(backend, inputs, outputs, vals)
    want = reference(q_val.transpose(0, 2, 1, 3).astype("f8"),
                     k_val.astype("f8"), v_val.astype("f8"), mask_val,
                     causal, 0.5)
    want_out = want[0] if not causal else np.matmul(
        want[1] * keep_val, v_val.astype("f8"))
    np.testing.assert_allclose(got[0], want_out, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-4, atol=1e-6)
    assert_backends_agree(inputs, outputs, vals, rtol=1e-4, atol=1e-4,
                          backends=[backend])


def _layer(fused, dropout=0.0, seed=7):
    x = InputLayer((None, None, 6))
    mask = InputLayer((None, None))
    rng = np.random.default_rng(seed)
    params = {f"{w}_{p}": rng.normal(size=(6, 6) if w == "W" else 6) * 0.5
              for w in "Wb" for p in "qkvo"}
    layer = MultiHeadAttentionLayer(x, num_heads=2, mask_input=mask,
                                    causal=True, dropout=dropout,
                                    fused=fused, **params)
    return x, mask, layer


def _attention_ops(expression):
    return [v.owner.op for v in ancestors([expression])
            if v.owner is not None and isinstance(v.owner.op, Attention)]


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_layer_fused_matches_composed(dropout):
    """Same numbers with and without the fused Op; with attention dropout,
    from the same seeds the two draw the same multipliers."""
    rng = np.random.default_rng(8)
    x_val = rng.normal(size=(3, 5, 6))
    mask_val = np.array([[1, 1, 1, 0, 0], [1] * 5, [0] * 5], "float64")
    results, saved = [], lasagne.random.get_rng()
    for fused in (True, False):
        lasagne.random.set_rng(np.random.RandomState(11))
        try:
            x, mask, layer = _layer(fused, dropout)
        finally:
            lasagne.random.set_rng(saved)
        out = get_output(layer)
        weights = get_output(AttentionWeightsLayer(layer))
        assert bool(_attention_ops(out)) == fused
        cost = (out ** 2).sum() + (weights * np.arange(5)).sum()
        grads = pytensor.grad(cost, [x.input_var] + get_all_params(layer))
        f = pytensor.function([x.input_var, mask.input_var],
                              [out, weights, *grads], mode=FAST)
        results.append(f(x_val, mask_val))
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11)


def test_layer_attention_dropout_is_an_input_of_the_fused_op():
    _, _, layer = _layer(True, dropout=0.2)
    assert [op.dropout for op in _attention_ops(get_output(layer))] == [True]
    assert [op.dropout for op in _attention_ops(
        get_output(layer, deterministic=True))] == [False]


def test_layer_and_weights_share_one_node():
    x, mask, layer = _layer(True)
    outputs = [get_output(layer), get_output(AttentionWeightsLayer(layer))]
    # a rewrite (merge) makes the two one node: FAST_COMPILE has it
    f = pytensor.function([x.input_var, mask.input_var], outputs,
                          mode="FAST_COMPILE")
    nodes = [n for n in f.maker.fgraph.apply_nodes
             if isinstance(n.op, Attention)]
    assert len(nodes) == 1
