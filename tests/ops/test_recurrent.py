"""Fused recurrence Ops against numpy step-by-step references written here,
verify_grad, and Numba / C / JAX parity."""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from lasagne.ops.recurrent import (RecurrenceForward, gru_sequence,
                                   lstm_sequence, rnn_sequence)
from tests.helpers import FAST, backend_params, run_on_backend

T, B, H = 5, 3, 4


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def steps(backwards):
    return range(T - 1, -1, -1) if backwards else range(T)


def lstm_reference(x, w, c0, h0, peep, mask, backwards):
    """Lasagne's LSTM, one numpy step at a time; results in input order."""
    n_steps, n = x.shape[0], w.shape[0]
    c, h = c0.copy(), h0.copy()
    hid, cell = np.zeros((n_steps,) + h.shape), np.zeros((n_steps,) + h.shape)
    for t in (range(n_steps - 1, -1, -1) if backwards else range(n_steps)):
        a = x[t] + h @ w
        i, f, g, o = (a[:, k * n:(k + 1) * n] for k in range(4))
        if peep is not None:
            i, f = i + c * peep[0], f + c * peep[1]
        c_new = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        if peep is not None:
            o = o + c_new * peep[2]
        h_new = sigmoid(o) * np.tanh(c_new)
        m = mask[t][:, None] if mask is not None else 1
        c = np.where(m != 0, c_new, c)
        h = np.where(m != 0, h_new, h)
        hid[t], cell[t] = h, c
    return hid, cell


def gru_reference(x, w, h0, mask, backwards):
    h = h0.copy()
    hid = np.zeros((T, B, H))
    for t in steps(backwards):
        hi = h @ w
        r = sigmoid(x[t, :, :H] + hi[:, :H])
        u = sigmoid(x[t, :, H:2 * H] + hi[:, H:2 * H])
        cand = np.tanh(x[t, :, 2 * H:] + r * hi[:, 2 * H:])
        h_new = (1 - u) * h + u * cand
        m = mask[t][:, None] if mask is not None else 1
        h = np.where(m != 0, h_new, h)
        hid[t] = h
    return hid


def rnn_reference(x, w, h0, mask, backwards, act=np.tanh):
    h = h0.copy()
    hid = np.zeros((T, B, H))
    for t in steps(backwards):
        h_new = act(x[t] + h @ w)
        m = mask[t][:, None] if mask is not None else 1
        h = np.where(m != 0, h_new, h)
        hid[t] = h
    return hid


def data(blocks, seed=0, dtype="float64"):
    rng = np.random.default_rng(seed)
    mask = np.ones((T, B))
    mask[3:, 1] = 0
    mask[1:, 2] = 0
    values = dict(x=rng.normal(size=(T, B, blocks * H)),
                  w=rng.normal(0, 0.5, size=(H, blocks * H)),
                  c0=rng.normal(size=(B, H)), h0=rng.normal(size=(B, H)),
                  peep=rng.normal(size=(3, H)), mask=mask)
    return {k: v.astype(dtype) for k, v in values.items()}


def symbols(values):
    return {k: pt.tensor(k, dtype=v.dtype, shape=(None,) * v.ndim)
            for k, v in values.items()}


