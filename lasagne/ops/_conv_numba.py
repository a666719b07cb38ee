"""Numba kernels of the convolution Ops: a gather table feeding BLAS GEMMs,
all three Ops through one parallel driver.

Every 1-d or 2-d problem is lifted to 3-d by adding leading spatial axes of
size 1, so one set of generic kernels (compiled once per dtype) serves all
ranks, strides, dilations, paddings and group counts.

Gather table. Stride, dilation and padding enter only through an integer
table built once per call (:func:`_table`): entry ``[p, k]`` is the offset,
within one sample's group of input channels, of the input element that
output position ``p`` meets at kernel tap ``k = (c, kd, kh, kw)``, or -1
where that element is padding. Building a GEMM operand is then one flat
gather (:func:`_gather`), and its adjoint one flat scatter-add
(:func:`_scatter_add`), whatever the geometry. Flipped filters are
mirrored while they are copied into GEMM layout (:func:`_filters`).

GEMMs, per sample and group (``P`` output positions, ``Kg`` taps), in the
orientations that read and write ``y``'s and ``gy``'s ``(Fg, P)`` blocks in
place, so no operand is transposed:

* forward: ``y[b, g] = W[g] (Fg x Kg) @ cols (Kg x P)``;
* input gradient: ``dcols (Kg x P) = W[g].T @ gy[b, g]``, then the
  scatter-add into ``dx``;
* filter gradient: ``dW[g] += gy[b, g] @ rows (P x Kg)``.

Where ``P`` is small, ``n`` samples share one GEMM (``n * P`` columns, up to
:data:`GEMM_COLUMNS`), their ``(Fg, P)`` blocks copied side by side. One
sample's operands stay in the core's cache: at the MNIST shapes OpenBLAS ran
these GEMMs faster than wide ones over many samples.

Threads. The batch is split into contiguous *lanes* that Numba's threads
share; each lane calls BLAS single-threaded
(:mod:`lasagne.ops._blas_threads`), so the two thread pools never compete
for the cores. A single ``prange`` (in
:func:`_run`) serves the three Ops, because Numba compiles a parallel
region slowly; the filter gradient sums one partial result per lane.

All array slice assignments are written as loops: Numba's array-to-array
slice assignment compiles a formatted shape-mismatch error message, which
costs seconds of compile time.
"""

import numpy as np
from numba import prange
from pytensor.link.numba.dispatch.basic import (
    numba_njit, register_funcify_default_op_cache_key)

from ._blas_threads import blas_threads_local as _blas_threads_local
from ._cache import KERNEL_SALT
from ._parallel import start_parallel_runtime
from .conv import Conv, ConvGradFilters, ConvGradInput

#: The batch is split into this many lanes (fewer for a smaller batch),
#: which Numba's threads share. A constant, not ``numba.get_num_threads()``:
#: that call would keep PyTensor from caching the compiled graph on disk.
LANES = 16

#: Samples share a GEMM until it spans this many output positions.
GEMM_COLUMNS = 256

FORWARD, GRAD_INPUT, GRAD_FILTERS = 0, 1, 2


@numba_njit
def _table(in_shape, cg, ksize, stride, dil, pad, oshape):
    """The gather table, ``(P, Kg)``."""
    D, H, W = in_shape
    KD, KH, KW = ksize
    OD, OH, OW = oshape
    P, K = OD * OH * OW, cg * KD * KH * KW
    table = np.empty((P, K), dtype=np.int32)
    for od in range(OD):
        for oh in range(OH):
            for ow in range(OW):
                p = (od * OH + oh) * OW + ow
                for c in range(cg):
                    for kd in range(KD):
                        i_d = od * stride[0] + kd * dil[0] - pad[0]
                        for kh in range(KH):
                            i_h = oh * stride[1] + kh * dil[1] - pad[1]
                            for kw in range(KW):
                                i_w = ow * stride[2] + kw * dil[2] - pad[2]
                                k = ((c * KD + kd) * KH + kh) * KW + kw
                                inside = (0 <= i_d < D and 0 <= i_h < H
                                          and 0 <= i_w < W)
                                at = ((c * D + i_d) * H + i_h) * W + i_w
                                table[p, k] = at if inside else -1
    return table


