"""Numba kernels of the convolution Ops: im2col feeding one BLAS GEMM.

Every 1-d or 2-d problem is lifted to 3-d by adding leading spatial axes of
size 1, so a single set of generic kernels (compiled once per dtype) serves
all ranks. Per batch chunk and group:

* forward: ``im2col`` (parallel over samples), ``Y = W @ cols`` (one GEMM),
  scatter ``Y`` into the ``(batch, channels, positions)`` output;
* filter gradient: ``im2col``, gather ``dY``, ``dW += dY @ cols.T``;
* input gradient: gather ``dY``, ``dcols = W.T @ dY``, ``col2im``
  (parallel over samples, so the scatter-adds never race).

Batch chunks keep the column buffer near :data:`CHUNK_ELEMENTS` elements:
large enough for BLAS to run at full speed, small enough to stay cheap.
"""
import numpy as np
from numba import prange
from pytensor.link.numba.dispatch.basic import (
    numba_njit, register_funcify_default_op_cache_key)

from .conv import Conv, ConvGradFilters, ConvGradInput

#: Target size (in elements) of the im2col buffer of one batch chunk.
CHUNK_ELEMENTS = 1 << 22


def _valid_range(size, out, s, offset):
    """Output positions ``o`` with ``0 <= o * s + offset < size``."""
    if offset >= 0:
        lo = 0
    else:
        lo = (-offset + s - 1) // s
    last = size - 1 - offset
    if last < 0:
        hi = 0
    else:
        hi = last // s + 1
    if hi > out:
        hi = out
    if hi < lo:
        hi = lo
    return lo, hi


_valid_range = numba_njit(inline="always")(_valid_range)


@numba_njit(parallel=True)
def _im2col(x, b0, n, c0, cg, ksize, stride, dil, pad, oshape, col):
    """col[(c, kd, kh, kw), (b, od, oh, ow)] = xpad[b0 + b, c0 + c, ...]."""
    D, H, W = x.shape[2], x.shape[3], x.shape[4]
    KD, KH, KW = ksize
    OD, OH, OW = oshape
    P = OD * OH * OW
    for bi in prange(n):
        b = b0 + bi
        for c in range(cg):
            for kd in range(KD):
                for kh in range(KH):
                    for kw in range(KW):
                        row = ((c * KD + kd) * KH + kh) * KW + kw
                        off_w = kw * dil[2] - pad[2]
                        lo, hi = _valid_range(W, OW, stride[2], off_w)
                        for od in range(OD):
                            i_d = od * stride[0] + kd * dil[0] - pad[0]
                            for oh in range(OH):
                                i_h = oh * stride[1] + kh * dil[1] - pad[1]
                                base = bi * P + (od * OH + oh) * OW
                                if i_d < 0 or i_d >= D or i_h < 0 or i_h >= H:
                                    for ow in range(OW):
                                        col[row, base + ow] = 0
                                    continue
                                for ow in range(lo):
                                    col[row, base + ow] = 0
                                for ow in range(lo, hi):
                                    col[row, base + ow] = x[
                                        b, c0 + c, i_d, i_h,
                                        ow * stride[2] + off_w]
                                for ow in range(hi, OW):
                                    col[row, base + ow] = 0


@numba_njit(parallel=True)
def _col2im(col, dx, b0, n, c0, cg, ksize, stride, dil, pad, oshape):
    """The adjoint of :func:`_im2col`: scatter-add columns into ``dx``."""
    D, H, W = dx.shape[2], dx.shape[3], dx.shape[4]
    KD, KH, KW = ksize
    OD, OH, OW = oshape
    P = OD * OH * OW
    for bi in prange(n):
        b = b0 + bi
        for c in range(cg):
            for kd in range(KD):
                for kh in range(KH):
                    for kw in range(KW):
                        row = ((c * KD + kd) * KH + kh) * KW + kw
                        off_w = kw * dil[2] - pad[2]
                        lo, hi = _valid_range(W, OW, stride[2], off_w)
                        for od in range(OD):
                            i_d = od * stride[0] + kd * dil[0] - pad[0]
                            if i_d < 0 or i_d >= D:
                                continue
                            for oh in range(OH):
                                i_h = oh * stride[1] + kh * dil[1] - pad[1]
                                if i_h < 0 or i_h >= H:
                                    continue
                                base = bi * P + (od * OH + oh) * OW
                                for ow in range(lo, hi):
                                    dx[b, c0 + c, i_d, i_h,
                                       ow * stride[2] + off_w] += col[
                                        row, base + ow]


