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
  options ``(backwards, clip, use_peep, use_mask)``: arrays rather than
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

_jit = numba.njit(cache=True, nogil=True, boundscheck=False)
_inline = numba.njit(cache=True)


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
    """(backwards, clip, use_peep, use_mask) from the float options array."""
    return opts[0] != 0.0, opts[1], opts[2] != 0.0, opts[3] != 0.0


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
    and cell sequences and the gate activations (T, B, 4H)."""
    backwards, clip, use_peep, use_mask = _options(opts)
    n_steps, n_batch, n_gates = x.shape
    n_units = n_gates // 4
    hid = np.empty((n_steps, n_batch, n_units), x.dtype)
    cell = np.empty((n_steps, n_batch, n_units), x.dtype)
    gates = np.empty((n_steps, n_batch, n_gates), x.dtype)
    h_prev = h0.copy()
    c_prev = c0.copy()
    a_i, a_f, a_g, a_o, a_h = acts[0], acts[1], acts[2], acts[3], acts[4]
    for s in range(n_steps):
        t, _ = _order(s, n_steps, backwards)
        pre = np.dot(h_prev, w_hid)
        for b in range(n_batch):
            keep = use_mask and mask[t, b] == 0
            for j in range(n_units):
                cp = c_prev[b, j]
                vi = pre[b, j] + x[t, b, j]
                vf = pre[b, n_units + j] + x[t, b, n_units + j]
                vg = pre[b, 2 * n_units + j] + x[t, b, 2 * n_units + j]
                vo = pre[b, 3 * n_units + j] + x[t, b, 3 * n_units + j]
                if use_peep:
                    vi += cp * peep[0, j]
                    vf += cp * peep[1, j]
                gi = _act(a_i, vi)
                gf = _act(a_f, vf)
                gg = _act(a_g, vg)
                c = gf * cp + gi * gg
                if use_peep:
                    vo += c * peep[2, j]
                go = _act(a_o, vo)
                h = go * _act(a_h, c)
                gates[t, b, j] = gi
                gates[t, b, n_units + j] = gf
                gates[t, b, 2 * n_units + j] = gg
                gates[t, b, 3 * n_units + j] = go
                if keep:
                    cell[t, b, j] = cp
                    hid[t, b, j] = h_prev[b, j]
                else:
                    cell[t, b, j] = c
                    hid[t, b, j] = h
        h_prev = hid[t]
        c_prev = cell[t]
    return hid, cell, gates


@_jit
def lstm_backward(w_hid, c0, h0, peep, mask, hid, cell, gates, d_hid, d_cell,
                  acts, opts):
    """Gradients of an :func:`lstm_forward` run: with respect to the input
    projections, ``w_hid``, ``c0``, ``h0`` and the peepholes (3, H)."""
    backwards, clip, use_peep, use_mask = _options(opts)
    n_steps, n_batch, n_units = hid.shape
    w_hid_t = np.ascontiguousarray(w_hid.T)
    dx = np.zeros((n_steps, n_batch, 4 * n_units), hid.dtype)
    d_peep = np.zeros((3, n_units), hid.dtype)
    dh = np.zeros((n_batch, n_units), hid.dtype)
    dc = np.zeros((n_batch, n_units), hid.dtype)
    a_i, a_f, a_g, a_o, a_h = acts[0], acts[1], acts[2], acts[3], acts[4]
    for r in range(n_steps):
        s = n_steps - 1 - r
        t, tp = _order(s, n_steps, backwards)
        if s == 0:
            c_prev = c0
        else:
            c_prev = cell[tp]
        for b in range(n_batch):
            keep = use_mask and mask[t, b] == 0
            for j in range(n_units):
                gh = dh[b, j] + d_hid[t, b, j]
                gc = dc[b, j] + d_cell[t, b, j]
                if keep:
                    dh[b, j] = gh
                    dc[b, j] = gc
                    continue
                cp = c_prev[b, j]
                gi = gates[t, b, j]
                gf = gates[t, b, n_units + j]
                gg = gates[t, b, 2 * n_units + j]
                go = gates[t, b, 3 * n_units + j]
                c = cell[t, b, j]
                tc = _act(a_h, c)
                do = gh * tc * _dact(a_o, go)
                gc += gh * go * _dact(a_h, tc)
                if use_peep:
                    gc += do * peep[2, j]
                di = gc * gg * _dact(a_i, gi)
                df = gc * cp * _dact(a_f, gf)
                dg = gc * gi * _dact(a_g, gg)
                dcp = gc * gf
                if use_peep:
                    dcp += di * peep[0, j] + df * peep[1, j]
                    d_peep[0, j] += di * cp
                    d_peep[1, j] += df * cp
                    d_peep[2, j] += do * c
                dc[b, j] = dcp
                dx[t, b, j] = _clip(di, clip)
                dx[t, b, n_units + j] = _clip(df, clip)
                dx[t, b, 2 * n_units + j] = _clip(dg, clip)
                dx[t, b, 3 * n_units + j] = _clip(do, clip)
                dh[b, j] = 0.0
        dh += np.dot(dx[t], w_hid_t)
    prev = _previous_states(hid, h0, backwards).reshape(n_steps * n_batch,
                                                        n_units)
    d_w = np.dot(prev.T, dx.reshape(n_steps * n_batch, 4 * n_units))
    return dx, d_w, dc, dh, d_peep


@_jit
def gru_forward(x, w_hid, h0, mask, acts, opts):
    """GRU over a sequence, Lasagne's equations; gate blocks ordered
    (resetgate, updategate, hidden_update). ``acts`` = codes of the three
    gate nonlinearities. Returns the hidden sequence and the stored
    (reset, update, candidate, candidate's hidden part) values (T, B, 4H)."""
    backwards, clip, use_peep, use_mask = _options(opts)
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
    backwards, clip, use_peep, use_mask = _options(opts)
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
    backwards, clip, use_peep, use_mask = _options(opts)
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
                    hid[t, b, j] = _act(acts[0], x[t, b, j] + pre[b, j])
        h_prev = hid[t]
    return hid


@_jit
def rnn_backward(w_hid, h0, mask, hid, d_hid, acts, opts):
    """Gradients of an :func:`rnn_forward` run with respect to the input
    projections, ``w_hid`` and ``h0``."""
    backwards, clip, use_peep, use_mask = _options(opts)
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
