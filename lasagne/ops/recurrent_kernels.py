"""Whole-sequence recurrence kernels (Numba) for the fused recurrence Ops.

One call runs every time step of an LSTM, GRU or vanilla RNN cell: the
hidden-to-hidden product of a step is one BLAS call (``np.dot`` on
contiguous arrays), the gate arithmetic is a plain loop that Numba compiles
to a single pass over the batch. The backward kernels walk the sequence in
reverse with the activations the forward stored, and form the weight
gradient with one large product over all steps at the end.

Conventions shared by every kernel:

- sequences are time-major: ``x[t, b, :]``; every array is C-contiguous;
- ``acts`` (int64) holds the activation codes, ``opts`` (float64) the
  options ``(backwards, clip, use_peep, use_mask, fast)``; ``fast``
  (float32 runs) selects a vectorizable rational tanh (and sigmoid) of
  float32 accuracy instead of libm's: arrays rather than
  scalars, so that every configuration shares one compiled kernel;
- ``backwards`` runs the recurrence from the last step to the first, but
  results are stored at the time index of the input they belong to;
- ``mask[t, b] == 0`` keeps the previous state for that sequence (Lasagne's
  ``switch(mask, new, previous)``); ``use_mask`` is False when there is none;
- activations are codes: 0 sigmoid, 1 tanh, 2 rectify, 3 identity. Their
  derivatives are taken from the activation's output, which all four allow;
- ``clip > 0`` clips the gradient that flows into the gate pre-activations
  (Lasagne's ``grad_clip``), forward values are untouched.
"""
import numba
import numpy as np

__all__ = ["ACTIVATION_CODES", "lstm_forward", "lstm_backward",
           "gru_forward", "gru_backward", "rnn_forward", "rnn_backward"]

#: Activation names understood by the kernels, and their codes.
ACTIVATION_CODES = {"sigmoid": 0, "tanh": 1, "rectify": 2, "linear": 3}

_jit = numba.njit(cache=True, nogil=True, boundscheck=False, fastmath=True,
                 error_model="numpy")
_inline = numba.njit(cache=True, error_model="numpy")


@_inline
def _act(code, v):
    if code == 0:
        return 1.0 / (1.0 + np.exp(-v))
    if code == 1:
        return np.tanh(v)
    if code == 2:
        return v if v > 0.0 else 0.0
    return v


@_inline
def _dact(code, y):
    """Derivative of activation `code`, given its output `y`."""
    if code == 0:
        return y * (1.0 - y)
    if code == 1:
        return 1.0 - y * y
    if code == 2:
        return 1.0 if y > 0.0 else 0.0
    return 1.0


# tanh(x) ~ u P(u^2) / Q(u^2), u = x / 9 clamped to [-1, 1]: a rational
# fit (weighted least squares, fitted for this module) with a relative
# error below 4e-7 in float32. Unlike libm's tanh and exp it has no
# branches, so LLVM vectorizes the loops that use it; float32 runs use it.
_TANH_P = (8.999999815614196, 97.54706728270587, 206.40509602993083,
           98.56474001034007, 5.172999257158699)
_TANH_Q = (1.0, 37.83854867447707, 169.77639740686544, 174.60342271856942,
           33.4715376220267)
_P0, _P1, _P2, _P3, _P4 = [np.float32(c) for c in _TANH_P]
_Q0, _Q1, _Q2, _Q3, _Q4 = [np.float32(c) for c in _TANH_Q]
_NINTH, _ONE, _HALF = np.float32(1 / 9), np.float32(1), np.float32(0.5)


@numba.njit(cache=True, inline="always", fastmath=True,
            error_model="numpy")
def _tanh32(x):
    u = min(max(x * _NINTH, -_ONE), _ONE)
    u2 = u * u
    p = (((_P4 * u2 + _P3) * u2 + _P2) * u2 + _P1) * u2 + _P0
    q = (((_Q4 * u2 + _Q3) * u2 + _Q2) * u2 + _Q1) * u2 + _Q0
    return min(max(u * p / q, -_ONE), _ONE)


@numba.njit(cache=True, fastmath=True, boundscheck=False,
            error_model="numpy")
def _activate(code, v, fast):
    """Apply activation `code` in place to the 1-d array `v`."""
    n = v.shape[0]
    if code == 0:
        if fast:
            for k in range(n):
                v[k] = _HALF + _HALF * _tanh32(_HALF * v[k])
        else:
            for k in range(n):
                v[k] = 1.0 / (1.0 + np.exp(-v[k]))
    elif code == 1:
        if fast:
            for k in range(n):
                v[k] = _tanh32(v[k])
        else:
            for k in range(n):
                v[k] = np.tanh(v[k])
    elif code == 2:
        for k in range(n):
            v[k] = max(v[k], 0.0)