@numba_njit(parallel=True)
def _scatter(out, y, b0, n, f0, fg):
    """y[b0 + b, f0 + f, p] = out[f, b * P + p]."""
    P = y.shape[2]
    for bi in prange(n):
        for f in range(fg):
            for p in range(P):
                y[b0 + bi, f0 + f, p] = out[f, bi * P + p]


@numba_njit(parallel=True)
def _gather(gy, b0, n, f0, fg, out):
    """out[f, b * P + p] = gy[b0 + b, f0 + f, p]."""
    P = gy.shape[2]
    for bi in prange(n):
        for f in range(fg):
            for p in range(P):
                out[f, bi * P + p] = gy[b0 + bi, f0 + f, p]


@numba_njit
def _chunk(batch, per_sample):
    n = CHUNK_ELEMENTS // max(per_sample, 1)
    return max(1, min(batch, n))


@numba_njit
def _forward(x, w, stride, dil, pad, oshape, groups):
    B, C = x.shape[0], x.shape[1]
    F, cg = w.shape[0], w.shape[1]
    ksize = (w.shape[2], w.shape[3], w.shape[4])
    if C != cg * groups or F % groups != 0:
        raise ValueError("Conv: the input channels must equal "
                         "filters.shape[1] * groups, and filters.shape[0] "
                         "must be divisible by groups")
    P = oshape[0] * oshape[1] * oshape[2]
    if P <= 0:
        raise ValueError("Conv: the output would be empty: the padded input "
                         "is smaller than the dilated kernel")
    fg = F // groups
    kg = cg * ksize[0] * ksize[1] * ksize[2]
    w3 = w.reshape((groups, fg, kg))
    y = np.empty((B, F, P), dtype=x.dtype)
    nb = _chunk(B, kg * P)
    for b0 in range(0, B, nb):
        n = min(nb, B - b0)
        col = np.empty((kg, n * P), dtype=x.dtype)
        for g in range(groups):
            _im2col(x, b0, n, g * cg, cg, ksize, stride, dil, pad, oshape,
                    col)
            out = np.dot(w3[g], col)
            _scatter(out, y, b0, n, g * fg, fg)
    return y


@numba_njit
def _grad_filters(x, gy, ksize, stride, dil, pad, groups):
    B, C = x.shape[0], x.shape[1]
    F = gy.shape[1]
    oshape = (gy.shape[2], gy.shape[3], gy.shape[4])
    P = oshape[0] * oshape[1] * oshape[2]
    if C % groups != 0 or F % groups != 0:
        raise ValueError("ConvGradFilters: channels not divisible by groups")
    cg, fg = C // groups, F // groups
    kg = cg * ksize[0] * ksize[1] * ksize[2]
    gy3 = gy.reshape((B, F, P))
    dw = np.zeros((groups, fg, kg), dtype=x.dtype)
    nb = _chunk(B, kg * P)
    for b0 in range(0, B, nb):
        n = min(nb, B - b0)
        col = np.empty((kg, n * P), dtype=x.dtype)
        dyt = np.empty((fg, n * P), dtype=x.dtype)
        for g in range(groups):
            _im2col(x, b0, n, g * cg, cg, ksize, stride, dil, pad, oshape,
                    col)
            _gather(gy3, b0, n, g * fg, fg, dyt)
            dw[g] += np.dot(dyt, col.T)
    return dw.reshape((F, cg, ksize[0], ksize[1], ksize[2]))


