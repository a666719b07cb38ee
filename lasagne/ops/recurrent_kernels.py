"""Whole-sequence recurrence kernels (Numba) for the fused recurrence Ops.

One call runs every time step of an LSTM, GRU or vanilla RNN cell: the
hidden-to-hidden product of a step is one matrix product, the gate
arithmetic is a plain loop that Numba compiles to a single pass over the
batch. The backward kernels walk the sequence in reverse with the
activations the forward stored; the GRU and RNN ones form the weight
gradient with one large product over all steps at the end (BLAS,
``np.dot`` on contiguous arrays).

The LSTM kernels split the batch into lanes, one per Numba thread: the
rows of a sequence are independent, so each lane runs its rows' whole
sequence and never waits for another; the LSTM backward adds the weight
gradient of every chunk of a few steps while their values are still in
cache, per lane, and sums the lanes at the end. Their products (``h @
w_hid`` forward, ``da @ w_hid.T`` and ``h.T @ da`` backward) run on the
register tile (:mod:`._tile_gemm`) with ``w_hid`` laid out once per call:
OpenBLAS packs both operands again at every call and ran these thin
products (50 rows by 100 x 400) at about 55 GFLOP/s on a Zen 3 core, the
tile at about 85, which made the LSTM training step of
``benchmarks/bench_lstm.py`` about 20 % faster.

Conventions shared by every kernel:

- sequences are time-major: ``x[t, b, :]``; every array is C-contiguous;
- ``acts`` (int64) holds the activation codes, ``opts`` (float64) the
  options ``(backwards, clip, use_peep, use_mask, fast, lanes, project)``:
  arrays rather than scalars, so that every configuration shares one
  compiled kernel. ``fast`` (float32 runs) selects a vectorizable rational
  tanh (and sigmoid) of float32 accuracy instead of libm's; ``lanes`` is
  the number of threads that split the batch; ``project`` (LSTM) makes the
  kernel apply the input weights itself;
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
from numba import prange, types


from ._exported import Exported
from ._parallel import prange_only
from ._tile_gemm import (ROW_SLACK, choose_vectors, pack_columns,
                         padded_cols, tile_product)

__all__ = ["ACTIVATION_CODES", "lstm_forward", "lstm_backward",
           "gru_forward", "gru_backward", "rnn_forward", "rnn_backward"]

#: Activation names understood by the kernels, and their codes.
ACTIVATION_CODES = {"sigmoid": 0, "tanh": 1, "rectify": 2, "linear": 3}

_jit = numba.njit(cache=True, nogil=True, boundscheck=False, fastmath=True,
                 error_model="numpy")
_inline = numba.njit(cache=True, error_model="numpy")
_jit_parallel = numba.njit(cache=True, nogil=True, boundscheck=False,
                           fastmath=True, error_model="numpy",
                           parallel=prange_only())
#: A lane of a parallel kernel: compiled on its own, once per dtype, and
#: called by symbol from the kernel's parallel loop (see :data:`_LANES`).
_jit_lane = numba.njit(cache=True, nogil=True, boundscheck=False,
                       fastmath=True, error_model="numpy",
                       no_cpython_wrapper=True, no_cfunc_wrapper=True)


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


@_inline
def _copy(src, dst):
    """``dst[:] = src`` for 1-d arrays, without the temporary that a slice
    assignment makes in case the two overlap."""
    for k in range(src.shape[0]):
        dst[k] = src[k]


@_jit
def _lanes(n_batch, opts):
    """Row bounds of the lanes that split a batch: ``opts[5]`` lanes (the
    Numba thread count when the Op was compiled), at most one per row. A
    lane runs its rows' whole sequence, so lanes never wait for each
    other; more lanes than threads would only run one after another."""
    n_lanes = max(1, min(int(opts[5]), n_batch))
    bounds = np.empty(n_lanes + 1, np.int64)
    for lane in range(n_lanes + 1):
        bounds[lane] = lane * n_batch // n_lanes
    return bounds


@_inline
def _standard_lstm(acts):
    """Whether the activations are Lasagne's defaults (sigmoid gates, tanh
    cell and output), which have a fused, vectorizable row update."""
    return (acts[0] == 0 and acts[1] == 0 and acts[2] == 1 and acts[3] == 0
            and acts[4] == 1)


@numba.njit(cache=True, inline="always", fastmath=True, error_model="numpy")
def _lstm_forward_unit(fast, j, xr, pr, cp, g, c, h, pe0, pe1, pe2):
    """Unit j of :func:`_lstm_forward_row`. Inlined with a constant
    ``fast``, so each of the row's loops keeps only one kind of
    activation (and the fast one vectorizes)."""
    n = c.shape[0]
    vi = xr[j] + pr[j] + cp[j] * pe0[j]
    vf = xr[n + j] + pr[n + j] + cp[j] * pe1[j]
    vg = xr[2 * n + j] + pr[2 * n + j]
    if fast:
        gi = _HALF + _HALF * _tanh32(_HALF * vi)
        gf = _HALF + _HALF * _tanh32(_HALF * vf)
        gg = _tanh32(vg)
    else:
        gi = 1.0 / (1.0 + np.exp(-vi))
        gf = 1.0 / (1.0 + np.exp(-vf))
        gg = np.tanh(vg)
    cj = gf * cp[j] + gi * gg
    vo = xr[3 * n + j] + pr[3 * n + j] + cj * pe2[j]
    if fast:
        go = _HALF + _HALF * _tanh32(_HALF * vo)
        tc = _tanh32(cj)
    else:
        go = 1.0 / (1.0 + np.exp(-vo))
        tc = np.tanh(cj)
    g[j] = gi
    g[n + j] = gf
    g[2 * n + j] = gg
    g[3 * n + j] = go
    g[4 * n + j] = tc
    c[j] = cj
    h[j] = go * tc


@_jit
def _lstm_forward_row(fast, xr, pr, cp, g, c, h, pe0, pe1, pe2):
    """One row of an LSTM step with the standard activations, in one pass:
    gate values into ``g``, the new cell and hidden state into ``c`` and
    ``h``. ``pr`` = previous hidden state times ``w_hid``, ``cp`` = the
    previous cell state."""
    if fast:
        for j in range(c.shape[0]):
            _lstm_forward_unit(True, j, xr, pr, cp, g, c, h, pe0, pe1, pe2)
    else:
        for j in range(c.shape[0]):
            _lstm_forward_unit(False, j, xr, pr, cp, g, c, h, pe0, pe1, pe2)


@_jit
def _lstm_forward_row_generic(acts, fast, xr, pr, cp, g, c, h, pe0, pe1,
                              pe2):
    """:func:`_lstm_forward_row` for any activations (gate by gate)."""
    n = c.shape[0]
    for j in range(n):
        g[j] = xr[j] + pr[j] + cp[j] * pe0[j]
        g[n + j] = xr[n + j] + pr[n + j] + cp[j] * pe1[j]
    for k in range(2 * n, 4 * n):
        g[k] = xr[k] + pr[k]
    _activate(acts[0], g[:n], fast)
    _activate(acts[1], g[n:2 * n], fast)
    _activate(acts[2], g[2 * n:3 * n], fast)
    for j in range(n):
        c[j] = g[n + j] * cp[j] + g[j] * g[2 * n + j]
        g[3 * n + j] += c[j] * pe2[j]
    _activate(acts[3], g[3 * n:4 * n], fast)
    tc = g[4 * n:]
    _copy(c, tc)
    _activate(acts[4], tc, fast)
    for j in range(n):
        h[j] = g[3 * n + j] * tc[j]


@_jit_lane
def _lstm_forward_lane(x, w_in, bias, w_pack, c0, h0, peeps, mask, acts,
                       opts, hid, cell, gates, b0, b1):
    """Rows ``b0:b1`` of :func:`lstm_forward`, every step. ``w_pack`` is
    ``w_hid`` with padded columns (:func:`pack_columns`); the recurrent
    product runs on the register tile (:func:`tile_product`)."""
    backwards, clip, use_peep, use_mask, fast = _options(opts)
    project = opts[6] != 0.0
    n_steps = x.shape[0]
    n = w_pack.shape[0]
    rows = b1 - b0
    ld = w_pack.shape[1]
    # The tile computes whole tiles: the rows past `rows` are zeros whose
    # products are never read.
    h_prev = np.zeros((rows + ROW_SLACK, n), x.dtype)
    h_prev[:rows] = h0[b0:b1]
    c_prev = c0[b0:b1].copy()
    pre = np.empty((rows + ROW_SLACK, ld), x.dtype)
    aoff = np.arange(rows + ROW_SLACK) * n
    boff = np.arange(n)
    nv = choose_vectors(rows, 4 * n, x.itemsize)
    projected = np.empty(4 * n, x.dtype)
    pe0, pe1, pe2 = peeps[0], peeps[1], peeps[2]
    standard = _standard_lstm(acts)
    for s in range(n_steps):
        t, _ = _order(s, n_steps, backwards)
        tile_product(pre, ld, h_prev, aoff, boff, n, w_pack, ld, rows, 4 * n,
                     False, nv)
        for r in range(rows):
            b = b0 + r
            c, h, cp, hp = cell[t, b], hid[t, b], c_prev[r], h_prev[r]
            xr = x[t, b]
            if project:
                _project_row(xr, w_in, bias, projected)
                xr = projected
            if standard:
                _lstm_forward_row(fast, xr, pre[r], cp, gates[t, b], c, h,
                                  pe0, pe1, pe2)
            else:
                _lstm_forward_row_generic(acts, fast, xr, pre[r], cp,
                                          gates[t, b], c, h, pe0, pe1, pe2)
            if use_mask and mask[t, b] == 0:
                _copy(cp, c)
                _copy(hp, h)
            _copy(c, cp)
            _copy(h, hp)


@_jit
def _project_row(xr, w_in, bias, out):
    """``out = xr @ w_in + bias`` for one row: a few input features (the
    case it serves) make a loop cheaper than a matrix product."""
    for k in range(out.shape[0]):
        out[k] = bias[k]
    for f in range(xr.shape[0]):
        v = xr[f]
        wf = w_in[f]
        for k in range(out.shape[0]):
            out[k] += v * wf[k]


@_jit
def _unproject_row(da, xr, w_in, dxr, d_w_in, d_b):
    """Gradient of :func:`_project_row` given ``da``: into ``dxr``, and
    added to ``d_w_in`` and ``d_b``."""
    for f in range(xr.shape[0]):
        wf = w_in[f]
        acc = da[0] * wf[0]
        for k in range(1, da.shape[0]):
            acc += da[k] * wf[k]
        dxr[f] = acc
        v = xr[f]
        dwf = d_w_in[f]
        for k in range(da.shape[0]):
            dwf[k] += v * da[k]
    for k in range(da.shape[0]):
        d_b[k] += da[k]


@_jit
def _peepholes(peep, use_peep, n, dtype):
    """The (3, H) peepholes, zeros where there are none: the row updates
    then need no branch."""
    peeps = np.zeros((3, n), dtype)
    if use_peep:
        peeps[:] = peep
    return peeps


@_jit_parallel
def lstm_forward(x, w_in, bias, w_hid, c0, h0, peep, mask, acts, opts):
    """LSTM over a sequence. Gate blocks in ``x`` and ``w_hid`` are ordered
    (ingate, forgetgate, cell, outgate). ``acts`` = codes of the ingate,
    forgetgate, cell, outgate and hidden nonlinearities. With ``opts[6]``
    set, ``x`` (T, B, F) is the raw input, projected step by step with
    ``w_in`` (F, 4H) and ``bias`` (4H); otherwise ``x`` holds the
    projections (T, B, 4H) and ``w_in``, ``bias`` are unused. Returns the
    hidden and cell sequences and the stored gate activations and cell
    output nonlinearity (T, B, 5H)."""
    use_peep = opts[2] != 0.0
    n_steps, n_batch = x.shape[0], x.shape[1]
    n = w_hid.shape[0]
    hid = np.empty((n_steps, n_batch, n), x.dtype)
    cell = np.empty((n_steps, n_batch, n), x.dtype)
    gates = np.empty((n_steps, n_batch, 5 * n), x.dtype)
    peeps = _peepholes(peep, use_peep, n, x.dtype)
    w_pack = pack_columns(w_hid)
    bounds = _lanes(n_batch, opts)
    for lane in prange(bounds.shape[0] - 1):
        _call_lstm_forward_lane(x, w_in, bias, w_pack, c0, h0, peeps, mask,
                                acts, opts, hid, cell, gates, bounds[lane],
                                bounds[lane + 1])
    return hid, cell, gates


@_jit
def _lstm_backward_row(one, g, cp, c, gh, gc, da, dp, pe0, pe1, pe2):
    """Gradient of one row of an LSTM step with the standard activations:
    gate pre-activation gradients into ``da``, peephole gradients added to
    ``dp``; ``gc`` becomes the gradient of the previous cell state and
    ``gh`` is cleared (the caller adds the recurrent part). ``one`` is 1
    in the arrays' dtype: a float literal would widen float32 arithmetic
    to float64 and keep the loop from vectorizing."""
    n = c.shape[0]
    for j in range(n):
        gi, gf, gg = g[j], g[n + j], g[2 * n + j]
        go, tc = g[3 * n + j], g[4 * n + j]
        do = gh[j] * tc * (one - go) * go
        dcj = gc[j] + gh[j] * go * (one - tc * tc) + do * pe2[j]
        di = dcj * gg * (one - gi) * gi
        df = dcj * cp[j] * (one - gf) * gf
        da[j] = di
        da[n + j] = df
        da[2 * n + j] = dcj * gi * (one - gg * gg)
        da[3 * n + j] = do
        gc[j] = dcj * gf + di * pe0[j] + df * pe1[j]
        gh[j] = 0.0
        dp[0, j] += di * cp[j]
        dp[1, j] += df * cp[j]
        dp[2, j] += do * c[j]


@_jit
def _lstm_backward_row_generic(acts, g, cp, c, gh, gc, da, dp, pe0, pe1,
                               pe2):
    """:func:`_lstm_backward_row` for any activations."""
    n = c.shape[0]
    for j in range(n):
        gi, gf, gg = g[j], g[n + j], g[2 * n + j]
        go, tc = g[3 * n + j], g[4 * n + j]
        do = gh[j] * tc * _dact(acts[3], go)
        dcj = gc[j] + gh[j] * go * _dact(acts[4], tc) + do * pe2[j]
        di = dcj * gg * _dact(acts[0], gi)
        df = dcj * cp[j] * _dact(acts[1], gf)
        da[j] = di
        da[n + j] = df
        da[2 * n + j] = dcj * gi * _dact(acts[2], gg)
        da[3 * n + j] = do
        gc[j] = dcj * gf + di * pe0[j] + df * pe1[j]
        gh[j] = 0.0
        dp[0, j] += di * cp[j]
        dp[1, j] += df * cp[j]
        dp[2, j] += do * c[j]


@_jit
def _dw_chunk(n_steps, rows):
    """Steps per weight-gradient product in :func:`_lstm_backward_lane`:
    an inner size of about 128 rows, so that the tiles' panel of the gate
    gradients (128 rows of 2 vectors) stays in the L1 cache while every
    row tile reads it (measured, 50 rows a lane: 4.4 ms per sequence for
    chunks of 1 or 2 steps, 6.3-6.8 for 4-11); never more than the
    sequence."""
    return max(1, min(n_steps, 128 // max(rows, 1)))


@_jit_lane
def _lstm_backward_lane(x, w_in, w_t_pack, c0, h0, peeps, mask, hid, cell,
                        gates, d_hid, d_cell, acts, opts, dx, d_c0, d_h0,
                        d_w_in, d_b, d_w, d_peep, b0, b1):
    """Rows ``b0:b1`` of :func:`lstm_backward`; ``d_w_in``, ``d_b``,
    ``d_w`` (with ``ROW_SLACK`` extra rows and padded columns) and
    ``d_peep`` are this lane's own partial sums. ``w_t_pack`` is
    ``w_hid.T`` with padded columns."""
    backwards, clip, use_peep, use_mask, fast = _options(opts)
    project = opts[6] != 0.0
    has_d_cell = d_cell.shape[0] != 0
    n_steps = hid.shape[0]
    n = hid.shape[2]
    n4 = 4 * n
    rows = b1 - b0
    ld_h = w_t_pack.shape[1]
    ld_a = d_w.shape[1]
    # The recurrent gradient is accumulated into dh by the tile, which
    # writes whole tiles: rows and columns past the batch's are scratch.
    dh = np.zeros((rows + ROW_SLACK, ld_h), hid.dtype)
    dc = np.zeros((rows, n), hid.dtype)
    # The steps' gate gradients and previous hidden states are kept for a
    # chunk of steps, so that the hidden-to-hidden weight gradient is one
    # product per chunk (inner size chunk * rows) instead of one thin
    # product per step.
    chunk = _dw_chunk(n_steps, rows)
    da_chunk = np.zeros((chunk * rows, ld_a), hid.dtype)
    hp_chunk = np.empty((chunk * rows, n), hid.dtype)
    # dh += da @ w_hid.T reads row min(i, rows - 1) of the step's da for
    # tile row i; d_w += hp.T @ da reads column min(i, n - 1) of hp.
    da_rows = np.minimum(np.arange(rows + ROW_SLACK), rows - 1) * ld_a
    hp_cols = np.minimum(np.arange(n + ROW_SLACK), n - 1)
    unit_steps = np.arange(n4)
    hp_steps = np.arange(chunk * rows) * n
    nv_h = choose_vectors(rows, n, hid.itemsize)
    nv_w = choose_vectors(n, n4, hid.itemsize)
    one = np.ones(1, hid.dtype)[0]
    pe0, pe1, pe2 = peeps[0], peeps[1], peeps[2]
    standard = _standard_lstm(acts)
    for i in range(n_steps):
        s = n_steps - 1 - i
        t, tp = _order(s, n_steps, backwards)
        k = i % chunk
        da = da_chunk[k * rows:(k + 1) * rows]
        h_prev = hp_chunk[k * rows:(k + 1) * rows]
        for r in range(rows):
            b = b0 + r
            gh, gc = dh[r], dc[r]
            for j in range(n):
                gh[j] += d_hid[t, b, j]
            if has_d_cell:
                for j in range(n):
                    gc[j] += d_cell[t, b, j]
            if s == 0:
                cp = c0[b]
                _copy(h0[b], h_prev[r])
            else:
                cp = cell[tp, b]
                _copy(hid[tp, b], h_prev[r])
            dar = da[r, :n4]
            if use_mask and mask[t, b] == 0:
                dar[:] = 0.0  # state carried: gradients pass through
            elif standard:
                _lstm_backward_row(one, gates[t, b], cp, cell[t, b], gh, gc,
                                   dar, d_peep, pe0, pe1, pe2)
            else:
                _lstm_backward_row_generic(acts, gates[t, b], cp, cell[t, b],
                                           gh, gc, dar, d_peep, pe0, pe1,
                                           pe2)
            if clip > 0.0:
                for q in range(n4):
                    dar[q] = min(max(dar[q], -clip), clip)
            if project:
                _unproject_row(dar, x[t, b], w_in, dx[t, b], d_w_in, d_b)
            else:
                _copy(dar, dx[t, b])
        tile_product(dh, ld_h, da, da_rows, unit_steps, n4, w_t_pack, ld_h,
                     rows, n, True, nv_h)
        if k == chunk - 1 or i == n_steps - 1:
            tile_product(d_w, ld_a, hp_chunk, hp_cols, hp_steps,
                         (k + 1) * rows, da_chunk, ld_a, n, n4, True, nv_w)
    d_c0[b0:b1] = dc
    d_h0[b0:b1] = dh[:rows, :n]


@_jit
def _lane_sum(parts):
    """Sum of the lanes' partial results (first axis)."""
    total = parts[0].copy()
    for lane in range(1, parts.shape[0]):
        total += parts[lane]
    return total