@pytest.mark.parametrize("backwards", [False, True])
@pytest.mark.parametrize("peepholes", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_lstm_matches_numpy(backwards, peepholes, masked):
    v = data(4)
    s = symbols(v)
    hid, cell = lstm_sequence(s["x"], s["w"], s["c0"], s["h0"],
                              s["peep"] if peepholes else None,
                              s["mask"] if masked else None,
                              backwards=backwards)
    fn = pytensor.function(list(s.values()), [hid, cell], mode=FAST,
                           on_unused_input="ignore")
    got = fn(*v.values())
    want = lstm_reference(v["x"], v["w"], v["c0"], v["h0"],
                          v["peep"] if peepholes else None,
                          v["mask"] if masked else None, backwards)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("backwards", [False, True])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_lstm_projects_input_inside_op(backwards, dtype):
    """With w_in and bias the Op takes the raw input: same hidden states
    and gradients as projecting it outside."""
    v = data(4, seed=7, dtype=dtype)
    rng = np.random.default_rng(8)
    v["x"] = rng.normal(size=(T, B, 3)).astype(dtype)
    v["w_in"] = rng.normal(size=(3, 4 * H)).astype(dtype)
    v["b"] = rng.normal(size=4 * H).astype(dtype)
    s = symbols(v)
    common = (s["c0"], s["h0"], s["peep"], s["mask"])
    inside, _ = lstm_sequence(s["x"], s["w"], *common, backwards=backwards,
                              grad_clipping=0.5, w_in=s["w_in"],
                              bias=s["b"])
    proj = pt.dot(s["x"], s["w_in"]) + s["b"]
    outside, _ = lstm_sequence(proj, s["w"], *common, backwards=backwards,
                               grad_clipping=0.5)
    params = [s[k] for k in ("x", "w_in", "b", "w", "c0", "h0", "peep")]
    results = []
    for hid in (inside, outside):
        cost = (hid ** 2).sum()
        results.append(pytensor.function(
            list(s.values()), [hid] + pytensor.grad(cost, params),
            mode=FAST)(*v.values()))
    tol = 1e-10 if dtype == "float64" else 2e-4
    for i, (g, w) in enumerate(zip(*results)):
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol,
                                   err_msg=f"output {i}")
    with pytest.raises(ValueError, match="both w_in and bias"):
        lstm_sequence(s["x"], s["w"], *common, w_in=s["w_in"])


@pytest.mark.parametrize("backwards", [False, True])
def test_gru_and_rnn_match_numpy(backwards):
    v = data(3)
    s = symbols(v)
    hid = gru_sequence(s["x"], s["w"], s["h0"], s["mask"],
                       backwards=backwards)
    got = hid.eval({s[k]: v[k] for k in ("x", "w", "h0", "mask")})
    want = gru_reference(v["x"], v["w"], v["h0"], v["mask"], backwards)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)

    v = data(1)
    s = symbols(v)
    for name, act in [("tanh", np.tanh), ("rectify", lambda a: np.maximum(a, 0)),
                      ("sigmoid", sigmoid), ("linear", lambda a: a)]:
        hid = rnn_sequence(s["x"], s["w"], s["h0"], s["mask"], name,
                           backwards=backwards)
        got = hid.eval({s[k]: v[k] for k in ("x", "w", "h0", "mask")})
        want = rnn_reference(v["x"], v["w"], v["h0"], v["mask"], backwards,
                             act)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12,
                                   err_msg=name)


def test_float32_fast_activations_are_accurate():
    """float32 runs use a rational tanh; it must stay within float32
    accuracy of the exact float64 result."""
    v64 = data(4, seed=1)
    v64["x"] *= 4  # reach the saturated parts of the activations
    v32 = {k: a.astype("float32") for k, a in v64.items()}
    s = symbols(v32)
    hid, cell = lstm_sequence(s["x"], s["w"], s["c0"], s["h0"], s["peep"],
                              s["mask"])
    got = pytensor.function(list(s.values()), [hid, cell])(*v32.values())
    want = lstm_reference(*(v64[k] for k in ("x", "w", "c0", "h0", "peep",
                                              "mask")), False)
    for g, w in zip(got, want):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, w, rtol=0, atol=3e-6)


def _verify(fn, values):
    pytensor.gradient.verify_grad(fn, values, rng=np.random.default_rng(0),
                                  mode=FAST, abs_tol=1e-6, rel_tol=1e-6,
                                  no_debug_ref=False)


@pytest.mark.parametrize("backwards", [False, True])
def test_lstm_verify_grad(backwards):
    v = data(4, seed=2)
    mask = v["mask"]

    def fn(x, w, c0, h0, peep):
        hid, cell = lstm_sequence(x, w, c0, h0, peep, mask,
                                  backwards=backwards)
        return (hid * np.arange(1, H + 1)).sum() + (cell ** 2).sum()

    _verify(fn, [v[k] for k in ("x", "w", "c0", "h0", "peep")])


