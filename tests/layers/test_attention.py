"""Tests of the attention and Transformer layers against step-by-step
numpy computations written here (loops over batch, heads and positions).
The layers' shape/parameter/gradient/pickling contract is checked in
tests/test_contract.py."""
import numpy as np
import pytensor
import pytest
from scipy.special import erf

import lasagne.layers as L
from lasagne import init
from tests.helpers import compile_fn


def np_mha(xq, xk, mask, params, num_heads, causal):
    """Multi-head attention one query, head and example at a time."""
    q = xq @ params["W_q"] + params["b_q"]
    k = xk @ params["W_k"] + params["b_k"]
    v = xk @ params["W_v"] + params["b_v"]
    batch, t_q, _ = xq.shape
    t_k = xk.shape[1]
    dk = q.shape[-1] // num_heads
    dv = v.shape[-1] // num_heads
    weights = np.zeros((batch, num_heads, t_q, t_k))
    heads = np.zeros((batch, t_q, num_heads * dv))
    for b in range(batch):
        for h in range(num_heads):
            for i in range(t_q):
                qi = q[b, i, h * dk:(h + 1) * dk]
                scores = []
                for j in range(t_k):
                    visible = (mask is None or mask[b, j] != 0) and \
                        (not causal or j <= i + t_k - t_q)
                    s = qi @ k[b, j, h * dk:(h + 1) * dk] / np.sqrt(dk)
                    scores.append(s if visible else -np.inf)
                scores = np.array(scores)
                w = np.exp(scores - scores.max())
                w /= w.sum()
                weights[b, h, i] = w
                heads[b, i, h * dv:(h + 1) * dv] = sum(
                    w[j] * v[b, j, h * dv:(h + 1) * dv] for j in range(t_k))
    return heads @ params["W_o"] + params["b_o"], weights


def param_values(layer):
    return {name: getattr(layer, name).get_value()
            for name in ("W_q", "b_q", "W_k", "b_k", "W_v", "b_v", "W_o", "b_o")}


RNG = np.random.default_rng(0)
XQ = RNG.normal(size=(2, 4, 6))
XK = RNG.normal(size=(2, 5, 8))
MASK = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 1, 0]], dtype=float)


def build(cross, masked, causal, num_heads=3, **kwargs):
    q = L.InputLayer((None, None, 6))
    k = L.InputLayer((None, None, 8)) if cross else None
    m = L.InputLayer((None, None)) if masked else None
    layer = L.MultiHeadAttentionLayer(
        q, num_heads, key_input=k, mask_input=m, causal=causal,
        b_q=init.Uniform(0.5), b_k=init.Uniform(0.5), b_v=init.Uniform(0.5),
        b_o=init.Uniform(0.5), **kwargs)
    inputs = [q] + [l for l in (k, m) if l is not None]
    values = [XQ] + ([XK] if cross else []) + ([MASK if cross else MASK[:, :4]]
                                                if masked else [])
    return layer, inputs, values


@pytest.mark.parametrize("cross", [False, True], ids=["self", "cross"])
@pytest.mark.parametrize("masked, causal", [(False, False), (True, False),
                                            (False, True), (True, True)],
                         ids=["plain", "padding", "causal", "both"])
def test_matches_numpy(cross, masked, causal):
    layer, inputs, values = build(cross, masked, causal)
    weights_layer = L.AttentionWeightsLayer(layer)
    out, weights = compile_fn([l.input_var for l in inputs],
                              L.get_output([layer, weights_layer]))(*values)
    mask = values[2 if cross else 1] if masked else None
    ref_out, ref_weights = np_mha(values[0], values[1] if cross else values[0],
                                  mask, param_values(layer), 3, causal)
    np.testing.assert_allclose(weights, ref_weights, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(out, ref_out, rtol=1e-10, atol=1e-12)
    if masked or causal:
        assert (ref_weights == 0).any()  # the masks do hide keys


def test_num_units_key_and_value_sizes():
    layer, inputs, values = build(True, True, False, num_heads=2, num_units=5,
                                  key_size=3, value_size=4)
    assert layer.W_q.get_value().shape == (6, 6)
    assert layer.W_v.get_value().shape == (8, 8)
    assert layer.W_o.get_value().shape == (8, 5)
    out = compile_fn([l.input_var for l in inputs], L.get_output(layer))(*values)
    ref, _ = np_mha(XQ, XK, MASK, param_values(layer), 2, False)
    assert out.shape == (2, 4, 5)
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-12)