@numba.njit(cache=True, fastmath=True, boundscheck=False,
            error_model="numpy")
def _derivative(code, y, out):
    """``out[k]`` = derivative of activation `code` given its output y[k]."""
    n = y.shape[0]
    if code == 0:
        for k in range(n):
            out[k] = y[k] * (1.0 - y[k])
    elif code == 1:
        for k in range(n):
            out[k] = 1.0 - y[k] * y[k]
    elif code == 2:
        for k in range(n):
            out[k] = 1.0 if y[k] > 0.0 else 0.0
    else:
        out[:] = 1.0


@_inline
def _clip(g, clip):
    if clip > 0.0:
        if g > clip:
            return clip
        if g < -clip:
            return -clip
    return g


@_inline
def _options(opts):
    """(backwards, clip, use_peep, use_mask, fast) from the options."""
    return (opts[0] != 0.0, opts[1], opts[2] != 0.0, opts[3] != 0.0,
            opts[4] != 0.0)


@_inline
def _order(s, n_steps, backwards):
    """Time index of the s-th step run, and of the step before it."""
    if backwards:
        t = n_steps - 1 - s
        return t, t + 1
    return s, s - 1


@_jit
def _previous_states(seq, init, backwards):
    """``prev[t]`` = the state the step at time t started from."""
    n_steps = seq.shape[0]
    prev = np.empty_like(seq)
    for s in range(n_steps):
        t, tp = _order(s, n_steps, backwards)
        if s == 0:
            prev[t] = init
        else:
            prev[t] = seq[tp]
    return prev


@_jit
def lstm_forward(x, w_hid, c0, h0, peep, mask, acts, opts):
    """LSTM over a sequence. Gate blocks in ``x`` and ``w_hid`` are ordered
    (ingate, forgetgate, cell, outgate). ``acts`` = codes of the ingate,
    forgetgate, cell, outgate and hidden nonlinearities. Returns the hidden
    and cell sequences and the stored gate activations and cell output
    nonlinearity (T, B, 5H)."""
    backwards, clip, use_peep, use_mask, fast = _options(opts)
    n_steps, n_batch, n_gates = x.shape
    n = n_gates // 4
    hid = np.empty((n_steps, n_batch, n), x.dtype)
    cell = np.empty((n_steps, n_batch, n), x.dtype)
    gates = np.empty((n_steps, n_batch, 5 * n), x.dtype)
    h_prev = h0.copy()
    c_prev = c0.copy()
    for s in range(n_steps):
        t, _ = _order(s, n_steps, backwards)
        pre = np.dot(h_prev, w_hid)
        for b in range(n_batch):
            g = gates[t, b]
            xr = x[t, b]
            pr = pre[b]
            cp = c_prev[b]
            for k in range(4 * n):
                g[k] = pr[k] + xr[k]
            if use_peep:
                for j in range(n):
                    g[j] += cp[j] * peep[0, j]
                    g[n + j] += cp[j] * peep[1, j]
            _activate(acts[0], g[:n], fast)
            _activate(acts[1], g[n:2 * n], fast)
            _activate(acts[2], g[2 * n:3 * n], fast)
            c = cell[t, b]
            for j in range(n):
                c[j] = g[n + j] * cp[j] + g[j] * g[2 * n + j]
            if use_peep:
                for j in range(n):
                    g[3 * n + j] += c[j] * peep[2, j]
            _activate(acts[3], g[3 * n:4 * n], fast)
            tc = g[4 * n:]
            tc[:] = c
            _activate(acts[4], tc, fast)
            h = hid[t, b]
            for j in range(n):
                h[j] = g[3 * n + j] * tc[j]
            if use_mask and mask[t, b] == 0:
                c[:] = cp
                h[:] = h_prev[b]
        h_prev = hid[t]
        c_prev = cell[t]
    return hid, cell, gates


