"""Numba kernels of the convolution Ops: register-tiled direct convolution.

Every 1-d or 2-d problem is lifted to 3-d by adding leading spatial axes of
size 1, so one set of kernels (compiled once per dtype) serves all ranks,
strides, dilations, paddings and group counts.

Each sample's group of input channels is first copied into a zero-padded
buffer (:func:`_copy_padded`). In that buffer the input element that output
position ``p`` meets at kernel tap ``k = (c, kd, kh, kw)`` sits at offset
``posoff[p] + koff[k]``: stride, dilation and padding enter only through
these two offset tables (:func:`_offsets`). The arithmetic is done by the
register tile of :mod:`lasagne.ops._microkernel`, which reads the buffer
through the tables directly, so no im2col matrix is ever built:

* forward: rows are output positions, steps are taps, and ``M`` holds the
  filters tap-major, ``(K, F)``; the tile's ``(positions, F)`` block is
  written to the output's ``(F, P)`` layout.
* filter gradient: rows are taps, steps are output positions, and ``M`` is
  the sample's output gradient transposed to ``(P, F)``; each lane sums
  into its own ``(K, F)`` block, reduced over the lanes at the end. For
  :class:`~lasagne.ops.conv.ConvGradFiltersBias` the buffer ends with a
  channel of ones and the block with one more row, which becomes the sum
  of the output gradient over positions: the bias gradient, for free.
* input gradient, two ways. Where it has about as many positions as the
  output and stride 1 ('same' convolutions), it is the forward kernel run
  on the output gradient, padded so that the result has the input's shape,
  with the filters' in- and out-channels swapped and their taps mirrored.
  Elsewhere ('valid' convolutions, strides) that padding or the stride's
  gaps would be mostly zeros, so the sum is scattered tap by tap instead:
  for a row of output positions and one tap, the tile adds
  ``gy[f, p] * w[f, c, tap]`` over ``f`` into a position-major
  ``(positions, C)`` buffer of the padded input at the rows that tap
  reaches (stride and dilation are the row step); the buffer is then
  cropped and transposed into ``dx``.

The forward pass has a second form too: with stride 1 and few taps (a
first layer on one input channel), the tile's rows are filters and its
vectors run along whole padded rows of the input, which spends a few
wasted positions at the row ends instead of transposing every output.

The driver (:func:`_run`) and the three entry points are compiled once per
dtype and machine and called by symbol (:mod:`lasagne.ops._exported`), so
a new graph compiles only the few lines that call them.

Threads. The batch is split into contiguous *lanes* that Numba's threads
share, through a single ``prange`` (:func:`_run`) for both kernels, because
Numba compiles a parallel region slowly.

Array slice assignments are written as loops: Numba's array-to-array slice
assignment compiles a formatted shape-mismatch error message, which costs
seconds of compile time.
"""

import numba
import numpy as np
from numba import prange, types
from pytensor.link.numba.dispatch.basic import (
    numba_njit, register_funcify_default_op_cache_key)

from ._cache import KERNEL_SALT
from ._microkernel import (TILE_ROWS, TILE_SPEED, VECTOR_BYTES, tile1, tile2,
                           tile4)
from ._exported import Exported
from ._parallel import prange_only, start_parallel_runtime
from .conv import Conv, ConvGradFilters, ConvGradFiltersBias, ConvGradInput

#: The batch is split into this many lanes (fewer for a smaller batch),
#: which Numba's threads share. A constant, not ``numba.get_num_threads()``:
#: that call would keep PyTensor from caching the compiled graph on disk.
LANES = 16

FORWARD, GRAD_FILTERS, GRAD_INPUT, FORWARD_WIDE, GRAD_FILTERS_BIAS = range(5)

#: Slack entries after each offset table, so that a tile's last rows can
#: repeat a valid offset (their results are dropped).
_SLACK = max(TILE_ROWS.values())

_ROWS1, _ROWS2, _ROWS4 = TILE_ROWS[1], TILE_ROWS[2], TILE_ROWS[4]
_SPEED1, _SPEED2, _SPEED4 = TILE_SPEED[1], TILE_SPEED[2], TILE_SPEED[4]
#: Vectors in the largest tile (rows x vectors per row).
_TILE_MAX = max(_ROWS1, 2 * _ROWS2, 4 * _ROWS4)


@numba_njit
def _tile(nv, out, out_at, ldo, src, aoff, aoff_at, boff, steps, m, m_at,
          ldm, accumulate):
    """The register tile with `nv` vectors per row (1, 2 or 4)."""
    if nv == 4:
        tile4(out, out_at, ldo, src, aoff, aoff_at, boff, steps, m, m_at,
              ldm, accumulate)
    elif nv == 2:
        tile2(out, out_at, ldo, src, aoff, aoff_at, boff, steps, m, m_at,
              ldm, accumulate)
    else:
        tile1(out, out_at, ldo, src, aoff, aoff_at, boff, steps, m, m_at,
              ldm, accumulate)


#: Whether 4-vector column blocks are used: only where that tile holds at
#: least as many accumulators as the 2-vector one (AVX-512). With AVX2 its
#: 2 rows would load 4 vectors of ``M`` for 8 multiply-adds per step, and a
#: filter block too big for the L1 cache (64 channels x 3x3 taps) starves it.
_USE_TILE4 = 4 * _ROWS4 >= 2 * _ROWS2