def test_no_biases():
    q = L.InputLayer((None, 4, 6))
    layer = L.MultiHeadAttentionLayer(q, 2, b_q=None, b_k=None, b_v=None, b_o=None)
    assert len(layer.get_params()) == 4
    out = compile_fn([q.input_var], L.get_output(layer))(XQ)
    params = {n: getattr(layer, n).get_value() for n in ("W_q", "W_k", "W_v", "W_o")}
    params.update(b_q=0.0, b_k=0.0, b_v=0.0, b_o=0.0)
    np.testing.assert_allclose(out, np_mha(XQ, XQ, None, params, 2, False)[0], rtol=1e-10)


def test_attention_dropout():
    layer, inputs, values = build(False, False, False, dropout=0.5)
    variables = [l.input_var for l in inputs]
    det = compile_fn(variables, L.get_output(layer, deterministic=True))(*values)
    ref, _ = np_mha(XQ, XQ, None, param_values(layer), 3, False)
    np.testing.assert_allclose(det, ref, rtol=1e-10, atol=1e-12)
    noisy = compile_fn(variables, L.get_output(layer))
    a, b = noisy(*values), noisy(*values)
    assert not np.allclose(a, det) and not np.allclose(a, b)  # fresh masks
    # rescaled: the mean over many draws approaches the deterministic output
    mean = np.mean([noisy(*values) for _ in range(300)], axis=0)
    assert np.abs(mean - det).mean() < 0.1 * np.abs(det).mean()


@pytest.mark.parametrize("shape", [(2, 0, 6), (0, 4, 6)])
def test_empty_sequence_or_batch(shape):
    """An empty batch or sequence gives an empty output and zero
    gradients: the heads' split gives the head size rather than inferring
    it (numpy cannot infer a length beside a zero one)."""
    q = L.InputLayer((None, None, 6))
    layer = L.MultiHeadAttentionLayer(q, 2, causal=True)
    out = L.get_output(layer)
    params = L.get_all_params(layer, trainable=True)
    got = compile_fn([q.input_var], [out, *pytensor.grad(out.sum(), params)])(
        np.zeros(shape))
    assert got[0].shape == shape
    for p, g in zip(params, got[1:]):
        np.testing.assert_array_equal(g, np.zeros(p.get_value().shape))


def test_fully_masked_row_is_finite():
    layer, inputs, values = build(True, True, False)
    values[2] = np.zeros_like(MASK)
    out = compile_fn([l.input_var for l in inputs], L.get_output(layer))(*values)
    assert np.all(np.isfinite(out))


def test_scaled_dot_product_attention_function():
    q, k, v = RNG.normal(size=(2, 3, 4)), RNG.normal(size=(2, 5, 4)), RNG.normal(size=(2, 5, 2))
    mask = MASK
    out, w = L.scaled_dot_product_attention(q, k, v, key_mask=mask, causal=True,
                                            return_weights=True)
    out, w = out.eval(), w.eval()
    for b in range(2):
        for i in range(3):
            s = q[b, i] @ k[b].T / 2.0
            s[(mask[b] == 0) | (np.arange(5) > i + 2)] = -np.inf
            e = np.exp(s - s.max())
            np.testing.assert_allclose(w[b, i], e / e.sum(), rtol=1e-12)
            np.testing.assert_allclose(out[b, i], (e / e.sum()) @ v[b], rtol=1e-12)


def test_float32_stays_float32():
    with pytensor.config.change_flags(floatX="float32"):
        q = L.InputLayer((None, 4, 6))
        m = L.InputLayer((None, 4))
        layer = L.MultiHeadAttentionLayer(q, 2, mask_input=m, causal=True, dropout=0.1)
        assert L.get_output(layer).dtype == "float32"


@pytest.mark.parametrize("kwargs, match", [
    (dict(num_heads=4), "not divisible by num_heads=4"),
    (dict(num_heads=0), "num_heads must be a positive int"),
    (dict(num_heads=2, dropout=1.0), r"dropout must be in \[0, 1\)"),
])
def test_constructor_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        L.MultiHeadAttentionLayer(L.InputLayer((None, 4, 6)), name="att", **kwargs)


def test_input_shape_errors():
    with pytest.raises(ValueError, match="`incoming` must output .batch, time, features"):
        L.MultiHeadAttentionLayer(L.InputLayer((None, 6)), 2)
    with pytest.raises(ValueError, match="`mask_input` must output .batch, time_k"):
        L.MultiHeadAttentionLayer(L.InputLayer((None, 4, 6)), 2,
                                  mask_input=L.InputLayer((None, 4, 1)))
    with pytest.raises(TypeError, match="must be a MultiHeadAttentionLayer"):
        L.AttentionWeightsLayer(L.InputLayer((None, 4, 6)))


# ------------------------------------------------------------ norms, positions

def np_layer_norm(x, gamma, beta, eps):
    mu = x.mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(x.var(-1, keepdims=True) + eps) * gamma + beta