@pytest.mark.parametrize("project", [False, True])
def test_lstm_weight_gradient_over_many_chunks(project):
    """A batch for which the backward kernel sums the hidden-to-hidden
    weight gradient over several chunks of steps, the last one partial
    (chunks of 4 or 2 steps of 7 with two lanes or one), against the
    gradient of the same LSTM unrolled step by step in PyTensor's own
    Ops."""
    n_steps, n_batch, n = 7, 60, 4
    rng = np.random.default_rng(11)
    n_in = 3 if project else 4 * n
    x = rng.normal(size=(n_steps, n_batch, n_in))
    w = rng.normal(0, 0.5, size=(n, 4 * n))
    w_in = rng.normal(0, 0.5, size=(3, 4 * n))
    b = rng.normal(size=4 * n)
    c0, h0 = rng.normal(size=(2, n_batch, n))
    peep = rng.normal(size=(3, n))
    mask = (rng.random((n_steps, n_batch)) > 0.2).astype("float64")
    sx, sw = pt.tensor3("x"), pt.matrix("w")
    sw_in, sb = pt.matrix("w_in"), pt.vector("b")
    extra = dict(w_in=sw_in, bias=sb) if project else {}
    hid, _ = lstm_sequence(sx, sw, c0, h0, peep, mask, backwards=True,
                           **extra)
    weights = (np.arange(1, n + 1) / n).astype("float64")
    fused = pytensor.grad((hid * weights).sum(), sw)

    c, h, outs = pt.as_tensor(c0), pt.as_tensor(h0), []
    for t in range(n_steps - 1, -1, -1):
        xt = (pt.dot(sx[t], sw_in) + sb) if project else sx[t]
        a = xt + pt.dot(h, sw)
        i, f, g, o = (a[:, k * n:(k + 1) * n] for k in range(4))
        c_new = (pt.sigmoid(f + c * peep[1]) * c
                 + pt.sigmoid(i + c * peep[0]) * pt.tanh(g))
        h_new = pt.sigmoid(o + c_new * peep[2]) * pt.tanh(c_new)
        m = mask[t][:, None]
        c, h = pt.switch(m, c_new, c), pt.switch(m, h_new, h)
        outs.append((h * weights).sum())
    unrolled = pytensor.grad(pt.add(*outs), sw)
    ins = [sx, sw] + ([sw_in, sb] if project else [])
    got, want = pytensor.function(ins, [fused, unrolled], mode=FAST,
                                  on_unused_input="ignore")(
        *([x, w] + ([w_in, b] if project else [])))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


def _unrolled_lstm(n_steps, n, x, w, c0, h0, peep):
    """The LSTM of :func:`lstm_reference` (no mask, forwards) unrolled in
    PyTensor's own Ops, for reference gradients."""
    c, h, hids = c0, h0, []
    for t in range(n_steps):
        a = x[t] + pt.dot(h, w)
        i, f, g, o = (a[:, k * n:(k + 1) * n] for k in range(4))
        c = (pt.sigmoid(f + c * peep[1]) * c
             + pt.sigmoid(i + c * peep[0]) * pt.tanh(g))
        h = pt.sigmoid(o + c * peep[2]) * pt.tanh(c)
        hids.append(h)
    return pt.stack(hids)


@pytest.mark.parametrize("n_steps, n_batch, n", [
    (1, 1, 1), (3, 1, 5), (2, 7, 13), (4, 13, 3), (3, 25, 9)])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_lstm_odd_sizes(n_steps, n_batch, n, dtype):
    """Sizes that are not multiples of the products' register tile (units
    not a multiple of 4 or 8, lanes of 1 to 13 rows, one step): states
    against numpy, gradients against the unrolled graph."""
    rng = np.random.default_rng(n_steps * 100 + n_batch * 10 + n)
    v = dict(x=rng.normal(size=(n_steps, n_batch, 4 * n)),
             w=rng.normal(0, 0.5, size=(n, 4 * n)),
             c0=rng.normal(size=(n_batch, n)),
             h0=rng.normal(size=(n_batch, n)),
             peep=rng.normal(size=(3, n)))
    v = {k: a.astype(dtype) for k, a in v.items()}
    s = symbols(v)
    hid, cell = lstm_sequence(s["x"], s["w"], s["c0"], s["h0"], s["peep"])
    weights = rng.normal(size=n).astype(dtype)
    ref = _unrolled_lstm(n_steps, n, *s.values())
    params = list(s.values())
    outs = [hid, cell] + pytensor.grad((hid * weights).sum(), params)
    outs += pytensor.grad((ref * weights).sum(), params)
    got = pytensor.function(params, outs, mode=FAST)(*v.values())
    want = lstm_reference(*(v[k].astype("float64")
                            for k in ("x", "w", "c0", "h0", "peep")),
                          None, False)
    tol = 1e-10 if dtype == "float64" else 2e-5
    for g, w in zip(got[:2], want):
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)
    tol = 1e-10 if dtype == "float64" else 2e-4
    for k, (g, w) in enumerate(zip(got[2:7], got[7:])):
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol,
                                   err_msg=list(v)[k])