@_jit
def lstm_backward(w_hid, c0, h0, peep, mask, hid, cell, gates, d_hid, d_cell,
                  acts, opts):
    """Gradients of an :func:`lstm_forward` run: with respect to the input
    projections, ``w_hid``, ``c0``, ``h0`` and the peepholes (3, H)."""
    backwards, clip, use_peep, use_mask, fast = _options(opts)
    n_steps, n_batch, n = hid.shape
    w_hid_t = np.ascontiguousarray(w_hid.T)
    dx = np.zeros((n_steps, n_batch, 4 * n), hid.dtype)
    d_peep = np.zeros((3, n), hid.dtype)
    dh = np.zeros((n_batch, n), hid.dtype)
    dc = np.zeros((n_batch, n), hid.dtype)
    deriv = np.empty(5 * n, hid.dtype)
    # Zero peepholes when there are none keep the inner loop branch-free.
    peeps = np.zeros((3, n), hid.dtype)
    if use_peep:
        peeps[:] = peep
    pe0, pe1, pe2 = peeps[0], peeps[1], peeps[2]
    for r in range(n_steps):
        s = n_steps - 1 - r
        t, tp = _order(s, n_steps, backwards)
        if s == 0:
            c_prev = c0
        else:
            c_prev = cell[tp]
        dh += d_hid[t]
        dc += d_cell[t]
        for b in range(n_batch):
            if use_mask and mask[t, b] == 0:
                continue  # state carried: gradients pass through unchanged
            g = gates[t, b]
            cp = c_prev[b]
            c = cell[t, b]
            da = dx[t, b]
            gh = dh[b]
            gc = dc[b]
            for k in range(4):
                _derivative(acts[k], g[k * n:(k + 1) * n],
                            deriv[k * n:(k + 1) * n])
            _derivative(acts[4], g[4 * n:], deriv[4 * n:])
            for j in range(n):
                go = g[3 * n + j]
                do = gh[j] * g[4 * n + j] * deriv[3 * n + j]
                dcj = gc[j] + gh[j] * go * deriv[4 * n + j]
                dcj += do * pe2[j]
                di = dcj * g[2 * n + j] * deriv[j]
                df = dcj * cp[j] * deriv[n + j]
                da[j] = di
                da[n + j] = df
                da[2 * n + j] = dcj * g[j] * deriv[2 * n + j]
                da[3 * n + j] = do
                gc[j] = dcj * g[n + j] + di * pe0[j] + df * pe1[j]
                gh[j] = 0.0
            if use_peep:
                for j in range(n):
                    d_peep[0, j] += da[j] * cp[j]
                    d_peep[1, j] += da[n + j] * cp[j]
                    d_peep[2, j] += da[3 * n + j] * c[j]
            if clip > 0.0:
                for k in range(4 * n):
                    da[k] = min(max(da[k], -clip), clip)
        dh += np.dot(dx[t], w_hid_t)
    prev = _previous_states(hid, h0, backwards).reshape(n_steps * n_batch, n)
    d_w = np.dot(prev.T, dx.reshape(n_steps * n_batch, 4 * n))
    return dx, d_w, dc, dh, d_peep


@_jit
def gru_forward(x, w_hid, h0, mask, acts, opts):
    """GRU over a sequence, Lasagne's equations; gate blocks ordered
    (resetgate, updategate, hidden_update). ``acts`` = codes of the three
    gate nonlinearities. Returns the hidden sequence and the stored
    (reset, update, candidate, candidate's hidden part) values (T, B, 4H)."""
    backwards, clip, use_peep, use_mask, fast = _options(opts)
    n_steps, n_batch, n_gates = x.shape
    n_units = n_gates // 3
    hid = np.empty((n_steps, n_batch, n_units), x.dtype)
    store = np.empty((n_steps, n_batch, 4 * n_units), x.dtype)
    h_prev = h0.copy()
    a_r, a_u, a_c = acts[0], acts[1], acts[2]
    for s in range(n_steps):
        t, _ = _order(s, n_steps, backwards)
        pre = np.dot(h_prev, w_hid)
        for b in range(n_batch):
            keep = use_mask and mask[t, b] == 0
            for j in range(n_units):
                gr = _act(a_r, x[t, b, j] + pre[b, j])
                gu = _act(a_u, x[t, b, n_units + j] + pre[b, n_units + j])
                hc = pre[b, 2 * n_units + j]
                gc = _act(a_c, x[t, b, 2 * n_units + j] + gr * hc)
                hp = h_prev[b, j]
                store[t, b, j] = gr
                store[t, b, n_units + j] = gu
                store[t, b, 2 * n_units + j] = gc
                store[t, b, 3 * n_units + j] = hc
                if keep:
                    hid[t, b, j] = hp
                else:
                    hid[t, b, j] = (1.0 - gu) * hp + gu * gc
        h_prev = hid[t]
    return hid, store