def test_layer_norm_and_rms_norm_match_numpy():
    l_in = L.InputLayer((None, None, 6))
    ln = L.LayerNormLayer(l_in, epsilon=1e-3, gamma=init.Uniform((0.5, 1.5)),
                          beta=init.Uniform(0.5))
    rms = L.RMSNormLayer(l_in, epsilon=1e-3, gamma=init.Uniform((0.5, 1.5)))
    a, b = compile_fn([l_in.input_var], L.get_output([ln, rms]))(XQ)
    np.testing.assert_allclose(a, np_layer_norm(XQ, ln.gamma.get_value(),
                                                ln.beta.get_value(), 1e-3), rtol=1e-12)
    ref = XQ / np.sqrt((XQ ** 2).mean(-1, keepdims=True) + 1e-3) * rms.gamma.get_value()
    np.testing.assert_allclose(b, ref, rtol=1e-12)


def test_layer_norm_without_scale_and_shift():
    l_in = L.InputLayer((None, 6))
    ln = L.LayerNormLayer(l_in, gamma=None, beta=None)
    assert ln.get_params() == []
    out = compile_fn([l_in.input_var], L.get_output(ln))(XQ[0])
    np.testing.assert_allclose(out, np_layer_norm(XQ[0], 1, 0, 1e-5), rtol=1e-12)


def test_norm_needs_known_features():
    with pytest.raises(ValueError, match="LayerNormLayer ln : the size of the last axis"):
        L.LayerNormLayer(L.InputLayer((None, None)), name="ln")


def test_positional_embeddings():
    l_in = L.InputLayer((None, None, 6))
    learned = L.PositionalEmbeddingLayer(l_in, max_length=10)
    fixed = L.SinusoidalPositionalEncodingLayer(l_in)
    a, b = compile_fn([l_in.input_var], L.get_output([learned, fixed]))(XQ)
    np.testing.assert_allclose(a, XQ + learned.W.get_value()[:4], rtol=1e-12)
    table = np.zeros((4, 6))
    for t in range(4):
        for i in range(3):
            table[t, 2 * i] = np.sin(t / 10000 ** (2 * i / 6))
            table[t, 2 * i + 1] = np.cos(t / 10000 ** (2 * i / 6))
    np.testing.assert_allclose(b, XQ + table, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="more than max_length=3"):
        L.PositionalEmbeddingLayer(L.InputLayer((None, 4, 6)), max_length=3)


# ------------------------------------------------------------ encoder block

def np_gelu(x):
    return 0.5 * x * (1 + erf(x / np.sqrt(2)))


def find(block, name):
    return next(l for l in L.get_all_layers(block) if l.name == name)


@pytest.mark.parametrize("norm", ["post", "pre"])
def test_transformer_encoder_matches_numpy(norm):
    l_in = L.InputLayer((None, None, 6))
    l_mask = L.InputLayer((None, None))
    block = L.transformer_encoder(l_in, 2, 10, mask_input=l_mask, norm=norm,
                                  dropout=0.3, name="enc")
    for p in L.get_all_params(block):  # move norms and biases off 1 / 0
        p.set_value(p.get_value() + RNG.uniform(-0.2, 0.2, p.get_value().shape))
    out = compile_fn([l_in.input_var, l_mask.input_var],
                     L.get_output(block, deterministic=True))(XQ, MASK[:, :4])
    attn = find(block, "enc_attention")
    hidden, output = find(block, "enc_ff_hidden"), find(block, "enc_ff_output")
    norm1, norm2 = find(block, "enc_attention_norm"), find(block, "enc_ff_norm")

    def ln(layer, x):
        return np_layer_norm(x, layer.gamma.get_value(), layer.beta.get_value(), 1e-5)

    def mha(x):
        return np_mha(x, x, MASK[:, :4], param_values(attn), 2, False)[0]

    def ff(x):
        h = np_gelu(x @ hidden.W.get_value() + hidden.b.get_value())
        return h @ output.W.get_value() + output.b.get_value()

    if norm == "post":
        h = ln(norm1, XQ + mha(XQ))
        ref = ln(norm2, h + ff(h))
    else:
        h = XQ + mha(ln(norm1, XQ))
        ref = h + ff(ln(norm2, h))
    np.testing.assert_allclose(out, ref, rtol=1e-9, atol=1e-11)
    assert len(L.get_all_params(block)) == 8 + 4 + 4


def test_transformer_encoder_rejects_unknown_norm():
    with pytest.raises(ValueError, match="norm='middle'"):
        L.transformer_encoder(L.InputLayer((None, 4, 6)), 2, 8, norm="middle")