@_jit_parallel
def lstm_backward(x, w_in, w_hid, c0, h0, peep, mask, hid, cell, gates,
                  d_hid, d_cell, acts, opts):
    """Gradients of an :func:`lstm_forward` run: with respect to ``x``,
    ``w_in``, ``bias`` (zeros unless ``opts[6]``), ``w_hid``, ``c0``,
    ``h0`` and the peepholes (3, H). An empty ``d_cell`` (0, 0, 0) stands
    for zeros."""
    use_peep = opts[2] != 0.0
    n_steps, n_batch, n = hid.shape
    w_t_pack = pack_columns(np.ascontiguousarray(w_hid.T))
    peeps = _peepholes(peep, use_peep, n, hid.dtype)
    bounds = _lanes(n_batch, opts)
    n_lanes = bounds.shape[0] - 1
    dx = np.empty(x.shape, hid.dtype)
    d_c0 = np.empty((n_batch, n), hid.dtype)
    d_h0 = np.empty((n_batch, n), hid.dtype)
    d_ws = np.zeros((n_lanes, n + ROW_SLACK,
                     padded_cols(4 * n, hid.itemsize)), hid.dtype)
    d_peeps = np.zeros((n_lanes, 3, n), hid.dtype)
    d_w_ins = np.zeros((n_lanes,) + w_in.shape, hid.dtype)
    d_bs = np.zeros((n_lanes, 4 * n), hid.dtype)
    for lane in prange(n_lanes):
        _call_lstm_backward_lane(x, w_in, w_t_pack, c0, h0, peeps, mask, hid,
                                 cell, gates, d_hid, d_cell, acts, opts, dx,
                                 d_c0, d_h0, d_w_ins[lane], d_bs[lane],
                                 d_ws[lane], d_peeps[lane], bounds[lane],
                                 bounds[lane + 1])
    d_w = np.ascontiguousarray(_lane_sum(d_ws)[:n, :4 * n])
    return (dx, _lane_sum(d_w_ins), _lane_sum(d_bs), d_w, d_c0,
            d_h0, _lane_sum(d_peeps))


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