@numba_njit
def _grad_input(w, gy, in_shape, stride, dil, pad, groups):
    B, F = gy.shape[0], gy.shape[1]
    cg = w.shape[1]
    if F != w.shape[0] or F % groups != 0:
        raise ValueError("ConvGradInput: the output-gradient channels must "
                         "equal filters.shape[0], divisible by groups")
    ksize = (w.shape[2], w.shape[3], w.shape[4])
    oshape = (gy.shape[2], gy.shape[3], gy.shape[4])
    P = oshape[0] * oshape[1] * oshape[2]
    fg = F // groups
    kg = cg * ksize[0] * ksize[1] * ksize[2]
    w3 = w.reshape((groups, fg, kg))
    gy3 = gy.reshape((B, F, P))
    dx = np.zeros((B, cg * groups, in_shape[0], in_shape[1], in_shape[2]),
                  dtype=gy.dtype)
    nb = _chunk(B, kg * P)
    for b0 in range(0, B, nb):
        n = min(nb, B - b0)
        dyt = np.empty((fg, n * P), dtype=gy.dtype)
        for g in range(groups):
            _gather(gy3, b0, n, g * fg, fg, dyt)
            dcol = np.dot(w3[g].T, dyt)
            _col2im(dcol, dx, b0, n, g * cg, cg, ksize, stride, dil, pad,
                    oshape)
    return dx


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
    return (1, 1, int(v[0]))


@numba_njit
def _vec2(v):
    return (1, int(v[0]), int(v[1]))


@numba_njit
def _vec3(v):
    return (int(v[0]), int(v[1]), int(v[2]))


_LIFT = {1: _lift1, 2: _lift2, 3: _lift3}
_DROP = {1: _drop1, 2: _drop2, 3: _drop3}
_VEC = {1: _vec1, 2: _vec2, 3: _vec3}


def _lifted_params(op):
    """The Op's parameters as 3-tuples, unit entries for the added axes."""
    ones = (1,) * (3 - op.nd)
    zeros = (0,) * (3 - op.nd)
    return (ones + op.stride, ones + op.dilation, zeros + op.pad_before,
            zeros + op.pad_after)


@numba_njit
def _flip(w):
    return np.ascontiguousarray(w[:, :, ::-1, ::-1, ::-1])


@register_funcify_default_op_cache_key(Conv)
def numba_funcify_Conv(op, node, **kwargs):
    lift, drop = _LIFT[op.nd], _DROP[op.nd]
    stride, dil, pad, pad_after = _lifted_params(op)
    groups, flip = op.groups, op.filter_flip

    @numba_njit
    def conv_forward(x, w):
        x5, w5 = lift(x), lift(w)
        if flip:
            w5 = _flip(w5)
        oshape = (
            (x5.shape[2] + pad[0] + pad_after[0] - dil[0] * (w5.shape[2] - 1)
             - 1) // stride[0] + 1,
            (x5.shape[3] + pad[1] + pad_after[1] - dil[1] * (w5.shape[3] - 1)
             - 1) // stride[1] + 1,
            (x5.shape[4] + pad[2] + pad_after[2] - dil[2] * (w5.shape[4] - 1)
             - 1) // stride[2] + 1)
        y = _forward(x5, w5, stride, dil, pad, oshape, groups)
        return drop(y.reshape((y.shape[0], y.shape[1], oshape[0], oshape[1],
                               oshape[2])))

    return conv_forward


@register_funcify_default_op_cache_key(ConvGradFilters)
def numba_funcify_ConvGradFilters(op, node, **kwargs):
    lift, drop, vec = _LIFT[op.nd], _DROP[op.nd], _VEC[op.nd]
    stride, dil, pad, _ = _lifted_params(op)
    groups, flip = op.groups, op.filter_flip

    @numba_njit
    def conv_grad_filters(x, gy, filter_shape):
        dw = _grad_filters(lift(x), lift(gy), vec(filter_shape), stride, dil,
                           pad, groups)
        if flip:
            dw = _flip(dw)
        return drop(dw)

    return conv_grad_filters


@register_funcify_default_op_cache_key(ConvGradInput)
def numba_funcify_ConvGradInput(op, node, **kwargs):
    lift, drop, vec = _LIFT[op.nd], _DROP[op.nd], _VEC[op.nd]
    stride, dil, pad, _ = _lifted_params(op)
    groups, flip = op.groups, op.filter_flip

    @numba_njit
    def conv_grad_input(w, gy, input_shape):
        w5 = lift(w)
        if flip:
            w5 = _flip(w5)
        return drop(_grad_input(w5, lift(gy), vec(input_shape), stride, dil,
                                pad, groups))

    return conv_grad_input