@numba_njit
def _gather(xf, base, table, dst, row0, col0):
    """dst[row0 + r, col0 + j] = xf[base + table[r, j]] (0 where -1)."""
    df, width = dst.reshape(-1), dst.shape[1]
    zero = dst.dtype.type(0)
    for r in range(table.shape[0]):
        at = (row0 + r) * width + col0
        for j in range(table.shape[1]):
            i = table[r, j]
            df[at + j] = xf[np.uint64(base + i)] if i >= 0 else zero


@numba_njit
def _scatter_add(src, col0, table, xf, base):
    """The adjoint of :func:`_gather` (``row0 = 0``): xf[...] += src[...]."""
    sf, width = src.reshape(-1), src.shape[1]
    for r in range(table.shape[0]):
        at = r * width + col0
        for j in range(table.shape[1]):
            i = table[r, j]
            if i >= 0:
                xf[np.uint64(base + i)] += sf[at + j]


@numba_njit
def _lane(mode, lane, lanes, x, y, wmat, table):
    """One lane's share of the batch: samples [lane*B/L, (lane+1)*B/L).

    ``x`` is input-shaped (written by GRAD_INPUT), ``y`` output-shaped
    (written by FORWARD). ``wmat`` holds the filters as each mode's GEMM
    wants them: ``(groups, Fg, Kg)`` for FORWARD, ``(groups, Kg, Fg)`` for
    GRAD_INPUT; for GRAD_FILTERS it receives the ``(groups, Fg, Kg)``
    partial sums, one block per lane. ``table`` is ``(Kg, P)`` for FORWARD
    and GRAD_INPUT, ``(P, Kg)`` for GRAD_FILTERS.

    With one sample per GEMM, the GEMMs read and write ``y``'s
    ``(Fg, P)`` blocks in place; with several, those blocks are copied to
    or from a ``(Fg, n * P)`` buffer, one contiguous row at a time.
    """
    B, F = x.shape[0], y.shape[1]
    groups = wmat.shape[0] // lanes if mode == GRAD_FILTERS else \
        wmat.shape[0]
    cg, fg = x.shape[1] // groups, F // groups
    S = x.shape[2] * x.shape[3] * x.shape[4]
    P = y.shape[2] * y.shape[3] * y.shape[4]
    kg = table.size // P
    b_start, b_stop = lane * B // lanes, (lane + 1) * B // lanes
    per_gemm = max(1, min(b_stop - b_start, (GEMM_COLUMNS - 1) // P + 1))
    big = np.empty(per_gemm * P * kg, dtype=x.dtype)
    small = np.empty(per_gemm * P * fg, dtype=x.dtype)
    xf, y4 = x.reshape(-1), y.reshape((B, groups, fg, P))
    if mode == GRAD_FILTERS:
        acc = wmat[lane * groups:(lane + 1) * groups]
        acc[:] = 0
        dw = np.empty((fg, kg), dtype=x.dtype)
    for b0 in range(b_start, b_stop, per_gemm):
        n = min(per_gemm, b_stop - b0)
        if mode == GRAD_INPUT:
            for i in range(b0 * x.shape[1] * S, (b0 + n) * x.shape[1] * S):
                xf[i] = 0
        for g in range(groups):
            yg = small[:fg * n * P].reshape((fg, n * P))
            if n == 1:
                yg = y4[b0, g]
            elif mode != FORWARD:
                for bi in range(n):
                    for f in range(fg):
                        for p in range(P):
                            yg[f, bi * P + p] = y4[b0 + bi, g, f, p]
            if mode == FORWARD:
                cols = big[:kg * n * P].reshape((kg, n * P))
                for bi in range(n):
                    _gather(xf, ((b0 + bi) * groups + g) * cg * S, table,
                            cols, 0, bi * P)
                np.dot(wmat[g], cols, yg)
                if n > 1:
                    for bi in range(n):
                        for f in range(fg):
                            for p in range(P):
                                y4[b0 + bi, g, f, p] = yg[f, bi * P + p]
            elif mode == GRAD_INPUT:
                cols = big[:kg * n * P].reshape((kg, n * P))
                np.dot(wmat[g], yg, cols)
                for bi in range(n):
                    _scatter_add(cols, bi * P, table, xf,
                                 ((b0 + bi) * groups + g) * cg * S)
            else:
                rows = big[:n * P * kg].reshape((n * P, kg))
                for bi in range(n):
                    _gather(xf, ((b0 + bi) * groups + g) * cg * S, table,
                            rows, bi * P, 0)
                np.dot(yg, rows, dw)
                block = acc[g]
                for f in range(fg):
                    for k in range(kg):
                        block[f, k] += dw[f, k]


@numba_njit(parallel=True)
def _run(mode, x, y, wmat, table, lanes):
    """Run :func:`_lane` on every lane, in Numba's threads."""
    for lane in prange(lanes):
        saved = _blas_threads_local(1)
        _lane(mode, np.int64(lane), lanes, x, y, wmat, table)
        _blas_threads_local(saved)


@numba_njit
def _lanes(batch):
    return max(1, min(LANES, batch))


@numba_njit
def _filters(w, groups, flip, transpose):
    """The filters ``(F, Cg, *kernel)`` as ``(groups, Fg, Kg)`` (or
    ``(groups, Kg, Fg)`` if `transpose`), mirrored if `flip`: mirroring
    every spatial axis reverses the taps of each channel."""
    F, cg = w.shape[0], w.shape[1]
    taps = w.shape[2] * w.shape[3] * w.shape[4]
    fg, kg = F // groups, cg * taps
    w3 = w.reshape((groups, fg, cg, taps))
    out = np.empty((groups, kg, fg) if transpose else (groups, fg, kg),
                   dtype=w.dtype)
    for g in range(groups):
        for f in range(fg):
            for c in range(cg):
                for t in range(taps):
                    v = w3[g, f, c, taps - 1 - t if flip else t]
                    if transpose:
                        out[g, c * taps + t, f] = v
                    else:
                        out[g, f, c * taps + t] = v
    return out


@numba_njit
def _transposed(table):
    out = np.empty((table.shape[1], table.shape[0]), dtype=table.dtype)
    for i in range(table.shape[0]):
        for j in range(table.shape[1]):
            out[j, i] = table[i, j]
    return out


@numba_njit
def _forward(x, w, stride, dil, pad, pad_after, groups, flip):
    B, C, F, cg = x.shape[0], x.shape[1], w.shape[0], w.shape[1]
    if C != cg * groups or F % groups != 0:
        raise ValueError("Conv: the input channels must equal "
                         "filters.shape[1] * groups, and filters.shape[0] "
                         "must be divisible by groups")
    in_shape = (x.shape[2], x.shape[3], x.shape[4])
    ksize = (w.shape[2], w.shape[3], w.shape[4])
    oshape = ((in_shape[0] + pad[0] + pad_after[0] - dil[0] * (ksize[0] - 1)
               - 1) // stride[0] + 1,
              (in_shape[1] + pad[1] + pad_after[1] - dil[1] * (ksize[1] - 1)
               - 1) // stride[1] + 1,
              (in_shape[2] + pad[2] + pad_after[2] - dil[2] * (ksize[2] - 1)
               - 1) // stride[2] + 1)
    if oshape[0] <= 0 or oshape[1] <= 0 or oshape[2] <= 0:
        raise ValueError("Conv: the output would be empty: the padded input "
                         "is smaller than the dilated kernel")
    table = _transposed(_table(in_shape, cg, ksize, stride, dil, pad, oshape))
    y = np.empty((B, F, oshape[0], oshape[1], oshape[2]), dtype=x.dtype)
    wmat = _filters(w, groups, flip, np.bool_(False))
    _run(np.int64(FORWARD), x, y, wmat, table, _lanes(B))
    return y


@numba_njit
def _grad_input(w, gy, in_shape, stride, dil, pad, groups, flip):
    B, F, cg = gy.shape[0], gy.shape[1], w.shape[1]
    if F != w.shape[0] or F % groups != 0:
        raise ValueError("ConvGradInput: the output-gradient channels must "
                         "equal filters.shape[0], divisible by groups")
    ksize = (w.shape[2], w.shape[3], w.shape[4])
    oshape = (gy.shape[2], gy.shape[3], gy.shape[4])
    table = _transposed(_table(in_shape, cg, ksize, stride, dil, pad, oshape))
    dx = np.empty((B, cg * groups, in_shape[0], in_shape[1], in_shape[2]),
                  dtype=gy.dtype)
    wmat = _filters(w, groups, flip, np.bool_(True))
    _run(np.int64(GRAD_INPUT), dx, gy, wmat, table, _lanes(B))
    return dx


@numba_njit
def _grad_filters(x, gy, ksize, stride, dil, pad, groups, flip):
    B, C, F = x.shape[0], x.shape[1], gy.shape[1]
    if C % groups != 0 or F % groups != 0:
        raise ValueError("ConvGradFilters: channels not divisible by groups")
    cg, fg = C // groups, F // groups
    taps = ksize[0] * ksize[1] * ksize[2]
    in_shape = (x.shape[2], x.shape[3], x.shape[4])
    oshape = (gy.shape[2], gy.shape[3], gy.shape[4])
    table = _table(in_shape, cg, ksize, stride, dil, pad, oshape)
    lanes = _lanes(B)
    partial = np.empty((lanes * groups, fg, cg * taps), dtype=x.dtype)
    _run(np.int64(GRAD_FILTERS), x, gy, partial, table, lanes)
    dw = np.zeros((F, cg, ksize[0], ksize[1], ksize[2]), dtype=x.dtype)
    dw4 = dw.reshape((groups, fg, cg, taps))
    for lane in range(lanes):
        for g in range(groups):
            for f in range(fg):
                for c in range(cg):
                    for t in range(taps):
                        dw4[g, f, c, taps - 1 - t if flip else t] += partial[
                            lane * groups + g, f, c * taps + t]
    return dw


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
    lift, drop = _LIFT[op.nd], _DROP[op.nd]
    stride, dil, pad, pad_after = _lifted_params(op)
    groups, flip = op.groups, op.filter_flip

    @numba_njit
    def conv_forward(x, w):
        return drop(_forward(lift(x), lift(w), stride, dil, pad, pad_after,
                             groups, np.bool_(flip)))

    return conv_forward, _VERSION


@register_funcify_default_op_cache_key(ConvGradFilters)
def numba_funcify_ConvGradFilters(op, node, **kwargs):
    start_parallel_runtime()
    lift, drop, vec = _LIFT[op.nd], _DROP[op.nd], _VEC[op.nd]
    stride, dil, pad, _ = _lifted_params(op)
    groups, flip = op.groups, op.filter_flip

    @numba_njit
    def conv_grad_filters(x, gy, filter_shape):
        return drop(_grad_filters(lift(x), lift(gy), vec(filter_shape),
                                  stride, dil, pad, groups, np.bool_(flip)))

    return conv_grad_filters, _VERSION


@register_funcify_default_op_cache_key(ConvGradInput)
def numba_funcify_ConvGradInput(op, node, **kwargs):
    start_parallel_runtime()
    lift, drop, vec = _LIFT[op.nd], _DROP[op.nd], _VEC[op.nd]
    stride, dil, pad, _ = _lifted_params(op)
    groups, flip = op.groups, op.filter_flip

    @numba_njit
    def conv_grad_input(w, gy, input_shape):
        return drop(_grad_input(lift(w), lift(gy), vec(input_shape), stride,
                                dil, pad, groups, np.bool_(flip)))

    return conv_grad_input, _VERSION