@numba_njit
def _block(remaining):
    """Vectors in the next column block, and the tile's rows for it."""
    if _USE_TILE4 and remaining >= 4:
        return 4, _ROWS4
    if remaining >= 2:
        return 2, _ROWS2
    return 1, _ROWS1


@numba_njit
def _lanes_of(dtype_size):
    return VECTOR_BYTES // dtype_size


@numba_njit
def _offsets(up, cg, ksize, stride, dil, oshape):
    """``posoff`` (P + slack) and ``koff`` (Kg + slack) in a padded buffer
    of spatial shape `up`; the slack repeats the last entry."""
    Uh, Uw = up[1], up[2]
    OD, OH, OW = oshape
    KD, KH, KW = ksize
    P, K = OD * OH * OW, cg * KD * KH * KW
    posoff = np.empty(P + _SLACK, dtype=np.int64)
    for od in range(OD):
        for oh in range(OH):
            for ow in range(OW):
                posoff[(od * OH + oh) * OW + ow] = (
                    (od * stride[0] * Uh + oh * stride[1]) * Uw
                    + ow * stride[2])
    koff = np.empty(K + _SLACK, dtype=np.int64)
    for c in range(cg):
        for kd in range(KD):
            for kh in range(KH):
                for kw in range(KW):
                    koff[((c * KD + kd) * KH + kh) * KW + kw] = (
                        ((c * up[0] + kd * dil[0]) * Uh + kh * dil[1]) * Uw
                        + kw * dil[2])
    for i in range(_SLACK):
        posoff[P + i] = posoff[P - 1]
        koff[K + i] = koff[K - 1]
    return posoff, koff


@numba_njit
def _copy_padded(xf, at, cg, shape, xp, up, pad):
    """Copy `cg` channels of one sample (``xf[at:]``, spatial `shape`) into
    the padded buffer `xp` (spatial `up`): element ``i`` lands at ``i + pad``
    on each axis; what falls outside (negative padding) is dropped."""
    D, H, W = shape
    Ud, Uh, Uw = up
    # The range of w whose destination lies inside the buffer.
    w_lo = min(W, max(0, -pad[2]))
    w_hi = max(w_lo, min(W, Uw - pad[2]))
    for c in range(cg):
        for d in range(D):
            u = d + pad[0]
            if u < 0 or u >= Ud:
                continue
            for h in range(H):
                v = h + pad[1]
                if v < 0 or v >= Uh:
                    continue
                dst = ((c * Ud + u) * Uh + v) * Uw + pad[2]
                src = at + ((c * D + d) * H + h) * W
                for w in range(w_lo, w_hi):
                    xp[dst + w] = xf[src + w]


