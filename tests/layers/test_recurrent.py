"""Recurrent layers against numpy step-by-step references written here;
fused Op == scan == unrolled; the recurrent container; bidirectional.
Backend parity: test_recurrent_backends.py."""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from lasagne import init, nonlinearities
from lasagne.layers import (ConcatLayer, CustomRecurrentLayer, DenseLayer,
                            GRULayer, Gate, InputLayer, LSTMLayer,
                            RecurrentLayer, ElemwiseMergeLayer, ExpressionLayer,
                            get_all_params,
                            get_output, get_output_shape)
from lasagne.layers.recurrent import (BidirectionalLayer,
                                      RecurrentContainerLayer, StateLayer,
                                      bidirectional)
from tests.helpers import FAST

B, T, F, H = 3, 5, 2, 4
RNG = np.random.default_rng(0)
X = RNG.normal(size=(B, T, F))
MASK = np.ones((B, T))
MASK[1, 3:] = 0
MASK[2, 1:] = 0


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def order(backwards):
    return range(T - 1, -1, -1) if backwards else range(T)


def finish(states, backwards, only_return_final):
    """Lasagne's output convention from a list of per-step states in input
    time order."""
    out = np.stack(states, axis=1)
    if only_return_final:
        return out[:, 0] if backwards else out[:, -1]
    return out


def lstm_numpy(layer, x, mask, backwards, only_return_final):
    p = {k: v.get_value() for k, v in
         ((q.name.split(".")[-1], q) for q in layer.get_params())}
    c = np.repeat(p["cell_init"], len(x), 0)
    h = np.repeat(p["hid_init"], len(x), 0)
    hs = [None] * T
    for t in order(backwards):
        def pre(g):
            return x[:, t] @ p[f"W_in_to_{g}"] + h @ p[f"W_hid_to_{g}"] + \
                p[f"b_{g}"]
        i = sigmoid(pre("ingate") + c * p["W_cell_to_ingate"])
        f = sigmoid(pre("forgetgate") + c * p["W_cell_to_forgetgate"])
        c_new = f * c + i * np.tanh(pre("cell"))
        o = sigmoid(pre("outgate") + c_new * p["W_cell_to_outgate"])
        h_new = o * np.tanh(c_new)
        m = mask[:, t:t + 1]
        c, h = np.where(m, c_new, c), np.where(m, h_new, h)
        hs[t] = h
    return finish(hs, backwards, only_return_final)


def gru_numpy(layer, x, mask, backwards, only_return_final):
    p = {k: v.get_value() for k, v in
         ((q.name.split(".")[-1], q) for q in layer.get_params())}
    h = np.repeat(p["hid_init"], len(x), 0)
    hs = [None] * T
    for t in order(backwards):
        r = sigmoid(x[:, t] @ p["W_in_to_resetgate"] + p["b_resetgate"]
                    + h @ p["W_hid_to_resetgate"])
        u = sigmoid(x[:, t] @ p["W_in_to_updategate"] + p["b_updategate"]
                    + h @ p["W_hid_to_updategate"])
        cand = np.tanh(x[:, t] @ p["W_in_to_hidden_update"]
                       + p["b_hidden_update"]
                       + r * (h @ p["W_hid_to_hidden_update"]))
        h = np.where(mask[:, t:t + 1], (1 - u) * h + u * cand, h)
        hs[t] = h
    return finish(hs, backwards, only_return_final)


def rnn_numpy(layer, x, mask, backwards, only_return_final):
    w_in, w_hid, b = (v.get_value() for v in
                      (layer.W_in_to_hid, layer.W_hid_to_hid, layer.b))
    h = np.repeat(layer.hid_init.get_value(), len(x), 0)
    hs = [None] * T
    for t in order(backwards):
        h = np.where(mask[:, t:t + 1], np.tanh(x[:, t] @ w_in + h @ w_hid + b),
                     h)
        hs[t] = h
    return finish(hs, backwards, only_return_final)


def make(kind, l_in, l_mask, **kw):
    if kind == "lstm":
        return LSTMLayer(l_in, H, mask_input=l_mask, name="lstm",
                         hid_init=init.Normal(0.5), cell_init=init.Normal(0.5),
                         **kw)
    if kind == "gru":
        return GRULayer(l_in, H, mask_input=l_mask, name="gru",
                        hid_init=init.Normal(0.5), **kw)
    return RecurrentLayer(l_in, H, mask_input=l_mask, W_in_to_hid=init.Normal(0.5),
                          W_hid_to_hid=init.Normal(0.5), b=init.Normal(0.5),
                          hid_init=init.Normal(0.5),
                          nonlinearity=nonlinearities.tanh, **kw)