@_jit
def gru_backward(w_hid, h0, mask, hid, store, d_hid, acts, opts):
    """Gradients of a :func:`gru_forward` run with respect to the input
    projections, ``w_hid`` and ``h0``."""
    backwards, clip, use_peep, use_mask, fast = _options(opts)
    n_steps, n_batch, n_units = hid.shape
    w_hid_t = np.ascontiguousarray(w_hid.T)
    dx = np.zeros((n_steps, n_batch, 3 * n_units), hid.dtype)
    dhh = np.zeros((n_steps, n_batch, 3 * n_units), hid.dtype)
    dh = np.zeros((n_batch, n_units), hid.dtype)
    a_r, a_u, a_c = acts[0], acts[1], acts[2]
    for r in range(n_steps):
        s = n_steps - 1 - r
        t, tp = _order(s, n_steps, backwards)
        if s == 0:
            h_prev = h0
        else:
            h_prev = hid[tp]
        for b in range(n_batch):
            keep = use_mask and mask[t, b] == 0
            for j in range(n_units):
                gh = dh[b, j] + d_hid[t, b, j]
                if keep:
                    dh[b, j] = gh
                    continue
                gr = store[t, b, j]
                gu = store[t, b, n_units + j]
                gc = store[t, b, 2 * n_units + j]
                hc = store[t, b, 3 * n_units + j]
                hp = h_prev[b, j]
                du = gh * (gc - hp) * _dact(a_u, gu)
                dc = _clip(gh * gu * _dact(a_c, gc), clip)
                dr = dc * hc * _dact(a_r, gr)
                dx[t, b, j] = _clip(dr, clip)
                dx[t, b, n_units + j] = _clip(du, clip)
                dx[t, b, 2 * n_units + j] = dc
                dhh[t, b, j] = _clip(dr, clip)
                dhh[t, b, n_units + j] = _clip(du, clip)
                dhh[t, b, 2 * n_units + j] = _clip(dc * gr, clip)
                dh[b, j] = gh * (1.0 - gu)
        dh += np.dot(dhh[t], w_hid_t)
    prev = _previous_states(hid, h0, backwards).reshape(n_steps * n_batch,
                                                        n_units)
    d_w = np.dot(prev.T, dhh.reshape(n_steps * n_batch, 3 * n_units))
    return dx, d_w, dh


@_jit
def rnn_forward(x, w_hid, h0, mask, acts, opts):
    """Vanilla RNN over a sequence: ``h = act(x[t] + h_prev @ w_hid)``."""
    backwards, clip, use_peep, use_mask, fast = _options(opts)
    n_steps, n_batch, n_units = x.shape
    hid = np.empty((n_steps, n_batch, n_units), x.dtype)
    h_prev = h0.copy()
    for s in range(n_steps):
        t, _ = _order(s, n_steps, backwards)
        pre = np.dot(h_prev, w_hid)
        for b in range(n_batch):
            keep = use_mask and mask[t, b] == 0
            for j in range(n_units):
                if keep:
                    hid[t, b, j] = h_prev[b, j]
                else:
                    hid[t, b, j] = x[t, b, j] + pre[b, j]
            if not keep:
                _activate(acts[0], hid[t, b], fast)
        h_prev = hid[t]
    return hid


@_jit
def rnn_backward(w_hid, h0, mask, hid, d_hid, acts, opts):
    """Gradients of an :func:`rnn_forward` run with respect to the input
    projections, ``w_hid`` and ``h0``."""
    backwards, clip, use_peep, use_mask, fast = _options(opts)
    n_steps, n_batch, n_units = hid.shape
    w_hid_t = np.ascontiguousarray(w_hid.T)
    dx = np.zeros((n_steps, n_batch, n_units), hid.dtype)
    dh = np.zeros((n_batch, n_units), hid.dtype)
    for r in range(n_steps):
        s = n_steps - 1 - r
        t, _ = _order(s, n_steps, backwards)
        for b in range(n_batch):
            keep = use_mask and mask[t, b] == 0
            for j in range(n_units):
                gh = dh[b, j] + d_hid[t, b, j]
                if keep:
                    dh[b, j] = gh
                else:
                    dx[t, b, j] = _clip(gh * _dact(acts[0], hid[t, b, j]), clip)
                    dh[b, j] = 0.0
        dh += np.dot(dx[t], w_hid_t)
    prev = _previous_states(hid, h0, backwards).reshape(n_steps * n_batch,
                                                        n_units)
    d_w = np.dot(prev.T, dx.reshape(n_steps * n_batch, n_units))
    return dx, d_w, dh