@numba_njit
def _forward_lane(lane, lanes, x, yf, wf, dims, up, pad, posoff, koff):
    """The output ``yf`` (flat ``(B, F, P)``) of the samples in this lane:
    every group, every column block of the filters ``wf`` (flat
    ``(groups, Kg, Fpad)``), every tile of output positions."""
    F, P, groups, K, Fpad = dims
    B, C = x.shape[0], x.shape[1]
    cg, fg = C // groups, F // groups
    S = x.shape[2] * x.shape[3] * x.shape[4]
    vl = _lanes_of(x.itemsize)
    xp = np.zeros(cg * up[0] * up[1] * up[2], dtype=x.dtype)
    acc = np.empty(_TILE_MAX * vl, dtype=x.dtype)
    xf = x.reshape(-1)
    for b in range(lane * B // lanes, (lane + 1) * B // lanes):
        for g in range(groups):
            _copy_padded(xf, (b * C + g * cg) * S, cg,
                         (x.shape[2], x.shape[3], x.shape[4]), xp, up, pad)
            col = 0
            while col < Fpad:
                nv, rows = _block((Fpad - col) // vl)
                width = nv * vl
                nf = min(width, fg - col)
                for p0 in range(0, P, rows):
                    _tile(nv, acc, np.int64(0), width, xp, posoff, p0, koff,
                          K, wf, g * K * Fpad + col, Fpad, False)
                    npos = min(rows, P - p0)
                    for f in range(nf):
                        at = (b * F + g * fg + col + f) * P + p0
                        for i in range(npos):
                            yf[at + i] = acc[i * width + f]
                col += width


@numba_njit
def _wide_block(rows_total, width_total, vl):
    """The tile (vectors, rows) with the least padded work for
    `rows_total` filters by `width_total` positions; the measured tile
    speeds weigh the choice."""
    best_nv, best_cost = 1, np.inf
    for nv, rows, speed in ((4, _ROWS4, _SPEED4), (2, _ROWS2, _SPEED2),
                            (1, _ROWS1, _SPEED1)):
        width = nv * vl
        cost = (((rows_total + rows - 1) // rows) * rows
                * ((width_total + width - 1) // width) * width / speed)
        if cost < best_cost:
            best_nv, best_cost = nv, cost
    return best_nv


@numba_njit
def _forward_wide_lane(lane, lanes, x, yf, wf, dims, up, pad, oshape, koff):
    """The forward pass vectorised along the width, for stride 1 and no
    depth: the tile's rows are filters (``wf``, flat ``(F, Kg)``), its
    vectors consecutive positions of whole padded rows, and ``M`` the
    padded input read at each tap's offset (``koff``). Positions past the
    output's width are computed and dropped: where the kernel has few taps
    this beats moving every output through a transposition."""
    F, P, groups, K, _ = dims
    B, C = x.shape[0], x.shape[1]
    cg, fg = C // groups, F // groups
    S = x.shape[2] * x.shape[3] * x.shape[4]
    OH, OW = oshape[1], oshape[2]
    Uw = up[2]
    vl = _lanes_of(x.itemsize)
    nv = _wide_block(fg, OH * Uw, vl)
    rows = _ROWS4 if nv == 4 else (_ROWS2 if nv == 2 else _ROWS1)
    width = nv * vl
    npf = (OH * Uw + width - 1) // width * width
    xp = np.zeros(max(cg * up[0] * up[1] * Uw, npf + koff[K - 1] + 1),
                  dtype=x.dtype)
    yt = np.empty((fg + _SLACK) * npf, dtype=x.dtype)
    steps = np.arange(K).astype(np.int64)
    aoff = np.empty(_SLACK, dtype=np.int64)
    xf = x.reshape(-1)
    for b in range(lane * B // lanes, (lane + 1) * B // lanes):
        for g in range(groups):
            _copy_padded(xf, (b * C + g * cg) * S, cg,
                         (x.shape[2], x.shape[3], x.shape[4]), xp, up, pad)
            for f0 in range(0, fg, rows):
                n = min(rows, fg - f0)
                for i in range(rows):
                    aoff[i] = (g * fg + f0 + min(i, n - 1)) * K
                for p0 in range(0, npf, width):
                    _tile(nv, yt, f0 * npf + p0, npf, wf, aoff, np.int64(0),
                          steps, K, xp, p0, koff, False)
            for f in range(fg):
                for oh in range(OH):
                    at = ((b * F + g * fg + f) * OH + oh) * OW
                    src = f * npf + oh * Uw
                    for ow in range(OW):
                        yf[at + ow] = yt[src + ow]


@numba_njit
def _grad_filters_lane(lane, lanes, x, part, gf, dims, up, pad, posoff,
                       koff, bias):
    """This lane's filter gradient, block `lane` of ``part`` (flat
    ``(lanes, groups, Kg + slack, Fpad)``), summed over its samples of the
    output gradient ``gf`` (flat ``(B, F, P)``). With `bias`, row Kg of
    each group's block also gets the sums of ``gf`` over positions: the
    padded buffer ends with a channel of ones, which ``koff[Kg]`` points
    to, so the tile computes them with the filter gradient."""
    F, P, groups, K, Fpad = dims
    B, C = x.shape[0], x.shape[1]
    cg, fg = C // groups, F // groups
    S = x.shape[2] * x.shape[3] * x.shape[4]
    vl = _lanes_of(x.itemsize)
    V = up[0] * up[1] * up[2]
    xp = np.zeros(cg * V + (V if bias else 0), dtype=x.dtype)
    for i in range(cg * V, xp.size):
        xp[i] = 1
    rows_used = K + 1 if bias else K
    gt = np.zeros(P * Fpad, dtype=x.dtype)
    xf = x.reshape(-1)
    block = groups * (K + _SLACK) * Fpad
    pf = part[lane * block:(lane + 1) * block]
    for i in range(block):
        pf[i] = 0
    for b in range(lane * B // lanes, (lane + 1) * B // lanes):
        for g in range(groups):
            _copy_padded(xf, (b * C + g * cg) * S, cg,
                         (x.shape[2], x.shape[3], x.shape[4]), xp, up, pad)
            # Transposed in blocks of positions, so that the block of gt
            # being written stays in the L1 cache.
            for p0 in range(0, P, 64):
                p1 = min(P, p0 + 64)
                for f in range(fg):
                    at = (b * F + g * fg + f) * P
                    for p in range(p0, p1):
                        gt[p * Fpad + f] = gf[at + p]
            col = 0
            while col < Fpad:
                nv, rows = _block((Fpad - col) // vl)
                for k0 in range(0, rows_used, rows):
                    _tile(nv, pf, (g * (K + _SLACK) + k0) * Fpad + col, Fpad,
                          xp, koff, k0, posoff, P, gt, col, Fpad, True)
                col += nv * vl


@numba_njit
def _grad_input_lane(lane, lanes, gy, dxf, wf, dims, up, stride, pad,
                     in_shape, tapoff):
    """The input gradient ``dxf`` (flat ``(B, C, *in_shape)``) of the
    samples in this lane, scattered tap by tap: for every row of output
    positions and every tap, the tile adds ``gy[f, p] * w[f, c, tap]``
    over ``f`` into the padded, position-major buffer ``dxt`` (positions x
    Cpad) at the rows that tap reaches. Nothing multiplies padding, and
    every stride and dilation is a row step. `wf` is flat
    ``(groups, taps, Fg, Cpad)``; `dims` is ``(C, 0, groups, taps, Cpad)``.
    """
    C, _, groups, taps, Cpad = dims
    B, F = gy.shape[0], gy.shape[1]
    OD, OH, OW = gy.shape[2], gy.shape[3], gy.shape[4]
    P = OD * OH * OW
    D, H, W = in_shape[0], in_shape[1], in_shape[2]
    Ud, Uh, Uw = up
    cg, fg = C // groups, F // groups
    vl = _lanes_of(gy.itemsize)
    # The sample's gy rows with one zero after each: rows of a tile past the
    # end of a row of positions read that zero and add nothing.
    src = np.zeros(fg * (P + 1), dtype=gy.dtype)
    boff = np.empty(fg, dtype=np.int64)
    for f in range(fg):
        boff[f] = f * (P + 1)
    aoff = np.empty(_SLACK, dtype=np.int64)
    # Slack rows after the buffer take those rows' (unchanged) values.
    size = Ud * Uh * Uw
    dxt = np.zeros((size + _SLACK * stride[2]) * Cpad, dtype=gy.dtype)
    gf = gy.reshape(-1)
    for b in range(lane * B // lanes, (lane + 1) * B // lanes):
        for g in range(groups):
            for f in range(fg):
                at = (b * F + g * fg + f) * P
                for p in range(P):
                    src[f * (P + 1) + p] = gf[at + p]
            for i in range(size * Cpad):
                dxt[i] = 0
            col = 0
            while col < Cpad:
                nv, rows = _block((Cpad - col) // vl)
                for od in range(OD):
                    for oh in range(OH):
                        for x0 in range(0, OW, rows):
                            n = min(rows, OW - x0)
                            p0 = (od * OH + oh) * OW + x0
                            for i in range(rows):
                                aoff[i] = p0 + i if i < n else P
                            base = ((od * stride[0] * Uh + oh * stride[1])
                                    * Uw + x0 * stride[2])
                            for k in range(taps):
                                _tile(nv, dxt, (base + tapoff[k]) * Cpad + col,
                                      stride[2] * Cpad, src, aoff,
                                      np.int64(0), boff,
                                      fg, wf, ((g * taps + k) * fg) * Cpad
                                      + col, Cpad, True)
                col += nv * vl
            # Cropped and transposed into dx, a block of positions at a time.
            for d in range(D):
                for h in range(H):
                    row = ((d + pad[0]) * Uh + h + pad[1]) * Uw + pad[2]
                    for c in range(cg):
                        at = (((b * C + g * cg + c) * D + d) * H + h) * W
                        for w in range(W):
                            dxf[at + w] = dxt[(row + w) * Cpad + c]


@numba_njit(cache=True, nogil=True, boundscheck=False)
def _run_lane(mode, lane, lanes, x, out, w, dims, up, stride, pad, posoff,
              koff):
    """Lane `lane` of `lanes` of the kernel `mode` (see :func:`_run`).
    Compiled on its own, once per dtype, and called by symbol from the
    driver: see :data:`_LANE`."""
    if mode == FORWARD:
        _forward_lane(lane, lanes, x, out, w, dims, up, pad, posoff, koff)
    elif mode == GRAD_FILTERS or mode == GRAD_FILTERS_BIAS:
        _grad_filters_lane(lane, lanes, x, out, w, dims, up, pad, posoff,
                           koff, mode == GRAD_FILTERS_BIAS)
    elif mode == GRAD_INPUT:
        _grad_input_lane(lane, lanes, x, out, w, dims, up, stride, pad,
                         posoff, koff)
    else:
        _forward_wide_lane(lane, lanes, x, out, w, dims, up, pad, posoff,
                           koff)


def _lane_signature(dtype):
    """The one argument signature :func:`_run_lane` is compiled for: the
    driver's with the lane's index after the mode."""
    mode, lanes, *rest = _driver_signature(dtype)
    return (mode, types.int64, lanes, *rest)


# The lanes are compiled on their own and called by symbol: linked into
# the driver, their code was optimised again in the driver and in the
# parallel region Numba outlines from it, about 8 s of the kernels' first
# compile per dtype for no faster code.
_LANE = Exported("conv_run_lane", _run_lane, _lane_signature, dtype_arg=3)
_call_lane = _LANE.call


@numba.njit(parallel=prange_only(), cache=True, nogil=True, boundscheck=False,
            no_cpython_wrapper=True, no_cfunc_wrapper=True)
def _run(mode, lanes, x, out, w, dims, up, stride, pad, posoff, koff):
    """One lane per iteration, in Numba's threads. FORWARD writes ``out``
    from the tiled filters ``w``; GRAD_FILTERS sums the output gradient
    ``w`` into the per-lane blocks of ``out`` (GRAD_FILTERS_BIAS also sums
    it per channel, in row Kg of those blocks); GRAD_INPUT writes ``out``
    from the output gradient ``x`` and the per-tap filters ``w``, with
    ``posoff`` the input's spatial shape and ``koff`` the taps' offsets;
    FORWARD_WIDE writes ``out`` from the filters ``w`` (flat ``(F, Kg)``),
    with ``posoff`` the output's spatial shape.
    ``out`` and ``w`` are flat, so that all modes share one compiled
    function; `dims` is ``(F, P, groups, Kg, Fpad)`` (see each lane).

    One lane runs in the calling thread: a parallel region costs a wake-up
    of every thread, which on a busy machine waits for a time slice of the
    scheduler (milliseconds) and dwarfs a small convolution."""
    if lanes == 1:
        _call_lane(mode, np.int64(0), lanes, x, out, w, dims, up, stride, pad,
                   posoff, koff)
        return
    for lane in prange(lanes):
        _call_lane(mode, np.int64(lane), lanes, x, out, w, dims, up, stride,
                   pad, posoff, koff)


# ---- the driver, compiled once per dtype and called by symbol --------------
#
# The driver holds all the kernels. Linked into its callers, it was
# re-optimised in each of them: about 12 s of a cold compile. As an
# Exported function (see :mod:`._exported`) it is compiled or loaded from
# Numba's cache once per dtype and called by name.

def _driver_signature(dtype):
    """The one argument signature :func:`_run` is compiled for."""
    dt = numba.from_dtype(np.dtype(dtype))
    flat = types.Array(dt, 1, "C")
    index = types.Array(types.int64, 1, "C")
    triple = types.UniTuple(types.int64, 3)
    return (types.int64, types.int64, types.Array(dt, 5, "C"), flat, flat,
            types.UniTuple(types.int64, 5), triple, triple, triple, index,
            index)


_DRIVER = Exported("conv_run", _run, _driver_signature, dtype_arg=2,
                   requires=[_LANE])
_call_run = _DRIVER.call


#: Below this many multiply-adds a kernel runs as one lane, in the calling
#: thread (see :func:`_run`).
SERIAL_WORK = 1 << 16


@numba_njit
def _lanes(batch, work):
    """Lanes for `batch` samples and `work` multiply-adds in all."""
    if work < SERIAL_WORK:
        return 1
    return max(1, min(LANES, batch))


@numba_njit
def _padded_columns(n, itemsize):
    vl = _lanes_of(itemsize)
    return (n + vl - 1) // vl * vl


@numba_njit
def _tap(t, taps, mirror):
    return taps - 1 - t if mirror else t


@numba_njit
def _filters(w, groups, flip, adjoint):
    """The filters ``(F, Cg, *kernel)`` tiled for the forward kernel,
    ``(groups, taps rows, padded columns)``, mirrored if `flip` (mirroring
    every spatial axis reverses the taps). Forward: rows ``(c, tap)``,
    columns ``f``. `adjoint` (the input gradient's filters): rows
    ``(f, tap)``, columns ``c``, taps mirrored relative to the forward."""
    F, cg = w.shape[0], w.shape[1]
    taps = w.shape[2] * w.shape[3] * w.shape[4]
    fg = F // groups
    rows, cols = (fg, cg) if adjoint else (cg, fg)
    w3 = w.reshape((F, cg, taps))
    out = np.zeros((groups, rows * taps, _padded_columns(cols, w.itemsize)),
                   dtype=w.dtype)
    mirror = flip != adjoint
    for g in range(groups):
        for f in range(fg):
            for c in range(cg):
                r, col = (f, c) if adjoint else (c, f)
                for t in range(taps):
                    out[g, r * taps + t, col] = w3[g * fg + f, c,
                                                   _tap(t, taps, mirror)]
    return out


@numba_njit
def _filters_rows(w, flip):
    """The filters ``(F, Cg, *kernel)`` as ``(F, Cg*taps)``, mirrored if
    `flip`, for the width-vectorised forward pass."""
    F, cg = w.shape[0], w.shape[1]
    taps = w.shape[2] * w.shape[3] * w.shape[4]
    w3 = w.reshape((F, cg, taps))
    out = np.empty((F, cg * taps), dtype=w.dtype)
    for f in range(F):
        for c in range(cg):
            for t in range(taps):
                out[f, c * taps + t] = w3[f, c, _tap(t, taps, flip)]
    return out


#: The width-vectorised forward pass is used for stride 1, no depth, at most
#: this many taps per group, and padded rows at most 5/4 of the output's.
WIDE_MAX_TAPS = 64


@numba_njit
def _out_length(n, k, s, d):
    return (n - d * (k - 1) - 1) // s + 1


@numba.njit(cache=True, nogil=True, boundscheck=False,
            no_cpython_wrapper=True, no_cfunc_wrapper=True)
def _forward(x, w, stride, dil, pad, pad_after, groups, flip):
    B, C, F, cg = x.shape[0], x.shape[1], w.shape[0], w.shape[1]
    if C != cg * groups or F % groups != 0:
        raise ValueError("Conv: the input channels must equal "
                         "filters.shape[1] * groups, and filters.shape[0] "
                         "must be divisible by groups")
    ksize = (w.shape[2], w.shape[3], w.shape[4])
    up = (x.shape[2] + pad[0] + pad_after[0],
          x.shape[3] + pad[1] + pad_after[1],
          x.shape[4] + pad[2] + pad_after[2])
    oshape = (_out_length(up[0], ksize[0], stride[0], dil[0]),
              _out_length(up[1], ksize[1], stride[1], dil[1]),
              _out_length(up[2], ksize[2], stride[2], dil[2]))
    if oshape[0] <= 0 or oshape[1] <= 0 or oshape[2] <= 0:
        raise ValueError("Conv: the output would be empty: the padded input "
                         "is smaller than the dilated kernel")
    posoff, koff = _offsets(up, cg, ksize, stride, dil, oshape)
    y = np.empty((B, F, oshape[0], oshape[1], oshape[2]), dtype=x.dtype)
    P = oshape[0] * oshape[1] * oshape[2]
    if (stride[0] == 1 and stride[1] == 1 and stride[2] == 1
            and up[0] == 1 and cg * ksize[1] * ksize[2] <= WIDE_MAX_TAPS
            and 4 * up[2] <= 5 * oshape[2]):
        K = cg * ksize[1] * ksize[2]
        dims = (np.int64(F), np.int64(P), np.int64(groups), np.int64(K),
                np.int64(0))
        shape = np.array([oshape[0], oshape[1], oshape[2]], dtype=np.int64)
        _call_run(np.int64(FORWARD_WIDE), _lanes(B, B * F * P * K), x,
                  y.reshape(-1),
                  _filters_rows(w, flip).reshape(-1), dims, up,
                  (np.int64(1), np.int64(1), np.int64(1)), pad, shape, koff)
        return y
    wt = _filters(w, groups, flip, False)
    dims = (np.int64(F), np.int64(P), np.int64(groups),
            np.int64(wt.shape[1]), np.int64(wt.shape[2]))
    ones = (np.int64(1), np.int64(1), np.int64(1))
    _call_run(np.int64(FORWARD), _lanes(B, B * F * P * dims[3]), x,
              y.reshape(-1),
              wt.reshape(-1), dims, up, ones, pad, posoff, koff)
    return y


@numba_njit
def _grad_input_transposed(w, gy, in_shape, stride, dil, pad, groups, flip):
    """The input gradient, for stride 1, as the forward kernel on ``gy``
    padded so that the result has the input's shape: best where that
    padding is no wider than the forward's ('same' convolutions), since it
    multiplies its zeros."""
    B, F, cg = gy.shape[0], gy.shape[1], w.shape[1]
    fg = F // groups
    ksize = (w.shape[2], w.shape[3], w.shape[4])
    # gy padded so that a correlation with the mirrored filters gives
    # exactly `in_shape`.
    before = (dil[0] * (ksize[0] - 1) - pad[0],
              dil[1] * (ksize[1] - 1) - pad[1],
              dil[2] * (ksize[2] - 1) - pad[2])
    up = (in_shape[0] + dil[0] * (ksize[0] - 1),
          in_shape[1] + dil[1] * (ksize[1] - 1),
          in_shape[2] + dil[2] * (ksize[2] - 1))
    ones = (np.int64(1), np.int64(1), np.int64(1))
    posoff, koff = _offsets(up, fg, ksize, ones, dil, in_shape)
    dx = np.empty((B, cg * groups, in_shape[0], in_shape[1], in_shape[2]),
                  dtype=gy.dtype)
    wt = _filters(w, groups, flip, True)
    P = in_shape[0] * in_shape[1] * in_shape[2]
    dims = (np.int64(cg * groups), np.int64(P), np.int64(groups),
            np.int64(wt.shape[1]), np.int64(wt.shape[2]))
    _call_run(np.int64(FORWARD), _lanes(B, B * cg * groups * P * dims[3]),
              gy, dx.reshape(-1),
              wt.reshape(-1), dims, up, stride, before, posoff, koff)
    return dx


@numba.njit(cache=True, nogil=True, boundscheck=False,
            no_cpython_wrapper=True, no_cfunc_wrapper=True)
def _grad_input(w, gy, in_shape, stride, dil, pad, groups, flip):
    B, F, cg = gy.shape[0], gy.shape[1], w.shape[1]
    if F != w.shape[0] or F % groups != 0:
        raise ValueError("ConvGradInput: the output-gradient channels must "
                         "equal filters.shape[0], divisible by groups")
    fg = F // groups
    ksize = (w.shape[2], w.shape[3], w.shape[4])
    taps = ksize[0] * ksize[1] * ksize[2]
    oshape = (gy.shape[2], gy.shape[3], gy.shape[4])
    # With stride 1 and about as many output as input positions, the
    # transposed forward pass multiplies few zeros and runs longer tiles.
    n_in = in_shape[0] * in_shape[1] * in_shape[2]
    n_out = oshape[0] * oshape[1] * oshape[2]
    if (stride[0] == 1 and stride[1] == 1 and stride[2] == 1
            and 4 * n_in <= 5 * n_out):
        return _grad_input_transposed(w, gy, in_shape, stride, dil, pad,
                                      groups, flip)
    # The padded input grid: every position a tap reaches, and the input.
    up = (max(in_shape[0] + pad[0], (oshape[0] - 1) * stride[0]
              + dil[0] * (ksize[0] - 1) + 1),
          max(in_shape[1] + pad[1], (oshape[1] - 1) * stride[1]
              + dil[1] * (ksize[1] - 1) + 1),
          max(in_shape[2] + pad[2], (oshape[2] - 1) * stride[2]
              + dil[2] * (ksize[2] - 1) + 1))
    tapoff = np.empty(taps, dtype=np.int64)
    for kd in range(ksize[0]):
        for kh in range(ksize[1]):
            for kw in range(ksize[2]):
                tapoff[(kd * ksize[1] + kh) * ksize[2] + kw] = (
                    (kd * dil[0] * up[1] + kh * dil[1]) * up[2]
                    + kw * dil[2])
    Cpad = _padded_columns(cg, w.itemsize)
    w3 = w.reshape((F, cg, taps))
    wt = np.zeros((groups, taps, fg, Cpad), dtype=w.dtype)
    for g in range(groups):
        for k in range(taps):
            tk = _tap(k, taps, flip)
            for f in range(fg):
                for c in range(cg):
                    wt[g, k, f, c] = w3[g * fg + f, c, tk]
    dx = np.empty((B, cg * groups, in_shape[0], in_shape[1], in_shape[2]),
                  dtype=gy.dtype)
    dims = (np.int64(cg * groups), np.int64(0), np.int64(groups),
            np.int64(taps), np.int64(Cpad))
    shape = np.array([in_shape[0], in_shape[1], in_shape[2]], dtype=np.int64)
    work = B * gy.shape[2] * gy.shape[3] * gy.shape[4] * taps * F * Cpad
    _call_run(np.int64(GRAD_INPUT), _lanes(B, work // groups),
              np.ascontiguousarray(gy),
              dx.reshape(-1), wt.reshape(-1), dims, up, stride, pad, shape,
              tapoff)
    return dx


@numba.njit(cache=True, nogil=True, boundscheck=False,
            no_cpython_wrapper=True, no_cfunc_wrapper=True)
def _grad_filters(x, gy, ksize, stride, dil, pad, groups, flip, bias):
    """The filter gradient and, with `bias`, ``gy.sum(axis=(0, 2, 3, 4))``
    (each lane's sum in the dtype, summed over the lanes in float64);
    without, an empty second array."""
    B, C, F = x.shape[0], x.shape[1], gy.shape[1]
    if C % groups != 0 or F % groups != 0:
        raise ValueError("ConvGradFilters: channels not divisible by groups")
    cg, fg = C // groups, F // groups
    taps = ksize[0] * ksize[1] * ksize[2]
    K = cg * taps
    oshape = (gy.shape[2], gy.shape[3], gy.shape[4])
    # Enough padding after the input for every output position.
    up = (max(x.shape[2] + pad[0], (oshape[0] - 1) * stride[0]
              + dil[0] * (ksize[0] - 1) + 1),
          max(x.shape[3] + pad[1], (oshape[1] - 1) * stride[1]
              + dil[1] * (ksize[1] - 1) + 1),
          max(x.shape[4] + pad[2], (oshape[2] - 1) * stride[2]
              + dil[2] * (ksize[2] - 1) + 1))
    posoff, koff = _offsets(up, cg, ksize, stride, dil, oshape)
    P = oshape[0] * oshape[1] * oshape[2]
    lanes = _lanes(B, B * P * K * F)
    Fpad = _padded_columns(fg, x.itemsize)
    if bias:
        # The extra row, for the channel of ones after the padded input.
        ones = cg * up[0] * up[1] * up[2]
        for i in range(K, K + _SLACK):
            koff[i] = ones
    block = groups * (K + _SLACK) * Fpad
    part = np.empty(lanes * block, dtype=x.dtype)
    dims = (np.int64(F), np.int64(P), np.int64(groups), np.int64(K),
            np.int64(Fpad))
    mode = GRAD_FILTERS_BIAS if bias else GRAD_FILTERS
    _call_run(np.int64(mode), lanes, x, part,
              np.ascontiguousarray(gy).reshape(-1), dims, up,
              (np.int64(1), np.int64(1), np.int64(1)), pad, posoff, koff)
    blocks = part[:lanes * block].reshape((lanes, groups, K + _SLACK, Fpad))
    dw = np.zeros((F, cg, ksize[0], ksize[1], ksize[2]), dtype=x.dtype)
    dw3 = dw.reshape((F, cg, taps))
    for lane in range(lanes):
        for g in range(groups):
            for c in range(cg):
                for t in range(taps):
                    row = blocks[lane, g, c * taps + t]
                    tt = _tap(t, taps, flip)
                    for f in range(fg):
                        dw3[g * fg + f, c, tt] += row[f]
    db = np.zeros(F if bias else 0, dtype=np.float64)
    for lane in range(lanes if bias else 0):
        for g in range(groups):
            for f in range(fg):
                db[g * fg + f] += blocks[lane, g, K, f]
    return dw, db.astype(x.dtype)


# ---- the entry points, also compiled once per dtype and called by symbol ---

def _entry_signature(dtype):
    """``(array, array, shape or stride, stride or dilation, dilation or
    padding, padding, groups, flip)`` with 5-d C-contiguous arrays of
    `dtype` and int64 triples: the arguments of all three entry points
    (:func:`_forward` has a second padding where the others have a shape
    first)."""
    array = types.Array(numba.from_dtype(np.dtype(dtype)), 5, "C")
    triple = types.UniTuple(types.int64, 3)
    return (array, array, triple, triple, triple, triple, types.int64,
            types.boolean)


_FORWARD = Exported("conv_forward", _forward, _entry_signature,
                    requires=[_DRIVER])
_GRAD_INPUT = Exported("conv_grad_input", _grad_input, _entry_signature,
                       requires=[_DRIVER])
_GRAD_FILTERS = Exported("conv_grad_filters", _grad_filters,
                         lambda dtype: _entry_signature(dtype)
                         + (types.boolean,), requires=[_DRIVER])
_call_forward = _FORWARD.call
_call_grad_input = _GRAD_INPUT.call
_call_grad_filters = _GRAD_FILTERS.call


# ---- rank lifting: (B, C, *spatial) <-> (B, C, D, H, W) -------------------

@numba_njit
def _lift1(a):
    return np.ascontiguousarray(a).reshape(
        (a.shape[0], a.shape[1], 1, 1, a.shape[2]))


@numba_njit
def _lift2(a):
    return np.ascontiguousarray(a).reshape(
        (a.shape[0], a.shape[1], 1, a.shape[2], a.shape[3]))


@numba_njit
def _lift3(a):
    return np.ascontiguousarray(a)


@numba_njit
def _drop1(a):
    return a.reshape((a.shape[0], a.shape[1], a.shape[4]))


@numba_njit
def _drop2(a):
    return a.reshape((a.shape[0], a.shape[1], a.shape[3], a.shape[4]))


@numba_njit
def _drop3(a):
    return a.reshape((a.shape[0], a.shape[1], a.shape[2], a.shape[3],
                      a.shape[4]))


@numba_njit
def _vec1(v):
    # np.int64(1), not 1: a literal entry would give the tuple a type of
    # its own, and every kernel it reaches would compile a second time.
    return (np.int64(1), np.int64(1), np.int64(v[0]))


@numba_njit
def _vec2(v):
    return (np.int64(1), np.int64(v[0]), np.int64(v[1]))


@numba_njit
def _vec3(v):
    # Also the Ops' parameters: they reach the kernels as tuples of literal
    # integers, and every distinct literal type would compile the kernels
    # again.
    return (np.int64(v[0]), np.int64(v[1]), np.int64(v[2]))


_VERSION = KERNEL_SALT
_LIFT = {1: _lift1, 2: _lift2, 3: _lift3}
_DROP = {1: _drop1, 2: _drop2, 3: _drop3}
_VEC = {1: _vec1, 2: _vec2, 3: _vec3}


def _lifted_params(op):
    """The Op's parameters as 3-tuples, unit entries for the added axes."""
    ones = (1,) * (3 - op.nd)
    zeros = (0,) * (3 - op.nd)
    return (ones + op.stride, ones + op.dilation, zeros + op.pad_before,
            zeros + op.pad_after)


@register_funcify_default_op_cache_key(Conv)
def numba_funcify_Conv(op, node, **kwargs):
    start_parallel_runtime()
    _FORWARD.register(node.outputs[0].type.dtype)
    lift, drop = _LIFT[op.nd], _DROP[op.nd]
    stride, dil, pad, pad_after = _lifted_params(op)
    groups, flip = op.groups, op.filter_flip

    @numba_njit
    def conv_forward(x, w):
        return drop(_call_forward(lift(x), lift(w), _vec3(stride),
                                  _vec3(dil), _vec3(pad), _vec3(pad_after),
                                  np.int64(groups), np.bool_(flip)))

    return conv_forward, _VERSION


def _grad_filters_funcify(op, node, bias):
    """The filter gradient's jitted function; with `bias`, it returns the
    bias gradient too (:class:`ConvGradFiltersBias`)."""
    start_parallel_runtime()
    _GRAD_FILTERS.register(node.outputs[0].type.dtype)
    lift, drop, vec = _LIFT[op.nd], _DROP[op.nd], _VEC[op.nd]
    stride, dil, pad, _ = _lifted_params(op)
    groups, flip = op.groups, op.filter_flip

    @numba_njit
    def conv_grad_filters(x, gy, filter_shape):
        dw, db = _call_grad_filters(lift(x), lift(gy), vec(filter_shape),
                                    _vec3(stride), _vec3(dil), _vec3(pad),
                                    np.int64(groups), np.bool_(flip),
                                    np.bool_(bias))
        # `bias` is a constant of the closure: Numba prunes the branch not
        # taken, so the two results may have different types.
        return (drop(dw), db) if bias else drop(dw)

    return conv_grad_filters, _VERSION


@register_funcify_default_op_cache_key(ConvGradFilters)
def numba_funcify_ConvGradFilters(op, node, **kwargs):
    return _grad_filters_funcify(op, node, bias=False)


@register_funcify_default_op_cache_key(ConvGradFiltersBias)
def numba_funcify_ConvGradFiltersBias(op, node, **kwargs):
    return _grad_filters_funcify(op, node, bias=True)


@register_funcify_default_op_cache_key(ConvGradInput)
def numba_funcify_ConvGradInput(op, node, **kwargs):
    start_parallel_runtime()
    _GRAD_INPUT.register(node.outputs[0].type.dtype)
    lift, drop, vec = _LIFT[op.nd], _DROP[op.nd], _VEC[op.nd]
    stride, dil, pad, _ = _lifted_params(op)
    groups, flip = op.groups, op.filter_flip

    @numba_njit
    def conv_grad_input(w, gy, input_shape):
        return drop(_call_grad_input(lift(w), lift(gy), vec(input_shape),
                                     _vec3(stride), _vec3(dil), _vec3(pad),
                                     np.int64(groups), np.bool_(flip)))

    return conv_grad_input, _VERSION