REFERENCES = {"lstm": lstm_numpy, "gru": gru_numpy, "rnn": rnn_numpy}


def inputs(length=None):
    return InputLayer((None, length, F)), InputLayer((None, length))


def compile_layer(layer, l_in, l_mask, with_grads=False, mode=FAST):
    out = get_output(layer)
    outs = [out]
    if with_grads:
        cost = (out ** 2).sum() + out.sum()
        outs += pytensor.grad(cost, [l_in.input_var]
                              + layer.get_params(trainable=True))
    return pytensor.function([l_in.input_var, l_mask.input_var], outs,
                             mode=mode, on_unused_input="ignore")


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("backwards,only_return_final",
                         [(False, False), (True, False), (True, True),
                          (False, True)])
def test_matches_numpy_reference_fused_and_scan(kind, backwards,
                                                only_return_final):
    """Both paths against the numpy reference, masks and directions."""
    l_in, l_mask = inputs()
    layer = make(kind, l_in, l_mask, backwards=backwards,
                 only_return_final=only_return_final)
    want = REFERENCES[kind](layer, X, MASK, backwards, only_return_final)
    for fused in (True, False):
        layer.allow_fused = fused
        assert layer._use_fused() == fused
        (got,) = compile_layer(layer, l_in, l_mask)(X, MASK)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12,
                                   err_msg=f"fused={fused}")
        assert got.ndim == len(layer.output_shape)
        assert got.shape[-1] == layer.output_shape[-1] == H


@pytest.mark.parametrize("kind,options", [
    ("lstm", dict(grad_clipping=0.05, backwards=True)),
    ("lstm", dict(peepholes=False, precompute_input=False)),
    ("gru", dict(grad_clipping=0.05)),
    ("rnn", dict(grad_clipping=0.05, only_return_final=True)),
])
def test_fused_equals_scan_with_gradients(kind, options):
    l_in, l_mask = inputs()
    layer = make(kind, l_in, l_mask, **options)
    results = []
    for fused in (True, False):
        layer.allow_fused = fused
        results.append(compile_layer(layer, l_in, l_mask, True)(X, MASK))
    for i, (a, b) in enumerate(zip(*results)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11,
                                   err_msg=f"output {i}")


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_unroll_scan_equals_scan(kind):
    l_in, l_mask = inputs(T)
    layer = make(kind, l_in, l_mask, backwards=True)
    layer.allow_fused = False
    scan = compile_layer(layer, l_in, l_mask, True)(X, MASK)
    layer.unroll_scan = True
    unrolled = compile_layer(layer, l_in, l_mask, True)(X, MASK)
    for a, b in zip(scan, unrolled):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_verify_grad_wrt_input(kind):
    l_in, l_mask = inputs()
    layer = make(kind, l_in, l_mask)

    def fn(x):
        return get_output(layer, {l_in: x, l_mask: pt.constant(MASK)}).sum()

    pytensor.gradient.verify_grad(fn, [X], rng=np.random.default_rng(0),
                                  mode=FAST, no_debug_ref=False)


def test_gradient_steps_truncates_backpropagation():
    l_in, l_mask = inputs()
    layer = make("lstm", l_in, l_mask, gradient_steps=2,
                 only_return_final=True)
    assert not layer._use_fused()
    x = l_in.input_var
    grad = pytensor.grad(get_output(layer).sum(), x)
    g = pytensor.function([x, l_mask.input_var], grad, mode=FAST)(
        X, np.ones((B, T)))
    assert np.abs(g[:, :T - 2]).max() == 0
    assert np.abs(g[:, T - 2:]).min() > 0


def test_initial_states_as_layer_array_shared_and_learn_init():
    l_in, l_mask = inputs()
    l_hid = InputLayer((None, H))
    hid0 = RNG.normal(size=(B, H))
    layer = LSTMLayer(l_in, H, hid_init=l_hid, cell_init=np.ones((1, H)),
                      mask_input=l_mask)
    assert layer.cell_init in layer.get_params()
    assert layer.cell_init not in layer.get_params(trainable=True)
    got = pytensor.function(
        [l_in.input_var, l_mask.input_var, l_hid.input_var],
        get_output(layer), mode=FAST)(X, MASK, hid0)
    # A sequence masked after its first step keeps the state of step 0.
    np.testing.assert_allclose(got[2, 1], got[2, 0])
    shared = pytensor.shared(np.zeros((1, H)))
    learned = GRULayer(l_in, H, hid_init=shared, learn_init=True)
    assert learned.hid_init is shared
    assert shared in learned.get_params(trainable=True)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_declared_output_shape_equals_computed(kind):
    l_in = InputLayer((B, T, F))
    for final in (False, True):
        layer = make(kind, l_in, None, only_return_final=final)
        got = pytensor.function([l_in.input_var], get_output(layer),
                                mode=FAST)(X).shape
        assert got == layer.output_shape == get_output_shape(layer)