def test_gru_rnn_verify_grad():
    v = data(3, seed=3)
    mask = v["mask"]
    _verify(lambda x, w, h0: (gru_sequence(x, w, h0, mask) ** 2).sum(),
            [v["x"], v["w"], v["h0"]])
    v = data(1, seed=4)
    _verify(lambda x, w, h0: (rnn_sequence(x, w, h0, mask, "tanh",
                                           backwards=True) ** 2).sum(),
            [v["x"], v["w"], v["h0"]])


def test_grad_clipping_clips_gate_gradients_only():
    """Forward values do not change; the input-projection gradient is the
    clipped gate gradient, so it is bounded by the clip value."""
    v = data(4, seed=5)
    s = symbols(v)
    outs = []
    for clip in (0.0, 0.01):
        hid, _ = lstm_sequence(s["x"], s["w"], s["c0"], s["h0"],
                               grad_clipping=clip)
        gx = pytensor.grad((hid ** 2).sum() * 10, s["x"])
        outs.append(pytensor.function([s[k] for k in ("x", "w", "c0", "h0")],
                                      [hid, gx], mode=FAST)(
            v["x"], v["w"], v["c0"], v["h0"]))
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    assert np.abs(outs[0][1]).max() > 0.01
    assert np.abs(outs[1][1]).max() <= 0.01 + 1e-12


def test_op_rejects_bad_configuration():
    with pytest.raises(ValueError, match="activations"):
        RecurrenceForward("lstm", ("sigmoid",) * 4)
    with pytest.raises(ValueError, match="softmax"):
        RecurrenceForward("rnn", ("softmax",))
    with pytest.raises(ValueError, match="peepholes"):
        RecurrenceForward("gru", ("sigmoid",) * 3, peepholes=True)
    with pytest.raises(ValueError, match="cell must be one of"):
        RecurrenceForward("lru", ("tanh",))
    with pytest.raises(ValueError, match="project_input"):
        RecurrenceForward("gru", ("sigmoid",) * 3, project_input=True)


@pytest.mark.parametrize("backend", backend_params())
def test_backends_agree(backend):
    """Forward and gradients of the three cells on one backend against the
    numpy-reference-checked Python path."""
    v = data(4, seed=6)
    s = symbols(v)
    hid, cell = lstm_sequence(s["x"], s["w"], s["c0"], s["h0"], s["peep"],
                              s["mask"], backwards=True, grad_clipping=0.5)
    xg = s["x"][:, :, :3 * H]
    gru = gru_sequence(xg, s["w"][:, :3 * H], s["h0"], s["mask"])
    rnn = rnn_sequence(s["x"][:, :, :H], s["w"][:, :H], s["h0"], s["mask"],
                       "rectify", grad_clipping=0.3)
    # input weights inside the Op: raw input = 3 features of x, w_in and
    # bias = rows of w
    projected, _ = lstm_sequence(s["x"][:, :, :3], s["w"], s["c0"], s["h0"],
                                 mask=s["mask"], grad_clipping=0.5,
                                 w_in=s["w"][1:], bias=s["w"][0])
    cost = ((hid ** 2).sum() + cell.sum() + (gru ** 2).sum() + rnn.sum()
            + (projected ** 3).sum())
    params = [s[k] for k in ("x", "w", "c0", "h0", "peep")]
    outputs = [hid, cell, gru, rnn] + pytensor.grad(cost, params)
    inputs = list(s.values())
    want = pytensor.function(inputs, outputs, mode=FAST)(*v.values())
    got = run_on_backend(backend, inputs, outputs, list(v.values()))
    for i, (g, w) in enumerate(zip(got, want)):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-10,
                                   err_msg=f"output {i}")