# ---- the lanes of the parallel kernels, called by symbol -----------------

def _lane_signature(ranks):
    """``signature(dtype)`` of a lane: arrays of `ranks` in the dtype (the
    activation codes and options, int64 and float64, where a rank is
    "acts" or "opts"), then the lane's first and end rows."""
    def signature(dtype):
        dt = numba.from_dtype(np.dtype(dtype))
        special = {"acts": types.Array(types.int64, 1, "C"),
                   "opts": types.Array(types.float64, 1, "C")}
        return tuple(special[r] if r in special else types.Array(dt, r, "C")
                     for r in ranks) + (types.int64, types.int64)
    return signature


# The LSTM kernels' lanes (above) are compiled on their own and called by symbol
# from the kernels' parallel loops. Linked into a kernel, a lane's code was
# optimised again in the kernel and in the parallel region Numba outlines
# from it: about 18 s of the first compile of the two kernels, per dtype,
# for no faster code.
_LANES = {
    "lstm_forward": Exported(
        "lstm_forward_lane", _lstm_forward_lane, _lane_signature(
            (3, 2, 1, 2, 2, 2, 2, 2, "acts", "opts", 3, 3, 3))),
    "lstm_backward": Exported(
        "lstm_backward_lane", _lstm_backward_lane, _lane_signature(
            (3, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, "acts", "opts", 3, 2, 2, 2,
             1, 2, 2))),
}
_call_lstm_forward_lane = _LANES["lstm_forward"].call
_call_lstm_backward_lane = _LANES["lstm_backward"].call


def lanes_of(kernel):
    """The exported lanes (:class:`Exported`) `kernel` (a name) calls by
    symbol: they must be registered before the kernel is loaded from
    Numba's cache."""
    return (_LANES[kernel],) if kernel in _LANES else ()


def ready(kernel, dtype):
    """Register the symbols of `kernel`'s lanes for `dtype`: call before
    calling the kernel from Python, which may load it from Numba's cache."""
    for lane in lanes_of(kernel):
        lane.register(dtype)