def test_custom_recurrent_layer_with_layer_graphs():
    """A non-dense hidden transform (bias + elementwise product) runs on
    scan; get_params includes the sub-graphs' parameters."""
    l_in, l_mask = inputs()
    i2h = DenseLayer(InputLayer((None, F)), H, nonlinearity=None)
    h_in = InputLayer((None, H))
    h2h = DenseLayer(h_in, H, nonlinearity=None)  # has a bias: not fusable
    layer = CustomRecurrentLayer(l_in, i2h, h2h, nonlinearity=nonlinearities.tanh,
                                 mask_input=l_mask)
    assert not layer._use_fused()
    assert set(get_all_params(layer)) == {i2h.W, i2h.b, h2h.W, h2h.b,
                                         layer.hid_init}
    (got,) = compile_layer(layer, l_in, l_mask)(X, MASK)
    h = np.zeros((B, H))
    for t in range(T):
        new = np.tanh(X[:, t] @ i2h.W.get_value() + i2h.b.get_value()
                      + h @ h2h.W.get_value() + h2h.b.get_value())
        h = np.where(MASK[:, t:t + 1], new, h)
        np.testing.assert_allclose(got[:, t], h, rtol=1e-10)


@pytest.mark.parametrize("make_layer,match", [
    (lambda l: LSTMLayer(l, 0, name="enc"), r"LSTMLayer 'enc'.*num_units.*0"),
    (lambda l: GRULayer(l, 3, grad_clipping=-1), r"grad_clipping.*-1"),
    (lambda l: LSTMLayer(l, 3, unroll_scan=True), r"unroll_scan.*None"),
    (lambda l: RecurrentLayer(InputLayer((None, 4)), 3), r"batch, time"),
    (lambda l: LSTMLayer(l, 3, ingate=Gate(W_cell=None)),
     r"ingate.*W_cell=None"),
    (lambda l: LSTMLayer(l, 3, hid_init=InputLayer((None, 5))),
     r"hid_init.*\(None, 5\)"),
])
def test_constructor_errors(make_layer, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make_layer(InputLayer((None, None, F)))


# ------------------------------------------------------------- container
def lstm_cell(x_t, h_prev, c_prev):
    """An LSTM step (no peepholes) from ordinary layers, Lasagne's gates."""
    xh = ConcatLayer([x_t, h_prev])
    gate = {g: DenseLayer(xh, H, nonlinearity=nl, b=init.Normal(0.5))
            for g, nl in [("i", nonlinearities.sigmoid),
                          ("f", nonlinearities.sigmoid),
                          ("g", nonlinearities.tanh),
                          ("o", nonlinearities.sigmoid)]}
    c_t = ElemwiseMergeLayer(
        [ElemwiseMergeLayer([gate["f"], c_prev], pt.mul),
         ElemwiseMergeLayer([gate["i"], gate["g"]], pt.mul)], pt.add)
    h_t = ElemwiseMergeLayer([gate["o"], ExpressionLayer(c_t, pt.tanh)],
                             pt.mul)
    return gate, h_t, c_t


GATE_NAMES = [("i", "ingate"), ("f", "forgetgate"), ("g", "cell"),
              ("o", "outgate")]


def test_container_lstm_equals_lstm_layer():
    """Same weights: same outputs, input gradients and weight gradients."""
    l_in, l_mask = inputs()
    x_t, h_prev, c_prev = (InputLayer((None, F)), StateLayer((None, H)),
                           StateLayer((None, H)))
    gate, h_t, c_t = lstm_cell(x_t, h_prev, c_prev)
    container = RecurrentContainerLayer(
        {x_t: l_in}, {h_prev: h_t, c_prev: c_t}, mask_input=l_mask,
        backwards=True)
    lstm = LSTMLayer(l_in, H, mask_input=l_mask, peepholes=False,
                     backwards=True)
    assert len(get_all_params(container, trainable=True)) == 8
    for g, name in GATE_NAMES:
        w = gate[g].W.get_value()
        getattr(lstm, f"W_in_to_{name}").set_value(w[:F])
        getattr(lstm, f"W_hid_to_{name}").set_value(w[F:])
        getattr(lstm, f"b_{name}").set_value(gate[g].b.get_value())

    def run(layer, params):
        out = get_output(layer)
        grads = pytensor.grad((out ** 2).sum() + out.sum(),
                              [l_in.input_var] + params)
        return pytensor.function([l_in.input_var, l_mask.input_var],
                                 [out] + grads, mode=FAST)(X, MASK)

    got = run(container, [gate[g].W for g, _ in GATE_NAMES]
              + [gate[g].b for g, _ in GATE_NAMES])
    want = run(lstm, [getattr(lstm, f"W_in_to_{n}") for _, n in GATE_NAMES]
               + [getattr(lstm, f"W_hid_to_{n}") for _, n in GATE_NAMES]
               + [getattr(lstm, f"b_{n}") for _, n in GATE_NAMES])
    np.testing.assert_allclose(got[0], want[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-10, atol=1e-12)
    for k in range(4):
        np.testing.assert_allclose(
            got[2 + k], np.concatenate([want[2 + k], want[6 + k]]),
            rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(got[6 + k], want[10 + k], rtol=1e-10,
                                   atol=1e-12)


def test_container_vanilla_rnn_and_gated_feedback():
    l_in, l_mask = inputs(T)
    # Vanilla RNN: three lines.
    x_t, h_prev = InputLayer((None, F)), StateLayer((None, H))
    h_t = DenseLayer(ConcatLayer([x_t, h_prev]), H,
                     nonlinearity=nonlinearities.tanh)
    rnn = RecurrentContainerLayer({x_t: l_in}, {h_prev: h_t}, mask_input=l_mask)
    (got,) = compile_layer(rnn, l_in, l_mask)(X, MASK)
    w, b = h_t.W.get_value(), h_t.b.get_value()
    h = np.zeros((B, H))
    for t in range(T):
        h = np.where(MASK[:, t:t + 1],
                     np.tanh(np.concatenate([X[:, t], h], 1) @ w + b), h)
        np.testing.assert_allclose(got[:, t], h, rtol=1e-10)
    # Gated feedback: each layer's step reads both layers' previous states.
    h1_prev, h2_prev = StateLayer((None, H)), StateLayer((None, H))
    both = ConcatLayer([h1_prev, h2_prev])
    gate1 = DenseLayer(ConcatLayer([x_t, both]), 2 * H,
                       nonlinearity=nonlinearities.sigmoid)
    h1 = DenseLayer(ConcatLayer([x_t, ElemwiseMergeLayer(
        [both, gate1], pt.mul)]), H, nonlinearity=nonlinearities.tanh)
    gate2 = DenseLayer(ConcatLayer([h1, both]), 2 * H,
                       nonlinearity=nonlinearities.sigmoid)
    h2 = DenseLayer(ConcatLayer([h1, ElemwiseMergeLayer(
        [both, gate2], pt.mul)]), H, nonlinearity=nonlinearities.tanh)
    gf = RecurrentContainerLayer({x_t: l_in}, {h1_prev: h1, h2_prev: h2},
                                 outputs=[h2, h1], unroll_scan=True,
                                 only_return_final=True)
    assert len(get_all_params(gf, trainable=True)) == 8
    assert len(get_all_params(gf)) == 10  # + the two initial states
    out2, out1 = get_output([gf, gf.output(1)])
    got2, got1 = pytensor.function([l_in.input_var], [out2, out1],
                                   mode=FAST)(X)
    v = {layer: (layer.W.get_value(), layer.b.get_value())
         for layer in (gate1, h1, gate2, h2)}

    def dense(layer, a):
        return a @ v[layer][0] + v[layer][1]

    s1 = s2 = np.zeros((B, H))
    for t in range(T):
        cat = np.concatenate([s1, s2], 1)
        g1 = sigmoid(dense(gate1, np.concatenate([X[:, t], cat], 1)))
        n1 = np.tanh(dense(h1, np.concatenate([X[:, t], cat * g1], 1)))
        g2 = sigmoid(dense(gate2, np.concatenate([n1, cat], 1)))
        n2 = np.tanh(dense(h2, np.concatenate([n1, cat * g2], 1)))
        s1, s2 = n1, n2
    np.testing.assert_allclose(got1, s1, rtol=1e-10)
    np.testing.assert_allclose(got2, s2, rtol=1e-10)
    assert got2.shape[1:] == gf.output_shape[1:]


def test_container_errors():
    l_in = InputLayer((None, T, F))
    x_t, h_prev = InputLayer((None, 3)), StateLayer((None, H))
    h_t = DenseLayer(ConcatLayer([x_t, h_prev]), H)
    with pytest.raises(ValueError, match=r"step input.*\(None, 3\)"):
        RecurrentContainerLayer({x_t: l_in}, {h_prev: h_t}, name="rc")
    with pytest.raises(TypeError, match="states.*StateLayer"):
        RecurrentContainerLayer({x_t: l_in}, {x_t: h_t})


# --------------------------------------------------------- bidirectional
@pytest.mark.parametrize("merge", ["concat", "sum"])
def test_bidirectional_respects_masks(merge):
    l_in, l_mask = inputs()
    bi = bidirectional(GRULayer, l_in, H, mask_input=l_mask, merge=merge)
    fwd, bwd = bi.input_layers
    assert (fwd.backwards, bwd.backwards) == (False, True)
    out = pytensor.function([l_in.input_var, l_mask.input_var],
                            [get_output(bi), get_output(fwd),
                             get_output(bwd)], mode=FAST)(X, MASK)
    both, f, b = out
    want = np.concatenate([f, b], -1) if merge == "concat" else f + b
    np.testing.assert_allclose(both, want)
    assert both.shape[-1] == bi.output_shape[-1]
    np.testing.assert_allclose(
        b, gru_numpy(bwd, X, MASK, True, False), rtol=1e-10)
    with pytest.raises(ValueError, match="backwards=True"):
        BidirectionalLayer(fwd, fwd)


def test_custom_recurrent_layer_with_convolutions():
    """Convolutional input and hidden transforms (hidden state (2, 4, 4)):
    the recurrence, the mask and backwards apply to N-d states too."""
    from lasagne.layers import Conv2DLayer
    l_in = InputLayer((None, T, 1, 4, 4))
    l_mask = InputLayer((None, T))
    i2h = Conv2DLayer(InputLayer((None, 1, 4, 4)), 2, 3, pad="same",
                      nonlinearity=None)
    h2h = Conv2DLayer(InputLayer((None, 2, 4, 4)), 2, 3, pad="same",
                      nonlinearity=None)
    layer = CustomRecurrentLayer(l_in, i2h, h2h, mask_input=l_mask,
                                 nonlinearity=nonlinearities.tanh,
                                 backwards=True)
    assert layer.output_shape == (None, T, 2, 4, 4)
    x = RNG.normal(size=(B, T, 1, 4, 4))
    (got,) = compile_layer(layer, l_in, l_mask)(x, MASK)
    assert got.shape == (B, T, 2, 4, 4)
    # The step by hand, each convolution evaluated on its own.
    xs, hs = pt.tensor4("xs"), pt.tensor4("hs")
    conv_in = pytensor.function([xs], get_output(i2h, xs), mode=FAST)
    conv_hid = pytensor.function([hs], get_output(h2h, hs), mode=FAST)
    h = np.zeros((B, 2, 4, 4))
    for t in range(T - 1, -1, -1):
        new = np.tanh(conv_in(x[:, t]) + conv_hid(h))
        h = np.where(MASK[:, t, None, None, None] != 0, new, h)
        np.testing.assert_allclose(got[:, t], h, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cls", [LSTMLayer, GRULayer, RecurrentLayer])
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("shape", [(2, 0, F), (0, 3, F)])
def test_empty_sequence_or_batch(cls, fused, shape):
    """An empty sequence or batch gives an empty output of the declared
    shape and zero gradients: no reshape infers a length beside a zero
    one (GRULayer's input projection did, and failed)."""
    x = pt.tensor3("x")
    kw = {} if fused else dict(unroll_scan=False, precompute_input=False,
                               grad_clipping=5.0)
    layer = cls(InputLayer((None, None, F), x), H, **kw)
    out = get_output(layer)
    params = get_all_params(layer, trainable=True)
    got = pytensor.function([x], [out, *pytensor.grad(out.sum(), params)])(
        np.zeros(shape))
    assert got[0].shape == shape[:2] + (H,)
    for p, g in zip(params, got[1:]):
        np.testing.assert_array_equal(g, np.zeros(p.get_value().shape))
